//! remotecam: a camera hub. Sources (browsers, the test pattern, HTTP MJPEG cameras,
//! webcams) put JPEG frames into a per-camera frame bus, RTSP cameras their H.264 video
//! into a video bus; sinks (MJPEG, snapshot, WebSocket) read the newest frame.
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
pub mod server;
pub mod source;
pub mod stage;
pub mod tls;
pub mod video;
pub mod web;
