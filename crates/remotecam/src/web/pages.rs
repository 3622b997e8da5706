//! Pages and their assets, embedded in the binary (read from disk in debug builds, so
//! editing a page needs no rebuild).

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

use super::no_store;

#[derive(RustEmbed)]
#[folder = "assets/"]
struct Assets;

fn serve(path: &str) -> Response {
    match Assets::get(path) {
        Some(file) => {
            let mime = mime_guess::from_path(path).first_or_octet_stream();
            let mut response = (
                [(header::CONTENT_TYPE, mime.as_ref().to_owned())],
                file.data.into_owned(),
            )
                .into_response();
            no_store(&mut response);
            response
        }
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

pub(super) async fn dashboard() -> Response {
    serve("index.html")
}

pub(super) async fn recordings() -> Response {
    serve("recordings.html")
}

pub(super) async fn publish() -> Response {
    serve("publish.html")
}

pub(super) async fn camera(Path(_name): Path<String>) -> Response {
    serve("camera.html")
}

pub(super) async fn asset(Path(path): Path<String>) -> Response {
    serve(&path)
}

pub(super) async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "remotecam: no such page").into_response()
}
