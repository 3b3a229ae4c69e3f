//! Keys given twice in one import file, found with bounded memory.
//!
//! Why: the import refuses a file that gives a key twice (`import.duplicate_key`). It used to
//! keep a `HashSet<u64>` of every row's key hash; on a national file of 29.5 million member
//! ratings that set grew to 2^26 buckets and the server peaked at 1,074 MB, where the whole
//! server should stay under 300 MB and memory should not grow with the file.
//!
//! How: the parser notes `(hash, row)` for every typed row ([`RepeatedKeys::note`]). Entries
//! are partitioned by the hash's top bits ([`PARTITIONS`]) and kept in memory up to a fixed
//! total ([`IN_MEMORY`] entries, 4 MB; the buffers' growth may hold up to twice that); past
//! it, each partition's buffer is appended to an anonymous temporary file of its own as
//! fixed-width little-endian records, and the buffers start again. A province file (35,000
//! rows) never touches the disk. When the file is read, [`RepeatedKeys::repeats`] takes the
//! partitions one at a time (the file read back, plus what is still in memory), sorts them by
//! `(hash, row)` and marks every row whose hash equals an earlier row's.
//!
//! Cost: 12 bytes of temporary disk per row past the first 262,144 (351 MB for 29.5 million
//! rows, freed when the import ends) and one sort per partition at the end of the file, with
//! the memory of one partition (about 7 MB at 29.5 million rows) besides the buffers. The
//! repeats are found only then, so a repeated row reaches the writer like any other; the import
//! is rejected all the same.
//!
//! Caveat (as before): keys are compared by a 64-bit hash, so two different keys with the same
//! hash would be refused as a repeat. For n keys the chance is about n² / 2^65: 2.4e-5 for
//! 29.5 million keys, negligible for a province.

use std::fs::File;
use std::hash::{Hash, Hasher};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};

use crate::error::{Error, Result};

/// Partitions of the hashes, by their top bits: at the end one partition is sorted at a time.
pub const PARTITIONS: usize = 64;
const PARTITION_BITS: u32 = PARTITIONS.trailing_zeros();

/// Entries kept in memory, all partitions together, before the buffers go to disk: 262,144
/// entries of 16 bytes (4 MB; up to twice that as the buffers grow). A province file (35,000
/// rows) stays in memory; a national one writes 12 bytes a row to its temporary files.
pub const IN_MEMORY: usize = 1 << 18;

/// One entry on disk: the hash (8 bytes) then the row (4 bytes), little-endian.
const RECORD: usize = 12;

/// The hash a row's key (`columns::Row::key`) is compared by. Only hashes of the same import
/// are compared, so it need not be stable across builds.
pub fn hash(key: &str) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut hasher);
    hasher.finish()
}

#[derive(Default)]
struct Partition {
    /// Entries not yet on disk.
    buffer: Vec<(u64, u32)>,
    /// Created at the first spill; removed by the system when dropped.
    file: Option<File>,
    /// Entries in `file`.
    spilled: usize,
}

/// Notes `(key hash, row)` pairs, then tells the rows whose key appeared on an earlier row.
pub struct RepeatedKeys {
    partitions: Vec<Partition>,
    /// Entries in the buffers, all partitions together.
    in_memory: usize,
    /// Entries the buffers hold before they are written out.
    limit: usize,
    /// Reused to encode a buffer for its file.
    scratch: Vec<u8>,
    /// The first failure to write a temporary file: nothing more is noted, and `repeats`
    /// reports it.
    failed: Option<std::io::Error>,
}

impl Default for RepeatedKeys {
    fn default() -> Self {
        Self::new(IN_MEMORY)
    }
}

impl RepeatedKeys {
    /// A detector that keeps at most `limit` entries in memory (at least one).
    pub fn new(limit: usize) -> Self {
        RepeatedKeys {
            partitions: (0..PARTITIONS).map(|_| Partition::default()).collect(),
            in_memory: 0,
            limit: limit.max(1),
            scratch: Vec::new(),
            failed: None,
        }
    }

    /// Notes that `row` has the key of hash `hash`. Rows are noted in any order, each once.
    pub fn note(&mut self, hash: u64, row: u32) {
        if self.failed.is_some() {
            return;
        }
        self.partitions[partition(hash)].buffer.push((hash, row));
        self.in_memory += 1;
        if self.in_memory >= self.limit {
            if let Err(e) = self.spill() {
                self.failed = Some(e);
                for p in &mut self.partitions {
                    p.buffer = Vec::new();
                }
                self.scratch = Vec::new();
            }
        }
    }

    /// Whether any entry went to disk.
    #[cfg(test)]
    pub fn spilled(&self) -> bool {
        self.partitions.iter().any(|p| p.file.is_some())
    }

    /// Appends each partition's buffer to its file.
    fn spill(&mut self) -> std::io::Result<()> {
        for p in &mut self.partitions {
            if p.buffer.is_empty() {
                continue;
            }
            self.scratch.clear();
            self.scratch.reserve(p.buffer.len() * RECORD);
            for (hash, row) in &p.buffer {
                self.scratch.extend_from_slice(&hash.to_le_bytes());
                self.scratch.extend_from_slice(&row.to_le_bytes());
            }
            let file = match &mut p.file {
                Some(file) => file,
                None => p.file.insert(tempfile::tempfile()?),
            };
            file.write_all(&self.scratch)?;
            p.spilled += p.buffer.len();
            p.buffer.clear();
        }
        self.in_memory = 0;
        Ok(())
    }

