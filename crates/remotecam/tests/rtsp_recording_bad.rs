//! What a misbehaving camera makes of the recordings (`common/fake_rtsp.rs`): a picture
//! size that changes at every frame cuts a bounded number of clips, and a camera whose
//! clock jumps does not make a clip of seconds last hours.

mod common;

use common::*;

/// A hub recording the camera `door` at `url` all the time, in clips of `max_clip_s`.
fn hub_recording(url: &str, max_clip_s: u32) -> Hub {
    Hub::with_config(
        &format!(
            "[cameras.door]\nsource = \"{url}\"\nread_timeout_s = 2\n\
             [cameras.door.motion]\nenabled = true\nrecord = true\ncontinuous = true\n\
             max_clip_s = {max_clip_s}\n"
        ),
        &[],
    )
}

async fn clips(hub: &Hub) -> Vec<serde_json::Value> {
    hub.json("/api/recordings")
        .await
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn a_picture_size_that_changes_at_every_frame_cuts_few_clips() {
    let dir = tempfile::tempdir().unwrap();
    // Keyframes only, 320x240 and 160x120 by turns.
    let big = h264_gop(dir.path(), 320, 240, 30, 1);
    let small = h264_gop(dir.path(), 160, 120, 30, 1);
    let units = big
        .into_iter()
        .zip(small)
        .flat_map(|(a, b)| [a, b])
        .collect();
    let (url, _camera) = fake_rtsp_camera(Sends::Video(units)).await;
    let hub = hub_recording(&url, 60);
    // The recorder says why it stopped cutting clips.
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let motion = hub.motion("door").await;
        let said = motion["recording"]["error"].as_str().unwrap_or_default();
        if said.contains("changed its picture size 6 times") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{motion}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Two more seconds of flipping (60 frames).
    let seq = hub.camera("door").await["seq"].as_u64().unwrap();
    hub.wait_camera("door", |c| c["seq"].as_u64() >= Some(seq + 60))
        .await;
    let made = clips(&hub).await.len();
    assert!(made <= 8, "{made} clips");
}

#[tokio::test]
async fn a_camera_clock_that_jumps_does_not_make_a_clip_last_hours() {
    let dir = tempfile::tempdir().unwrap();
    let units = h264(dir.path(), 320, 240, 90);
    let (url, _camera) = fake_rtsp_camera(Sends::ClockJumping(units)).await;
    let hub = hub_recording(&url, 3);
    let finished = hub
        .finished_clips_when("/api/recordings", |clips| clips.len() >= 2)
        .await;
    for clip in &finished {
        let length = clip["duration_s"].as_f64().unwrap();
        assert!(length < 10.0, "a clip of {length} s: {clip}");
    }
}
