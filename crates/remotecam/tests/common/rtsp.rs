//! A real RTSP camera: GStreamer's RTSP server (`rtsp_server.py`) in a child process.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};

/// The server's options; [`RtspCamera::start`] serves H.264 640x360 at 30 fps with a
/// keyframe a second, behind `user` / `secret`.
#[derive(Clone)]
pub struct RtspOptions {
    pub codec: &'static str,
    /// Bits per sample: 8, or 10 (H.265 Main 10).
    pub bits: u32,
    /// `smpte` (colour bars), `ball` (a ball moving on black) or `snow` (noise).
    pub pattern: &'static str,
    /// kbit/s.
    pub bitrate: u32,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub gop: u32,
    pub profile: &'static str,
    pub user: Option<(&'static str, &'static str)>,
    /// How the user is asked for: `digest` or `basic`.
    pub auth: &'static str,
    /// 0: any free port.
    pub port: u16,
    /// Serve `rtsps://` with this PEM file (a certificate and its key).
    pub tls_pem: Option<std::path::PathBuf>,
}

impl Default for RtspOptions {
    fn default() -> RtspOptions {
        RtspOptions {
            codec: "h264",
            bits: 8,
            pattern: "smpte",
            bitrate: 2048,
            width: 640,
            height: 360,
            fps: 30,
            gop: 30,
            profile: "high",
            user: Some(("user", "secret")),
            auth: "digest",
            port: 0,
            tls_pem: None,
        }
    }
}

pub struct RtspCamera {
    child: Child,
    /// Closing it stops the server.
    _stdin: ChildStdin,
    /// `rtsp://127.0.0.1:port/cam` (or `rtsps://`), without the user.
    pub url: String,
    pub port: u16,
    pub options: RtspOptions,
}

impl RtspCamera {
    pub fn start() -> RtspCamera {
        RtspCamera::with(RtspOptions::default())
    }

    pub fn with(options: RtspOptions) -> RtspCamera {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/common/rtsp_server.py");
        let mut command = Command::new("/usr/bin/python3");
        command.arg(script).args([
            "--codec",
            options.codec,
            "--bits",
            &options.bits.to_string(),
            "--pattern",
            options.pattern,
            "--bitrate",
            &options.bitrate.to_string(),
            "--width",
            &options.width.to_string(),
            "--height",
            &options.height.to_string(),
            "--fps",
            &options.fps.to_string(),
            "--gop",
            &options.gop.to_string(),
            "--profile",
            options.profile,
            "--port",
            &options.port.to_string(),
        ]);
        if let Some((user, password)) = options.user {
            command.args(["--user", user, "--password", password]);
            command.args(["--auth", options.auth]);
        }
        if let Some(pem) = &options.tls_pem {
            command.arg("--tls-pem").arg(pem);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the RTSP server (python3-gi, gir1.2-gst-rtsp-server-1.0)");
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line.trim().to_owned();
        assert!(
            url.starts_with("rtsp://") || url.starts_with("rtsps://"),
            "the RTSP server did not start: {line:?}"
        );
        let port = url
            .rsplit(':')
            .next()
            .unwrap()
            .split('/')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        RtspCamera {
            child,
            _stdin: stdin,
            url,
            port,
            options,
        }
    }

    /// The URL with the server's user and password in it.
    pub fn url_with_user(&self) -> String {
        match self.options.user {
            Some((user, password)) => {
                self.url
                    .replacen("://", &format!("://{user}:{password}@"), 1)
            }
            None => self.url.clone(),
        }
    }

    /// Stops the server at once (as a camera losing power).
    pub fn kill(mut self) -> RtspOptions {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut options = self.options.clone();
        options.port = self.port;
        options
    }
}

impl Drop for RtspCamera {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
