//! Two hubs: A lists B as a peer (`[[peers]]` with a viewer token of B's) and reads B's
//! cameras and clips through its own API; B trusts no one without a token.

mod common;

use common::*;

/// Hub B: the demo camera recording 1 s clips all the time, no trusted loopback.
fn hub_b() -> Hub {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("b.toml");
    std::fs::write(
        &cfg,
        "[cameras.demo.motion]\nenabled = true\nrecord = true\ncontinuous = true\nmax_clip_s = 1\n",
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap().to_owned();
    Hub::builder()
        .dir(dir)
        .args(&["--demo", "--trust-loopback", "false", "--config", &cfg])
        .start()
}

/// Hub A, with B as its peer `b` (a viewer token of B's).
fn hub_a(b: &Hub, token: &str) -> Hub {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("a.toml");
    std::fs::write(
        &cfg,
        format!(
            "[[peers]]\nname = \"b\"\nurl = \"http://{}\"\ntoken = \"{token}\"\n",
            b.http
        ),
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap().to_owned();
    Hub::builder().dir(dir).args(&["--config", &cfg]).start()
}

async fn get(hub: &Hub, path: &str) -> reqwest::Response {
    reqwest::get(hub.url(path)).await.unwrap()
}

#[tokio::test]
async fn a_hub_shows_its_peers_cameras_and_clips_through_their_api() {
    let b = hub_b();
    let viewer = b.add_token(&["--role", "viewer"]);
    let a = hub_a(&b, &viewer.token);
    let peers = a.json("/api/peers").await;
    assert_eq!(
        peers,
        serde_json::json!([{"name": "b", "url": format!("http://{}", b.http)}])
    );
    let cameras: serde_json::Value = get(&a, "/api/peers/b/cameras").await.json().await.unwrap();
    assert_eq!(cameras[0]["name"], "demo");
    assert_eq!(cameras[0]["source"], "test");
    // A's own list is A's alone.
    assert_eq!(a.cameras().await, serde_json::json!([]));

    let snapshot = get(&a, "/api/peers/b/cameras/demo/snapshot.jpg").await;
    assert_eq!(snapshot.status(), 200);
    assert_eq!(snapshot.headers()["content-type"], "image/jpeg");
    assert_eq!(snapshot.headers()["x-camera-online"], "true");
    let jpeg = snapshot.bytes().await.unwrap();
    assert!(jpeg.starts_with(&[0xff, 0xd8]) && jpeg.ends_with(&[0xff, 0xd9]));
    let mut live = MjpegReader::open(&a.url("/api/peers/b/cameras/demo/stream.mjpg")).await;
    let first: u64 = live
        .next_part()
        .await
        .header("X-Frame-Seq")
        .unwrap()
        .parse()
        .unwrap();
    let next: u64 = live
        .next_part()
        .await
        .header("X-Frame-Seq")
        .unwrap()
        .parse()
        .unwrap();
    assert!(next > first);

    // B's clips, and a clip's video with a byte range (players seek that way).
    let done = a
        .finished_clips_when("/api/peers/b/recordings", |c| !c.is_empty())
        .await;
    let clip = &done[0];
    let path = clip["video_url"]
        .as_str()
        .unwrap()
        .replacen("/api/", "/api/peers/b/", 1);
    let ranged = reqwest::Client::new()
        .get(a.url(&path))
        .header("range", "bytes=0-7")
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.status(), 206);
    assert!(
        ranged.headers()["content-range"]
            .to_str()
            .unwrap()
            .starts_with("bytes 0-7/")
    );
    assert_eq!(&ranged.bytes().await.unwrap()[4..8], b"ftyp");
}

#[tokio::test]
async fn a_peer_is_read_only_and_its_troubles_are_told() {
    let b = hub_b();
    let viewer = b.add_token(&["--role", "viewer"]);
    let a = hub_a(&b, &viewer.token);
    // Only cameras and recordings, only GET: nothing that changes B or shows its tokens.
    for path in [
        "/api/peers/b/tokens",
        "/api/peers/b/info",
        "/api/peers/b/cameras/../tokens",
        "/api/peers/b/cameras/demo/publish",
        "/api/peers/nope/cameras",
    ] {
        assert_eq!(get(&a, path).await.status(), 404, "{path}");
    }
    let put = reqwest::Client::new()
        .put(a.url("/api/peers/b/cameras/demo/motion"))
        .json(&serde_json::json!({"enabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 405);
    // A token limited to a camera of A's does not see other hubs.
    let limited = a.add_token(&["--role", "viewer", "--camera", "door"]);
    let res = reqwest::Client::new()
        .get(a.url("/api/peers/b/cameras"))
        .bearer_auth(&limited.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    // B's token revoked: A says that B refused it, in A's terms.
    b.token_cli(&["revoke", &viewer.id]);
    let res = get(&a, "/api/peers/b/cameras").await;
    assert_eq!(res.status(), 502);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("refused this hub's token"),
        "{body}"
    );
    // B gone: a clear error, and A itself still answers.
    let b_url = format!("http://{}", b.http);
    drop(b);
    let res = get(&a, "/api/peers/b/cameras").await;
    assert_eq!(res.status(), 502);
    let body: serde_json::Value = res.json().await.unwrap();
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains("hub 'b'") && error.contains(&b_url) && error.contains("connect"),
        "{error}"
    );
    assert_eq!(a.cameras().await, serde_json::json!([]));
}

/// A peer that answers at once and then sends its answer a byte every 2 s: the hub
/// passes on what comes for 30 s (the deadline of an answer that is not a stream), then
/// cuts it; it held the request for as long as the peer liked before.
#[tokio::test]
async fn a_peer_trickling_its_answer_is_cut_at_the_deadline() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = [0u8; 4096];
                let _ = stream.read(&mut head).await;
                let answer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                              Content-Length: 100\r\n\r\n[";
                if stream.write_all(answer.as_bytes()).await.is_err() {
                    return;
                }
                let mut every = tokio::time::interval(std::time::Duration::from_secs(2));
                for _ in 0..99 {
                    every.tick().await;
                    if stream.write_all(b" ").await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let hub = Hub::with_config(
        &format!("[[peers]]\nname = \"slow\"\nurl = \"http://{address}\"\ntoken = \"t\"\n"),
        &[],
    );
    let asked = std::time::Instant::now();
    let answer = get(&hub, "/api/peers/slow/cameras").await;
    assert_eq!(answer.status(), 200);
    let read = answer.bytes().await;
    let took = asked.elapsed();
    assert!(read.is_err(), "the answer ended short: {read:?}");
    assert!(
        took < std::time::Duration::from_secs(40),
        "the trickled answer was held {took:?}"
    );
}
