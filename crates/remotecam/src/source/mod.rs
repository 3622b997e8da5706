//! Sources: what produces a camera's frames, other than a browser publishing to it.
//! JPEG sources publish into the frame bus; RTSP cameras publish their video into the
//! video bus (the camera's stages, `stage`, make one of the other for who wants it).
//!
//! Every source runs under [`supervise`]: it reports its state (connecting, live,
//! retrying with the error) on its camera, and when it fails it is started again after a
//! backoff, forever. A running source holds the camera's publisher lease, so while it
//! is down the camera is offline and viewers get the no-signal picture.

pub(crate) mod camera_tls;
mod http;
mod rtsp;
mod rtsp_guard;
mod rtsp_link;
mod spec;
mod test_pattern;
pub mod v4l2;
#[cfg(target_os = "linux")]
mod v4l2_linux;

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

pub use spec::{HttpSpec, RtspSpec, RtspTransport, SourceSpec, TestPattern};
pub use test_pattern::render as render_test_pattern;

use crate::camera::{Camera, SourceState};
use crate::frame::FrameLimits;

const FIRST_RETRY: Duration = Duration::from_secs(1);

/// The V4L2 device layer of this platform.
pub fn system_devices() -> std::sync::Arc<dyn v4l2::Devices> {
    #[cfg(target_os = "linux")]
    return std::sync::Arc::new(v4l2_linux::LinuxDevices);
    #[cfg(not(target_os = "linux"))]
    return std::sync::Arc::new(v4l2::NoDevices);
}
const LAST_RETRY: Duration = Duration::from_secs(30);
/// A source that ran this long before failing starts again at the first backoff.
const STABLE: Duration = Duration::from_secs(30);

/// What a source needs from the hub.
#[derive(Debug, Clone)]
pub struct SourceContext {
    /// What a frame may be (the same limits as for publishers).
    pub limits: FrameLimits,
    /// One HTTP client for every HTTP source (connection pools, TLS config).
    pub http: reqwest::Client,
    /// The V4L2 device layer (for test injection).
    pub v4l2: std::sync::Arc<dyn v4l2::Devices>,
    /// The first wait before a failed source is started again (it doubles up to 30 s).
    pub first_retry: Duration,
}

impl SourceContext {
    pub fn new(limits: FrameLimits) -> SourceContext {
        // HTTPS sources use the process's one crypto provider (ring).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .user_agent(concat!("remotecam/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("HTTP client");
        SourceContext {
            limits,
            http,
            v4l2: system_devices(),
            first_retry: FIRST_RETRY,
        }
    }
}

/// Runs `spec` for `camera` until the hub stops. With `on_demand`, the source runs only
/// while someone watches, and stops when nobody has for that long.
pub async fn supervise(
    camera: Arc<Camera>,
    spec: SourceSpec,
    ctx: SourceContext,
    on_demand: Option<Duration>,
) {
    let mut viewers = camera.watch_viewers();
    let mut backoff = Backoff::new(ctx.first_retry);
    loop {
        if on_demand.is_some() && *viewers.borrow_and_update() == 0 {
            camera.set_source_state(SourceState::Idle, None);
            if viewers.wait_for(|n| *n > 0).await.is_err() {
                return;
            }
        }
        camera.set_source_state(SourceState::Connecting, None);
        backoff.start();
        let run = async {
            match &spec {
                SourceSpec::Test(pattern) => test_pattern::run(&camera, pattern).await,
                SourceSpec::Http(http) => http::run(&camera, http, &ctx).await,
                SourceSpec::V4l2(spec) => {
                    v4l2::run(&camera, spec, std::sync::Arc::clone(&ctx.v4l2)).await
                }
                SourceSpec::Rtsp(spec) => rtsp::run(&camera, spec, &ctx).await,
            }
        };
        let error = tokio::select! {
            error = run => error,
            () = unwatched(&mut viewers, on_demand) => {
                tracing::info!(camera = camera.name(), "nobody watches: source stopped until the next viewer");
                backoff.reset();
                continue;
            }
        };
        // A camera's words may be in it (an SDP, a content type): a short excerpt only.
        let error = crate::excerpt::of(&error);
        let wait = backoff.failed();
        tracing::warn!(camera = camera.name(), %error, retry_in = ?wait, "source failed");
        camera.set_source_state(SourceState::Retrying, Some(error));
        tokio::time::sleep(wait).await;
    }
}

/// What a task that runs until it is dropped returns.
enum Never {}

/// The waits between a source's attempts: from the first retry, doubling up to
/// [`LAST_RETRY`]; a source that ran [`STABLE`] before it failed waits the first again.
struct Backoff {
    first: Duration,
    next: Duration,
    started: Instant,
}

impl Backoff {
    fn new(first: Duration) -> Backoff {
        Backoff {
            first,
            next: first,
            started: Instant::now(),
        }
    }

    /// An attempt starts.
    fn start(&mut self) {
        self.started = Instant::now();
    }

    fn reset(&mut self) {
        self.next = self.first;
    }

    /// How long to wait after the attempt failed now.
    fn failed(&mut self) -> Duration {
        if self.started.elapsed() > STABLE {
            self.reset();
        }
        let wait = self.next;
        self.next = (wait * 2).min(LAST_RETRY);
        wait
    }
}

/// Completes once nobody has watched for `after` (never without on-demand).
async fn unwatched(viewers: &mut tokio::sync::watch::Receiver<usize>, after: Option<Duration>) {
    match after {
        Some(after) => crate::camera::unwanted_for(viewers, after).await,
        None => std::future::pending().await,
    }
}
