//! One RTSP connection's session, sans I/O: each request, with what the hub knows of it
//! ([`Facts`]: who the client is, the camera it names), in; the response and what the
//! connection does next ([`Next`]) out.
//!
//! A connection plays one camera's video, on interleaved channels (TCP), from the
//! newest keyframe. RTP over UDP is refused with `461 Unsupported Transport`, after
//! which ffmpeg, GStreamer and VLC ask again for TCP: every client the hub serves
//! speaks it, it passes the NAT and firewalls between a hub and its clients, it needs
//! no port pair per client, and it cannot be pointed at another host's ports.

use std::sync::Arc;

use remotecam_core::rtsp::transport::{self, Offer};
use remotecam_core::rtsp::{Method, Request, Response, Status};

use super::sdp;
use crate::auth::{Action, Admitted, Cameras, Grant, Need, Refused};
use crate::video::VideoParams;

/// How long a client may stay silent before a session ends (`Session: ...;timeout=`),
/// while not playing; a playing session lasts as long as its connection.
pub const SESSION_TIMEOUT_SECS: u64 = 60;

pub const PUBLIC: &str = "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER, SET_PARAMETER";

/// What the hub knows of one request, gathered by the listener before it is answered.
#[derive(Debug)]
pub struct Facts {
    /// Who the client is, by this request's credentials.
    pub access: Result<Admitted, Refused>,
    /// The camera the request names, if it names one.
    pub camera: Lookup,
}

/// What the hub has of the camera a request names.
#[derive(Debug)]
pub enum Lookup {
    /// The request names none (`OPTIONS *`, `GET_PARAMETER` on the session).
    Unnamed,
    Missing,
    /// The camera is there, with no video yet (offline, or its encoder did not start
    /// in time).
    NoVideo,
    Video(Stream),
}

/// A camera's video as its RTSP clients get it (`shared.rs`).
#[derive(Debug)]
pub struct Stream {
    pub params: Arc<VideoParams>,
    pub ssrc: u32,
    /// The sequence number and RTP time of the first packet a PLAY would send, when
    /// there is one already.
    pub first: Option<(u16, u32)>,
}

/// What the connection does after sending the response.
#[derive(Debug)]
pub enum Next {
    Continue,
    /// Start sending the camera's video.
    Play {
        camera: String,
        grant: Grant,
        channel: u8,
    },
    /// Close the connection (after TEARDOWN, or a request it cannot go on after).
    Close,
}

/// One connection's state.
#[derive(Debug)]
pub struct Session {
    /// The `Session` header's value, made by the listener (random).
    id: String,
    /// The nonce of this connection's Digest challenge.
    pub nonce: String,
    /// The camera this connection is about, from its first DESCRIBE or SETUP.
    camera: Option<String>,
    /// The interleaved channels of the stream, once set up.
    channels: Option<(u8, u8)>,
    playing: bool,
}

/// The camera a request path names: its first segment (`/door`, `/door/`,
/// `/door/trackID=0`).
pub fn camera_of(request: &Request) -> Option<&str> {
    let path = request.path()?;
    let name = path.trim_start_matches('/').split('/').next()?;
    (!name.is_empty()).then_some(name)
}

impl Session {
    pub fn new(id: String, nonce: String) -> Session {
        Session {
            id,
            nonce,
            camera: None,
            channels: None,
            playing: false,
        }
    }

    pub fn playing(&self) -> bool {
        self.playing
    }

