//! The Rust client (`remotecam-client`) against the real hub.

mod common;

use std::time::Duration;

use common::*;
use remotecam_client::{Error, Publisher, Receiver, Target};

fn solid_bgr(width: usize, height: usize, bgr: [u8; 3]) -> Vec<u8> {
    bgr.repeat(width * height)
}

#[tokio::test]
async fn published_colours_come_back_decoded_as_bgr() {
    let hub = Hub::start(&[]);
    let target = Target::new(hub.url(""), "colour");
    let mut publisher = Publisher::connect(target.clone()).await.unwrap();
    publisher
        .send_bgr(&solid_bgr(320, 240, [0, 0, 255]), 320, 240, 90)
        .await
        .unwrap();
    publisher.flush().await.unwrap();
    let receiver = Receiver::connect(target).await.unwrap();
    let frame = receiver.next_frame(WAIT).await.unwrap();
    let image = frame.decode().unwrap();
    assert_eq!((image.width, image.height), (320, 240));
    let centre = &image.bgr[(120 * 320 + 160) * 3..][..3];
    assert!(
        centre[0] < 8 && centre[1] < 8 && centre[2] > 247,
        "pure red is [0, 0, 255] in BGR, got {centre:?}"
    );
    assert_eq!(
        hub.camera("colour").await["source"],
        "publisher",
        "a program's Publisher is no browser"
    );
}

#[tokio::test]
async fn never_the_same_frame_twice_and_skips_are_counted() {
    let hub = Hub::start(&[]);
    let target = Target::new(hub.url(""), "seq");
    let mut publisher = Publisher::connect(target.clone()).await.unwrap();
    publisher
        .send_jpeg(test_jpeg(64, 48, "0", false))
        .await
        .unwrap();
    publisher.flush().await.unwrap();
    let receiver = Receiver::connect(target).await.unwrap();
    let first = receiver.next_frame(WAIT).await.unwrap();
    // Nothing new: a timeout, not the same frame again.
    let err = receiver
        .next_frame(Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("no frame from camera 'seq' in 0.2 s"),
        "{err}"
    );
    // Five frames while the program is busy: it gets the newest, told it skipped four.
    for i in 1..=5 {
        publisher
            .send_jpeg(test_jpeg(64, 48, &i.to_string(), false))
            .await
            .unwrap();
    }
    publisher.flush().await.unwrap();
    let last = publisher.last_seq;
    let deadline = tokio::time::Instant::now() + WAIT;
    let (mut taken, mut skipped) = (0, 0);
    let newest = loop {
        let f = receiver.next_frame(WAIT).await.unwrap();
        assert!(f.meta.seq > first.meta.seq);
        taken += 1;
        skipped += f.skipped;
        if f.meta.seq == last {
            break f;
        }
        assert!(tokio::time::Instant::now() < deadline);
    };
    assert_eq!(newest.meta.seq, first.meta.seq + 5);
    // Every one of the five was either taken or counted as skipped.
    assert_eq!(taken + skipped, 5, "{taken} taken, {skipped} skipped");
}

#[tokio::test]
async fn errors_say_what_is_wrong() {
    let hub = Hub::start(&["--trust-loopback", "false"]);
    let err = Receiver::connect(Target::new(hub.url(""), "x").token(Some(hub.token.clone())))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::CameraNotFound { .. }), "{err}");
    assert!(err.to_string().contains("no camera named 'x'"), "{err}");
    let err = Receiver::connect(Target::new(hub.url(""), "x").token(Some("wrong".into())))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err}");
    assert!(err.to_string().contains("wrong access token"), "{err}");
    // A port nobody listens on (the hub's, after it stopped).
    let url = hub.url("");
    drop(hub);
    let err = Receiver::connect(Target::new(url, "x")).await.unwrap_err();
    assert!(matches!(err, Error::Unreachable { .. }), "{err}");
}

#[tokio::test]
async fn receiver_delivers_again_after_the_hub_restarts() {
    let hub = Hub::start(&[]);
    let target = Target::new(hub.url(""), "phoenix");
    let mut publisher = Publisher::connect(target.clone()).await.unwrap();
    publisher
        .send_jpeg(test_jpeg(64, 48, "before", false))
        .await
        .unwrap();
    publisher.flush().await.unwrap();
    let receiver = Receiver::connect(target.clone()).await.unwrap();
    receiver.next_frame(WAIT).await.unwrap();
    drop(publisher);

    let hub = hub.restart(&[]);
    let mut publisher = Publisher::connect(target.clone()).await.unwrap();
    let after = test_jpeg(64, 48, "after", false);
    // The receiver reconnects in the background; frames keep coming until it has one.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        publisher.send_jpeg(after.clone()).await.unwrap();
        match receiver.next_frame(Duration::from_millis(100)).await {
            Ok(frame) => {
                assert_eq!(frame.jpeg, after);
                break;
            }
            Err(Error::Timeout { .. }) => assert!(
                tokio::time::Instant::now() < deadline,
                "no frame after restart"
            ),
            Err(e) => panic!("{e}"),
        }
    }
    drop(hub);
}

#[tokio::test]
async fn publisher_is_told_when_replaced() {
    let hub = Hub::start(&[]);
    let target = Target::new(hub.url(""), "twin");
    let mut first = Publisher::connect(target.clone()).await.unwrap();
    first
        .send_jpeg(test_jpeg(64, 48, "1", false))
        .await
        .unwrap();
    let _second = Publisher::connect(target).await.unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    let err = loop {
        if let Err(e) = first.send_jpeg(test_jpeg(64, 48, "1", false)).await {
            break e;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the replaced publisher was never told"
        );
    };
    assert!(err.to_string().contains("replaced"), "{err}");
}
