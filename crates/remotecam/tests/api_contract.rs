//! The API's JSON against its documentation, in process (the router driven directly):
//! every key `docs/api.md` lists for an object is in the hub's answer, and the answer has
//! no key the documentation does not list. A key renamed or dropped on either side fails
//! here, before any tool outside the repository breaks.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use remotecam::auth::{Auth, TokenStore};
use remotecam::camera::SourceKind;
use remotecam::hosts::HostNames;
use remotecam::hub::{Hub, RecordingsSetup};
use remotecam::motion::SettingsStore;
use remotecam::record::store::{Recordings, Retention};
use remotecam::web::{self, AppState, Ports};
use tower::ServiceExt;

const TOKEN: &str = "contract-token";

/// The keys of the first table after the heading that starts with `heading` (each key in
/// backticks in the first column; `a`, `b` is two keys).
fn documented_keys(heading: &str) -> BTreeSet<String> {
    let docs = include_str!("../../../docs/api.md");
    assert!(
        docs.contains(r#"`{"error": "<what is wrong, for a person>"}`"#),
        "docs/api.md's Errors section names the one key"
    );
    let section = docs
        .split("\n#")
        .find(|s| s.trim_start_matches('#').trim_start().starts_with(heading))
        .unwrap_or_else(|| panic!("docs/api.md has no section {heading}"));
    let keys: BTreeSet<String> = section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .flat_map(|row| {
            let first = row.split('|').nth(1).unwrap_or_default().to_owned();
            first
                .split(',')
                .map(|k| k.trim().trim_matches('`').to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(!keys.is_empty(), "no table under {heading}");
    keys
}

fn keys(value: &serde_json::Value) -> BTreeSet<String> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("an object: {value}"))
        .keys()
        .cloned()
        .collect()
}

struct Api {
    app: axum::Router,
    hub: Arc<Hub>,
    recordings: Arc<Recordings>,
    _dir: tempfile::TempDir,
}

impl Api {
    fn new() -> Api {
        let dir = tempfile::tempdir().unwrap();
        let recordings = Arc::new(
            Recordings::open(&dir.path().join("recordings"), Retention::default()).unwrap(),
        );
        let hub = Arc::new(Hub::with_parts(
            8,
            SettingsStore::open(Some(dir.path())),
            RecordingsSetup::Open(Arc::clone(&recordings)),
            None,
        ));
        let state = AppState {
            hub: Arc::clone(&hub),
            auth: Arc::new(Auth::new(TOKEN.into(), false, TokenStore::default())),
            limits: Default::default(),
            peers: Arc::new([]),
            s3: None,
            hosts: Arc::new(HostNames::new("contract", [])),
            ports: Ports {
                rtsp: Some(8554),
                ..Ports::default()
            },
            stalls: Default::default(),
        };
        Api {
            app: web::app(state),
            hub,
            recordings,
            _dir: dir,
        }
    }

    async fn get(&self, path: &str) -> (StatusCode, serde_json::Value) {
        let request = Request::get(path)
            .header(header::HOST, "127.0.0.1")
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .body(Body::empty())
            .unwrap();
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }
}

#[tokio::test]
async fn cameras_are_listed_with_the_documented_keys() {
    let api = Api::new();
    let camera = api.hub.get_or_create("yard", SourceKind::Browser).unwrap();
    let lease = camera.claim_publisher();
    let info = remotecam::jpeg::JpegInfo {
        width: 64,
        height: 48,
        components: 3,
    };
    lease.publish(bytes::Bytes::from_static(b"\xff\xd8 a frame"), info, None);

    let (status, list) = api.get("/api/cameras").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(keys(&list[0]), documented_keys("`GET /api/cameras`"));
    assert_eq!(
        (list[0]["name"].clone(), list[0]["width"].clone()),
        ("yard".into(), 64.into())
    );
    // As the client reached the hub, with the token it sent as the password.
    assert_eq!(
        list[0]["rtsp_url"],
        format!("rtsp://remotecam:{TOKEN}@127.0.0.1:8554/yard").as_str()
    );
    // One camera's answer is its entry in the list (but for its age, which moves on
    // between the two requests).
    let (_, mut one) = api.get("/api/cameras/yard").await;
    let mut listed = list[0].clone();
    for entry in [&mut one, &mut listed] {
        entry.as_object_mut().unwrap().remove("last_frame_age_ms");
    }
    assert_eq!(one, listed);
}

#[tokio::test]
async fn motion_settings_have_the_documented_keys() {
    let api = Api::new();
    api.hub.get_or_create("yard", SourceKind::Browser).unwrap();
    let (status, motion) = api.get("/api/cameras/yard/motion").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        keys(&motion),
        documented_keys("`GET /api/cameras/{name}/motion`")
    );
    let recording: BTreeSet<String> = ["state", "clip", "error", "dropped_frames"]
        .map(String::from)
        .into();
    assert_eq!(keys(&motion["recording"]), recording);
}

#[tokio::test]
async fn recordings_have_the_documented_keys() {
    let api = Api::new();
    let row = api
        .recordings
        .index
        .begin("yard", 1_764_576_000_000, |id| {
            Recordings::stem("yard", 1_764_576_000_000, id)
        })
        .unwrap();
    let (status, list) = api.get("/api/recordings").await;
    assert_eq!(status, StatusCode::OK);
    let clip = &list.as_array().unwrap()[0];
    assert_eq!(keys(clip), documented_keys("`GET /api/recordings?"));
    assert_eq!(clip["id"], row.id);
    assert_eq!(clip["start"], "2025-12-01T08:00:00.000Z");
    let (_, one) = api.get(&format!("/api/recordings/{}", row.id)).await;
    assert_eq!(&one, clip);
}

#[tokio::test]
async fn errors_are_one_documented_key() {
    let api = Api::new();
    let (status, body) = api.get("/api/cameras/nobody").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(keys(&body), BTreeSet::from(["error".to_owned()]));
    assert_eq!(body["error"], "no camera named 'nobody'");
    let docs = include_str!("../../../docs/api.md");
    assert!(
        docs.contains(r#"`{"error": "<what is wrong, for a person>"}`"#),
        "docs/api.md's Errors section names the one key"
    );
}