    /// The response to `request`, and what the connection does next.
    pub fn answer(&mut self, request: &Request, facts: Facts) -> (Response, Next) {
        let Some(cseq) = request.cseq() else {
            let response = Response::new(Status::BadRequest, None);
            return (text(response, "a request without CSeq"), Next::Close);
        };
        let reply = Response::new(Status::Ok, Some(cseq)).header("Server", "remotecam");
        if request.method == Method::Options {
            return (reply.header("Public", PUBLIC), Next::Continue);
        }
        if matches!(request.method, Method::Other | Method::Pause) {
            let response = reply.header("Public", PUBLIC);
            let response = Response {
                status: Status::NotImplemented,
                ..response
            };
            let what = format!(
                "{} is not served here: this listener serves cameras to play",
                excerpt(&request.method_name)
            );
            return (text(response, &what), Next::Continue);
        }
        let admitted = match facts.access {
            Ok(admitted) => admitted,
            Err(refused) => return (self.unauthorized(reply, refused), Next::Continue),
        };
        if let Some(id) = request.header("Session") {
            let id = id.split(';').next().unwrap_or("").trim();
            if id != self.id {
                return (
                    failed(reply, Status::SessionNotFound, "no such session"),
                    Next::Continue,
                );
            }
        }
        match request.method {
            Method::Describe | Method::Setup | Method::Play => {}
            Method::Teardown => return (reply.header("Session", self.id.clone()), Next::Close),
            _ => return (self.with_session(reply), Next::Continue),
        }
        let Some(name) = camera_of(request) else {
            return (
                failed(
                    reply,
                    Status::NotFound,
                    "name a camera: rtsp://host:port/<camera>",
                ),
                Next::Continue,
            );
        };
        let need = Need {
            action: Action::View,
            cameras: Cameras::One(name),
        };
        if let Err(denied) = admitted.grant.allows(need) {
            return (
                failed(reply, Status::Forbidden, &denied.to_string()),
                Next::Continue,
            );
        }
        if self.camera.as_deref().is_some_and(|c| c != name) {
            let what = "one camera per connection: open another for another camera";
            return (failed(reply, Status::BadRequest, what), Next::Continue);
        }
        let stream = match facts.camera {
            Lookup::Video(stream) => stream,
            Lookup::Missing | Lookup::Unnamed => {
                let what = format!("no camera named '{}' on this hub", excerpt(name));
                return (failed(reply, Status::NotFound, &what), Next::Continue);
            }
            Lookup::NoVideo => {
                let what = "the camera has no video now (it is offline, or did not start)";
                return (
                    failed(reply, Status::ServiceUnavailable, what),
                    Next::Continue,
                );
            }
        };
        self.camera = Some(name.to_owned());
        match request.method {
            Method::Describe => (self.describe(reply, request, name, &stream), Next::Continue),
            Method::Setup => (self.setup(reply, request, &stream), Next::Continue),
            _ => self.play(reply, request, name, admitted.grant, &stream),
        }
    }

    fn unauthorized(&self, reply: Response, refused: Refused) -> Response {
        let [digest, basic] = super::access::challenges(&self.nonce);
        let why = match refused {
            Refused::Missing => {
                "access token required: rtsp://any-name:<token>@host:port/<camera>, or \
                 ?token=<token>"
            }
            Refused::Wrong => "wrong access token",
            Refused::Expired => "the access token expired",
        };
        let reply = reply
            .header("WWW-Authenticate", digest)
            .header("WWW-Authenticate", basic);
        failed(reply, Status::Unauthorized, why)
    }

    fn with_session(&self, reply: Response) -> Response {
        if self.channels.is_some() {
            reply.header("Session", self.id.clone())
        } else {
            reply
        }
    }

    fn describe(
        &self,
        reply: Response,
        request: &Request,
        name: &str,
        stream: &Stream,
    ) -> Response {
        let base = content_base(request, name);
        // The stream's URL in full, with the query the client sent (`?token=`): a
        // client that reconnects to set it up (ffmpeg, after a 461) is let in by it.
        let control = match request.query() {
            Some(query) => format!("{base}{}?{query}", sdp::TRACK),
            None => format!("{base}{}", sdp::TRACK),
        };
        let sdp = sdp::describe(name, &control, u64::from(stream.ssrc), &stream.params);
        reply
            .header("Content-Base", base)
            .body("application/sdp", sdp)
    }

