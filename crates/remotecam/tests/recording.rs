//! Recording on a live hub: a motion clip is saved, listed, served and played by
//! `ffprobe`; a hub killed mid-clip recovers the clip at restart; retention removes the
//! oldest clips and never the open one; a full disk stops recording cleanly while live
//! view goes on.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;

/// Publishes frames with the square moving (or not) until `done` returns true for the
/// latest scored motion status, waiting for each frame to be scored so the clip rules see
/// every frame. Returns the number of frames sent.
async fn publish_until(
    hub: &Hub,
    publisher: &mut Publisher,
    camera: &str,
    moving: impl Fn(usize) -> Option<(usize, usize)>,
    mut done: impl FnMut(usize, &serde_json::Value) -> bool,
) -> usize {
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut i = 0;
    loop {
        let seq = publisher.send(scene(moving(i))).await;
        let status = wait_scored(hub, camera, seq).await;
        i += 1;
        if done(i, &status) {
            return i;
        }
        assert!(
            Instant::now() < deadline,
            "gave up after {i} frames: {status}"
        );
    }
}

/// A square crossing the picture, frame by frame.
fn crossing(i: usize) -> Option<(usize, usize)> {
    Some((20 + (i * 37) % 500, 60 + (i * 23) % 300))
}

/// The square crossing only during `frames` (still before and after).
fn crossing_during(frames: std::ops::Range<usize>) -> impl Fn(usize) -> Option<(usize, usize)> {
    move |i| {
        if frames.contains(&i) {
            crossing(i)
        } else {
            None
        }
    }
}

