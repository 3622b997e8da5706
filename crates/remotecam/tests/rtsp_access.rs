//! Who may open a camera over RTSP: the hub's rules for HTTP, with the token as an RTSP
//! URL's password (Basic or Digest, any user name) or `?token=`; a scoped token's
//! cameras only; a revoked token's sessions end.

mod common;

use common::{Hub, RawRtsp, basic, probe_stream};

const CAMERAS: &str = "[cameras.door]\nsource = \"test:?width=160&height=120&fps=10\"\n\n\
                       [cameras.yard]\nsource = \"test:?width=160&height=120&fps=10\"\n";

#[tokio::test]
async fn the_token_opens_rtsp_as_it_opens_http() {
    // Nothing is trusted: this machine is another one here.
    let hub = Hub::with_config(CAMERAS, &["--trust-loopback", "false"]);
    let url = |camera: &str| format!("rtsp://{}/{camera}", hub.rtsp);
    let mut client = RawRtsp::connect_from("127.0.0.1", hub.rtsp).await;
    let options = client.request("OPTIONS", &url("door"), &[]).await;
    assert_eq!(options.status, 200, "OPTIONS needs no token");
    let refused = client.request("DESCRIBE", &url("door"), &[]).await;
    assert_eq!(refused.status, 401);
    let challenges: Vec<&str> = refused
        .headers
        .iter()
        .filter(|(n, _)| n == "WWW-Authenticate")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(challenges.len(), 2, "{refused:?}");
    assert!(challenges[0].starts_with("Digest realm=\"remotecam\", nonce=\""));
    assert_eq!(challenges[1], "Basic realm=\"remotecam\"");
    assert!(
        refused.body.contains("access token required"),
        "{}",
        refused.body
    );
    let err = probe_stream(&url("door")).unwrap_err();
    assert!(err.contains("401"), "{err}");

    // ffmpeg answers the Digest challenge, with any user name.
    let with_token = format!("rtsp://frigate:{}@{}/door", hub.token, hub.rtsp);
    let door = probe_stream(&with_token).unwrap();
    assert_eq!(door["codec_name"], "h264");
    let wrong = format!("rtsp://frigate:guess@{}/door", hub.rtsp);
    assert!(probe_stream(&wrong).unwrap_err().contains("401"));
    // ?token= as on HTTP.
    let query = format!("rtsp://{}/door?token={}", hub.rtsp, hub.token);
    assert_eq!(probe_stream(&query).unwrap()["width"], 160);

    // Basic: a client that chooses it plays.
    let mut basic_client = RawRtsp::connect_from("127.0.0.1", hub.rtsp).await;
    let auth = basic("anyone", &hub.token);
    let play = basic_client
        .play(&url("yard"), &[("Authorization", &auth)])
        .await;
    assert_eq!(play.status, 200, "{play:?}");
    let packet = basic_client.rtp().await.expect("an RTP packet");
    assert_eq!(packet[0] >> 6, 2, "RTP version 2");
}

#[tokio::test]
async fn a_scoped_token_opens_its_cameras_only_and_its_sessions_end_when_revoked() {
    let hub = Hub::with_config(CAMERAS, &["--trust-loopback", "false"]);
    let viewer = hub.add_token(&["--role", "viewer", "--camera", "door"]);
    // Digest with a scoped token: the hub reads it back from its seal.
    let door = format!("rtsp://nvr:{}@{}/door", viewer.token, hub.rtsp);
    assert_eq!(probe_stream(&door).unwrap()["codec_name"], "h264");
    let yard = format!("rtsp://nvr:{}@{}/yard", viewer.token, hub.rtsp);
    let err = probe_stream(&yard).unwrap_err();
    assert!(err.contains("403"), "{err}");
    let auth = basic("nvr", &viewer.token);
    let mut other = RawRtsp::connect_from("127.0.0.1", hub.rtsp).await;
    let denied = other
        .request(
            "DESCRIBE",
            &format!("rtsp://{}/yard", hub.rtsp),
            &[("Authorization", &auth)],
        )
        .await;
    assert_eq!(denied.status, 403);
    assert!(
        denied.body.contains("does not open camera 'yard'"),
        "{}",
        denied.body
    );

    // A session of the token, playing; and one of the hub's token beside it.
    let mut session = RawRtsp::connect_from("127.0.0.1", hub.rtsp).await;
    let play = session
        .play(
            &format!("rtsp://{}/door", hub.rtsp),
            &[("Authorization", &auth)],
        )
        .await;
    assert_eq!(play.status, 200);
    assert!(session.rtp().await.is_some());
    let mut untouched = RawRtsp::connect_from("127.0.0.1", hub.rtsp).await;
    let hub_auth = basic("admin", &hub.token);
    let play = untouched
        .play(
            &format!("rtsp://{}/door", hub.rtsp),
            &[("Authorization", &hub_auth)],
        )
        .await;
    assert_eq!(play.status, 200);
    assert!(untouched.rtp().await.is_some());

    hub.token_cli(&["revoke", &viewer.id]);
    while session.rtp().await.is_some() {}
    assert!(
        untouched.rtp().await.is_some(),
        "the other session plays on"
    );
    let mut again = RawRtsp::connect_from("127.0.0.1", hub.rtsp).await;
    let refused = again
        .request(
            "DESCRIBE",
            &format!("rtsp://{}/door", hub.rtsp),
            &[("Authorization", &auth)],
        )
        .await;
    assert_eq!(refused.status, 401);
}
