//! Source URLs: what a configured camera's `source` key may say.

use std::time::Duration;

use super::camera_tls::Trust;

/// A source as configured: one vocabulary of URLs with a scheme.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceSpec {
    /// `test:?width=640&height=480&fps=15`: a moving test pattern made by the hub.
    Test(TestPattern),
    /// `http://host/path` (or https): an MJPEG stream, or a JPEG snapshot URL polled.
    Http(HttpSpec),
    /// `v4l2:///dev/video0?width=1280&height=720&fps=30`: a USB webcam.
    V4l2(super::v4l2::V4l2Spec),
    /// `rtsp://user:password@host:554/path`: an IP camera's H.264 or H.265 stream.
    Rtsp(RtspSpec),
}

/// How RTP packets come from an RTSP camera.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtspTransport {
    /// Interleaved in the RTSP connection: one TCP connection, through any NAT or
    /// firewall, nothing lost but delayed when the network is slow. The default.
    Tcp,
    /// RTP over UDP: lower latency on a good network, packets lost on a bad one.
    Udp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RtspSpec {
    /// The URL as the camera is asked for it: without the user and password, and
    /// without the `#` options.
    pub url: url::Url,
    pub user: Option<(String, String)>,
    pub transport: RtspTransport,
    /// `#auth=basic`: the camera may ask for Basic authentication, which sends the
    /// password as it is. Without it, only Digest is answered (over TCP: the relay sees
    /// the camera's challenge).
    pub basic_auth: bool,
    /// For `rtsps://`: the certificate the camera must show.
    pub tls: Option<Trust>,
    pub connect_timeout: Duration,
    /// Longest wait for the next frame (a stalled camera is reconnected).
    pub read_timeout: Duration,
    /// `detect_source`: a second stream of the same camera (its H.264 substream) whose
    /// pictures serve motion detection and the JPEG views, so that this stream is
    /// never decoded: it is only recorded and played as it is. What makes an H.265
    /// camera detect motion, and spares decoding a large stream.
    pub detect: Option<Box<RtspSpec>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TestPattern {
    pub width: u16,
    pub height: u16,
    pub fps: f64,
}

impl Default for TestPattern {
    fn default() -> TestPattern {
        TestPattern {
            width: 640,
            height: 480,
            fps: 15.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct HttpSpec {
    /// The URL as given (it may carry `user:password@` for basic auth).
    pub url: String,
    pub connect_timeout: Duration,
    /// Longest wait for the next bytes of a stream (a stalled camera is reconnected).
    pub read_timeout: Duration,
    /// Snapshot URLs (a single JPEG per request) are fetched this many times a second.
    pub poll_fps: f64,
}

impl SourceSpec {
    /// Parses a source URL; the error says what is wrong and what was expected.
    pub fn parse(url: &str) -> Result<SourceSpec, String> {
        let url = url.trim();
        if let Some(rest) = url.strip_prefix("test:") {
            return parse_test(rest).map(SourceSpec::Test);
        }
        if url.starts_with("http://") || url.starts_with("https://") {
            let after = url.split_once("://").map_or("", |(_, r)| r);
            let host = after.split('/').next().unwrap_or("");
            let host = host.rsplit('@').next().unwrap_or("");
            if host.is_empty() {
                return Err(format!("source {url:?} has no host"));
            }
            return Ok(SourceSpec::Http(HttpSpec {
                url: url.to_owned(),
                connect_timeout: Duration::from_secs(5),
                read_timeout: Duration::from_secs(10),
                poll_fps: 2.0,
            }));
        }
        if let Some(rest) = url.strip_prefix("v4l2://") {
            return super::v4l2::parse(rest).map(SourceSpec::V4l2);
        }
        if url.starts_with("rtsp://") || url.starts_with("rtsps://") {
            return parse_rtsp(url).map(SourceSpec::Rtsp);
        }
        Err(format!(
            "unknown source {url:?}: expected a URL starting with test:, http://, https://, rtsp://, rtsps:// or v4l2://"
        ))
    }

    /// The source kind shown in the API.
    pub fn kind(&self) -> crate::camera::SourceKind {
        match self {
            SourceSpec::Test(_) => crate::camera::SourceKind::Test,
            SourceSpec::Http(_) => crate::camera::SourceKind::Http,
            SourceSpec::V4l2(_) => crate::camera::SourceKind::V4l2,
            SourceSpec::Rtsp(_) => crate::camera::SourceKind::Rtsp,
        }
    }
}

impl std::fmt::Display for SourceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceSpec::Test(p) => {
                write!(f, "test pattern {}x{} at {} fps", p.width, p.height, p.fps)
            }
            SourceSpec::Http(h) => {
                // Never print a password.
                let shown = match reqwest::Url::parse(&h.url) {
                    Ok(mut url) if url.password().is_some() => {
                        let _ = url.set_password(Some("***"));
                        url.to_string()
                    }
                    _ => h.url.clone(),
                };
                write!(
                    f,
                    "HTTP {shown} (MJPEG stream, or snapshots at {} per second)",
                    h.poll_fps
                )
            }
            SourceSpec::V4l2(v) => write!(
                f,
                "V4L2 {} {}x{} at {} fps{}",
                v.device,
                v.width,
                v.height,
                v.fps,
                v.format
                    .map(|k| format!(" ({})", k.name()))
                    .unwrap_or_default()
            ),
            SourceSpec::Rtsp(r) => {
                write!(f, "{r}")?;
                match &r.detect {
                    Some(detect) => write!(f, ", pictures from {detect}"),
                    None => Ok(()),
                }
            }
        }
    }
}

impl std::fmt::Display for RtspSpec {
    /// The stream without its password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut shown = self.url.clone();
        if let Some((user, _)) = &self.user {
            let _ = shown.set_username(user);
            let _ = shown.set_password(Some("***"));
        }
        let transport = match (self.transport, self.tls) {
            (RtspTransport::Tcp, None) => "TCP",
            (RtspTransport::Tcp, Some(_)) => "TLS",
            (RtspTransport::Udp, _) => "UDP",
        };
        write!(f, "RTSP {shown} (over {transport})")
    }
}