async fn recordings(hub: &Hub, query: &str) -> Vec<serde_json::Value> {
    let res = reqwest::get(hub.url(&format!("/api/recordings{query}")))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn next_event(events: &mut Events, name: &str) -> serde_json::Value {
    loop {
        let (n, data) = events.next().await;
        if n == name {
            return data;
        }
    }
}

async fn download(hub: &Hub, url: &str, to: &Path) -> reqwest::header::HeaderMap {
    let res = reqwest::get(hub.url(url)).await.unwrap();
    assert_eq!(res.status(), 200, "{url}");
    let headers = res.headers().clone();
    std::fs::write(to, res.bytes().await.unwrap()).unwrap();
    headers
}

fn seconds(rfc3339: &serde_json::Value) -> f64 {
    let t: jiff::Timestamp = rfc3339.as_str().expect("a time").parse().expect("RFC 3339");
    t.as_millisecond() as f64 / 1000.0
}

/// The clip's file path under `root` without `.mp4`, found by its id.
fn clip_stem(root: &Path, clip: &serde_json::Value) -> String {
    let camera = clip["camera"].as_str().unwrap();
    let id = clip["id"].as_i64().unwrap();
    for day in std::fs::read_dir(root.join(camera)).unwrap() {
        let day = day.unwrap().path();
        for file in std::fs::read_dir(&day).unwrap() {
            let name = file.unwrap().file_name().into_string().unwrap();
            if name.ends_with(&format!("-{id}.mp4")) {
                let day = day.file_name().unwrap().to_str().unwrap().to_owned();
                return format!("{camera}/{day}/{}", name.trim_end_matches(".mp4"));
            }
        }
    }
    panic!("no file for clip {id}")
}

fn check_clip(clip: &serde_json::Value, file: &Path) -> Probe {
    let probe = ffprobe(file);
    assert_eq!(probe.codec, "h264");
    let frames = clip["frames"].as_u64().unwrap();
    assert_eq!(
        probe.frames, frames,
        "frames in the file vs the index: {clip}"
    );
    let listed = seconds(&clip["end"]) - seconds(&clip["start"]);
    assert!(
        (probe.duration - listed).abs() <= 0.05,
        "file lasts {} s, index says {listed} s",
        probe.duration
    );
    probe
}

#[tokio::test]
async fn a_motion_clip_is_saved_listed_served_and_deleted() {
    let hub = Hub::start(&[]);
    let mut events = Events::open(&hub).await;
    let mut publisher = Publisher::connect(&hub, "yard").await;
    let res = put_motion(
        &hub,
        "yard",
        serde_json::json!({"enabled": true, "calm_frames": 6, "min_motion_frames": 3, "pre_roll_s": 1.0}),
    )
    .await;
    assert_eq!(res.status(), 200);

    // 20 still frames (the pre-roll has them), 12 moving, then still until the clip ends.
    let mut saw_recording = false;
    publish_until(
        &hub,
        &mut publisher,
        "yard",
        crossing_during(20..32),
        |i, status| {
            saw_recording |= status["recording"]["state"] == "recording";
            i > 32 && status["in_event"] == false
        },
    )
    .await;
    assert!(saw_recording, "the camera showed it was recording");
    let saved = next_event(&mut events, "clip_saved").await;
    let clip = &saved["clip"];
    assert_eq!(clip["camera"], "yard");
    assert_eq!(clip["in_progress"], false);
    // The encoder's own messages go through the hub's log, not raw to stderr.
    let raw: Vec<String> = hub
        .log()
        .into_iter()
        .filter(|l| l.contains("[OpenH264]"))
        .collect();
    assert!(raw.is_empty(), "raw encoder output: {raw:?}");

    let list = recordings(&hub, "?camera=yard").await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(&list[0], clip);
    for key in [
        "id",
        "camera",
        "start",
        "end",
        "frames",
        "motion_frames",
        "bytes",
        "video_url",
        "thumbnail_url",
        "in_progress",
    ] {
        assert!(clip.get(key).is_some(), "{key} in {clip}");
    }
    assert!(
        clip["start"].as_str().unwrap().ends_with('Z'),
        "UTC: {clip}"
    );
    // Pre-roll (about a second of still frames) + 12 moving + the calm frames.
    let frames = clip["frames"].as_u64().unwrap();
    assert!((12 + 6..=32 + 6 + 2).contains(&frames), "{clip}");
    assert!(clip["motion_frames"].as_u64().unwrap() >= 10, "{clip}");

    let dir = tempfile::tempdir().unwrap();
    let mp4 = dir.path().join("clip.mp4");
    let headers = download(&hub, clip["video_url"].as_str().unwrap(), &mp4).await;
    assert_eq!(headers["content-type"], "video/mp4");
    assert_eq!(
        std::fs::metadata(&mp4).unwrap().len(),
        clip["bytes"].as_u64().unwrap()
    );
    check_clip(clip, &mp4);

    // Browsers seek with byte ranges.
    let res = reqwest::Client::new()
        .get(hub.url(clip["video_url"].as_str().unwrap()))
        .header("range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 206);
    assert_eq!(res.bytes().await.unwrap().len(), 100);
    // Ranges past the end are served to the end; malformed or several ranges get the
    // whole file (RFC 9110); a range starting past the end is unsatisfiable.
    let size = clip["bytes"].as_u64().unwrap();
    for (range, status, len) in [
        ("bytes=0-99999999999999999999", 206, size),
        ("bytes=10-18446744073709551615", 206, size - 10),
        ("bytes=abc", 200, size),
        ("bytes=0-0,5-5", 200, size),
        ("bytes=99999999-", 416, 0),
    ] {
        let res = reqwest::Client::new()
            .get(hub.url(clip["video_url"].as_str().unwrap()))
            .header("range", range)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), status, "{range}");
        if status != 416 {
            assert_eq!(res.bytes().await.unwrap().len() as u64, len, "{range}");
        }
    }

    // The thumbnail: a JPEG of the frame with the most motion, 320 px wide.
    let jpg = dir.path().join("thumb.jpg");
    download(&hub, clip["thumbnail_url"].as_str().unwrap(), &jpg).await;
    let mut decoder = zune_jpeg::JpegDecoder::new(zune_jpeg::zune_core::bytestream::ZCursor::new(
        std::fs::read(&jpg).unwrap(),
    ));
    decoder.decode_headers().unwrap();
    assert_eq!(decoder.dimensions(), Some((320, 240)));

    // Time filters: nothing before the clip, the clip from its start.
    let since = |t: &str| format!("?since={t}");
    assert!(
        recordings(&hub, &since("2999-01-01T00:00:00Z"))
            .await
            .is_empty()
    );
    let until = format!("?until={}", clip["start"].as_str().unwrap());
    assert_eq!(recordings(&hub, &until).await.len(), 1);
    assert!(
        recordings(&hub, &since("9999-12-31T23:59:59Z"))
            .await
            .is_empty()
    );
    let bad = reqwest::get(hub.url("/api/recordings?since=yesterday"))
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    // The recordings are the user's alone.
    use std::os::unix::fs::PermissionsExt;
    let root = hub.dir.path().join("recordings");
    for path in [
        root.clone(),
        root.join("index.sqlite"),
        root.join(format!("{}.mp4", clip_stem(&root, clip))),
    ] {
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{} is {mode:o}", path.display());
    }

    let id = clip["id"].as_i64().unwrap();
    let res = reqwest::Client::new()
        .delete(hub.url(&format!("/api/recordings/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(recordings(&hub, "").await.is_empty());
    let gone = reqwest::get(hub.url(clip["video_url"].as_str().unwrap()))
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
}

#[tokio::test]
async fn a_clip_cut_by_kill_9_is_recovered_at_restart() {
    let hub = Hub::start(&[]);
    let mut publisher = Publisher::connect(&hub, "door").await;
    put_motion(
        &hub,
        "door",
        serde_json::json!({"enabled": true, "calm_frames": 1000, "pre_roll_s": 0.5}),
    )
    .await;
    // Motion all along, for about four seconds of clip.
    let mut clip_started = None;
    publish_until(&hub, &mut publisher, "door", crossing, |_, status| {
        if status["recording"]["state"] == "recording" {
            clip_started.get_or_insert_with(Instant::now);
        }
        clip_started.is_some_and(|t| t.elapsed() > Duration::from_secs(4))
    })
    .await;
    let listed = recordings(&hub, "").await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["in_progress"], true, "{listed:?}");
    let killed_at = jiff::Timestamp::now().as_millisecond() as f64 / 1000.0;
    // SIGKILL: no chance to finish anything.
    let status = std::process::Command::new("kill")
        .args(["-9", &hub.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let hub = hub.restart(&[]);

    let list = recordings(&hub, "").await;
    assert_eq!(list.len(), 1, "{list:?}");
    let clip = &list[0];
    assert_eq!(clip["in_progress"], false, "{clip}");
    let end = seconds(&clip["end"]);
    assert!(
        end >= killed_at - 1.5,
        "the clip plays to {:.2} s before the kill",
        killed_at - end
    );
    let dir = tempfile::tempdir().unwrap();
    let mp4 = dir.path().join("clip.mp4");
    download(&hub, clip["video_url"].as_str().unwrap(), &mp4).await;
    let probe = check_clip(clip, &mp4);
    assert!(probe.duration >= 2.5, "{clip}");
    let thumb = reqwest::get(hub.url(clip["thumbnail_url"].as_str().unwrap()))
        .await
        .unwrap();
    assert_eq!(
        thumb.status(),
        200,
        "the thumbnail was written while recording"
    );
}

/// The camera `name` publishing with motion on until its event (and clip) is going on.
async fn in_a_clip(hub: &Hub, name: &str) -> Publisher {
    let mut publisher = Publisher::connect(hub, name).await;
    put_motion(
        hub,
        name,
        serde_json::json!({"enabled": true, "calm_frames": 1000, "min_motion_frames": 3, "pre_roll_s": 0.5}),
    )
    .await;
    publish_until(hub, &mut publisher, name, crossing, |i, status| {
        i > 12 && status["recording"]["state"] == "recording"
    })
    .await;
    // The camera list says so too (the dashboard's tiles show it).
    let camera = hub.camera(name).await;
    assert_eq!(
        (
            &camera["motion_enabled"],
            &camera["in_event"],
            &camera["recording"]
        ),
        (
            &serde_json::json!(true),
            &serde_json::json!(true),
            &serde_json::json!("recording")
        ),
        "{camera}"
    );
    publisher
}

/// A clip closed at the source's last frame: saved, listed as done, playable, and
/// ending about when the frames stopped.
async fn closed_at_last_frame(hub: &Hub, events: &mut Events, last_frame: f64) -> i64 {
    let saved = next_event(events, "clip_saved").await;
    let clip = &saved["clip"];
    assert_eq!(clip["in_progress"], false, "{clip}");
    let end = seconds(&clip["end"]);
    assert!(
        (end - last_frame).abs() < 1.0,
        "the clip ends {:.2} s from the last frame",
        end - last_frame
    );
    let dir = tempfile::tempdir().unwrap();
    let mp4 = dir.path().join("clip.mp4");
    download(hub, clip["video_url"].as_str().unwrap(), &mp4).await;
    check_clip(clip, &mp4);
    let listed = recordings(hub, "").await;
    let row = listed
        .iter()
        .find(|c| c["id"] == clip["id"])
        .expect("listed");
    assert_eq!(row["in_progress"], false);
    clip["id"].as_i64().unwrap()
}

#[tokio::test]
async fn a_phone_that_drops_mid_event_gets_its_clip_closed_and_a_new_one_when_back() {
    let hub = Hub::start(&[]);
    let mut events = Events::open(&hub).await;
    let publisher = in_a_clip(&hub, "phone").await;
    let last_frame = jiff::Timestamp::now().as_millisecond() as f64 / 1000.0;
    drop(publisher);
    let first = closed_at_last_frame(&hub, &mut events, last_frame).await;
    let motion = hub.motion("phone").await;
    assert_eq!(motion["in_event"], false, "{motion}");

    // Back: a new event opens a new clip, not the old one going on across the gap.
    let publisher = in_a_clip(&hub, "phone").await;
    let status = hub.motion("phone").await;
    let second = status["recording"]["clip"].as_i64().expect("a clip open");
    assert_ne!(second, first);
    let started = recordings(&hub, "").await;
    let row = started.iter().find(|c| c["id"] == second).unwrap();
    assert!(seconds(&row["start"]) > last_frame, "{row}");
    drop(publisher);
}

#[tokio::test]
async fn a_source_that_stalls_mid_event_gets_its_clip_closed() {
    let hub = Hub::start(&[]);
    let mut events = Events::open(&hub).await;
    // Connected, but no frame comes (a phone whose network froze).
    let _publisher = in_a_clip(&hub, "stalled").await;
    let last_frame = jiff::Timestamp::now().as_millisecond() as f64 / 1000.0;
    closed_at_last_frame(&hub, &mut events, last_frame).await;
}

#[tokio::test]
async fn sigterm_finishes_the_open_clip() {
    let mut hub = Hub::start(&[]);
    let mut events = Events::open(&hub).await;
    let mut publisher = in_a_clip(&hub, "door").await;
    let mut viewer = connect_ws(&hub.ws_url("/api/cameras/door/ws")).await;
    let id = recordings(&hub, "").await[0]["id"].clone();
    let status = hub.terminate();
    assert!(status.success(), "{status}");
    // WebSockets are told the hub is going (1001), so clients know to come back.
    for ws in [&mut viewer, &mut publisher.ws] {
        let frame = close_frame(ws).await.expect("a close frame");
        assert_eq!(u16::from(frame.code), 1001);
        assert_eq!(frame.reason.as_str(), "the hub is stopping");
    }
    // The clip was finished before the hub went: saved, not left for recovery.
    let saved = next_event(&mut events, "clip_saved").await;
    assert_eq!(saved["clip"]["id"], id);
    assert_eq!(saved["clip"]["in_progress"], false);
    let hub = hub.restart(&[]);
    let list = recordings(&hub, "").await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0], saved["clip"], "the index as the hub left it");
    let dir = tempfile::tempdir().unwrap();
    let mp4 = dir.path().join("clip.mp4");
    download(&hub, list[0]["video_url"].as_str().unwrap(), &mp4).await;
    check_clip(&list[0], &mp4);
}

/// A whole clip of camera `name`: still, a square crossing, still until it ends.
async fn record_a_clip(hub: &Hub, events: &mut Events, name: &str) -> serde_json::Value {
    let mut publisher = Publisher::connect(hub, name).await;
    put_motion(
        hub,
        name,
        serde_json::json!({"enabled": true, "calm_frames": 4, "min_motion_frames": 3, "pre_roll_s": 0.0}),
    )
    .await;
    publish_until(
        hub,
        &mut publisher,
        name,
        crossing_during(3..12),
        |i, status| i > 12 && status["in_event"] == false,
    )
    .await;
    next_event(events, "clip_saved").await["clip"].clone()
}

/// The clips a restarted hub lists are those on disk: same camera, frames and bytes,
/// done and playable (ids and the start's milliseconds may differ).
async fn listed_again(hub: &Hub, clips: &[&serde_json::Value]) {
    let list = recordings(hub, "").await;
    assert_eq!(list.len(), clips.len(), "{list:?}");
    for clip in clips {
        let found = list
            .iter()
            .find(|c| c["camera"] == clip["camera"] && c["frames"] == clip["frames"])
            .unwrap_or_else(|| panic!("{clip} not in {list:?}"));
        assert_eq!(found["in_progress"], false);
        assert_eq!(found["bytes"], clip["bytes"]);
        assert!((seconds(&found["start"]) - seconds(&clip["start"])).abs() < 1.0);
        let dir = tempfile::tempdir().unwrap();
        let mp4 = dir.path().join("clip.mp4");
        download(hub, found["video_url"].as_str().unwrap(), &mp4).await;
        check_clip(found, &mp4);
    }
}

#[tokio::test]
async fn a_damaged_or_emptied_index_is_rebuilt_from_the_clip_files() {
    let hub = Hub::start(&[]);
    let mut events = Events::open(&hub).await;
    let clip = record_a_clip(&hub, &mut events, "door").await;
    let dir = hub.stop();
    let index = dir.path().join("recordings/index.sqlite");

    // Garbage over the whole database: set aside (kept, renamed), and the clip listed
    // again from its file.
    std::fs::write(&index, b"this is not a database. ".repeat(400)).unwrap();
    for side in ["index.sqlite-wal", "index.sqlite-shm"] {
        let _ = std::fs::remove_file(dir.path().join("recordings").join(side));
    }
    let hub = Hub::builder().dir(dir).args(&[]).start();
    listed_again(&hub, &[&clip]).await;
    let kept: Vec<_> = std::fs::read_dir(hub.dir.path().join("recordings"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| {
            n.starts_with("index.sqlite.damaged-") && !n.ends_with("-wal") && !n.ends_with("-shm")
        })
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    let kept = std::fs::read(hub.dir.path().join("recordings").join(&kept[0])).unwrap();
    assert!(kept.starts_with(b"this is not a database"));
    let dir = hub.stop();

    // Emptied (0 bytes): the clip files are listed again.
    std::fs::write(&index, b"").unwrap();
    for side in ["index.sqlite-wal", "index.sqlite-shm"] {
        let _ = std::fs::remove_file(dir.path().join("recordings").join(side));
    }
    let hub = Hub::builder().dir(dir).args(&[]).start();
    listed_again(&hub, &[&clip]).await;
}

#[tokio::test]
async fn recordings_deleted_under_a_running_hub_are_not_listed_and_new_clips_are_kept() {
    let hub = Hub::start(&[]);
    let mut events = Events::open(&hub).await;
    record_a_clip(&hub, &mut events, "door").await;
    std::fs::remove_dir_all(hub.dir.path().join("recordings")).unwrap();
    assert!(
        recordings(&hub, "").await.is_empty(),
        "no clip whose file is gone"
    );
    let second = record_a_clip(&hub, &mut events, "yard").await;
    let listed = recordings(&hub, "").await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["id"], second["id"]);
    let hub = hub.restart(&[]);
    listed_again(&hub, &[&second]).await;
}

#[tokio::test]
async fn recordings_that_cannot_open_say_why() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the recordings directory should be.
    std::fs::write(dir.path().join("recordings"), b"not a directory").unwrap();
    let hub = Hub::builder().dir(dir).args(&[]).start();
    let _publisher = Publisher::connect(&hub, "door").await;
    let res = put_motion(&hub, "door", serde_json::json!({"enabled": true})).await;
    assert_eq!(res.status(), 200);
    let motion = hub.motion("door").await;
    assert_eq!(motion["recording"]["state"], "error", "{motion}");
    let why = motion["recording"]["error"].as_str().unwrap();
    assert!(why.contains("recordings unavailable"), "{why}");
    let res = reqwest::get(hub.url("/api/recordings")).await.unwrap();
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("recordings are unavailable on this hub: "),
        "{body}"
    );
}

