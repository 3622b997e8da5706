//! RTSP cameras that misbehave (`common/fake_rtsp.rs`): a stall after PLAY, garbage
//! instead of RTP, H.264 without its parameter sets, a picture size that changes, an
//! access unit or a session description that never ends, SEI marked as the ends of units
//! (one unit to retina), units without a picture. Each gives the camera a
//! clear state and error or is followed, never a crash, and the other camera goes on.

mod common;

use common::*;

/// A hub with the RTSP camera `door` at `url` and a test pattern camera `ok` beside it.
fn hub_with(url: &str) -> Hub {
    hub_with_args(url, &[])
}

fn hub_with_args(url: &str, args: &[&str]) -> Hub {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rtsp.toml");
    std::fs::write(
        &path,
        format!(
            "[cameras.door]\nsource = \"{url}\"\nread_timeout_s = 1\nconnect_timeout_s = 1\n\
             [cameras.ok]\nsource = \"test:?width=160&height=120&fps=30\"\n"
        ),
    )
    .unwrap();
    let cfg = path.to_str().unwrap().to_owned();
    let mut all = vec!["--config", &cfg];
    all.extend_from_slice(args);
    Hub::builder().dir(dir).args(&all).start()
}

async fn the_other_camera_goes_on(hub: &Hub) {
    let mut mjpeg = MjpegReader::open(&hub.url("/api/cameras/ok/stream.mjpg")).await;
    let a = mjpeg.next_part().await.body;
    let b = mjpeg.next_part().await.body;
    assert_ne!(a, b);
}

async fn retried_with(hub: &Hub, says: &str) {
    hub.wait_camera("door", |c| {
        c["state"] == "retrying" && c["error"].as_str().is_some_and(|e| e.contains(says))
    })
    .await;
    assert_eq!(hub.camera("door").await["online"], false);
    the_other_camera_goes_on(hub).await;
}

#[tokio::test]
async fn a_camera_that_stalls_after_play_is_retried_with_the_reason() {
    let (url, _camera) = fake_rtsp_camera(Sends::Nothing).await;
    let hub = hub_with(&url);
    retried_with(&hub, "stalled").await;
}

#[tokio::test]
async fn garbage_instead_of_rtp_is_an_error_not_a_crash() {
    let (url, _camera) = fake_rtsp_camera(Sends::Garbage).await;
    let hub = hub_with(&url);
    retried_with(&hub, "bad stream").await;
}

#[tokio::test]
async fn video_without_its_parameter_sets_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let units = h264(dir.path(), 320, 240, 30);
    let (url, _camera) = fake_rtsp_camera(Sends::NoParameterSets(units)).await;
    let hub = hub_with(&url);
    retried_with(&hub, "without its parameter sets (SPS/PPS)").await;
}

#[tokio::test]
async fn a_camera_that_changes_its_picture_size_is_followed() {
    let dir = tempfile::tempdir().unwrap();
    let mut units = h264(dir.path(), 320, 240, 30);
    units.extend(h264(dir.path(), 160, 120, 30));
    let (url, _camera) = fake_rtsp_camera(Sends::Video(units)).await;
    let hub = hub_with(&url);
    hub.wait_camera("door", |c| c["state"] == "live").await;
    // The JPEG views follow: both sizes come out of the one decoder.
    let mut mjpeg = MjpegReader::open(&hub.url("/api/cameras/door/stream.mjpg")).await;
    let mut sizes = std::collections::HashSet::new();
    while sizes.len() < 2 {
        let part = mjpeg.next_part().await;
        if part.header("x-frame-seq").is_none() {
            continue;
        }
        let mut decoder = zune_jpeg::JpegDecoder::new(
            zune_jpeg::zune_core::bytestream::ZCursor::new(&part.body[..]),
        );
        decoder.decode_headers().unwrap();
        sizes.insert(decoder.dimensions().unwrap());
    }
    assert_eq!(sizes, [(320, 240), (160, 120)].into_iter().collect());
    let status = hub.camera("door").await;
    assert_eq!(status["state"], "live", "{status}");
    the_other_camera_goes_on(&hub).await;
}

/// What the hub may grow by while a camera sends without end (its own buffers are a
/// few MiB; the camera sends hundreds of MiB a second over loopback).
const GROWTH_MAX_KIB: u64 = 64 << 10;

