//! The real `remotecam` binary on 127.0.0.1 with free ports, its log, and JSON fetches
//! from it.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use super::WAIT;

pub struct Hub {
    child: Child,
    /// Every line the hub wrote to stderr (its log), also passed on to the test's.
    log: Arc<Mutex<Vec<String>>>,
    pub http: SocketAddr,
    pub https: SocketAddr,
    /// The RTSP listener (any free port).
    pub rtsp: SocketAddr,
    pub token: String,
    pub dir: tempfile::TempDir,
}

/// How to start a hub: [`Hub::start`] for the usual case, this for the rest (a data
/// directory of the test's, a wrapper command such as `unshare` around the binary).
#[derive(Default)]
pub struct HubBuilder<'a> {
    dir: Option<tempfile::TempDir>,
    ports: (u16, u16),
    args: &'a [&'a str],
    wrapper: &'a [&'a str],
}

impl<'a> HubBuilder<'a> {
    /// The data directory (a fresh one without it).
    pub fn dir(mut self, dir: tempfile::TempDir) -> Self {
        self.dir = Some(dir);
        self
    }

    /// Flags after the ones every test hub gets (`--bind`, ports, `--data-dir`).
    pub fn args(mut self, args: &'a [&'a str]) -> Self {
        self.args = args;
        self
    }

    /// A command that ends by running the rest of its arguments, e.g. to give the hub a
    /// filesystem of its own.
    pub fn wrapper(mut self, wrapper: &'a [&'a str]) -> Self {
        self.wrapper = wrapper;
        self
    }

    fn ports(mut self, http: u16, https: u16) -> Self {
        self.ports = (http, https);
        self
    }

    pub fn start(self) -> Hub {
        let dir = self.dir.unwrap_or_else(|| tempfile::tempdir().unwrap());
        let (port, https_port) = self.ports;
        // reqwest is built without a default crypto provider; use the hub's (ring).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let bin = env!("CARGO_BIN_EXE_remotecam");
        let mut command = match self.wrapper.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        let mut child = command
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--https-port", &https_port.to_string()])
            .args(["--rtsp-port", "0", "--data-dir"])
            .arg(dir.path())
            .args(self.args)
            .env(
                "RUST_LOG",
                std::env::var("HUB_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start remotecam");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let kept = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                eprintln!("{line}");
                kept.lock().unwrap().push(line);
            }
        });
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (mut http, mut https, mut rtsp, mut token) = (None, None, None, None);
        while http.is_none() || https.is_none() || rtsp.is_none() || token.is_none() {
            let line = rx.recv_timeout(WAIT).expect("hub printed its banner");
            if let Some(a) = line.strip_prefix("HTTP  listening on ") {
                http = Some(a.trim().parse().unwrap());
            } else if let Some(a) = line.strip_prefix("HTTPS listening on ") {
                https = Some(a.trim().parse().unwrap());
            } else if let Some(a) = line.strip_prefix("RTSP  listening on ") {
                rtsp = Some(a.trim().parse().unwrap());
            } else if let Some(rest) = line.trim().strip_prefix("Access token: ") {
                token = Some(rest.split_whitespace().next().unwrap().to_owned());
            }
        }
        Hub {
            child,
            log,
            http: http.unwrap(),
            https: https.unwrap(),
            rtsp: rtsp.unwrap(),
            token: token.unwrap(),
            dir,
        }
    }
}

impl Hub {
    pub fn builder<'a>() -> HubBuilder<'a> {
        HubBuilder::default()
    }

    /// A hub with a fresh data directory and these flags.
    /// A hub started with a config file of `text` in its data directory, `args` after
    /// it.
    pub fn with_config(text: &str, args: &[&str]) -> Hub {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.toml");
        std::fs::write(&path, text).unwrap();
        let path = path.to_str().unwrap().to_owned();
        let all = [&["--config", path.as_str()], args].concat();
        Hub::builder().dir(dir).args(&all).start()
    }

    pub fn start(args: &[&str]) -> Hub {
        Hub::builder().args(args).start()
    }

    /// Stops the hub and starts it again on the same ports with the same data.
    pub fn restart(self, args: &[&str]) -> Hub {
        let (port, https) = (self.http.port(), self.https.port());
        let dir = self.stop();
        Hub::builder()
            .dir(dir)
            .ports(port, https)
            .args(args)
            .start()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.http)
    }

    /// What the hub has written to its log (stderr) so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// The lines of the hub's log that contain `text`.
    pub fn log_lines_with(&self, text: &str) -> Vec<String> {
        let log = self.log.lock().unwrap();
        log.iter().filter(|l| l.contains(text)).cloned().collect()
    }

    /// Waits until the hub's log has a line with `text`.
    pub async fn wait_log(&self, text: &str) {
        let deadline = Instant::now() + WAIT;
        while self.log_lines_with(text).is_empty() {
            assert!(Instant::now() < deadline, "no log line with {text:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory of the hub process, in KiB.
    pub fn rss_kib(&self) -> u64 {
        self.status_kib("VmRSS:")
    }

    /// The most resident memory the hub has had so far.
    pub fn peak_rss_kib(&self) -> u64 {
        self.status_kib("VmHWM:")
    }

    fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    /// Stops the hub as a service manager does (SIGTERM) and waits for it to exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = rustix::process::Pid::from_raw(self.pid() as i32).expect("a pid");
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM");
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the hub did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the hub and gives back its data directory.
    pub fn stop(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let dir = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, dir)
    }

    pub async fn cameras(&self) -> serde_json::Value {
        reqwest::get(self.url("/api/cameras"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn camera(&self, name: &str) -> serde_json::Value {
        self.json(&format!("/api/cameras/{name}")).await
    }

    /// The camera's motion settings and status (`GET /api/cameras/{name}/motion`).
    pub async fn motion(&self, name: &str) -> serde_json::Value {
        self.json(&format!("/api/cameras/{name}/motion")).await
    }

    /// The JSON answer to `GET path`, from this machine (trusted loopback).
    /// The body of a GET as text.
    pub async fn text(&self, path: &str) -> String {
        let res = reqwest::get(self.url(path)).await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        res.text().await.unwrap()
    }

    /// A sample's value in the hub's `/metrics`, by its name and labels as written
    /// (`name{label="v"}`); `None`: no such sample.
    pub async fn metric(&self, sample: &str) -> Option<f64> {
        let text = self.text("/metrics").await;
        text.lines()
            .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
    }

    pub async fn json(&self, path: &str) -> serde_json::Value {
        reqwest::get(self.url(path))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The finished clips `path` lists (`/api/recordings`, or a peer's through this hub),
    /// once `pred` holds for them (polled: the index is the sync point; a minute at most,
    /// clips take seconds).
    pub async fn finished_clips_when(
        &self,
        path: &str,
        pred: impl Fn(&[serde_json::Value]) -> bool,
    ) -> Vec<serde_json::Value> {
        let deadline = tokio::time::Instant::now() + WAIT * 3;
        loop {
            let all = self.json(path).await;
            let done: Vec<serde_json::Value> = all
                .as_array()
                .unwrap_or_else(|| panic!("{path}: {all}"))
                .iter()
                .filter(|c| c["in_progress"] == false)
                .cloned()
                .collect();
            if pred(&done) {
                return done;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{path}: never, with {} clips finished",
                done.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Polls the camera's status until `pred` holds (the hub's own view is the sync point).
    pub async fn wait_camera(&self, name: &str, pred: impl Fn(&serde_json::Value) -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let status = self.camera(name).await;
            if pred(&status) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "camera {name} never reached the state; last {status}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
