use std::time::Duration;

use thiserror::Error;

/// What can go wrong, in words a user can act on.
#[derive(Debug, Clone, Error)]
#[non_exhaustive]
pub enum Error {
    #[error("no camera named '{camera}' on the hub at {url}")]
    CameraNotFound { camera: String, url: String },
    #[error("the hub at {url} refused access: {message}")]
    Unauthorized { url: String, message: String },
    #[error("hub not reachable at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("no frame from camera '{camera}' in {:.1} s{}", waited.as_secs_f64(), why.as_deref().map(|w| format!(" ({w})")).unwrap_or_default())]
    Timeout {
        camera: String,
        waited: Duration,
        /// What the receiver knows about why (offline, hub not reachable).
        why: Option<String>,
    },
    #[error("{0}")]
    BadUrl(String),
    #[error("the hub closed the connection: {0}")]
    Closed(String),
    #[error("unexpected answer from the hub: {0}")]
    Protocol(String),
    #[error("cannot decode the frame: {0}")]
    Decode(String),
}
