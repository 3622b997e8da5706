//! MQTT against a real broker (mosquitto, with a password file): Home Assistant's
//! discovery, motion ON/OFF during a scene with motion, commands, the last will, a
//! broker restarted or frozen.

mod common;

use common::*;

/// A hub whose config file points it at `broker` (and has `extra` after `[mqtt]`).
fn hub_on(broker: &Broker, extra: &str) -> Hub {
    hub_with_config(&format!(
        "[mqtt]\nurl = \"{}\"\nclient_id = \"hub-one\"\n{extra}",
        broker.url()
    ))
}

/// A hub with this config file.
fn hub_with_config(text: &str) -> Hub {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("hub.toml");
    std::fs::write(&cfg, text).unwrap();
    let cfg = cfg.to_str().unwrap().to_owned();
    Hub::builder().dir(dir).args(&["--config", &cfg]).start()
}

#[tokio::test]
async fn a_camera_is_announced_reports_motion_and_takes_commands() {
    let broker = Broker::start();
    let mut mqtt = Listener::connect(&broker).await;
    let hub = hub_on(&broker, "");
    mqtt.wait_text("remotecam/available", "online").await;
    let mut publisher = Publisher::connect(&hub, "yard").await;
    publisher.send(scene(None)).await;

    // Home Assistant's discovery: one device, five entities, retained.
    let motion = mqtt
        .wait(
            "homeassistant/binary_sensor/hub-one/yard_motion/config",
            |_| true,
        )
        .await;
    let config = motion.json();
    assert_eq!(config["device_class"], "motion", "{config}");
    assert_eq!(config["state_topic"], "remotecam/yard/motion");
    assert_eq!(config["device"]["identifiers"][0], "hub-one_yard");
    assert_eq!(config["availability"][0]["topic"], "remotecam/available");
    for topic in [
        "homeassistant/camera/hub-one/yard_snapshot/config",
        "homeassistant/switch/hub-one/yard_detection/config",
        "homeassistant/switch/hub-one/yard_recording/config",
        "homeassistant/sensor/hub-one/yard_level/config",
    ] {
        let m = mqtt.wait(topic, |_| true).await;
        assert_eq!(
            m.json()["device"]["identifiers"][0],
            "hub-one_yard",
            "{topic}"
        );
    }
    let switch = mqtt
        .wait("homeassistant/switch/hub-one/yard_detection/config", |_| {
            true
        })
        .await
        .json();
    assert_eq!(switch["command_topic"], "remotecam/yard/motion/set");
    mqtt.wait_text("remotecam/yard/online", "online").await;
    mqtt.wait_text("remotecam/yard/motion/state", "OFF").await;
    mqtt.wait_text("remotecam/yard/motion", "OFF").await;

    // A command turns detection on; the hub says so, and the API agrees.
    mqtt.publish("remotecam/yard/motion/set", "ON").await;
    mqtt.next("remotecam/yard/motion/state", |m| m.text() == "ON")
        .await;
    assert_eq!(hub.motion("yard").await["enabled"], true);
    put_motion(
        &hub,
        "yard",
        serde_json::json!({"calm_frames": 5, "min_motion_frames": 3}),
    )
    .await;

    // A square crossing a still scene: motion ON, the event, a snapshot, then OFF.
    let mut frames: Vec<Option<(usize, usize)>> = vec![None; 15];
    frames.extend((0..10).map(|i| Some((40 + i * 50, 180))));
    frames.extend(vec![None; 10]);
    for square in frames {
        let seq = publisher.send(scene(square)).await;
        wait_scored(&hub, "yard", seq).await;
    }
    mqtt.wait_text("remotecam/yard/motion", "ON").await;
    let start = mqtt
        .wait("remotecam/yard/events", |m| {
            m.json()["event"] == "motion_start"
        })
        .await
        .json();
    assert_eq!(start["camera"], "yard");
    let snapshot = mqtt.wait("remotecam/yard/snapshot", |_| true).await;
    assert_eq!(&snapshot.payload[..2], &[0xFF, 0xD8], "a JPEG");
    mqtt.next("remotecam/yard/motion", |m| m.text() == "OFF")
        .await;
    mqtt.wait("remotecam/yard/events", |m| {
        m.json()["event"] == "motion_end"
    })
    .await;
    // The level, once a second at most, a percentage.
    mqtt.wait("remotecam/yard/level", |m| {
        m.text()
            .parse::<f64>()
            .is_ok_and(|v| (0.0..=100.0).contains(&v))
    })
    .await;

    // Recording off by command, and a snapshot asked for.
    mqtt.publish("remotecam/yard/record/set", "OFF").await;
    mqtt.next("remotecam/yard/record/state", |m| m.text() == "OFF")
        .await;
    assert_eq!(hub.motion("yard").await["record"], false);
    mqtt.forget();
    mqtt.publish("remotecam/yard/snapshot/get", "").await;
    let snapshot = mqtt.next("remotecam/yard/snapshot", |_| true).await;
    assert_eq!(&snapshot.payload[..2], &[0xFF, 0xD8], "a JPEG");

    // Nonsense is ignored, and the hub goes on.
    mqtt.publish("remotecam/yard/motion/set", "PERHAPS").await;
    mqtt.publish("remotecam/nobody/motion/set", "ON").await;
    mqtt.publish("remotecam/yard/record/set", "ON").await;
    mqtt.next("remotecam/yard/record/state", |m| m.text() == "ON")
        .await;
    assert_eq!(hub.motion("yard").await["enabled"], true);

    // The camera leaves and is forgotten: its device goes from Home Assistant.
    drop(publisher);
    mqtt.wait_text("remotecam/yard/online", "offline").await;
    let res = reqwest::Client::new()
        .delete(hub.url("/api/cameras/yard"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    mqtt.next(
        "homeassistant/binary_sensor/hub-one/yard_motion/config",
        |m| m.payload.is_empty(),
    )
    .await;
}

#[tokio::test]
async fn the_last_will_says_offline_when_the_hub_is_killed() {
    let broker = Broker::start();
    let mut mqtt = Listener::connect(&broker).await;
    let hub = hub_on(&broker, "");
    mqtt.wait_text("remotecam/available", "online").await;
    let _dir = hub.stop(); // SIGKILL: no goodbye from the hub
    mqtt.next("remotecam/available", |m| m.text() == "offline")
        .await;
    // The broker keeps it for whoever comes later.
    let mut later = Listener::connect(&broker).await;
    let kept = later.wait("remotecam/available", |_| true).await;
    assert_eq!((kept.text(), kept.retain), ("offline", true));
}

#[tokio::test]
async fn a_broker_frozen_or_restarted_costs_the_cameras_nothing_and_the_hub_comes_back() {
    let mut broker = Broker::start();
    let mut mqtt = Listener::connect(&broker).await;
    let hub = hub_on(
        &broker,
        "\n[cameras.pattern]\nsource = \"test:?width=320&height=240&fps=20\"\n\
         [cameras.pattern.motion]\nenabled = true\n",
    );
    mqtt.wait("homeassistant/sensor/hub-one/pattern_level/config", |_| {
        true
    })
    .await;
    hub.wait_camera("pattern", |c| c["fps"].as_f64() > Some(15.0))
        .await;

    // Frozen: connections hang, messages pile up in nobody's queue.
    broker.freeze(true);
    let seq = hub.camera("pattern").await["seq"].as_u64().unwrap();
    // Three seconds of the camera's frames (60 at 20 fps) while the broker is frozen.
    hub.wait_camera("pattern", |c| c["seq"].as_u64() >= Some(seq + 60))
        .await;
    let camera = hub.camera("pattern").await;
    assert!(camera["fps"].as_f64() > Some(15.0), "{camera}");
    broker.freeze(false);

    // Restarted: it remembers nothing; the hub connects again and tells it everything.
    broker.restart();
    mqtt.next("remotecam/available", |m| m.text() == "online")
        .await;
    mqtt.next("homeassistant/sensor/hub-one/pattern_level/config", |_| {
        true
    })
    .await;
    mqtt.next("remotecam/pattern/motion/state", |m| m.text() == "ON")
        .await;
    mqtt.publish("remotecam/pattern/motion/set", "OFF").await;
    mqtt.next("remotecam/pattern/motion/state", |m| m.text() == "OFF")
        .await;
    assert_eq!(hub.motion("pattern").await["enabled"], false);
}

#[tokio::test]
async fn a_wrong_password_is_said_in_the_log_and_the_cameras_go_on() {
    let broker = Broker::start();
    let hub = hub_with_config(&format!(
        "[mqtt]\nurl = \"mqtt://127.0.0.1:{}\"\nusername = \"{MQTT_USER}\"\n\
         password = \"wrong\"\n\n[cameras.pattern]\nsource = \"test:?fps=10\"\n",
        broker.port
    ));
    hub.wait_log("check mqtt.username and mqtt.password").await;
    hub.wait_camera("pattern", |c| c["online"] == true).await;
}

#[tokio::test]
async fn over_tls_a_broker_is_trusted_by_its_pinned_certificate() {
    let (broker, print) = Broker::start_tls();
    let mut mqtt = Listener::connect(&broker).await;
    let tls = |fingerprint: &str| {
        format!(
            "[mqtt]\nurl = \"mqtts://{MQTT_USER}:{MQTT_PASSWORD}@127.0.0.1:{}\"\n\
             fingerprint = \"{fingerprint}\"\n",
            broker.tls_port.unwrap()
        )
    };
    // Another certificate's fingerprint: refused, and said so.
    let hub = hub_with_config(&tls(&"ab".repeat(32)));
    hub.wait_log(&format!(
        "its SHA-256 fingerprint is {print}, not mqtt.fingerprint"
    ))
    .await;
    drop(hub);
    // Its own: connected, over TLS.
    let _hub = hub_with_config(&tls(&print));
    mqtt.wait_text("remotecam/available", "online").await;
}

/// Whoever may publish on the broker can flood the hub's command topics, with
/// snapshot requests, nonsense and a message larger than any command: the hub's memory
/// stays put, the camera keeps its rate, and the hub is back on the broker after.
#[tokio::test]
async fn a_flood_of_commands_grows_nothing_and_stops_no_camera() {
    let broker = Broker::start();
    let mut mqtt = Listener::connect(&broker).await;
    let hub = hub_on(
        &broker,
        "\n[cameras.pattern]\nsource = \"test:?width=320&height=240&fps=20\"\n",
    );
    mqtt.wait("homeassistant/sensor/hub-one/pattern_level/config", |_| {
        true
    })
    .await;
    hub.wait_camera("pattern", |c| c["fps"].as_f64() > Some(15.0))
        .await;
    let before = hub.rss_kib();
    let junk = "x".repeat(60 * 1024);
    for _ in 0..2000 {
        mqtt.publish("remotecam/pattern/snapshot/get", "").await;
        mqtt.publish("remotecam/pattern/motion/set", &junk).await;
    }
    // Larger than the hub takes from its broker: it drops the connection, then comes back.
    mqtt.forget();
    mqtt.publish("remotecam/pattern/record/set", &"y".repeat(1 << 20))
        .await;
    hub.wait_log("MQTT broker lost").await;
    mqtt.next("remotecam/available", |m| m.text() == "online")
        .await;
    let seq = hub.camera("pattern").await["seq"].as_u64().unwrap();
    hub.wait_camera("pattern", |c| c["seq"].as_u64() >= Some(seq + 20))
        .await;
    let camera = hub.camera("pattern").await;
    assert!(camera["fps"].as_f64() > Some(15.0), "{camera}");
    let grown = hub.rss_kib().saturating_sub(before);
    assert!(grown < 64 * 1024, "the flood grew the hub by {grown} KiB");
    // Commands still work.
    mqtt.publish("remotecam/pattern/motion/set", "ON").await;
    mqtt.next("remotecam/pattern/motion/state", |m| m.text() == "ON")
        .await;
}

#[tokio::test]
async fn a_retained_command_does_not_act_again_at_each_connection() {
    let broker = Broker::start();
    let mut mqtt = Listener::connect(&broker).await;
    // Kept by the broker: every subscriber gets it when it subscribes.
    mqtt.publish_retained("remotecam/pattern/motion/set", "ON")
        .await;
    mqtt.wait("remotecam/pattern/motion/set", |m| m.retain)
        .await;
    let hub = hub_on(
        &broker,
        "\n[cameras.pattern]\nsource = \"test:?width=160&height=120&fps=10\"\n",
    );
    hub.wait_log("MQTT command ignored: it is retained").await;
    assert_eq!(hub.motion("pattern").await["enabled"], false);
    // Sent now, the same command acts.
    mqtt.publish("remotecam/pattern/motion/set", "ON").await;
    mqtt.wait("remotecam/pattern/motion/state", |m| m.text() == "ON")
        .await;
}

#[tokio::test]
async fn a_retained_message_too_large_is_named_and_not_fetched_every_second() {
    let broker = Broker::start();
    let mqtt = Listener::connect(&broker).await;
    mqtt.publish_retained("remotecam/pattern/record/set", &"y".repeat(1 << 20))
        .await;
    let started = std::time::Instant::now();
    let hub = hub_on(&broker, "");
    // Each connection gets it and ends: retried after 1, 2, then 4 s (7 s for four),
    // not every second (3 s).
    let deadline = started + WAIT;
    while hub.log_lines_with("MQTT broker lost").len() < 4 {
        assert!(std::time::Instant::now() < deadline, "{:?}", hub.log());
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(5),
        "4 connections in {:?}",
        started.elapsed()
    );
    let line = hub.log_lines_with("MQTT broker lost").remove(0);
    assert!(line.contains("clear it"), "{line}");
}
