//! Scoped tokens as their users meet them: made with `remotecam token add` (a share
//! link) or the API, used from another machine (127.0.0.2; the hub trusts only
//! 127.0.0.1), revoked from the command line or the API, expiring.

mod common;

use common::*;
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message as WsMessage;

async fn status(request: reqwest::RequestBuilder) -> u16 {
    request.send().await.unwrap().status().as_u16()
}

async fn error_text(request: reqwest::RequestBuilder) -> (u16, String) {
    let res = request.send().await.unwrap();
    let status = res.status().as_u16();
    let body: serde_json::Value = res.json().await.unwrap();
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
    )
}

async fn hub_with(cameras: &[&str]) -> (Hub, Vec<Publisher>) {
    let hub = Hub::start(&[]);
    let mut publishers = Vec::new();
    for name in cameras {
        let mut p = Publisher::connect(&hub, name).await;
        p.send(test_jpeg(64, 48, name, false)).await;
        publishers.push(p);
    }
    (hub, publishers)
}

/// Reads a response body until the hub ends it; panics if it does not within [`WAIT`].
async fn until_closed(response: reqwest::Response) -> usize {
    let mut body = response.bytes_stream();
    let mut read = 0;
    loop {
        match tokio::time::timeout(WAIT, body.next()).await {
            Err(_) => panic!("the stream stayed open"),
            Ok(Some(Ok(chunk))) => read += chunk.len(),
            Ok(None | Some(Err(_))) => return read,
        }
    }
}

