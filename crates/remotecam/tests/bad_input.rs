//! Bad input, one case per test. Each gets a clear close reason or HTTP error, and the
//! hub keeps serving a healthy camera and its viewer throughout.

mod common;

use common::*;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn non_jpeg_binary_is_refused() {
    let hub = Hub::start(&[]);
    let mut others = Bystander::start(&hub).await;
    let (code, reason) = closed_with(
        &hub,
        "cam",
        Message::Binary(b"\x89PNG\r\n\x1a\n....".to_vec().into()),
    )
    .await;
    assert_eq!(code, 1003);
    assert!(reason.contains("not a JPEG"), "{reason}");
    others.still_served().await;
}

#[tokio::test]
async fn truncated_jpeg_is_refused() {
    let hub = Hub::start(&[]);
    let mut others = Bystander::start(&hub).await;
    let jpeg = test_jpeg(320, 240, "cut", false);
    let (code, reason) =
        closed_with(&hub, "cam", Message::Binary(jpeg.slice(..jpeg.len() / 2))).await;
    assert_eq!(code, 1007);
    assert!(reason.contains("truncated JPEG"), "{reason}");
    others.still_served().await;
    // The refused frame never reached viewers.
    let snap = reqwest::get(hub.url("/api/cameras/cam/snapshot.jpg"))
        .await
        .unwrap();
    assert_eq!(snap.headers()["x-camera-online"], "false");
}

#[tokio::test]
async fn oversized_message_is_refused() {
    let hub = Hub::start(&["--max-frame-bytes", "100000"]);
    let mut others = Bystander::start(&hub).await;
    let big = test_jpeg(1280, 720, "big", true);
    assert!(big.len() > 100_000);
    let (code, reason) = closed_with(&hub, "cam", Message::Binary(big)).await;
    assert_eq!(code, 1009);
    assert!(reason.contains("100000-byte limit"), "{reason}");
    others.still_served().await;
}

#[tokio::test]
async fn text_garbage_is_refused() {
    let hub = Hub::start(&[]);
    let mut others = Bystander::start(&hub).await;
    let (code, reason) = closed_with(&hub, "cam", Message::Text("hello {{{".into())).await;
    assert_eq!(code, 1007);
    assert!(reason.contains("JSON"), "{reason}");
    others.still_served().await;
}

#[tokio::test]
async fn bad_camera_name_is_refused() {
    let hub = Hub::start(&[]);
    let mut others = Bystander::start(&hub).await;
    for name in ["has%20space", "dot.dot", &"x".repeat(65)] {
        let err =
            tokio_tungstenite::connect_async(hub.ws_url(&format!("/api/cameras/{name}/publish")))
                .await
                .unwrap_err();
        let tokio_tungstenite::tungstenite::Error::Http(response) = err else {
            panic!("expected an HTTP error for {name}, got {err}");
        };
        assert_eq!(response.status(), 400, "{name}");
        let body: serde_json::Value =
            serde_json::from_slice(response.body().as_deref().unwrap()).unwrap();
        assert!(
            body["error"].as_str().unwrap().contains("camera name"),
            "{body}"
        );
    }
    assert_eq!(
        hub.cameras().await.as_array().unwrap().len(),
        1,
        "no camera made"
    );
    others.still_served().await;
}

#[tokio::test]
async fn second_publisher_takes_over_and_the_first_is_told() {
    let hub = Hub::start(&[]);
    let mut first = Publisher::connect(&hub, "shared").await;
    first.send(test_jpeg(64, 48, "one", false)).await;
    let mut second = Publisher::connect(&hub, "shared").await;
    let frame = close_frame(&mut first.ws).await.unwrap();
    assert_eq!(u16::from(frame.code), 4000);
    assert!(frame.reason.contains("replaced"), "{}", frame.reason);
    let seq = second.send(test_jpeg(64, 48, "two", false)).await;
    assert_eq!(seq, 2, "sequence continues for the camera");
    let status = hub.camera("shared").await;
    assert_eq!(
        status["online"], true,
        "the first publisher leaving does not take it offline"
    );
}

#[tokio::test]
async fn camera_count_is_bounded() {
    let hub = Hub::start(&["--max-cameras", "2"]);
    let _a = Publisher::connect(&hub, "a").await;
    let _b = Publisher::connect(&hub, "b").await;
    let err = tokio_tungstenite::connect_async(hub.ws_url("/api/cameras/c/publish"))
        .await
        .unwrap_err();
    let tokio_tungstenite::tungstenite::Error::Http(response) = err else {
        panic!("{err}")
    };
    assert_eq!(response.status(), 503);
    let body: serde_json::Value =
        serde_json::from_slice(response.body().as_deref().unwrap()).unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("--max-cameras"),
        "{body}"
    );
    // A camera gone offline makes room: the one offline the longest is forgotten.
    drop(_a);
    hub.wait_camera("a", |s| s["online"] == false).await;
    let _c = Publisher::connect(&hub, "c").await;
    let names: Vec<String> = hub
        .cameras()
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["b", "c"]);
}
