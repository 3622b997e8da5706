//! `rtsp://` and `rtsps://` sources: IP cameras' H.264 and H.265 streams, pulled with
//! retina (TCP interleaved by default, through the hub's bounded relay, `rtsp_link.rs`;
//! UDP with `#transport=udp`; digest and basic auth from the URL). The camera's access units go onto the video bus as they come, with their
//! parameter sets beside them; pictures are made of them only while someone needs them
//! (the camera's decoder, `stage`). A camera with a `detect_source` has its pictures made of that
//! second stream instead, pulled beside the first and retried on its own.

use std::future::Future;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use futures_util::StreamExt;
use retina::client::{
    Credentials, Demuxed, PlayOptions, Session, SessionOptions, SetupOptions, Transport,
};
use retina::codec::{CodecItem, FrameFormat, ParametersRef, VideoParametersCodec};
use tokio::time::Instant;

use super::rtsp_link::Link;
use super::spec::{RtspSpec, RtspTransport};
use super::{Never, SourceContext};
use crate::camera::{Camera, PublisherLease, SourceState, VideoStream};
use crate::frame::FrameLimits;
use crate::video::{Codec, VideoParams};

/// Runs one connection (and the detect stream's beside it); returns why it ended (the
/// supervisor retries).
pub(super) async fn run(camera: &Arc<Camera>, spec: &RtspSpec, ctx: &SourceContext) -> String {
    if spec.detect.is_some() {
        // From now on the pictures are made of the detect stream.
        camera.detect_video();
    }
    let mut stream = match connect(spec, ctx.limits).await {
        Ok(stream) => stream,
        Err(e) => return e,
    };
    let lease = camera.claim_publisher();
    let detect = async {
        match &spec.detect {
            Some(detect) => match substream(&lease, detect, ctx).await {},
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        e = ingest(&lease, &mut stream, spec, ctx.limits, VideoStream::Own) => e,
        e = detect => e,
    }
}

/// The detect stream, for as long as the camera's own stream runs: retried on its own
/// with the sources' backoff, its error shown on the live camera meanwhile (its video
/// goes on being recorded and played; only its pictures wait).
async fn substream(lease: &PublisherLease, spec: &RtspSpec, ctx: &SourceContext) -> Never {
    let camera = lease.camera();
    let mut backoff = super::Backoff::new(ctx.first_retry);
    loop {
        backoff.start();
        let error = match connect(spec, ctx.limits).await {
            Ok(mut stream) => {
                ingest(lease, &mut stream, spec, ctx.limits, VideoStream::Detect).await
            }
            Err(e) => e,
        };
        let error = crate::excerpt::of(&error);
        // The next connection starts at its first keyframe.
        camera.detect_video().reset();
        let wait = backoff.failed();
        tracing::warn!(camera = camera.name(), %error, retry_in = ?wait, "detect stream failed");
        camera.set_source_state(
            SourceState::Live,
            Some(format!(
                "detect_source: {error} (no new pictures until it is back; the video goes on)"
            )),
        );
        tokio::time::sleep(wait).await;
    }
}

/// A camera's stream being played.
struct Playing {
    demuxed: Demuxed,
    /// The relay retina reads through (none over UDP).
    link: Option<Link>,
}

impl Playing {
    /// Why the relay cut the connection, if it did: what the camera sent that it may not.
    fn refused(&self) -> Option<String> {
        self.link.as_ref().and_then(Link::failure)
    }
}

/// Opens `spec` within its timeouts.
async fn connect(spec: &RtspSpec, limits: FrameLimits) -> Result<Playing, String> {
    let within = spec.connect_timeout + spec.read_timeout;
    match tokio::time::timeout(within, open(spec, limits)).await {
        Ok(opened) => opened,
        Err(_) => Err(format!("no answer within {:.0} s", within.as_secs_f64())),
    }
}

/// Connects (through the relay over TCP), then negotiates the stream.
async fn open(spec: &RtspSpec, limits: FrameLimits) -> Result<Playing, String> {
    // The relay counts access units as units of the codec the camera offers.
    let codec = Arc::new(OnceLock::new());
    let mut link = match spec.transport {
        RtspTransport::Tcp => Some(Link::open(spec, limits.max_bytes, Arc::clone(&codec)).await?),
        RtspTransport::Udp => None,
    };
    let url = link.as_ref().map_or(&spec.url, |l| &l.url).clone();
    match drive(&mut link, negotiate(spec, url, &codec)).await {
        Ok(demuxed) => Ok(Playing { demuxed, link }),
        // The relay's refusal is why retina failed, if there is one.
        Err(e) => Err(link.as_ref().and_then(Link::failure).unwrap_or(e)),
    }
}

/// Runs `work` on the stream's connection: through the relay, if there is one.
async fn drive<F: Future>(link: &mut Option<Link>, work: F) -> F::Output {
    match link {
        Some(link) => link.drive(work).await,
        None => work.await,
    }
}

/// DESCRIBE at `url`, SETUP of the first H.264 or H.265 video stream, PLAY.
async fn negotiate(
    spec: &RtspSpec,
    url: url::Url,
    codec: &OnceLock<Codec>,
) -> Result<Demuxed, String> {
    let creds = spec.user.as_ref().map(|(username, password)| Credentials {
        username: username.clone(),
        password: password.clone(),
    });
    let options = SessionOptions::default()
        .creds(creds)
        .user_agent(concat!("remotecam/", env!("CARGO_PKG_VERSION")).to_owned());
    let failed = |e: retina::Error| describe(&e);
    let mut session = Session::describe(url, options).await.map_err(failed)?;
    let video = session
        .streams()
        .iter()
        .position(|s| s.media() == "video" && matches!(s.encoding_name(), "h264" | "h265"))
        .ok_or_else(|| {
            let offered: Vec<String> = session
                .streams()
                .iter()
                .map(|s| format!("{} {}", s.media(), s.encoding_name()))
                .collect();
            format!(
                "the camera offers no H.264 or H.265 video (it offers: {})",
                offered.join(", ")
            )
        })?;
    let _ = codec.set(match session.streams()[video].encoding_name() {
        "h265" => Codec::H265,
        _ => Codec::H264,
    });
    let transport = match spec.transport {
        RtspTransport::Tcp => Transport::default(),
        RtspTransport::Udp => "udp".parse().expect("a transport retina knows"),
    };
    session
        .setup(
            video,
            SetupOptions::default()
                .transport(transport)
                .frame_format(FrameFormat::MP4),
        )
        .await
        .map_err(failed)?;
    let playing = session.play(PlayOptions::default()).await.map_err(failed)?;
    playing.demuxed().map_err(failed)
}

/// What went wrong, in words a person can act on.
fn describe(e: &retina::Error) -> String {
    match e.status_code() {
        Some(401 | 403) => format!(
            "the camera refused access (RTSP {}): check the user and password in the URL",
            e.status_code().unwrap_or(401)
        ),
        Some(404) => {
            "the camera has no stream at this path (RTSP 404): check the path in the URL".into()
        }
        // retina's messages carry the connection and packet context after a blank line.
        _ => e
            .to_string()
            .split("\n\n")
            .next()
            .unwrap_or("")
            .trim()
            .to_owned(),
    }
}

/// Publishes every access unit of `stream` that holds a picture until it fails or
/// stalls: only a picture shows the camera is alive (control reports and units of SEI
/// or filler alone do not).
async fn ingest(
    lease: &PublisherLease,
    playing: &mut Playing,
    spec: &RtspSpec,
    limits: FrameLimits,
    stream: VideoStream,
) -> String {
    let mut params: Option<Arc<VideoParams>> = None;
    let mut stalled_at = Instant::now() + spec.read_timeout;
    loop {
        let next = drive(&mut playing.link, playing.demuxed.next());
        let item = match tokio::time::timeout_at(stalled_at, next).await {
            Err(_) => {
                return format!(
                    "the stream stalled: no picture for {:.0} s",
                    spec.read_timeout.as_secs_f64()
                );
            }
            Ok(None) => {
                return playing
                    .refused()
                    .unwrap_or_else(|| "the camera ended the stream".into());
            }
            Ok(Some(Err(e))) => {
                return playing
                    .refused()
                    .unwrap_or_else(|| format!("bad stream: {}", describe(&e)));
            }
            Ok(Some(Ok(item))) => item,
        };
        let CodecItem::VideoFrame(frame) = item else {
            continue;
        };
        if params.is_none() || frame.has_new_parameters() {
            let stream = &playing.demuxed.streams()[frame.stream_id()];
            let next = match stream.parameters() {
                Some(ParametersRef::Video(video)) => video_params(video, limits),
                _ => Err("the camera sent video without its parameter sets (SPS/PPS)".into()),
            };
            match next {
                Ok(next) => {
                    if params.is_none() {
                        lease.camera().set_source_state(SourceState::Live, None);
                    }
                    params = Some(Arc::new(next));
                }
                Err(e) => return e,
            }
        }
        let Some(params) = &params else { continue };
        if frame.data().len() > limits.max_bytes {
            return format!(
                "a frame of {} bytes, above the limit of {} (--max-frame-bytes)",
                frame.data().len(),
                limits.max_bytes
            );
        }
        if !params.codec.has_picture(frame.data()) {
            continue;
        }
        stalled_at = Instant::now() + spec.read_timeout;
        let keyframe = frame.is_random_access_point()
            || (params.codec == Codec::H265 && crate::video::is_h265_irap(frame.data()));
        let pts = frame.timestamp().elapsed();
        let data = Bytes::from(frame.into_data());
        lease.publish_video(stream, data, (keyframe, pts), Arc::clone(params), None);
    }
}

/// The stream's parameters, within the hub's limits.
fn video_params(
    video: &retina::codec::VideoParameters,
    limits: FrameLimits,
) -> Result<VideoParams, String> {
    let (codec, parameter_sets) = match video.codec_params() {
        VideoParametersCodec::H264 { sps, pps } => (Codec::H264, vec![sps.clone(), pps.clone()]),
        VideoParametersCodec::H265 { vps, sps, pps } => {
            (Codec::H265, vec![vps.clone(), sps.clone(), pps.clone()])
        }
        _ => return Err("the camera's video is neither H.264 nor H.265".into()),
    };
    let (width, height) = video.pixel_dimensions();
    if u64::from(width) * u64::from(height) > limits.max_pixels
        || width > u32::from(u16::MAX)
        || height > u32::from(u16::MAX)
    {
        return Err(format!(
            "the camera's picture is {width}x{height}, above the limit of {} pixels (--max-frame-pixels)",
            limits.max_pixels
        ));
    }
    Ok(VideoParams::new(
        codec,
        (width as u16, height as u16),
        video.rfc6381_codec().to_owned(),
        Bytes::copy_from_slice(video.extra_data()),
        parameter_sets,
    ))
}
