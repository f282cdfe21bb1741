//! Three `nats-server`s clustered with JetStream on loopback ports, each with its own store
//! under one directory: what the cluster test and `mamori bench cluster` run on (and what
//! scripts/cluster-up.sh starts for a person). Needs Debian's `nats-server`.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result};

pub struct LocalNats {
    /// The three servers; killed when this is dropped.
    pub nodes: Vec<Child>,
    /// Their client URLs, comma-separated (`--nats`).
    pub urls: String,
}

impl LocalNats {
    /// Starts the three servers on free ports (they elect JetStream's leaders a moment
    /// later: the first request may have to be tried again).
    pub fn start(dir: &Path) -> Result<LocalNats> {
        std::fs::create_dir_all(dir)?;
        let held: Vec<std::net::TcpListener> = (0..6).map(|_| std::net::TcpListener::bind("127.0.0.1:0")).collect::<std::io::Result<_>>()?;
        let ports: Vec<u16> = held.iter().map(|l| l.local_addr().map(|a| a.port())).collect::<std::io::Result<_>>()?;
        drop(held);
        let routes: Vec<String> = ports[3..].iter().map(|p| format!("nats-route://127.0.0.1:{p}")).collect();
        let mut nodes = Vec::new();
        for i in 0..3 {
            let conf = dir.join(format!("n{i}.conf"));
            std::fs::write(
                &conf,
                format!(
                    "server_name: n{i}\nlisten: 127.0.0.1:{}\nmax_payload: 8MB\njetstream {{ store_dir: \"{}\" }}\ncluster {{ name: mamori, listen: 127.0.0.1:{}, routes: [{}] }}\n",
                    ports[i],
                    dir.join(format!("n{i}")).display(),
                    ports[3 + i],
                    routes.join(", ")
                ),
            )?;
            let log = std::fs::File::create(dir.join(format!("n{i}.log")))?;
            nodes.push(Command::new("nats-server").arg("-c").arg(&conf).stdout(Stdio::null()).stderr(log).spawn().context("starting nats-server (Debian package nats-server)")?);
        }
        Ok(LocalNats { nodes, urls: ports[..3].iter().map(|p| format!("nats://127.0.0.1:{p}")).collect::<Vec<_>>().join(",") })
    }
}

impl Drop for LocalNats {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            let _ = node.kill();
            let _ = node.wait();
        }
    }
}
