//! Clips in object storage, against a real S3-compatible store (SeaweedFS) started by
//! the test: every finished clip and its thumbnail are uploaded, the index says where;
//! clips whose local copy retention freed are served from the store; clips recorded
//! while the store is away wait in the queue, across a hub restart, until it is back;
//! an upload the store's stop cut in the middle is made again.

mod common;

use std::collections::BTreeSet;

use common::*;

/// The demo camera recording 1 s clips all the time, uploading them to `store` under
/// `prefix`; `args` after the config file.
fn hub_for(store: &Store, prefix: &str, args: &[&str]) -> (Hub, String) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("hub.toml");
    std::fs::write(
        &cfg,
        format!(
            "[cameras.demo.motion]\nenabled = true\nrecord = true\ncontinuous = true\n\
             max_clip_s = 1\n\n[recordings.s3]\nendpoint = \"{}\"\nbucket = \"{BUCKET}\"\n\
             prefix = \"{prefix}\"\n",
            store.endpoint()
        ),
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap().to_owned();
    let all = [&["--demo", "--config", cfg.as_str()], args].concat();
    let hub = Hub::builder().dir(dir).args(&all).start();
    (hub, cfg)
}

/// The clip's object key, from its `remote` (`s3://clips/<key>`).
fn key(clip: &serde_json::Value) -> String {
    let remote = clip["remote"].as_str().expect("uploaded");
    remote
        .strip_prefix(&format!("s3://{BUCKET}/"))
        .unwrap_or_else(|| panic!("{remote}"))
        .to_owned()
}

/// The store has the clip's video and thumbnail, byte for byte as the hub serves them.
async fn stored_as_served(store: &Store, hub: &Hub, clip: &serde_json::Value) {
    let key = key(clip);
    assert!(key.contains("/demo/") && key.ends_with(".mp4"), "{key}");
    for (url, key) in [
        ("video_url", key.clone()),
        ("thumbnail_url", key.replace(".mp4", ".jpg")),
    ] {
        let served = reqwest::get(hub.url(clip[url].as_str().unwrap()))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(store.get(&key).await.as_deref(), Some(&served[..]), "{key}");
    }
}

#[tokio::test]
async fn clips_are_uploaded_kept_in_a_queue_while_the_store_is_away_and_served_from_it() {
    // One store for the two hubs (a store takes seconds to start).
    let mut store = Store::start().await;
    // Retention frees the local copies of uploaded clips: they are served from the store.
    {
        let (hub, _) = hub_for(&store, "site-b", &["--record-max-total-mb", "0.1"]);
        let done = hub
            .finished_clips_when("/api/recordings", |c| {
                c.iter()
                    .any(|c| c["local"] == false && c["remote"].is_string())
            })
            .await;
        let gone = done.iter().find(|c| c["local"] == false).unwrap();
        assert!(
            !hub.dir
                .path()
                .join("recordings")
                .join(key(gone).trim_start_matches("site-b/"))
                .exists()
        );
        stored_as_served(&store, &hub, gone).await;
        let ranged = reqwest::Client::new()
            .get(hub.url(gone["video_url"].as_str().unwrap()))
            .header("range", "bytes=0-7")
            .send()
            .await
            .unwrap();
        assert_eq!(ranged.status(), 206);
        let size = gone["bytes"].as_i64().unwrap();
        assert_eq!(
            ranged.headers()["content-range"],
            format!("bytes 0-7/{size}").as_str()
        );
        assert_eq!(&ranged.bytes().await.unwrap()[4..8], b"ftyp");
    }

    let (hub, cfg) = hub_for(&store, "site-a", &[]);
    let done = hub
        .finished_clips_when("/api/recordings", |c| {
            c.iter().any(|c| c["remote"].is_string())
        })
        .await;
    let first = done.iter().find(|c| c["remote"].is_string()).unwrap();
    stored_as_served(&store, &hub, first).await;

    // The store goes away: clips are still recorded, and wait.
    store.stop();
    let waiting = |c: &[serde_json::Value]| -> BTreeSet<i64> {
        c.iter()
            .filter(|c| c["remote"].is_null())
            .map(|c| c["id"].as_i64().unwrap())
            .collect()
    };
    let done = hub
        .finished_clips_when("/api/recordings", |c| waiting(c).len() >= 2)
        .await;
    let queued = waiting(&done);
    // The hub is killed and started again while they wait: the queue is its index.
    let hub = hub.restart(&["--demo", "--config", &cfg]);
    store.restart().await;
    let done = hub
        .finished_clips_when("/api/recordings", |c| {
            queued
                .iter()
                .all(|id| c.iter().any(|c| c["id"] == *id && c["remote"].is_string()))
        })
        .await;
    for clip in done
        .iter()
        .filter(|c| queued.contains(&c["id"].as_i64().unwrap()))
    {
        stored_as_served(&store, &hub, clip).await;
    }
}

