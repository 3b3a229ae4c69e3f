//! Configuration: flags or environment variables (flags win), with defaults that let
//! `cargo run` work on a fresh machine.

use std::path::{Path, PathBuf};

use crate::auth::tokens::{random_token, MIN_SECRET_BYTES};

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/party-records.db";
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
pub const DEFAULT_SECRET_FILE: &str = "data/jwt-secret";

#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: String,
    pub bind: String,
    pub jwt_secret: Vec<u8>,
    pub max_body_bytes: usize,
    /// The largest bulk import body.
    pub max_import_bytes: u64,
    pub pool_size: u32,
    pub workers: Option<usize>,
}

/// Where the signing secret comes from, in order: `JWT_SECRET`, `--jwt-secret-file` /
/// `JWT_SECRET_FILE`, else a development secret generated once into `data/jwt-secret`
/// (readable by its owner only) and reused on later starts.
pub fn load_jwt_secret(
    env_secret: Option<String>,
    file: Option<PathBuf>,
) -> Result<Vec<u8>, String> {
    let secret = if let Some(secret) = env_secret.filter(|s| !s.is_empty()) {
        secret.into_bytes()
    } else if let Some(path) = file {
        read_secret(&path)?
    } else {
        let path = Path::new(DEFAULT_SECRET_FILE);
        if !path.exists() {
            write_private(path, &random_token(48))?;
            tracing::info!(path = %path.display(), "generated a development JWT secret");
        }
        read_secret(path)?
    };
    if secret.len() < MIN_SECRET_BYTES {
        return Err(format!(
            "the JWT secret must be at least {MIN_SECRET_BYTES} bytes (256 bits); it has {}",
            secret.len()
        ));
    }
    Ok(secret)
}

fn read_secret(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().as_bytes().to_vec())
        .map_err(|e| format!("cannot read the JWT secret file {}: {e}", path.display()))
}

fn write_private(path: &Path, content: &str) -> Result<(), String> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    file.write_all(content.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}
