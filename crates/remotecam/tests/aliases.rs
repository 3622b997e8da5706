//! Drop-in URLs: the paths go2rtc, mjpg-streamer, ustreamer and Frigate serve answer
//! what those tools answer (a JPEG, an MJPEG stream, fragmented MP4), under the hub's
//! access rules, so a person replacing one changes only the host name.

mod common;

use common::{Hub, MjpegReader, other_client};

const ONE: &str = "[cameras.door]\nsource = \"test:?width=320&height=240&fps=10\"\n";

/// What `url` answers from another machine: status, content type, its first bytes.
async fn first_bytes(url: &str, bytes: usize) -> (u16, String, Vec<u8>) {
    use futures_util::StreamExt;
    let response = other_client().get(url).send().await.unwrap();
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let mut body = response.bytes_stream();
    let mut got = Vec::new();
    while got.len() < bytes {
        let Some(chunk) = tokio::time::timeout(common::WAIT, body.next())
            .await
            .unwrap()
        else {
            break;
        };
        got.extend_from_slice(&chunk.unwrap());
    }
    (status, kind, got)
}

#[tokio::test]
async fn each_tools_urls_answer_as_that_tool_does() {
    let hub = Hub::with_config(ONE, &[]);
    let token = &hub.token;
    let url = |path: &str| hub.url(path);
    for (path, kind) in [
        (
            format!("/api/frame.jpeg?src=door&token={token}"),
            "image/jpeg",
        ),
        (format!("/?action=snapshot&token={token}"), "image/jpeg"),
        (format!("/api/door/latest.jpg?token={token}"), "image/jpeg"),
    ] {
        let (status, got_kind, body) = first_bytes(&url(&path), usize::MAX).await;
        assert_eq!((status, got_kind.as_str()), (200, kind), "{path}");
        assert!(
            body.starts_with(b"\xff\xd8") && body.ends_with(b"\xff\xd9"),
            "{path}"
        );
    }
    for path in [
        format!("/api/stream.mjpeg?src=door&token={token}"),
        format!("/?action=stream&token={token}"),
    ] {
        let (status, kind, body) = first_bytes(&url(&path), 2000).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            kind.starts_with("multipart/x-mixed-replace"),
            "{path}: {kind}"
        );
        assert!(
            body.windows(2).any(|w| w == b"\xff\xd8"),
            "{path}: a JPEG part"
        );
    }
    let (status, kind, body) =
        first_bytes(&url(&format!("/api/stream.mp4?src=door&token={token}")), 64).await;
    assert_eq!((status, kind.as_str()), (200, "video/mp4"));
    assert_eq!(&body[4..8], b"ftyp");
    // Read on this machine as OctoPrint's webcam settings read it.
    let mut stream = MjpegReader::open(&url("/?action=stream")).await;
    assert!(stream.next_part().await.body.starts_with(b"\xff\xd8"));
}

#[tokio::test]
async fn drop_in_urls_keep_the_hubs_access_rules() {
    let hub = Hub::with_config(
        &format!("{ONE}\n[cameras.yard]\nsource = \"test:?width=160&height=120&fps=5\"\n"),
        &[],
    );
    let url = |path: &str| hub.url(path);
    let (status, _, _) = first_bytes(&url("/api/frame.jpeg?src=door"), 1).await;
    assert_eq!(status, 401, "another machine without the token");
    let viewer = hub.add_token(&["--role", "viewer", "--camera", "door"]);
    let with = |path: &str| url(&format!("{path}&token={}", viewer.token));
    let (status, _, _) = first_bytes(&with("/api/frame.jpeg?src=door"), 1).await;
    assert_eq!(status, 200);
    let (status, _, body) = first_bytes(&with("/api/frame.jpeg?src=yard"), usize::MAX).await;
    assert_eq!(status, 403, "{}", String::from_utf8_lossy(&body));
    let (status, _, _) = first_bytes(
        &url(&format!("/api/yard/latest.jpg?token={}", viewer.token)),
        1,
    )
    .await;
    assert_eq!(status, 403);
    // Two cameras: mjpg-streamer's URL must name one.
    let (status, _, body) = first_bytes(&with("/?action=snapshot"), usize::MAX).await;
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("&camera=<camera>"));
    let (status, _, _) = first_bytes(&with("/?action=snapshot&camera=door"), 1).await;
    assert_eq!(status, 200);
    let (status, _, _) = first_bytes(&with("/api/frame.jpeg?src=nothere"), usize::MAX).await;
    assert_eq!(
        status, 403,
        "a camera the token does not open, there or not"
    );
    let (status, _, _) = first_bytes(
        &url(&format!("/api/frame.jpeg?src=nothere&token={}", hub.token)),
        usize::MAX,
    )
    .await;
    assert_eq!(status, 404);
}