/// A clip larger than a part (8 MiB) goes up in parts (S3's multipart upload), whole,
/// even when the store stops in the middle of it: the upload fails, the clip stays
/// queued, and it goes up again once the store is back. The clip is a file the hub
/// finds in its recordings without an index entry (as after losing its index), so it
/// is also the path of clips listed again from the disk.
#[tokio::test]
async fn a_large_clip_goes_up_in_parts_even_when_the_store_stops_mid_upload() {
    let mut store = Store::start().await;
    let dir = tempfile::tempdir().unwrap();
    let day = dir.path().join("recordings/door/2026-12-01");
    std::fs::create_dir_all(&day).unwrap();
    let file = day.join("101500-1.mp4");
    let made = std::process::Command::new("ffmpeg")
        .args(["-loglevel", "error", "-f", "lavfi", "-i"])
        .arg("testsrc2=s=640x360:r=30,noise=alls=40:allf=t")
        .args([
            "-t",
            "2",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-qp",
            "18",
            "-g",
            "30",
        ])
        .args([
            "-movflags",
            "frag_keyframe+empty_moov+default_base_moof",
            "-f",
            "mp4",
        ])
        .arg(&file)
        .status()
        .expect("run ffmpeg");
    assert!(made.success());
    let size = std::fs::metadata(&file).unwrap().len();
    assert!(size > 8 << 20, "a clip of {size} bytes fits in one part");
    // The hub reaches the store through a relay that stands still once three quarters
    // of the clip went towards it: then the store is stopped, in the middle of it.
    let relay = Relay::start(store.addr(), size * 3 / 4).await;
    let cfg = dir.path().join("hub.toml");
    std::fs::write(
        &cfg,
        format!(
            "[recordings.s3]\nendpoint = \"{}\"\nbucket = \"{BUCKET}\"\n",
            relay.url()
        ),
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap().to_owned();
    let hub = Hub::builder().dir(dir).args(&["--config", &cfg]).start();
    relay.held().await;
    store.stop();
    relay.open();
    hub.wait_log("uploading clips failed").await;
    assert!(hub.metric("remotecam_upload_failures_total").await >= Some(1.0));
    assert_eq!(hub.metric("remotecam_uploads_queued").await, Some(1.0));
    let clips = hub.json("/api/recordings").await;
    assert!(clips[0]["remote"].is_null(), "{}", clips[0]);

    store.restart().await;
    let done = hub
        .finished_clips_when("/api/recordings", |c| {
            c.iter().any(|c| c["remote"].is_string())
        })
        .await;
    let clip = &done[0];
    assert_eq!(
        key(clip),
        "remotecam/door/2026-12-01/101500-1.mp4",
        "{clip}"
    );
    let stored = store.get(&key(clip)).await.expect("the object");
    let local = std::fs::read(&file).unwrap();
    assert!(
        stored == local,
        "{} bytes stored of {}",
        stored.len(),
        local.len()
    );
    assert_eq!(hub.metric("remotecam_uploads_queued").await, Some(0.0));
    assert_eq!(
        hub.metric("remotecam_uploaded_clips_total").await,
        Some(1.0)
    );
    assert_eq!(
        hub.metric("remotecam_uploaded_bytes_total").await,
        Some(local.len() as f64)
    );
}
