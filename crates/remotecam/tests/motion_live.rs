//! Motion detection on a live camera: the settings API, and the events a moving object
//! makes on `GET /api/events`.

mod common;

use common::*;

#[tokio::test]
async fn a_moving_object_makes_motion_events() {
    let hub = Hub::start(&[]);
    let mut events = Events::open(&hub).await;
    let mut publisher = Publisher::connect(&hub, "yard").await;
    assert_eq!(events.next().await.0, "camera_online");

    let res = put_motion(
        &hub,
        "yard",
        serde_json::json!({"enabled": true, "calm_frames": 5, "min_motion_frames": 3}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let settings: serde_json::Value = res.json().await.unwrap();
    for key in [
        "enabled",
        "threshold",
        "calm_frames",
        "min_motion_frames",
        "pre_roll_s",
    ] {
        assert!(settings.get(key).is_some(), "{key} in {settings}");
    }
    assert_eq!(settings["calm_frames"], 5);

    // Still, then a square crossing, then still again; each frame scored before the next.
    let mut frames: Vec<Option<(usize, usize)>> = vec![None; 15];
    frames.extend((0..10).map(|i| Some((40 + i * 50, 180))));
    frames.extend(vec![None; 10]);
    let mut peak = 0.0f64;
    for square in frames {
        let seq = publisher.send(scene(square)).await;
        let m = wait_scored(&hub, "yard", seq).await;
        peak = peak.max(m["level"].as_f64().unwrap());
    }
    assert!(peak > 3.0, "the square is seen (peak level {peak}%)");
    let m = wait_scored(&hub, "yard", 0).await;
    assert!(
        m["detector_cpu_ms"].as_f64() > Some(0.0),
        "detection's CPU time is shown: {m}"
    );
    let (name, start) = events.next().await;
    assert_eq!(name, "motion_start", "{start}");
    assert_eq!(start["camera"], "yard");
    let (name, end) = events.next().await;
    assert_eq!(name, "motion_end", "{end}");
    assert_eq!(end["kept"], true);
    assert!(end["motion_frames"].as_u64() >= Some(3), "{end}");
    // The clip is written out (tests/recording.rs looks at it).
    let (name, saved) = events.next().await;
    assert_eq!(name, "clip_saved", "{saved}");

    // The hub kept the levels: the camera page's graph starts with them, event marked.
    let history = hub.json("/api/cameras/yard/motion/history").await;
    let samples = history["samples"].as_array().unwrap();
    let kept_peak = samples
        .iter()
        .map(|s| s["level"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert!(
        (kept_peak - peak).abs() < 0.01,
        "history peak {kept_peak}%, scored {peak}%"
    );
    assert!(samples.iter().any(|s| s["in_event"] == true), "{history}");
    let newest = samples.last().unwrap()["at_ms"].as_u64().unwrap();
    let later = hub
        .json(&format!("/api/cameras/yard/motion/history?since={newest}"))
        .await;
    assert_eq!(
        later["samples"],
        serde_json::json!([]),
        "nothing after the newest"
    );

    // The publisher leaves: the camera goes offline, and listeners hear it.
    drop(publisher);
    assert_eq!(events.next().await.0, "camera_offline");
}

#[tokio::test]
async fn motion_settings_are_checked() {
    let hub = Hub::start(&[]);
    let mut publisher = Publisher::connect(&hub, "cam").await;
    publisher.send(scene(None)).await;
    let res = put_motion(&hub, "cam", serde_json::json!({"threshold": 0})).await;
    assert_eq!(res.status(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("threshold"),
        "{body}"
    );
    let res = put_motion(&hub, "cam", serde_json::json!({"treshold": 2})).await;
    assert_eq!(res.status(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("treshold"),
        "{body}"
    );
    let res = put_motion(
        &hub,
        "cam",
        serde_json::json!({"mask": [[[0.1, 0.1], [0.5, 0.1]]]}),
    )
    .await;
    assert_eq!(res.status(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("3 to 64 points"),
        "{body}"
    );
    let res = put_motion(
        &hub,
        "cam",
        serde_json::json!({"mask": [[[0.1, 0.1], [0.5, 0.1], [0.5, 1.5]]]}),
    )
    .await;
    assert_eq!(res.status(), 400);
    let res = put_motion(
        &hub,
        "cam",
        serde_json::json!({"mask": [[[0.0, 0.0], [0.5, 0.0], [0.5, 0.5]]]}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let res = put_motion(&hub, "nope", serde_json::json!({"enabled": true})).await;
    assert_eq!(res.status(), 404);
    // Nothing changed by the refused requests.
    let m = hub.motion("cam").await;
    assert_eq!(m["enabled"], false);
    assert_eq!(m["threshold"], 1.0);
    assert_eq!(
        m["mask"],
        serde_json::json!([[[0.0, 0.0], [0.5, 0.0], [0.5, 0.5]]])
    );
}

/// Keys changed at the same moment (two fields typed quickly on the camera page, two
/// tools) are all kept: one change never puts back what another just set.
#[tokio::test]
async fn changes_of_different_keys_at_once_are_all_kept() {
    let hub = Hub::start(&[]);
    let mut publisher = Publisher::connect(&hub, "busy").await;
    publisher.send(scene(None)).await;
    let keys = [
        "calm_frames",
        "min_motion_frames",
        "max_clip_s",
        "min_gap_s",
        "noise_level",
    ];
    for round in 1..=10u32 {
        let changes = keys
            .iter()
            .map(|key| put_motion(&hub, "busy", serde_json::json!({ *key: round * 10 + 1 })));
        for res in futures_util::future::join_all(changes).await {
            assert_eq!(res.status(), 200);
        }
        let m = hub.motion("busy").await;
        for key in keys {
            let want = f64::from(round * 10 + 1);
            assert_eq!(
                m[key].as_f64(),
                Some(want),
                "{key} after round {round}: {m}"
            );
        }
    }
    // And they were saved as they are now.
    drop(publisher);
    let hub = hub.restart(&[]);
    let mut publisher = Publisher::connect(&hub, "busy").await;
    publisher.send(scene(None)).await;
    let m = hub.motion("busy").await;
    for key in keys {
        assert_eq!(m[key].as_f64(), Some(101.0), "{key} after a restart: {m}");
    }
}

#[tokio::test]
async fn motion_settings_survive_a_restart() {
    let hub = Hub::start(&[]);
    let mut publisher = Publisher::connect(&hub, "kept").await;
    publisher.send(scene(None)).await;
    let res = put_motion(
        &hub,
        "kept",
        serde_json::json!({"enabled": true, "threshold": 2.5}),
    )
    .await;
    assert_eq!(res.status(), 200);
    drop(publisher);
    let hub = hub.restart(&[]);
    let mut publisher = Publisher::connect(&hub, "kept").await;
    publisher.send(scene(None)).await;
    let m = hub.motion("kept").await;
    assert_eq!(m["enabled"], true);
    assert_eq!(m["threshold"], 2.5);
}

#[tokio::test]
async fn motion_settings_from_the_config_file_win_at_every_start() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("test.toml");
    std::fs::write(
        &cfg,
        "[cameras.yard]\nsource = \"test:?width=160&height=120&fps=10\"\n\n\
         [cameras.yard.motion]\nenabled = true\nthreshold = 3.5\n\
         mask = [[[0.0, 0.0], [0.25, 0.0], [0.25, 0.25]]]\n",
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap().to_owned();
    let hub = Hub::builder().dir(dir).args(&["--config", &cfg]).start();
    let m = hub.motion("yard").await;
    assert_eq!(m["enabled"], true);
    assert_eq!(m["threshold"], 3.5);
    assert_eq!(
        m["mask"],
        serde_json::json!([[[0.0, 0.0], [0.25, 0.0], [0.25, 0.25]]])
    );

    // Changed from the page: applies now; after a restart the file's keys come back,
    // and the keys the file leaves alone keep what was saved.
    let res = put_motion(
        &hub,
        "yard",
        serde_json::json!({"threshold": 6.0, "calm_frames": 40}),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(hub.motion("yard").await["threshold"], 6.0);
    let hub = hub.restart(&["--config", &cfg]);
    let m = hub.motion("yard").await;
    assert_eq!(m["threshold"], 3.5);
    assert_eq!(m["calm_frames"], 40);
    assert_eq!(m["enabled"], true);
}

#[tokio::test]
async fn a_cmyk_frame_is_served_and_the_status_says_why_it_is_not_scored() {
    let hub = Hub::start(&[]);
    let mut publisher = Publisher::connect(&hub, "print").await;
    put_motion(&hub, "print", serde_json::json!({"enabled": true})).await;
    let mut cmyk = Vec::new();
    jpeg_encoder::Encoder::new(&mut cmyk, 80)
        .encode(&[30u8; 64 * 48 * 4], 64, 48, jpeg_encoder::ColorType::Cmyk)
        .unwrap();
    // The motion task may start after a first frame: send the frame until one is scored
    // (each send waits for the hub's ack, so this paces itself).
    let cmyk = bytes::Bytes::from(cmyk);
    let first = publisher.send(cmyk.clone()).await;
    let mut m = hub.motion("print").await;
    for _ in 0..500 {
        if m["scored_seq"].as_u64() >= Some(first) {
            break;
        }
        publisher.send(cmyk.clone()).await;
        m = hub.motion("print").await;
    }
    assert!(m["scored_seq"].as_u64() >= Some(first), "never scored: {m}");
    assert!(
        m["error"]
            .as_str()
            .unwrap_or("")
            .contains("CMYK frames cannot be scored"),
        "{m}"
    );
}

#[tokio::test]
async fn the_config_file_sets_motion_for_browser_cameras_and_every_camera() {
    // `[motion]` for every camera; `[cameras.phone]` without a source: settings for a
    // camera that publishes by itself, applied when it appears.
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("test.toml");
    std::fs::write(
        &cfg,
        "[motion]\nenabled = true\ncalm_frames = 30\n\n\
         [cameras.phone.motion]\nthreshold = 4.5\n",
    )
    .unwrap();
    let hub = Hub::builder()
        .dir(dir)
        .args(&["--config", cfg.to_str().unwrap()])
        .start();
    let mut phone = Publisher::connect(&hub, "phone").await;
    phone.send(scene(None)).await;
    let mut other = Publisher::connect(&hub, "other").await;
    other.send(scene(None)).await;
    let m = hub.motion("phone").await;
    assert_eq!(m["enabled"], true, "{m}");
    assert_eq!(m["calm_frames"], 30, "{m}");
    assert_eq!(m["threshold"], 4.5, "{m}");
    let m = hub.motion("other").await;
    assert_eq!(m["enabled"], true, "{m}");
    assert_eq!(m["calm_frames"], 30, "{m}");
    assert_eq!(m["threshold"], 1.0, "{m}");
    let cameras = hub.cameras().await;
    assert_eq!(
        cameras.as_array().unwrap().len(),
        2,
        "no camera is made for settings alone"
    );
}