/// `rtsp[s]://[user:password@]host[:port]/path[#transport=tcp|udp][&auth=basic][&fingerprint=...]`.
/// The `#` part is the hub's (a fragment is never sent to the camera), as go2rtc has
/// its options.
fn parse_rtsp(raw: &str) -> Result<RtspSpec, String> {
    let mut url = url::Url::parse(raw).map_err(|e| format!("source {raw:?}: {e}"))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("source {raw:?} has no host"));
    }
    let tls = url.scheme() == "rtsps";
    let mut transport = RtspTransport::Tcp;
    let mut basic_auth = false;
    let mut trust = Trust::Authorities;
    for option in url
        .fragment()
        .unwrap_or("")
        .split('&')
        .filter(|o| !o.is_empty())
    {
        match option.split_once('=') {
            Some(("transport", "tcp")) => transport = RtspTransport::Tcp,
            Some(("transport", "udp")) => transport = RtspTransport::Udp,
            Some(("auth", "basic")) => basic_auth = true,
            Some(("fingerprint", print)) if tls => {
                trust = Trust::Fingerprint(
                    super::camera_tls::parse_fingerprint(print).ok_or_else(|| {
                        format!(
                            "source {raw:?}: #fingerprint= takes the SHA-256 of the camera's certificate, 64 hex digits"
                        )
                    })?,
                );
            }
            Some(("fingerprint", _)) => {
                return Err(format!(
                    "source {raw:?}: #fingerprint= is for rtsps:// (RTSP over TLS)"
                ));
            }
            _ => {
                return Err(format!(
                    "source {raw:?}: unknown option #{option} (rtsp:// takes #transport=tcp or #transport=udp and #auth=basic, rtsps:// #fingerprint=)"
                ));
            }
        }
    }
    if tls && transport == RtspTransport::Udp {
        return Err(format!(
            "source {raw:?}: rtsps:// carries the video inside its TLS connection; #transport=udp is for rtsp://"
        ));
    }
    url.set_fragment(None);
    let user = match (url.username(), url.password()) {
        ("", None) => None,
        (user, password) => Some((decode(user), decode(password.unwrap_or("")))),
    };
    let _ = url.set_username("");
    let _ = url.set_password(None);
    Ok(RtspSpec {
        url,
        user,
        transport,
        basic_auth,
        tls: tls.then_some(trust),
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(10),
        detect: None,
    })
}

/// A URL's user or password as typed (`%40` is `@`).
fn decode(part: &str) -> String {
    percent_encoding::percent_decode_str(part)
        .decode_utf8_lossy()
        .into_owned()
}