#[tokio::test]
async fn retention_removes_the_oldest_clips_and_never_the_open_one() {
    let motion = serde_json::json!({"enabled": true, "calm_frames": 3, "min_motion_frames": 2, "pre_roll_s": 0.0});
    // One clip first, to learn how big such a clip is; then a limit of two and a half.
    let hub = Hub::start(&[]);
    let mut events = Events::open(&hub).await;
    let mut publisher = Publisher::connect(&hub, "gate").await;
    put_motion(&hub, "gate", motion.clone()).await;
    let short_clip = crossing_during(0..40);
    let clip_ended = |i: usize, status: &serde_json::Value| i > 40 && status["in_event"] == false;
    publish_until(&hub, &mut publisher, "gate", &short_clip, clip_ended).await;
    let first = next_event(&mut events, "clip_saved").await["clip"].clone();
    let size = first["bytes"].as_u64().unwrap();
    let limit = size * 5 / 2;
    drop((events, publisher));
    let mb = format!("{}", limit as f64 / 1_048_576.0);
    let hub = hub.restart(&["--record-max-total-mb", &mb]);
    let mut events = Events::open(&hub).await;
    let mut publisher = Publisher::connect(&hub, "gate").await;

    let mut saved = vec![first["id"].as_i64().unwrap()];
    while saved.len() < 5 {
        publish_until(&hub, &mut publisher, "gate", &short_clip, clip_ended).await;
        let clip = next_event(&mut events, "clip_saved").await["clip"].clone();
        saved.push(clip["id"].as_i64().unwrap());
        let list = recordings(&hub, "").await;
        let ids: Vec<i64> = list.iter().map(|c| c["id"].as_i64().unwrap()).collect();
        let total: u64 = list.iter().map(|c| c["bytes"].as_u64().unwrap()).sum();
        assert!(total <= limit, "within the limit: {total} of {limit} bytes");
        // What is kept is the newest clips, none skipped.
        let newest: Vec<i64> = saved.iter().rev().take(ids.len()).copied().collect();
        assert_eq!(ids, newest, "oldest removed first");
    }
    let left = recordings(&hub, "").await;
    assert!(
        (1..5).contains(&left.len()),
        "some clips were removed: {left:?}"
    );

    // A clip bigger than the whole limit stays while it is written: another camera's
    // clip ends meanwhile, and retention removes every finished clip but not the open one.
    put_motion(&hub, "gate", serde_json::json!({"calm_frames": 1000})).await;
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut i = 0;
    let open = loop {
        let seq = publisher.send(scene(crossing(i))).await;
        wait_scored(&hub, "gate", seq).await;
        i += 1;
        let list = recordings(&hub, "?camera=gate").await;
        if let Some(open) = list.iter().find(|c| c["in_progress"] == true)
            && open["bytes"].as_u64().unwrap() > limit
        {
            break open.clone();
        }
        assert!(
            Instant::now() < deadline,
            "the open clip never grew: {list:?}"
        );
    };
    let mut other = Publisher::connect(&hub, "porch").await;
    put_motion(
        &hub,
        "porch",
        serde_json::json!({"enabled": true, "calm_frames": 3, "min_motion_frames": 2, "pre_roll_s": 0.0}),
    )
    .await;
    publish_until(
        &hub,
        &mut other,
        "porch",
        // Past the detector's first (learning) frames, then a short crossing.
        crossing_during(12..24),
        |i, status| i > 24 && status["in_event"] == false,
    )
    .await;
    let porch = next_event(&mut events, "clip_saved").await;
    assert_eq!(porch["camera"], "porch");
    let list = recordings(&hub, "").await;
    let ids: Vec<i64> = list.iter().map(|c| c["id"].as_i64().unwrap()).collect();
    assert_eq!(
        ids,
        [open["id"].as_i64().unwrap()],
        "only the open clip is left: {list:?}"
    );
    assert_eq!(list[0]["in_progress"], true);
}

