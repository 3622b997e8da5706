//! A client for the remotecam hub.
//!
//! [`Receiver`] keeps the newest frame of one camera, received in the background over
//! the camera's WebSocket: there is no queue, so a program that reads slowly never gets
//! an old frame, and [`Receiver::next_frame`] never returns the same frame twice. Frames
//! are decoded (to BGR, as OpenCV expects) only when taken. It reconnects by itself when
//! the hub restarts. [`Publisher`] sends frames into a camera.
//!
//! Both are async (tokio); [`blocking`] wraps them for programs without a runtime (the
//! Python package is built on it).

pub mod blocking;
mod error;
mod image;
mod publisher;
mod receiver;

pub use error::Error;
pub use image::{Image, decode_bgr, encode_bgr, timeout_image};
pub use publisher::Publisher;
pub use receiver::{Frame, Receiver};
pub use remotecam_core::wire::FrameMeta;

/// Where a camera is: the hub's base URL (`http://host:port`), the camera's name and the
/// access token if the hub needs one.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: String,
    pub camera: String,
    pub token: Option<String>,
}

impl Target {
    pub fn new(url: impl Into<String>, camera: impl Into<String>) -> Target {
        Target {
            url: url.into(),
            camera: camera.into(),
            token: None,
        }
    }

    pub fn token(mut self, token: Option<String>) -> Target {
        self.token = token;
        self
    }

    /// The WebSocket URL of one of the camera's endpoints (`ws` or `publish`).
    fn ws_url(&self, endpoint: &str) -> Result<String, Error> {
        let base = self.url.trim_end_matches('/');
        let rest = if let Some(rest) = base.strip_prefix("http://") {
            rest
        } else if let Some(rest) = base.strip_prefix("ws://") {
            rest
        } else if base.starts_with("https://") || base.starts_with("wss://") {
            return Err(Error::BadUrl(format!(
                "{base}: use the hub's plain http:// address (port 8100 by default); \
                 HTTPS is for browsers"
            )));
        } else {
            return Err(Error::BadUrl(format!(
                "{base}: expected an address like http://127.0.0.1:8100"
            )));
        };
        if self.camera.is_empty() || self.camera.contains(['/', '?', '#', ' ']) {
            return Err(Error::BadUrl(format!("bad camera name {:?}", self.camera)));
        }
        Ok(format!(
            "ws://{rest}/api/cameras/{}/{endpoint}",
            self.camera.to_ascii_lowercase()
        ))
    }

    fn request(
        &self,
        endpoint: &str,
    ) -> Result<tokio_tungstenite::tungstenite::handshake::client::Request, Error> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let url = self.ws_url(endpoint)?;
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|e| Error::BadUrl(format!("{url}: {e}")))?;
        if let Some(token) = &self.token {
            let value = format!("Bearer {token}").parse().map_err(|_| {
                Error::BadUrl("the token has characters a header cannot carry".into())
            })?;
            request.headers_mut().insert("authorization", value);
        }
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = Target::new("http://127.0.0.1:8100/", "Door");
        assert_eq!(
            t.ws_url("ws").unwrap(),
            "ws://127.0.0.1:8100/api/cameras/door/ws"
        );
        assert!(matches!(
            Target::new("https://x:8443", "a").ws_url("ws"),
            Err(Error::BadUrl(m)) if m.contains("http://")
        ));
        assert!(Target::new("ftp://x", "a").ws_url("ws").is_err());
        assert!(Target::new("http://x", "a/b").ws_url("ws").is_err());
    }
}
