//! `GET /api/cameras/{name}/stream.mp4`: a camera's video as fragmented MP4 over HTTP,
//! endless, for ffmpeg, VLC, mpv, Home Assistant's stream source and the pages' Media
//! Source Extensions player: a video camera's own H.264 or H.265, a JPEG camera's made
//! by its encoder (`stage`) while someone watches.
//!
//! The init segment, then one fragment per access unit (`video::mp4`: a header made for
//! the viewer, its time from the viewer's first unit, then the unit's shared bytes),
//! starting at the newest keyframe. As with MJPEG there is
//! no queue per viewer: the next fragment is taken from the video bus only when the
//! connection has taken the last one, so a slow viewer falls behind by at most the group
//! of pictures the bus holds and then skips to the newest keyframe. When the camera's
//! stream starts over (the camera reconnected, or changed its resolution) the response
//! ends: its timeline would go back, and players reconnect.

use std::sync::Arc;

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::stalls::{Closer, Pin};
use super::{AppState, no_store};
use crate::camera::ViewerGuard;
use crate::counts::ViewerKind;
use crate::error::AppError;
use crate::video::VideoParams;
use crate::video::gop::VideoReader;

pub(super) async fn stream(
    State(state): State<AppState>,
    Path(name): Path<String>,
    closer: Option<Extension<Closer>>,
) -> Result<Response, AppError> {
    let entry = state.entry(&name)?;
    let cam = entry.camera;
    let viewer = Mp4Viewer {
        pin: state.stalls.viewer(closer.unwrap_or_default().0.0),
        reader: cam.video().reader(),
        _guard: cam.video_viewer(),
        metrics: super::metrics::ViewerMetrics::new(entry.counts, ViewerKind::Mp4),
        params: None,
        start: 0,
        pending: Vec::with_capacity(3),
    };
    let chunks = futures_util::stream::unfold(viewer, |mut v| async move {
        let chunk = v.next_chunk().await?;
        Some((Ok::<_, std::convert::Infallible>(chunk), v))
    });
    let mut response = Body::from_stream(chunks).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("video/mp4"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    no_store(&mut response);
    Ok(response)
}

struct Mp4Viewer {
    reader: VideoReader,
    _guard: ViewerGuard,
    metrics: super::metrics::ViewerMetrics,
    /// The stream being sent (its init segment went out).
    params: Option<Arc<VideoParams>>,
    /// The time of the first unit sent, by the camera's clock: the viewer's zero.
    start: i64,
    /// Chunks to send before the next unit, last first.
    pending: Vec<Bytes>,
    /// The unit handed over, until it is taken (`stalls.rs`).
    pin: Pin,
}

impl Mp4Viewer {
    async fn next_chunk(&mut self) -> Option<Bytes> {
        if let Some(chunk) = self.pending.pop() {
            return Some(chunk);
        }
        self.pin.asked();
        let unit = self.reader.next().await?;
        self.pin.handed(&unit.data);
        // In the order sent: the init segment of a new stream, the fragment's header, the
        // unit's bytes.
        let mut parts = Vec::with_capacity(3);
        match &self.params {
            Some(params) if Arc::ptr_eq(params, &unit.params) => {}
            Some(_) => return None,
            None => {
                parts.push(unit.params.init_segment().ok()?);
                self.params = Some(Arc::clone(&unit.params));
                self.start = unit.pts;
            }
        }
        parts.push(crate::video::mp4::fragment_header(&unit, self.start).ok()?);
        parts.push(unit.data.clone());
        let skipped = std::mem::take(&mut self.reader.skipped);
        self.metrics
            .frame(skipped, parts.iter().map(Bytes::len).sum());
        parts.reverse();
        self.pending = parts;
        self.pending.pop()
    }
}