fn parse_test(rest: &str) -> Result<TestPattern, String> {
    let mut pattern = TestPattern::default();
    let query = rest.strip_prefix('?').unwrap_or(rest);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("test: option {pair:?} needs a value (like width=640)"))?;
        match key {
            "width" | "height" => {
                let v: u16 = value
                    .parse()
                    .ok()
                    .filter(|v| (16..=4096).contains(v) && v % 2 == 0)
                    .ok_or_else(|| {
                        format!("test: {key} must be an even number from 16 to 4096, not {value:?}")
                    })?;
                if key == "width" {
                    pattern.width = v;
                } else {
                    pattern.height = v;
                }
            }
            "fps" => {
                pattern.fps = value
                    .parse()
                    .ok()
                    .filter(|v: &f64| (0.1..=120.0).contains(v))
                    .ok_or_else(|| {
                        format!("test: fps must be a number from 0.1 to 120, not {value:?}")
                    })?;
            }
            other => {
                return Err(format!(
                    "test: has no option {other:?} (it takes width, height and fps)"
                ));
            }
        }
    }
    Ok(pattern)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_pattern_urls() {
        assert_eq!(
            SourceSpec::parse("test:").unwrap(),
            SourceSpec::Test(TestPattern::default())
        );
        assert_eq!(
            SourceSpec::parse("test:?width=320&height=240&fps=5").unwrap(),
            SourceSpec::Test(TestPattern {
                width: 320,
                height: 240,
                fps: 5.0
            })
        );
        assert!(
            SourceSpec::parse("test:?width=abc")
                .unwrap_err()
                .contains("even number")
        );
        assert!(
            SourceSpec::parse("test:?colour=red")
                .unwrap_err()
                .contains("no option \"colour\"")
        );
        assert!(
            SourceSpec::parse("test:?fps=0")
                .unwrap_err()
                .contains("fps")
        );
    }

    #[test]
    fn shown_without_passwords() {
        let spec = SourceSpec::parse("http://admin:secret@cam/video").unwrap();
        let text = spec.to_string();
        assert!(!text.contains("secret"), "{text}");
        assert!(text.contains("admin:***@cam"), "{text}");
    }

    #[test]
    fn rtsp_urls_keep_the_password_out_of_the_url_and_the_options_to_the_hub() {
        let Ok(SourceSpec::Rtsp(spec)) =
            SourceSpec::parse("rtsp://admin:p%40ss@10.0.0.7:554/Streaming/101?x=1#transport=udp")
        else {
            panic!("an RTSP URL")
        };
        assert_eq!(spec.url.as_str(), "rtsp://10.0.0.7:554/Streaming/101?x=1");
        assert_eq!(spec.user, Some(("admin".into(), "p@ss".into())));
        assert_eq!(spec.transport, RtspTransport::Udp);
        let shown = SourceSpec::Rtsp(spec).to_string();
        assert!(
            !shown.contains("p@ss") && !shown.contains("p%40ss"),
            "{shown}"
        );
        assert!(shown.contains("admin:***@10.0.0.7"), "{shown}");

        let Ok(SourceSpec::Rtsp(spec)) = SourceSpec::parse("rtsp://cam/live") else {
            panic!("an RTSP URL")
        };
        assert_eq!((spec.user, spec.transport), (None, RtspTransport::Tcp));
        for (bad, says) in [
            (
                "rtsp://cam/live#transport=sctp",
                "#transport=tcp or #transport=udp",
            ),
            ("rtsp:///live", "no host"),
            (
                "rtsps://cam/live#transport=udp",
                "#transport=udp is for rtsp://",
            ),
            ("rtsp://cam/live#fingerprint=00", "is for rtsps://"),
            ("rtsps://cam/live#fingerprint=00ff", "64 hex digits"),
        ] {
            let error = SourceSpec::parse(bad).unwrap_err();
            assert!(error.contains(says), "{bad}: {error}");
        }
    }

    #[test]
    fn rtsps_urls_trust_the_authorities_or_a_pinned_certificate() {
        use crate::source::camera_tls::Trust;
        let Ok(SourceSpec::Rtsp(spec)) = SourceSpec::parse("rtsps://u:p@10.0.0.1:7441/abc") else {
            panic!("an RTSPS URL")
        };
        assert_eq!(spec.url.as_str(), "rtsps://10.0.0.1:7441/abc");
        assert_eq!(
            (spec.tls, spec.transport),
            (Some(Trust::Authorities), RtspTransport::Tcp)
        );
        let print = "ab".repeat(32);
        let Ok(SourceSpec::Rtsp(spec)) =
            SourceSpec::parse(&format!("rtsps://cam/abc#fingerprint={print}"))
        else {
            panic!("an RTSPS URL")
        };
        assert_eq!(spec.tls, Some(Trust::Fingerprint([0xab; 32])));
        assert!(SourceSpec::Rtsp(spec).to_string().contains("over TLS"));
        let Ok(SourceSpec::Rtsp(spec)) = SourceSpec::parse("rtsp://cam/abc") else {
            panic!("an RTSP URL")
        };
        assert_eq!(spec.tls, None);
    }

    #[test]
    fn http_urls_and_unknown_schemes() {
        assert!(matches!(
            SourceSpec::parse("http://10.0.0.7/video"),
            Ok(SourceSpec::Http(_))
        ));
        assert!(matches!(
            SourceSpec::parse("http://u:p@cam/video"),
            Ok(SourceSpec::Http(_))
        ));
        assert!(
            SourceSpec::parse("http:///video")
                .unwrap_err()
                .contains("no host")
        );
        assert!(
            SourceSpec::parse("rtmp://cam/stream")
                .unwrap_err()
                .contains("expected a URL starting with")
        );
        assert!(matches!(
            SourceSpec::parse("v4l2:///dev/video0"),
            Ok(SourceSpec::V4l2(_))
        ));
    }
}
