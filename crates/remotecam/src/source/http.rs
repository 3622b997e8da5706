//! `http://` sources: IP cameras, ESP32-CAMs, phone camera apps and other remotecam hubs
//! serving MJPEG (`multipart/x-mixed-replace`), or a snapshot URL (one JPEG per request)
//! polled at `poll_fps`. Basic auth comes from the URL (`http://user:password@host/`).
//! Frames are passed through untouched, except that frames without Huffman tables
//! (common from webcams) get the standard ones, so that every viewer can decode them.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use remotecam_core::jpeg;
use remotecam_core::multipart::{MultipartParser, boundary_of};
use reqwest::header::CONTENT_TYPE;

use super::{HttpSpec, Never, SourceContext};
use crate::camera::{Camera, PublisherLease, SourceState};

/// Runs one connection; returns why it ended (the supervisor retries).
pub(super) async fn run(camera: &Arc<Camera>, spec: &HttpSpec, ctx: &SourceContext) -> String {
    match connect_and_stream(camera, spec, ctx).await {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

async fn get(spec: &HttpSpec, ctx: &SourceContext) -> Result<reqwest::Response, String> {
    let mut url = reqwest::Url::parse(&spec.url).map_err(|e| format!("bad URL: {e}"))?;
    let user = url.username().to_owned();
    let password = url.password().map(str::to_owned);
    let _ = url.set_username("");
    let _ = url.set_password(None);
    let mut request = ctx.http.get(url);
    if !user.is_empty() {
        request = request.basic_auth(user, password);
    }
    let response = tokio::time::timeout(spec.connect_timeout + spec.read_timeout, request.send())
        .await
        .map_err(|_| {
            format!(
                "no answer within {:.0} s",
                (spec.connect_timeout + spec.read_timeout).as_secs_f64()
            )
        })?
        .map_err(|e| describe(&e))?;
    match response.status().as_u16() {
        200 => Ok(response),
        401 | 403 => Err(format!(
            "the camera refused access (HTTP {}): check the user and password in the URL",
            response.status().as_u16()
        )),
        code => Err(format!("the camera answered HTTP {code}")),
    }
}

fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

async fn connect_and_stream(
    camera: &Arc<Camera>,
    spec: &HttpSpec,
    ctx: &SourceContext,
) -> Result<Never, String> {
    let mut response = get(spec, ctx).await?;
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let lease = camera.claim_publisher();
    if content_type.starts_with("image/jpeg") || content_type.starts_with("image/jpg") {
        return poll_snapshots(&lease, spec, ctx, response).await;
    }
    if !content_type.starts_with("multipart/") {
        return Err(format!(
            "expected an MJPEG stream or a JPEG, got content type {content_type:?}"
        ));
    }
    let mut parser =
        MultipartParser::new(boundary_of(&content_type).as_deref(), ctx.limits.max_bytes);
    let mut bad = 0u64;
    loop {
        let chunk = tokio::time::timeout(spec.read_timeout, response.chunk())
            .await
            .map_err(|_| {
                format!(
                    "the stream stalled: nothing for {:.0} s",
                    spec.read_timeout.as_secs_f64()
                )
            })?
            .map_err(|e| format!("the stream broke: {}", describe(&e)))?
            .ok_or("the camera closed the stream")?;
        parser.push(&chunk);
        while let Some(part) = parser
            .next_part()
            .map_err(|e| format!("bad MJPEG stream: {e}"))?
        {
            match ctx.limits.check(&part) {
                Ok(info) => {
                    if bad == 0 {
                        camera.set_source_state(SourceState::Live, None);
                    }
                    lease.publish(jpeg::with_huffman_tables(part), info, None);
                }
                Err(e) => {
                    bad += 1;
                    camera.set_source_state(
                        SourceState::Live,
                        Some(format!("skipped {bad} bad frame(s), last: {e}")),
                    );
                }
            }
        }
    }
}

async fn poll_snapshots(
    lease: &PublisherLease,
    spec: &HttpSpec,
    ctx: &SourceContext,
    mut response: reqwest::Response,
) -> Result<Never, String> {
    let period = Duration::from_secs_f64(1.0 / spec.poll_fps);
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        let body = read_limited(&mut response, spec, ctx.limits.max_bytes).await?;
        let info = ctx
            .limits
            .check(&body)
            .map_err(|e| format!("the snapshot is not a usable JPEG: {e}"))?;
        lease.publish(
            jpeg::with_huffman_tables(body),
            info,
            Some(SystemTime::now()),
        );
        lease.camera().set_source_state(SourceState::Live, None);
        tick.tick().await;
        response = get(spec, ctx).await?;
    }
}

async fn read_limited(
    response: &mut reqwest::Response,
    spec: &HttpSpec,
    limit: usize,
) -> Result<bytes::Bytes, String> {
    let mut body = bytes::BytesMut::new();
    loop {
        let chunk = tokio::time::timeout(spec.read_timeout, response.chunk())
            .await
            .map_err(|_| "the snapshot stalled".to_owned())?
            .map_err(|e| format!("the snapshot broke: {}", describe(&e)))?;
        match chunk {
            Some(c) => {
                if body.len() + c.len() > limit {
                    return Err(format!("a snapshot is larger than {limit} bytes"));
                }
                body.extend_from_slice(&c);
            }
            None => return Ok(body.freeze()),
        }
    }
}