    /// The rows whose key equals an earlier row's key (the first occurrence is not one; the
    /// second and later are), ascending. One partition is read back and sorted at a time.
    pub fn repeats(self) -> Result<RowSet> {
        let internal =
            |e: std::io::Error| Error::Internal(format!("the import's file of keys failed: {e}"));
        if let Some(e) = self.failed {
            return Err(internal(e));
        }
        let mut repeats = RowSet::default();
        let mut entries: Vec<(u64, u32)> = Vec::new();
        for p in self.partitions {
            entries.clear();
            entries.reserve(p.spilled + p.buffer.len());
            if let Some(mut file) = p.file {
                file.seek(SeekFrom::Start(0)).map_err(internal)?;
                let mut reader = BufReader::with_capacity(64 * 1024, file);
                let mut record = [0u8; RECORD];
                for _ in 0..p.spilled {
                    reader.read_exact(&mut record).map_err(internal)?;
                    let (hash, row) = record.split_at(8);
                    entries.push((
                        u64::from_le_bytes(hash.try_into().expect("8 bytes")),
                        u32::from_le_bytes(row.try_into().expect("4 bytes")),
                    ));
                }
            }
            entries.extend(p.buffer);
            entries.sort_unstable();
            for pair in entries.windows(2) {
                if pair[0].0 == pair[1].0 {
                    repeats.insert(pair[1].1);
                }
            }
        }
        Ok(repeats)
    }
}

fn partition(hash: u64) -> usize {
    (hash >> (u64::BITS - PARTITION_BITS)) as usize
}

/// A set of row numbers, one bit per row up to the highest: 3.7 MB for 29.5 million rows.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RowSet {
    words: Vec<u64>,
    len: usize,
}

impl RowSet {
    /// Adds `row`; whether it was new.
    pub fn insert(&mut self, row: u32) -> bool {
        let (word, bit) = (row as usize / 64, row % 64);
        if word >= self.words.len() {
            self.words.resize(word + 1, 0);
        }
        let mask = 1u64 << bit;
        let new = self.words[word] & mask == 0;
        if new {
            self.words[word] |= mask;
            self.len += 1;
        }
        new
    }

    #[cfg(test)]
    pub fn contains(&self, row: u32) -> bool {
        self.words
            .get(row as usize / 64)
            .is_some_and(|w| w & (1u64 << (row % 64)) != 0)
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The rows, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.words.iter().enumerate().flat_map(|(i, &word)| {
            let mut rest = word;
            std::iter::from_fn(move || {
                (rest != 0).then(|| {
                    let bit = rest.trailing_zeros();
                    rest &= rest - 1;
                    (i * 64) as u32 + bit
                })
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Notes `keys[i]` for row i + 1, with a buffer of `limit` entries.
    fn detect(keys: &[&str], limit: usize) -> (Vec<u32>, bool) {
        let mut detector = RepeatedKeys::new(limit);
        for (i, key) in keys.iter().enumerate() {
            detector.note(hash(key), i as u32 + 1);
        }
        let spilled = detector.spilled();
        let repeats = detector.repeats().expect("no I/O error");
        (repeats.iter().collect(), spilled)
    }

    #[test]
    fn distinct_keys_have_no_repeats_in_memory_or_after_a_spill() {
        let keys: Vec<String> = (0..5000).map(|i| format!("HG-{i}")).collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        assert_eq!(detect(&keys, IN_MEMORY), (vec![], false));
        assert_eq!(detect(&keys, 100), (vec![], true));
    }

    #[test]
    fn repeats_in_memory_are_the_second_and_later_rows_ascending() {
        let keys = ["a", "b", "a", "c", "b", "a", "d"];
        assert_eq!(detect(&keys, IN_MEMORY), (vec![3, 5, 6], false));
    }

    #[test]
    fn repeats_across_a_spill_are_found_and_the_first_occurrence_is_not_reported() {
        // 3,000 rows with a buffer of 64 entries: dozens of spills. "HG-7" is on rows 2, 1500
        // and 3000 (two of them long written out by then), "HG-9" on rows 10 and 11.
        let mut keys: Vec<String> = (1..=3000).map(|i| format!("K-{i}")).collect();
        for row in [2, 1500, 3000] {
            keys[row - 1] = "HG-7".into();
        }
        for row in [10, 11] {
            keys[row - 1] = "HG-9".into();
        }
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let (repeats, spilled) = detect(&keys, 64);
        assert!(spilled);
        assert_eq!(repeats, [11, 1500, 3000]);
        // The same answer when everything stays in memory.
        assert_eq!(detect(&keys, IN_MEMORY), (vec![11, 1500, 3000], false));
    }

    #[test]
    fn rows_noted_out_of_order_are_still_told_by_the_earlier_row() {
        let mut detector = RepeatedKeys::new(2);
        for (key, row) in [("x", 9), ("y", 4), ("x", 3), ("y", 8), ("x", 5)] {
            detector.note(hash(key), row);
        }
        let repeats: Vec<u32> = detector.repeats().unwrap().iter().collect();
        assert_eq!(repeats, [5, 8, 9]);
    }

    #[test]
    fn an_empty_file_has_no_repeats() {
        assert!(RepeatedKeys::default().repeats().unwrap().is_empty());
    }

    #[test]
    fn a_row_set_counts_each_row_once_and_iterates_ascending() {
        let mut rows = RowSet::default();
        assert!(rows.insert(1500));
        assert!(rows.insert(0));
        assert!(rows.insert(64));
        assert!(!rows.insert(1500));
        assert!(rows.insert(1_000_063));
        assert_eq!(rows.len(), 4);
        assert!(rows.contains(64) && !rows.contains(63) && !rows.contains(4_000_000_000));
        assert_eq!(rows.iter().collect::<Vec<_>>(), [0, 64, 1500, 1_000_063]);
    }
}