/// The close frame a WebSocket viewer gets, after whatever frames come first.
async fn close_code(ws: &mut RawWs) -> (u16, String) {
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await {
            Err(_) => panic!("the WebSocket stayed open"),
            Ok(Some(Ok(WsMessage::Close(Some(frame))))) => {
                return (frame.code.into(), frame.reason.to_string());
            }
            Ok(Some(Ok(_))) => {}
            Ok(other) => panic!("no close frame: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_share_link_opens_one_camera_to_watch_and_nothing_else() {
    let (hub, _p) = hub_with(&["door", "yard"]).await;
    let made = hub.add_token(&["--role", "viewer", "--camera", "door", "--expires", "7d"]);
    assert!(
        made.link.starts_with("/cameras/door?token="),
        "{}",
        made.link
    );
    let client = other_client();
    // Opening the link sets the cookie to the token of the link, not the hub's own.
    let res = client.get(hub.url(&made.link)).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/cameras/door");
    let cookie = res.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie.starts_with(&format!("remotecam_token={};", made.token)),
        "{cookie}"
    );
    let pair = format!("remotecam_token={}", made.token);
    let page = client.get(hub.url("/cameras/door")).header("cookie", &pair);
    assert_eq!(status(page).await, 200);

    let get = |path: &str| client.get(hub.url(path)).bearer_auth(&made.token);
    let cameras: serde_json::Value = get("/api/cameras")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = cameras
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["door"]);
    assert_eq!(status(get("/api/cameras/door/snapshot.jpg")).await, 200);
    let mut stream = MjpegReader::open(&hub.url(&format!(
        "/api/cameras/door/stream.mjpg?token={}",
        made.token
    )))
    .await;
    assert!(!stream.next_part().await.body.is_empty());
    for path in [
        "/api/cameras/yard",
        "/api/cameras/yard/snapshot.jpg",
        "/api/cameras/yard/stream.mjpg",
        "/cameras/yard",
        "/api/recordings?camera=yard",
    ] {
        let (code, error) = error_text(get(path)).await;
        assert_eq!(code, 403, "{path}");
        assert!(
            error.contains("does not open camera 'yard'"),
            "{path}: {error}"
        );
    }
    let info: serde_json::Value = get("/api/info").send().await.unwrap().json().await.unwrap();
    assert_eq!(info["role"], "viewer");
    assert_eq!(info["cameras"], serde_json::json!(["door"]));
    assert_eq!(info["token"], made.token.as_str());

    // Watching only: no settings, no deleting, no tokens, no publishing, no metrics.
    let before = hub.motion("door").await["enabled"].clone();
    let put = client
        .put(hub.url("/api/cameras/door/motion"))
        .bearer_auth(&made.token)
        .json(&serde_json::json!({"enabled": before != true}));
    let (code, error) = error_text(put).await;
    assert_eq!(code, 403);
    assert!(
        error.contains("viewer") && error.contains("admin"),
        "{error}"
    );
    assert_eq!(hub.motion("door").await["enabled"], before);
    let delete = client
        .delete(hub.url("/api/cameras/door"))
        .bearer_auth(&made.token);
    assert_eq!(status(delete).await, 403);
    for path in ["/api/tokens", "/metrics", "/publish"] {
        assert_eq!(status(get(path)).await, 403, "{path}");
    }
    let bearer = format!("Bearer {}", made.token);
    let headers = [("authorization", bearer.as_str())];
    let publish = ws_from_other(&hub, "/api/cameras/door/publish", &headers).await;
    assert_eq!(refused_with(publish), 403);
    // The hub's own token still opens everything.
    let all: serde_json::Value = client
        .get(hub.url("/api/cameras"))
        .bearer_auth(&hub.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(all.as_array().unwrap().len(), 2);
    let list = hub.token_cli(&["list"]);
    assert!(
        list.contains(&format!("{}  viewer, camera door, until", made.id)),
        "{list}"
    );
    // The file keeps the hash only.
    let file = std::fs::read_to_string(hub.dir.path().join("tokens.json")).unwrap();
    assert!(!file.contains(&made.token));
}

#[tokio::test]
async fn revoking_a_token_closes_its_open_streams_and_refuses_it() {
    let (hub, _p) = hub_with(&["door"]).await;
    let by_cli = hub.add_token(&["--role", "viewer"]);
    let by_api = hub.add_token(&["--role", "viewer", "--name", "kitchen tablet"]);
    let client = other_client();
    let open = |token: &str| {
        client
            .get(hub.url("/api/cameras/door/stream.mjpg"))
            .bearer_auth(token)
            .send()
    };
    let mjpeg = open(&by_cli.token).await.unwrap();
    assert_eq!(mjpeg.status(), 200);
    let cookie = format!("remotecam_token={}", by_cli.token);
    let mut ws = ws_from_other(&hub, "/api/cameras/door/ws", &[("cookie", &cookie)])
        .await
        .unwrap();
    let other_stream = open(&by_api.token).await.unwrap();
    let mut other_stream = other_stream.bytes_stream();
    assert!(other_stream.next().await.unwrap().is_ok());

    // From the command line (another process): the hub follows its file.
    assert!(hub.token_cli(&["revoke", &by_cli.id]).contains("revoked"));
    assert!(until_closed(mjpeg).await > 0);
    let (code, reason) = close_code(&mut ws).await;
    assert_eq!(
        (code, reason.as_str()),
        (1008, "the access token was revoked")
    );
    let (code, error) = error_text(
        client
            .get(hub.url("/api/cameras"))
            .bearer_auth(&by_cli.token),
    )
    .await;
    assert_eq!(code, 401);
    assert!(error.contains("wrong access token"), "{error}");
    // The other token's stream is untouched: a frame more comes through.
    assert!(other_stream.next().await.unwrap().is_ok());

    // Through the API: the list shows it by name, never its value; revoked at once.
    let tokens = hub.json("/api/tokens").await;
    let listed = tokens.as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], by_api.id.as_str());
    assert_eq!(listed[0]["name"], "kitchen tablet");
    assert!(listed[0].get("sha256").is_none() && listed[0].get("token").is_none());
    let revoke = reqwest::Client::new()
        .delete(hub.url(&format!("/api/tokens/{}", by_api.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 204);
    loop {
        match tokio::time::timeout(WAIT, other_stream.next()).await {
            Err(_) => panic!("the stream stayed open"),
            Ok(Some(Ok(_))) => {}
            Ok(None | Some(Err(_))) => break,
        }
    }
    assert_eq!(
        status(
            client
                .get(hub.url("/api/cameras"))
                .bearer_auth(&by_api.token)
        )
        .await,
        401
    );
    let again = reqwest::Client::new()
        .delete(hub.url(&format!("/api/tokens/{}", by_api.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);
}

#[tokio::test]
async fn an_expired_token_is_refused_and_its_stream_closed() {
    let (hub, _p) = hub_with(&["door"]).await;
    let made = hub.add_token(&["--role", "viewer", "--expires", "3s"]);
    let client = other_client();
    let stream = client
        .get(hub.url("/api/cameras/door/stream.mjpg"))
        .bearer_auth(&made.token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert!(until_closed(stream).await > 0);
    let (code, error) =
        error_text(client.get(hub.url("/api/cameras")).bearer_auth(&made.token)).await;
    assert_eq!(code, 401);
    assert!(error.contains("expired"), "{error}");
    assert!(hub.token_cli(&["list"]).contains("expired"));
}

#[tokio::test]
async fn a_publisher_token_publishes_its_camera_only() {
    let hub = Hub::start(&[]);
    let made = hub.add_token(&["--role", "publisher", "--camera", "phone"]);
    assert!(
        made.link.starts_with("/publish?camera=phone&token="),
        "{}",
        made.link
    );
    let client = other_client();
    let res = client.get(hub.url(&made.link)).send().await.unwrap();
    assert_eq!(res.headers()["location"], "/publish?camera=phone");
    let bearer = format!("Bearer {}", made.token);
    let publish = |camera: &str| {
        let path = format!("/api/cameras/{camera}/publish");
        let bearer = bearer.clone();
        let hub = &hub;
        async move { ws_from_other(hub, &path, &[("authorization", &bearer)]).await }
    };
    let mut ws = publish("phone").await.unwrap();
    let hello = next_text(&mut ws).await;
    assert_eq!(hello["type"], "hello");
    assert_eq!(
        refused_with(publish("laptop").await),
        403,
        "a camera it does not open"
    );
    let page = client.get(hub.url("/publish")).bearer_auth(&made.token);
    assert_eq!(status(page).await, 200);
    // Revoked while publishing: the publisher is told why and the camera goes offline.
    hub.token_cli(&["revoke", &made.id]);
    let (code, reason) = close_code(&mut ws).await;
    assert_eq!(
        (code, reason.as_str()),
        (1008, "the access token was revoked")
    );
    hub.wait_camera("phone", |c| c["online"] == false).await;
}

#[tokio::test]
async fn a_publisher_token_brings_at_most_eight_cameras_into_being() {
    let hub = Hub::start(&[]);
    let made = hub.add_token(&["--role", "publisher"]);
    let bearer = format!("Bearer {}", made.token);
    let publish = |camera: String| {
        let bearer = bearer.clone();
        let hub = &hub;
        async move {
            let path = format!("/api/cameras/{camera}/publish");
            ws_from_other(hub, &path, &[("authorization", &bearer)]).await
        }
    };
    for i in 0..8 {
        let mut ws = publish(format!("cam{i}")).await.unwrap();
        assert_eq!(next_text(&mut ws).await["type"], "hello");
    }
    let refused = client_request(&hub, "/api/cameras/cam8/publish", &made.token);
    let (code, error) = error_text(refused).await;
    assert_eq!(code, 403);
    assert!(error.contains("brought 8 cameras into being"), "{error}");
    assert_eq!(refused_with(publish("cam8".into()).await), 403);
    // Its own cameras it publishes to again; one forgotten makes room for another.
    let mut again = publish("cam3".into()).await.unwrap();
    assert_eq!(next_text(&mut again).await["type"], "hello");
    drop(again);
    hub.wait_camera("cam0", |c| c["online"] == false).await;
    let forget = reqwest::Client::new().delete(hub.url("/api/cameras/cam0"));
    assert_eq!(status(forget).await, 204);
    let mut ws = publish("cam8".into()).await.unwrap();
    assert_eq!(next_text(&mut ws).await["type"], "hello");
}

/// A GET of `path` from another machine with `token`.
fn client_request(hub: &Hub, path: &str, token: &str) -> reqwest::RequestBuilder {
    other_client().get(hub.url(path)).bearer_auth(token)
}

#[tokio::test]
async fn the_api_makes_tokens_and_refuses_bad_ones() {
    let (hub, _p) = hub_with(&["door"]).await;
    let api = reqwest::Client::new();
    let post = |body: serde_json::Value| api.post(hub.url("/api/tokens")).json(&body).send();
    let made = post(serde_json::json!({"role": "viewer", "cameras": ["door"], "expires": "12h"}))
        .await
        .unwrap();
    assert_eq!(made.status(), 201);
    let made: serde_json::Value = made.json().await.unwrap();
    let token = made["token"].as_str().unwrap();
    assert_eq!(
        made["link"],
        format!("http://{}/cameras/door?token={token}", hub.http)
    );
    assert_eq!(made["role"], "viewer");
    assert_eq!(made["expired"], false);
    let expires: jiff::Timestamp = made["expires"].as_str().unwrap().parse().unwrap();
    let left = jiff::Timestamp::now().duration_until(expires);
    assert!(left > jiff::SignedDuration::from_hours(11), "{left:?}");
    assert_eq!(
        status(
            other_client()
                .get(hub.url("/api/cameras/door/snapshot.jpg"))
                .bearer_auth(token)
        )
        .await,
        200
    );
    for (body, says) in [
        (serde_json::json!({"role": "root"}), "role"),
        (
            serde_json::json!({"role": "viewer", "expires": "yesterday"}),
            "expiry",
        ),
        (
            serde_json::json!({"role": "viewer", "expires": "2020-01-01T00:00:00Z"}),
            "past",
        ),
        (
            serde_json::json!({"role": "viewer", "cameras": ["front door"]}),
            "front door",
        ),
    ] {
        let res = post(body.clone()).await.unwrap();
        assert_eq!(res.status(), 400, "{body}");
        let text = res.text().await.unwrap();
        assert!(text.contains(says), "{body}: {text}");
    }
    // A viewer or a camera-limited admin cannot make tokens (nor give itself more).
    let door_admin = hub.add_token(&["--role", "admin", "--camera", "door"]);
    let res = other_client()
        .post(hub.url("/api/tokens"))
        .bearer_auth(&door_admin.token)
        .json(&serde_json::json!({"role": "admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // But it may change its camera.
    let put = other_client()
        .put(hub.url("/api/cameras/door/motion"))
        .bearer_auth(&door_admin.token)
        .json(&serde_json::json!({"enabled": false}));
    assert_eq!(status(put).await, 200);
    assert_eq!(hub.json("/api/tokens").await.as_array().unwrap().len(), 2);
}
