//! Drop-in URLs: the paths other camera tools serve, so that a person replacing one with
//! the hub changes the host name and nothing else. Each is rewritten to the hub's own
//! URL before anything else looks at the request, so it answers what that URL answers,
//! under the same access rules (the token, a scoped token's cameras):
//!
//! | path | tool | the hub's own |
//! |---|---|---|
//! | `/api/frame.jpeg?src=<camera>` | go2rtc | `/api/cameras/<camera>/snapshot.jpg` |
//! | `/api/stream.mjpeg?src=<camera>` | go2rtc | `/api/cameras/<camera>/stream.mjpg` |
//! | `/api/stream.mp4?src=<camera>` | go2rtc | `/api/cameras/<camera>/stream.mp4` |
//! | `/?action=snapshot` | mjpg-streamer, ustreamer (OctoPrint) | `.../snapshot.jpg` |
//! | `/?action=stream` | mjpg-streamer, ustreamer (OctoPrint) | `.../stream.mjpg` |
//! | `/api/<camera>/latest.jpg` | Frigate | `/api/cameras/<camera>/snapshot.jpg` |
//!
//! mjpg-streamer and ustreamer serve one camera: `?action=` takes the hub's only camera,
//! or the one `&camera=<name>` names.

use axum::extract::{Request, State};
use axum::http::Uri;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use super::AppState;
use crate::error::{AppError, ErrorKind};

/// Where a drop-in URL goes.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    /// Not a drop-in URL.
    Own,
    /// This camera's URL ending in this.
    Camera(String, &'static str),
    /// A drop-in URL that names no camera, and how to name one.
    Unnamed(&'static str),
}

/// Rewrites a drop-in URL to the hub's own, keeping its `token`.
pub(super) async fn rewrite(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let only_camera = || match state.hub.list().as_slice() {
        [one] => Some(one.camera.name().to_owned()),
        _ => None,
    };
    let uri = request.uri();
    match target(uri.path(), uri.query(), only_camera) {
        Target::Own => {}
        Target::Unnamed(how) => {
            return AppError::new(ErrorKind::BadRequest, format!("name the camera: {how}"))
                .into_response();
        }
        Target::Camera(name, tail) => {
            let name = utf8_percent_encode(&name, NON_ALPHANUMERIC);
            let token = crate::auth::query_token(uri.query());
            let rewritten = match token {
                Some(token) => format!("/api/cameras/{name}/{tail}?token={token}"),
                None => format!("/api/cameras/{name}/{tail}"),
            };
            if let Ok(uri) = rewritten.parse::<Uri>() {
                *request.uri_mut() = uri;
            }
        }
    }
    next.run(request).await
}

/// Where `path` and `query` go; `only_camera` is the hub's one camera, if it has one.
fn target(path: &str, query: Option<&str>, only_camera: impl FnOnce() -> Option<String>) -> Target {
    let param = |key: &str| {
        url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    };
    let go2rtc = |tail| match param("src") {
        Some(src) => Target::Camera(src, tail),
        None => Target::Unnamed("?src=<camera>"),
    };
    match path {
        "/api/frame.jpeg" => go2rtc("snapshot.jpg"),
        "/api/stream.mjpeg" => go2rtc("stream.mjpg"),
        "/api/stream.mp4" => go2rtc("stream.mp4"),
        "/" => {
            let tail = match param("action").as_deref() {
                Some("snapshot") => "snapshot.jpg",
                Some("stream") => "stream.mjpg",
                _ => return Target::Own,
            };
            match param("camera").or_else(only_camera) {
                Some(camera) => Target::Camera(camera, tail),
                None => Target::Unnamed("this hub has several cameras: add &camera=<camera>"),
            }
        }
        _ => match path
            .strip_prefix("/api/")
            .and_then(|p| p.strip_suffix("/latest.jpg"))
        {
            Some(camera) if !camera.is_empty() && !camera.contains('/') && camera != "cameras" => {
                Target::Camera(camera.to_owned(), "snapshot.jpg")
            }
            _ => Target::Own,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn camera(name: &str, tail: &'static str) -> Target {
        Target::Camera(name.to_owned(), tail)
    }

    #[test]
    fn each_tools_path_goes_to_the_hubs_own() {
        let none = || None;
        let door = || Some("door".to_owned());
        assert_eq!(
            target("/api/frame.jpeg", Some("src=door"), none),
            camera("door", "snapshot.jpg")
        );
        assert_eq!(
            target("/api/stream.mjpeg", Some("src=yard&token=t"), none),
            camera("yard", "stream.mjpg")
        );
        assert_eq!(
            target("/api/stream.mp4", Some("src=a%2Fb"), none),
            camera("a/b", "stream.mp4")
        );
        assert!(matches!(
            target("/api/frame.jpeg", None, none),
            Target::Unnamed(_)
        ));
        assert_eq!(
            target("/", Some("action=stream"), door),
            camera("door", "stream.mjpg")
        );
        assert_eq!(
            target("/", Some("action=snapshot&camera=yard"), door),
            camera("yard", "snapshot.jpg")
        );
        assert!(matches!(
            target("/", Some("action=stream"), none),
            Target::Unnamed(_)
        ));
        assert_eq!(target("/", None, door), Target::Own, "the dashboard");
        assert_eq!(target("/", Some("action=other"), door), Target::Own);
        assert_eq!(
            target("/api/door/latest.jpg", None, none),
            camera("door", "snapshot.jpg")
        );
        for own in [
            "/api/cameras/latest.jpg",
            "/api/a/b/latest.jpg",
            "/api//latest.jpg",
            "/api/cameras",
        ] {
            assert_eq!(target(own, None, door), Target::Own, "{own}");
        }
    }
}
