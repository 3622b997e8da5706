//! remotecam: a camera hub. Sources put JPEG frames into a per-camera frame bus (the
//! test pattern, HTTP MJPEG cameras, webcams, browsers sending JPEG) or H.264 and H.265
//! access units into its video bus (RTSP cameras, browsers sending H.264); the camera's
//! stages make one of the other for whoever wants it; sinks (MJPEG, snapshot,
//! WebSocket, `stream.mp4`, the recorder) read them.
//! See ARCHITECTURE.md for the map and docs/glossary.md for the words.

pub mod auth;
pub mod camera;
pub mod config;
pub mod counts;
pub mod error;
pub mod events;
pub mod excerpt;
pub mod files;
pub mod frame;
pub mod health;
pub mod hosts;
pub mod hub;
pub mod listen;
pub use remotecam_core::jpeg;
pub mod motion;
pub mod mqtt;
pub mod peers;
pub mod picture;
pub mod placeholder;
pub mod record;
pub mod rtsp_server;
pub mod server;
pub mod source;
pub mod stage;
pub mod tls;
pub mod video;
pub mod web;