/// A 1280x720 picture of fixed noise (it compresses badly: the disk fills fast) with
/// a white square at `square`.
fn noisy_scene(square: Option<(usize, usize)>) -> bytes::Bytes {
    let mut c = remotecam::placeholder::Canvas::new(1280, 720, [0, 0, 0]);
    let mut x: u32 = 0x2545_F491;
    for b in c.rgb.iter_mut() {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = 60 + (x % 120) as u8;
    }
    if let Some((sx, sy)) = square {
        for y in sy * 3 / 2..sy * 3 / 2 + 160 {
            for px in sx * 2..sx * 2 + 160 {
                c.rgb[(y * 1280 + px) * 3..][..3].copy_from_slice(&[255, 255, 255]);
            }
        }
    }
    c.to_jpeg(90)
}

/// A hub whose data directory is a 4 MB filesystem of its own (a tmpfs in a mount
/// namespace that ends with the hub), recording down to its last byte.
fn hub_on_a_small_disk() -> Hub {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap().to_owned();
    let root = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"));
    let mount = "mount -t tmpfs -o size=4m remotecam-test \"$0\" && exec \"$@\"";
    let mut wrapper = vec!["unshare"];
    if !root {
        wrapper.push("--map-root-user");
    }
    wrapper.extend([
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        mount,
        &path,
    ]);
    Hub::builder()
        .dir(dir)
        .args(&["--record-min-free-mb", "0"])
        .wrapper(&wrapper)
        .start()
}

