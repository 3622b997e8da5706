//! Test harness: the real `remotecam` binary on 127.0.0.1 with free ports, plus small
//! clients (publisher, MJPEG reader, WebSocket viewer, event stream) that speak to it as
//! tools would.
#![allow(dead_code, unreachable_pub, unused_imports)]

mod fake_rtsp;
mod h264_publisher;
mod hub;
mod mjpeg;
mod motion;
mod mqtt;
mod pictures;
mod probe;
mod relay;
mod rtsp;
mod rtsp_client;
mod s3;
mod tokens;
mod ws;

pub use fake_rtsp::{Sends, fake_rtsp_camera, h264, h264_gop, h264_noise, h264_refs};
pub use h264_publisher::{
    CAPTURED_FROM, H264Stream, VideoPublisher, avcc, h264_stream, sps_claiming,
};
pub use hub::{Hub, HubBuilder};
pub use mjpeg::{MjpegReader, Part};
pub use motion::{Events, put_motion, wait_scored};
pub use mqtt::{Broker, Listener, MQTT_PASSWORD, MQTT_USER, Message};
pub use pictures::{claiming, padded_jpeg, scene, test_jpeg};
pub use probe::{Probe, clip_samples, ffprobe, probe_stream};
pub use relay::Relay;
pub use rtsp::{RtspCamera, RtspOptions};
pub use rtsp_client::{RawRtsp, Received, Reply, basic, retina_play};
pub use s3::{BUCKET, Store};
pub use tokens::Made;
pub use ws::*;

use std::time::Duration;

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;
pub type RawWs = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// Generous bound for anything the tests wait on; hitting it is a failure, not a delay.
pub const WAIT: Duration = Duration::from_secs(20);

/// Resident memory limit for the hub under attack, KiB.
pub const RSS_MAX_KIB: u64 = 200 * 1024;

/// A port free on 127.0.0.1 now (for servers that must be told theirs).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Stands in for another machine on the LAN: the hub trusts only 127.0.0.1 and ::1.
pub const OTHER: &str = "127.0.0.2";

/// An HTTP client from [`OTHER`] that does not follow redirects (tests look at them).
pub fn other_client() -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(OTHER.parse::<std::net::IpAddr>().unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}