/// A camera that sends `sends`, with `--max-frame-bytes 1000000`: retried with the
/// limit's reason, the hub grown by less than [`GROWTH_MAX_KIB`].
async fn cut_at_the_frame_limit(sends: Sends) {
    let (url, _camera) = fake_rtsp_camera(sends).await;
    let hub = hub_with_args(&url, &["--max-frame-bytes", "1000000"]);
    let before = hub.rss_kib();
    retried_with(
        &hub,
        "an access unit above the limit of 1000000 bytes (--max-frame-bytes)",
    )
    .await;
    let grown = hub.rss_kib().saturating_sub(before);
    assert!(grown < GROWTH_MAX_KIB, "the hub grew by {grown} KiB");
}

#[tokio::test]
async fn an_access_unit_that_never_ends_is_cut_at_the_frame_limit() {
    cut_at_the_frame_limit(Sends::EndlessUnit).await;
}

#[tokio::test]
async fn sei_marked_as_unit_ends_are_cut_at_the_frame_limit() {
    let dir = tempfile::tempdir().unwrap();
    cut_at_the_frame_limit(Sends::SeiFlood(h264(dir.path(), 320, 240, 1))).await;
}

#[tokio::test]
async fn millions_of_tiny_units_leave_the_hub_small() {
    let dir = tempfile::tempdir().unwrap();
    let units = h264(dir.path(), 320, 240, 1);
    let (url, _camera) = fake_rtsp_camera(Sends::TinyUnits(units)).await;
    let hub = hub_with(&url);
    hub.wait_camera("door", |c| c["state"] == "live").await;
    // The group of pictures passes its cap (units counted with what holding each costs,
    // and their number) and is dropped: before, 16 MiB of one-byte units.
    hub.wait_log("a group of pictures passed the cap").await;
    let peak = hub.peak_rss_kib();
    assert!(peak < RSS_MAX_KIB, "the hub grew to {} MB", peak >> 10);
    the_other_camera_goes_on(&hub).await;
}

#[tokio::test]
async fn a_camera_that_sends_units_without_pictures_is_stalled() {
    let dir = tempfile::tempdir().unwrap();
    let units = h264(dir.path(), 320, 240, 1);
    let (url, _camera) = fake_rtsp_camera(Sends::NoPictures(units)).await;
    let hub = hub_with(&url);
    retried_with(&hub, "stalled: no picture for 1 s").await;
}

#[tokio::test]
async fn an_8k_stream_with_16_references_is_not_decoded_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let units = h264_refs(dir.path(), 7680, 4320, 10, 16);
    let (url, _camera) = fake_rtsp_camera(Sends::Video(units)).await;
    let hub = hub_with(&url);
    hub.wait_camera("door", |c| c["state"] == "live").await;
    // A viewer of JPEG wants the camera's pictures.
    let _viewer = reqwest::get(hub.url("/api/cameras/door/stream.mjpg"))
        .await
        .unwrap();
    hub.wait_camera("door", |c| {
        c["error"]
            .as_str()
            .is_some_and(|e| e.contains("7680x4320, 16 reference pictures"))
    })
    .await;
    let rss = hub.rss_kib();
    assert!(rss < RSS_MAX_KIB, "the hub holds {} MB", rss >> 10);
    the_other_camera_goes_on(&hub).await;
}

#[tokio::test]
async fn what_a_camera_says_is_logged_and_shown_as_a_short_excerpt() {
    let (url, _camera) = fake_rtsp_camera(Sends::HugeParameterSets).await;
    let hub = hub_with(&url);
    hub.wait_camera("door", |c| c["state"] == "retrying").await;
    let error = hub.camera("door").await["error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        error.len() < 1024,
        "the camera's error is {} bytes",
        error.len()
    );
    let logged: usize = hub.log().iter().map(String::len).sum();
    assert!(logged < 64 << 10, "the hub logged {logged} bytes");
}

#[tokio::test]
async fn a_session_description_that_never_ends_is_refused_before_it_is_read() {
    let (url, _camera) = fake_rtsp_camera(Sends::EndlessDescription).await;
    let hub = hub_with(&url);
    let before = hub.rss_kib();
    retried_with(
        &hub,
        "an RTSP message body of 4000000000 bytes, above 1 MiB",
    )
    .await;
    let grown = hub.rss_kib().saturating_sub(before);
    assert!(grown < GROWTH_MAX_KIB, "the hub grew by {grown} KiB");
}
