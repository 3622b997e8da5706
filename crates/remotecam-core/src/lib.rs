//! What the remotecam hub and its clients share, with no I/O: the checks every frame
//! passes ([`jpeg`]), the wire format of frames sent to viewers ([`wire`]), and drawing
//! text on pictures ([`canvas`]) for the hub's "no signal" image and the clients'
//! timeout image, and the motion detector's working picture ([`luma`]).

pub mod canvas;
pub mod jpeg;
pub mod luma;
pub mod multipart;
pub mod planar;
pub mod rtsp;
pub mod wire;
