//! The server under test, in a process of its own (`party-records serve` on the benchmark's
//! database): its peak memory is its own, not the generator's or the client threads', and it
//! runs the way it runs in production.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct ServerProcess {
    child: Child,
    pub address: String,
    /// Where its output goes (not the terminal: writing each request's log line to a terminal
    /// would be part of what is measured).
    pub log: PathBuf,
}

impl ServerProcess {
    /// Starts `party-records serve` on `database_url` and waits until it answers `/ready`.
    pub fn start(database_url: &str, dir: &Path) -> Result<ServerProcess, String> {
        // A free port: the kernel picks one for a listener that is closed at once.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let address = format!("127.0.0.1:{port}");
        let log = dir.join("server.log");
        let out = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let child = Command::new(exe)
            .args(["--database-url", database_url, "--bind", &address, "serve"])
            .env("JWT_SECRET", crate::auth::tokens::random_token(48))
            .env_remove("JWT_SECRET_FILE")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start the server: {e}"))?;
        let mut server = ServerProcess {
            child,
            address,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !server.ready() {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!(
                    "the server stopped ({status}); see {}",
                    server.log.display()
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the server did not answer /ready in 60 s; see {}",
                    server.log.display()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(server)
    }

    fn ready(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut stream) = TcpStream::connect(&self.address) else {
            return false;
        };
        let request = format!(
            "GET /ready HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.address
        );
        let mut answer = String::new();
        stream.write_all(request.as_bytes()).is_ok()
            && stream.read_to_string(&mut answer).is_ok()
            && answer.starts_with("HTTP/1.1 200")
    }

    /// The server's peak resident memory so far (`VmHWM`), in kB.
    pub fn peak_memory_kb(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
