//! `GET /api/cameras/{name}/stream.mjpg`: Motion JPEG over HTTP.
//!
//! `multipart/x-mixed-replace` with a `Content-Length` on every part, the format that
//! OpenCV, ffmpeg, VLC, browsers and Home Assistant's MJPEG camera all read.
//!
//! There is no queue per viewer: the body stream is polled for its next part only when
//! the connection has taken the previous one, and it then yields the newest frame. A slow
//! viewer therefore skips frames by itself and never holds up anyone else. While the
//! camera is offline the viewer gets the "no signal" picture once a second, so that
//! clients with read timeouts stay connected until the source returns.

use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use tokio::sync::watch;
use tokio::time::Instant;

use super::metrics::{ViewerMetrics, skipped};
use super::stalls::{Closer, Pin};
use super::{AppState, no_store};
use crate::camera::{Camera, Latest, ViewerGuard};
use crate::counts::ViewerKind;
use crate::error::AppError;
use crate::frame::{MJPEG_BOUNDARY, mjpeg_part_header};

const PLACEHOLDER_EVERY: Duration = Duration::from_secs(1);
const PART_END: Bytes = Bytes::from_static(b"\r\n");

pub(super) async fn stream(
    State(state): State<AppState>,
    Path(name): Path<String>,
    closer: Option<Extension<Closer>>,
) -> Result<Response, AppError> {
    let entry = state.entry(&name)?;
    let cam = entry.camera;
    let guard = cam.viewer();
    let viewer = MjpegViewer {
        pin: state.stalls.viewer(closer.unwrap_or_default().0.0),
        rx: cam.subscribe(),
        fresh_from: cam.fresh_from(),
        _guard: guard,
        metrics: ViewerMetrics::new(entry.counts, ViewerKind::Mjpeg),
        camera: cam,
        last_seq: 0,
        placeholder_due: None,
        pending: Vec::with_capacity(3),
    };
    let parts = futures_util::stream::unfold(viewer, |mut v| async move {
        let chunk = v.next_chunk().await?;
        Some((Ok::<_, std::convert::Infallible>(chunk), v))
    });
    let mut response = Body::from_stream(parts).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&format!(
            "multipart/x-mixed-replace; boundary={MJPEG_BOUNDARY}"
        ))
        .expect("valid header"),
    );
    // Reverse proxies must pass parts through as they come.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    no_store(&mut response);
    Ok(response)
}

struct MjpegViewer {
    rx: watch::Receiver<Latest>,
    camera: Arc<Camera>,
    _guard: ViewerGuard,
    metrics: ViewerMetrics,
    last_seq: u64,
    /// Frames before it are stale (see `Camera::fresh_from`): not sent.
    fresh_from: u64,
    placeholder_due: Option<Instant>,
    /// Chunks of the part being sent, last first.
    pending: Vec<Bytes>,
    /// The part handed over, until it is taken (`stalls.rs`).
    pin: Pin,
}

impl MjpegViewer {
    async fn next_chunk(&mut self) -> Option<Bytes> {
        if let Some(chunk) = self.pending.pop() {
            return Some(chunk);
        }
        self.pin.asked();
        let [header, jpeg, end] = self.next_part().await?;
        self.pin.handed(&jpeg);
        self.pending.extend([end, jpeg]);
        Some(header)
    }

    /// Waits for the next part to send: a newer frame, or the placeholder when due.
    async fn next_part(&mut self) -> Option<[Bytes; 3]> {
        loop {
            let latest = self.rx.borrow_and_update().clone();
            if latest.online {
                self.placeholder_due = None;
                if let Some(frame) = latest.frame
                    && frame.seq != self.last_seq
                    && frame.seq >= self.fresh_from
                {
                    let header = frame.mjpeg_part_header();
                    let bytes = header.len() + frame.jpeg.len() + PART_END.len();
                    self.metrics.frame(skipped(self.last_seq, frame.seq), bytes);
                    self.last_seq = frame.seq;
                    return Some([header, frame.jpeg.clone(), PART_END]);
                }
                self.rx.changed().await.ok()?;
                continue;
            }
            let now = Instant::now();
            match self.placeholder_due {
                Some(due) if due > now => {
                    if let Ok(changed) = tokio::time::timeout_at(due, self.rx.changed()).await {
                        changed.ok()?;
                    }
                }
                _ => {
                    self.placeholder_due = Some(now + PLACEHOLDER_EVERY);
                    let jpeg = self.camera.placeholder().await;
                    let header = mjpeg_part_header(jpeg.len(), None);
                    self.metrics
                        .sent(header.len() + jpeg.len() + PART_END.len());
                    return Some([header, jpeg, PART_END]);
                }
            }
        }
    }
}
