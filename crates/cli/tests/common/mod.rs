//! What the tests of `mamori` as a running service share: running the binary, a child
//! process killed when the test ends, and one HTTP request.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

/// Runs `mamori --data DATA ARGS`, which must succeed, and returns what it printed.
pub fn mamori(data: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_mamori")).arg("--data").arg(data).args(args).output().unwrap();
    assert!(out.status.success(), "mamori {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// A server the test started: killed when the test ends, passed or not (a failed
/// assertion must not leave it running, holding the test's output open).
pub struct Running(pub Child);

impl std::ops::Deref for Running {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Running {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.1 request; the status and body, or the I/O error a dead server gives.
pub fn post(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: &[u8]) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut head = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    // A server may answer (413) and close before the whole body is sent: its answer is
    // still read when it arrived.
    let sent = s.write_all(body);
    let mut response = String::new();
    let read = s.read_to_string(&mut response);
    if response.is_empty() {
        sent?;
        read?;
    }
    let status = response.split_whitespace().nth(1).and_then(|c| c.parse().ok()).ok_or(std::io::ErrorKind::UnexpectedEof)?;
    Ok((status, response.split("\r\n\r\n").nth(1).unwrap_or("").to_owned()))
}


/// A town simulated under `dir` with `simulate_args`, imported from its own logs as its
/// mapping says, and its events read back: the town's directory and one NDJSON line per
/// event (mamori's own records left out), in time order, for replaying through a
/// `format = "ndjson"` source.
pub fn simulated_events(dir: &Path, simulate_args: &[&str]) -> (std::path::PathBuf, Vec<String>) {
    let (town, source) = (dir.join("town"), dir.join("source"));
    mamori(&source, &[&["simulate", "--out", town.to_str().unwrap()], simulate_args].concat());
    mamori(&source, &["init", source.to_str().unwrap()]);
    mamori(&source, &["master", "load", town.join("master").to_str().unwrap()]);
    for (name, file) in mamori_sim::LOGS {
        let path = town.join("logs").join(file);
        mamori(&source, &["import", "--source", name, "--config", town.join("mamori.toml").to_str().unwrap(), path.to_str().unwrap()]);
    }
    let lines = mamori(&source, &["events", "time", "--from", "2000-01-01", "--to", "2100-01-01", "--limit", "100000000"])
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["event"].clone())
        .filter(|e| e["class_uid"] != 6003)
        .map(|e| e.to_string())
        .collect();
    (town, lines)
}
