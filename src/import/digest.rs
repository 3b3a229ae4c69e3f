//! The SHA-256 of an import's body, computed while it streams through (the audit event names
//! the file by its hash and size; the body itself is never kept).

use std::io::Read;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

/// What has been read so far: its hash state and its length.
#[derive(Clone, Default)]
pub struct BodyDigest(Arc<Mutex<(Sha256, u64)>>);

impl BodyDigest {
    /// Wraps `inner` so that every byte read from it is hashed here.
    pub fn reader<R: Read>(&self, inner: R) -> DigestReader<R> {
        DigestReader {
            inner,
            digest: self.clone(),
        }
    }

    /// The hex SHA-256 and length of what was read.
    pub fn finish(&self) -> (String, u64) {
        let state = self.0.lock().expect("not poisoned");
        (hex::encode(state.0.clone().finalize()), state.1)
    }
}

pub struct DigestReader<R> {
    inner: R,
    digest: BodyDigest,
}

impl<R: Read> Read for DigestReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut state = self.digest.0.lock().expect("not poisoned");
        state.0.update(&buf[..n]);
        state.1 += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_what_passes_through() {
        let digest = BodyDigest::default();
        let mut out = String::new();
        digest
            .reader("abc".as_bytes())
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "abc");
        let (hash, len) = digest.finish();
        assert_eq!(len, 3);
        assert_eq!(
            hash,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