#[tokio::test]
async fn a_full_disk_stops_recording_cleanly_and_live_view_goes_on() {
    let hub = hub_on_a_small_disk();
    let mut events = Events::open(&hub).await;
    let mut publisher = Publisher::connect(&hub, "shed").await;
    put_motion(
        &hub,
        "shed",
        serde_json::json!({"enabled": true, "calm_frames": 5, "min_motion_frames": 2, "pre_roll_s": 0.0}),
    )
    .await;

    // Motion until the disk is full.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut i = 0;
    let status = loop {
        let square = (i >= 12).then(|| crossing(i).unwrap());
        let seq = publisher.send(noisy_scene(square)).await;
        let status = wait_scored(&hub, "shed", seq).await;
        i += 1;
        if status["recording"]["state"] == "disk_full" {
            break status;
        }
        assert!(Instant::now() < deadline, "the disk never filled: {status}");
    };
    assert!(
        status["recording"]["error"]
            .as_str()
            .unwrap()
            .contains("No space"),
        "{status}"
    );
    let stopped = next_event(&mut events, "recording_stopped").await;
    assert_eq!(stopped["reason"], "disk_full", "{stopped}");

    // The index is intact: the clip cut short is listed, finished, and plays.
    let list = recordings(&hub, "").await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["in_progress"], false, "{list:?}");
    let out = tempfile::tempdir().unwrap();
    let mp4 = out.path().join("cut.mp4");
    download(&hub, list[0]["video_url"].as_str().unwrap(), &mp4).await;
    let probe = check_clip(&list[0], &mp4);
    assert!(probe.frames > 0);

    // Live view goes on: new frames are served while recording is stopped.
    for n in 0..5 {
        let seq = publisher.send(noisy_scene(crossing(i + n))).await;
        let snap = reqwest::get(hub.url("/api/cameras/shed/snapshot.jpg"))
            .await
            .unwrap();
        assert_eq!(snap.status(), 200);
        let served: u64 = snap.headers()["x-frame-seq"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(served >= seq, "snapshot {served} after frame {seq}");
    }
    let m = hub.motion("shed").await;
    assert_eq!(m["recording"]["state"], "disk_full", "{m}");

    // Room again (the clip deleted): the next motion is recorded.
    let id = list[0]["id"].as_i64().unwrap();
    let res = reqwest::Client::new()
        .delete(hub.url(&format!("/api/recordings/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Still until the motion event is over, then motion again.
    for n in 0.. {
        let seq = publisher.send(noisy_scene(None)).await;
        if wait_scored(&hub, "shed", seq).await["in_event"] == false {
            break;
        }
        assert!(n < 100, "the motion event never ended");
    }
    let mut n = 0;
    loop {
        let square = (n >= 3).then(|| crossing(n).unwrap());
        let seq = publisher.send(noisy_scene(square)).await;
        let status = wait_scored(&hub, "shed", seq).await;
        n += 1;
        if status["recording"]["state"] == "recording" {
            break;
        }
        assert!(n < 100, "recording never resumed: {status}");
    }
    let resumed = next_event(&mut events, "recording_resumed").await;
    assert_eq!(resumed["camera"], "shed");
}

/// Recording all the time after a full disk: once there is room again, the next clip
/// starts by itself, without waiting for the one that could not be (it failed, 600 s
/// long) to be due.
#[tokio::test]
async fn recording_all_the_time_resumes_when_a_full_disk_has_room_again() {
    let hub = hub_on_a_small_disk();
    let mut events = Events::open(&hub).await;
    let mut publisher = Publisher::connect(&hub, "shed").await;
    put_motion(
        &hub,
        "shed",
        serde_json::json!({"record": true, "continuous": true, "max_clip_s": 600}),
    )
    .await;
    // A camera at 15 fps, noisy enough to fill the disk in seconds.
    let mut camera = tokio::time::interval(Duration::from_millis(66));
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut state = async || {
        camera.tick().await;
        publisher.send(noisy_scene(None)).await;
        hub.motion("shed").await["recording"]["state"].clone()
    };
    while state().await != "disk_full" {
        assert!(Instant::now() < deadline, "the disk never filled");
    }
    next_event(&mut events, "recording_stopped").await;
    for clip in recordings(&hub, "").await {
        let id = clip["id"].as_i64().unwrap();
        let url = hub.url(&format!("/api/recordings/{id}"));
        let res = reqwest::Client::new().delete(url).send().await.unwrap();
        assert_eq!(res.status(), 200);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while state().await != "recording" {
        assert!(Instant::now() < deadline, "recording never resumed");
    }
    let resumed = next_event(&mut events, "recording_resumed").await;
    assert_eq!(resumed["camera"], "shed");
}

/// Recording all the time, detection off: a JPEG camera's frames go into clips of
/// `max_clip_s`, one after the other, kept though nothing moved.
#[tokio::test]
async fn a_camera_recorded_all_the_time_has_clips_one_after_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("all.toml");
    std::fs::write(
        &path,
        "[cameras.yard]\nsource = \"test:?width=320&height=240&fps=15\"\n\
         [cameras.yard.motion]\ncontinuous = true\nmax_clip_s = 1\n",
    )
    .unwrap();
    let cfg = path.to_str().unwrap().to_owned();
    let hub = Hub::builder().dir(dir).args(&["--config", &cfg]).start();
    let mut events = Events::open(&hub).await;
    let first = next_event(&mut events, "clip_saved").await["clip"].clone();
    let second = next_event(&mut events, "clip_saved").await["clip"].clone();
    let files = tempfile::tempdir().unwrap();
    for (i, clip) in [&first, &second].into_iter().enumerate() {
        let file = files.path().join(format!("{i}.mp4"));
        download(&hub, clip["video_url"].as_str().unwrap(), &file).await;
        let probe = check_clip(clip, &file);
        assert!(
            (0.9..=1.2).contains(&probe.duration),
            "{} s",
            probe.duration
        );
        assert_eq!(clip["motion_frames"], 0);
    }
    let gap = seconds(&second["start"]) - seconds(&first["end"]);
    assert!(gap.abs() <= 0.1, "{gap} s between the clips");
    let motion = hub.json("/api/cameras/yard/motion").await;
    assert_eq!(motion["enabled"], false);
    assert_eq!(motion["recording"]["state"], "recording");
}