    fn setup(&mut self, reply: Response, request: &Request, stream: &Stream) -> Response {
        if self.playing {
            let what = "the stream is playing already";
            return failed(reply, Status::MethodNotValidInThisState, what);
        }
        let offers = transport::offers(request.header("Transport").unwrap_or(""));
        let Some(channels) = offers.iter().find_map(|o| match o {
            Offer::Interleaved(channels) => Some(channels.unwrap_or((0, 1))),
            _ => None,
        }) else {
            let what = "RTP over TCP only (RTP/AVP/TCP;interleaved): ask for it";
            return failed(reply, Status::UnsupportedTransport, what);
        };
        self.channels = Some(channels);
        let (a, b) = channels;
        reply
            .header(
                "Transport",
                format!(
                    "RTP/AVP/TCP;unicast;interleaved={a}-{b};ssrc={:08X};mode=\"PLAY\"",
                    stream.ssrc
                ),
            )
            .header(
                "Session",
                format!("{};timeout={SESSION_TIMEOUT_SECS}", self.id),
            )
    }

    fn play(
        &mut self,
        reply: Response,
        request: &Request,
        name: &str,
        grant: Grant,
        stream: &Stream,
    ) -> (Response, Next) {
        let Some((channel, _)) = self.channels else {
            let what = "SETUP the stream before PLAY";
            return (
                failed(reply, Status::MethodNotValidInThisState, what),
                Next::Continue,
            );
        };
        let reply = reply
            .header("Session", self.id.clone())
            .header("Range", "npt=now-");
        if self.playing {
            return (reply, Next::Continue);
        }
        self.playing = true;
        // Where the stream starts, when a unit is there already (clients do without).
        let reply = match stream.first {
            Some((seq, rtptime)) => {
                let url = format!("{}{}", content_base(request, name), sdp::TRACK);
                reply.header("RTP-Info", format!("url={url};seq={seq};rtptime={rtptime}"))
            }
            None => reply,
        };
        let next = Next::Play {
            camera: name.to_owned(),
            grant,
            channel,
        };
        (reply, next)
    }
}

/// The URL the stream's control URL is relative to: the camera's, with a slash.
fn content_base(request: &Request, name: &str) -> String {
    let uri = request.uri.split(['?', '#']).next().unwrap_or("");
    let host_end = uri
        .find("://")
        .map(|i| i + 3)
        .and_then(|start| uri[start..].find('/').map(|j| start + j))
        .unwrap_or(uri.len());
    format!("{}/{name}/", &uri[..host_end])
}

fn failed(reply: Response, status: Status, why: &str) -> Response {
    text(Response { status, ..reply }, why)
}

/// A response with a short text saying why, as its body.
fn text(response: Response, why: &str) -> Response {
    response.body("text/plain; charset=utf-8", format!("{why}\n"))
}

