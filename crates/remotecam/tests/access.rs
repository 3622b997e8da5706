//! Access control as another machine sees it. 127.0.0.2 stands in for a LAN device:
//! the hub trusts only 127.0.0.1 and ::1.

mod common;

use common::*;

async fn hub_with_camera(extra: &[&str]) -> (Hub, Publisher) {
    let hub = Hub::start(extra);
    let mut publisher = Publisher::connect(&hub, "door").await;
    publisher.send(test_jpeg(64, 48, "x", false)).await;
    (hub, publisher)
}

const PROTECTED: [&str; 7] = [
    "/",
    "/metrics",
    "/publish",
    "/assets/app.css",
    "/api/cameras",
    "/api/cameras/door/snapshot.jpg",
    "/api/cameras/door/stream.mjpg",
];

#[tokio::test]
async fn another_machine_without_token_gets_401_and_nothing_else() {
    let (hub, _p) = hub_with_camera(&[]).await;
    let client = other_client();
    for path in PROTECTED {
        let res = client.get(hub.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 401, "{path}");
        assert!(
            res.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
        let body: serde_json::Value = res.json().await.unwrap();
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains("access token required"),
            "{body}"
        );
    }
    let err = connect_ws_from(
        OTHER.parse().unwrap(),
        hub.http,
        "/api/cameras/door/publish",
        &[],
    )
    .await
    .unwrap_err();
    let tokio_tungstenite::tungstenite::Error::Http(response) = err else {
        panic!("{err}")
    };
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn wrong_token_is_told_apart_from_missing() {
    let (hub, _p) = hub_with_camera(&[]).await;
    let res = other_client()
        .get(hub.url("/api/cameras?token=nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("wrong access token"),
        "{body}"
    );
    let res = other_client()
        .get(hub.url("/api/cameras"))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

/// A scraper from another machine needs the token; its refusals are counted, by reason.
#[tokio::test]
async fn metrics_take_the_token_and_count_the_refusals() {
    let (hub, _p) = hub_with_camera(&[]).await;
    let client = other_client();
    assert_eq!(
        client
            .get(hub.url("/metrics?token=nope"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let res = client
        .get(hub.url("/metrics"))
        .bearer_auth(&hub.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert!(
        text.contains("remotecam_requests_refused_total{reason=\"token_wrong\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("remotecam_camera_online{camera=\"door\"} 1"),
        "{text}"
    );
}

#[tokio::test]
async fn token_works_as_bearer_query_and_cookie() {
    let (hub, _p) = hub_with_camera(&[]).await;
    let client = other_client();
    let res = client
        .get(hub.url("/api/cameras"))
        .bearer_auth(&hub.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Tools that cannot set headers put it in the stream or snapshot URL.
    let res = client
        .get(hub.url(&format!(
            "/api/cameras/door/snapshot.jpg?token={}",
            hub.token
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/jpeg");
    // A page opened with ?token= sets the cookie and drops the token from the address.
    let res = client
        .get(hub.url(&format!("/publish?token={}", hub.token)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/publish");
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.starts_with(&format!("remotecam_token={};", hub.token)),
        "{cookie}"
    );
    assert!(cookie.contains("HttpOnly"));
    let pair = cookie.split(';').next().unwrap();
    let res = client
        .get(hub.url("/publish"))
        .header("cookie", pair)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Start streaming"));
    // The cookie also opens the WebSocket, as the publisher page uses it.
    let mut ws = connect_ws_from(
        OTHER.parse().unwrap(),
        hub.http,
        "/api/cameras/door/ws",
        &[("cookie", pair)],
    )
    .await
    .unwrap();
    assert_eq!(next_text(&mut ws).await["type"], "hello");
}

#[tokio::test]
async fn the_hub_gives_its_token_only_to_who_sent_it() {
    let (hub, _p) = hub_with_camera(&[]).await;
    let info = hub.json("/api/info").await;
    assert_eq!(info["http_port"], hub.http.port());
    assert_eq!(info["https_port"], hub.https.port());
    assert_eq!(
        info["token"],
        serde_json::Value::Null,
        "trusted, not told: {info}"
    );
    let info: serde_json::Value = other_client()
        .get(hub.url("/api/info"))
        .bearer_auth(&hub.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["token"], hub.token.as_str());
}

#[tokio::test]
async fn loopback_trust_can_be_turned_off() {
    let hub = Hub::start(&["--trust-loopback", "false"]);
    let res = reqwest::get(hub.url("/api/cameras")).await.unwrap();
    assert_eq!(res.status(), 401);
    let res = reqwest::Client::new()
        .get(hub.url("/api/cameras"))
        .bearer_auth(&hub.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn websocket_from_a_foreign_origin_is_refused() {
    let (hub, _p) = hub_with_camera(&[]).await;
    let local = "127.0.0.1".parse().unwrap();
    for path in ["/api/cameras/door/ws", "/api/cameras/evil/publish"] {
        let err = connect_ws_from(local, hub.http, path, &[("origin", "https://evil.example")])
            .await
            .unwrap_err();
        let tokio_tungstenite::tungstenite::Error::Http(response) = err else {
            panic!("{err}")
        };
        assert_eq!(response.status(), 403, "{path}");
        let body: serde_json::Value =
            serde_json::from_slice(response.body().as_deref().unwrap()).unwrap();
        assert!(
            body["error"].as_str().unwrap().contains("evil.example"),
            "{body}"
        );
    }
    // A page of the hub itself is fine.
    let own = format!("http://{}", hub.http);
    let mut ws = connect_ws_from(local, hub.http, "/api/cameras/door/ws", &[("origin", &own)])
        .await
        .unwrap();
    assert_eq!(next_text(&mut ws).await["type"], "hello");
    // And state-changing requests from other sites are refused too.
    let res = reqwest::Client::new()
        .delete(hub.url("/api/cameras/door"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

/// What a page on `evil.example` sends once the name points at the hub (DNS
/// rebinding): loopback, `Host` and `Origin` alike naming the foreign site.
#[tokio::test]
async fn a_rebound_name_gets_no_camera_data_no_settings_change_and_no_websocket() {
    let (hub, _p) = hub_with_camera(&["--allowed-hosts", "cam.example.org,hub.lan"]).await;
    let evil = format!("evil.example:{}", hub.http.port());
    let origin = format!("http://{evil}");
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for path in PROTECTED {
        let res = client
            .get(hub.url(path))
            .header("host", &evil)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 421, "{path}");
        let body = res.text().await.unwrap();
        assert!(
            body.contains("does not answer to the name 'evil.example"),
            "{path}: {body}"
        );
        assert!(!body.contains("door"), "{path} leaked camera data: {body}");
    }
    let res = client
        .put(hub.url("/api/cameras/door/motion"))
        .header("host", &evil)
        .header("origin", &origin)
        .json(&serde_json::json!({"enabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 421);
    let motion = hub.motion("door").await;
    assert_eq!(motion["enabled"], false, "the settings did not change");
    let local = "127.0.0.1".parse().unwrap();
    for path in ["/api/cameras/door/ws", "/api/cameras/evil/publish"] {
        let err = connect_ws_from(
            local,
            hub.http,
            path,
            &[("host", &evil), ("origin", &origin)],
        )
        .await
        .unwrap_err();
        let tokio_tungstenite::tungstenite::Error::Http(response) = err else {
            panic!("{err}")
        };
        assert_eq!(response.status(), 421, "{path}");
    }
    assert_eq!(
        hub.cameras().await.as_array().unwrap().len(),
        1,
        "no camera made"
    );
    // The hub's own names and addresses, and the configured ones, are served.
    let port = hub.http.port();
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
        format!("cam.example.org:{port}"),
        "HUB.LAN".to_owned(),
    ] {
        let res = client
            .get(hub.url("/api/cameras"))
            .header("host", &host)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{host}");
    }
}

#[tokio::test]
async fn the_token_redirect_stays_on_the_hub_and_pages_cannot_be_framed() {
    let (hub, _p) = hub_with_camera(&[]).await;
    let client = other_client();
    for path in ["//evil.example/", "/\\evil.example/", "///evil.example/x"] {
        let res = client
            .get(format!("http://{}{path}?token={}", hub.http, hub.token))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "{path}");
        let to = res.headers()["location"].to_str().unwrap();
        assert!(
            to.starts_with('/') && !to.starts_with("//") && !to.starts_with("/\\"),
            "{path} redirects to {to}"
        );
    }
    for path in ["/", "/api/cameras"] {
        let res = reqwest::get(hub.url(path)).await.unwrap();
        assert_eq!(res.headers()["x-frame-options"], "SAMEORIGIN", "{path}");
        let csp = res.headers()["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'self'"), "{path}: {csp}");
    }
}