fn excerpt(text: &str) -> String {
    crate::excerpt::of(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Via;
    use bytes::Bytes;

    fn request(method: Method, uri: &str, headers: &[(&str, &str)]) -> Request {
        let mut all = vec![("CSeq".to_owned(), "5".to_owned())];
        all.extend(headers.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Request {
            method,
            method_name: format!("{method:?}").to_uppercase(),
            uri: uri.into(),
            headers: all,
            body: Bytes::new(),
        }
    }

    fn admitted() -> Result<Admitted, Refused> {
        Ok(Admitted {
            grant: Grant::everything(None),
            via: Via::Trusted,
        })
    }

    fn video() -> Lookup {
        Lookup::Video(Stream {
            params: crate::video::tests::params(),
            ssrc: 0xCAFE,
            first: Some((1000, 5000)),
        })
    }

    fn facts(camera: Lookup) -> Facts {
        Facts {
            access: admitted(),
            camera,
        }
    }

    fn session() -> Session {
        Session::new("abc123".into(), "n0nce".into())
    }

    fn header<'a>(r: &'a Response, name: &str) -> Vec<&'a str> {
        r.headers
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    const URI: &str = "rtsp://192.0.2.1:8554/door";

    #[test]
    fn describe_setup_play_as_ffmpeg_asks() {
        let mut s = session();
        let (r, next) = s.answer(&request(Method::Options, URI, &[]), facts(Lookup::Unnamed));
        assert_eq!(r.status, Status::Ok);
        assert!(matches!(next, Next::Continue));
        assert_eq!(r.cseq, Some(5));
        let (r, _) = s.answer(&request(Method::Describe, URI, &[]), facts(video()));
        assert_eq!(r.status, Status::Ok);
        assert_eq!(header(&r, "Content-Base"), ["rtsp://192.0.2.1:8554/door/"]);
        assert!(std::str::from_utf8(&r.body).unwrap().contains("H264/90000"));
        // UDP first, as ffmpeg and VLC try it: refused, then TCP.
        let udp = [("Transport", "RTP/AVP/UDP;unicast;client_port=5000-5001")];
        let track = "rtsp://192.0.2.1:8554/door/trackID=0";
        let (r, _) = s.answer(&request(Method::Setup, track, &udp), facts(video()));
        assert_eq!(r.status, Status::UnsupportedTransport);
        let tcp = [("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1")];
        let (r, _) = s.answer(&request(Method::Setup, track, &tcp), facts(video()));
        assert_eq!(r.status, Status::Ok);
        assert_eq!(header(&r, "Session"), ["abc123;timeout=60"]);
        assert!(header(&r, "Transport")[0].starts_with("RTP/AVP/TCP;unicast;interleaved=0-1"));
        let play = [("Session", "abc123")];
        let (r, next) = s.answer(&request(Method::Play, URI, &play), facts(video()));
        assert_eq!(r.status, Status::Ok);
        assert_eq!(
            header(&r, "RTP-Info"),
            ["url=rtsp://192.0.2.1:8554/door/trackID=0;seq=1000;rtptime=5000"]
        );
        assert!(matches!(next, Next::Play { channel: 0, ref camera, .. } if camera == "door"));
        let (r, next) = s.answer(&request(Method::Teardown, URI, &play), facts(video()));
        assert_eq!(r.status, Status::Ok);
        assert!(matches!(next, Next::Close));
    }

    #[test]
    fn refusals_say_why_with_the_status_clients_know() {
        let mut s = session();
        let refused = Facts {
            access: Err(Refused::Missing),
            camera: video(),
        };
        let (r, _) = s.answer(&request(Method::Describe, URI, &[]), refused);
        assert_eq!(r.status, Status::Unauthorized);
        let challenges = header(&r, "WWW-Authenticate");
        assert!(challenges[0].starts_with("Digest realm=\"remotecam\", nonce=\"n0nce\""));
        assert_eq!(challenges[1], "Basic realm=\"remotecam\"");
        let (r, _) = s.answer(&request(Method::Describe, URI, &[]), facts(Lookup::Missing));
        assert_eq!(r.status, Status::NotFound);
        let (r, _) = s.answer(&request(Method::Describe, URI, &[]), facts(Lookup::NoVideo));
        assert_eq!(r.status, Status::ServiceUnavailable);
        let (r, _) = s.answer(&request(Method::Play, URI, &[]), facts(video()));
        assert_eq!(
            r.status,
            Status::MethodNotValidInThisState,
            "PLAY before SETUP"
        );
        let wrong = [("Session", "other")];
        let (r, _) = s.answer(&request(Method::Play, URI, &wrong), facts(video()));
        assert_eq!(r.status, Status::SessionNotFound);
        let (r, _) = s.answer(&request(Method::Other, URI, &[]), facts(video()));
        assert_eq!(r.status, Status::NotImplemented);
        let other = "rtsp://192.0.2.1:8554/yard";
        let (r, _) = s.answer(&request(Method::Describe, other, &[]), facts(video()));
        assert_eq!(r.status, Status::BadRequest, "one camera per connection");
        let mut no_cseq = request(Method::Options, URI, &[]);
        no_cseq.headers.clear();
        let (r, next) = s.answer(&no_cseq, facts(Lookup::Unnamed));
        assert_eq!(r.status, Status::BadRequest);
        assert!(matches!(next, Next::Close));
    }

    #[test]
    fn the_camera_is_the_first_segment_of_the_path() {
        for (uri, camera) in [
            ("rtsp://h:8554/door", Some("door")),
            ("rtsp://h:8554/door/", Some("door")),
            ("rtsp://h:8554/door/trackID=0?token=x", Some("door")),
            ("rtsp://h:8554/", None),
            ("*", None),
        ] {
            assert_eq!(
                camera_of(&request(Method::Describe, uri, &[])),
                camera,
                "{uri}"
            );
        }
    }
}
