//! RTSP as the hub's RTSP listener speaks it (RFC 2326), sans I/O: requests read from a
//! client's bytes ([`reader`]), responses written as bytes, the `Transport` header
//! ([`transport`]). The listener's sessions, packets and access rules are the hub's;
//! this is what a fuzzer can reach from the network.

pub mod reader;
pub mod transport;

use bytes::Bytes;

pub use reader::{Incoming, RequestError, RequestReader};

/// A request's method. Methods the listener does not serve are kept by name only to
/// be refused (`501`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Options,
    Describe,
    Setup,
    Play,
    Pause,
    Teardown,
    GetParameter,
    SetParameter,
    /// Anything else (ANNOUNCE, RECORD, a made-up name).
    Other,
}

impl Method {
    fn parse(name: &str) -> Method {
        match name {
            "OPTIONS" => Method::Options,
            "DESCRIBE" => Method::Describe,
            "SETUP" => Method::Setup,
            "PLAY" => Method::Play,
            "PAUSE" => Method::Pause,
            "TEARDOWN" => Method::Teardown,
            "GET_PARAMETER" => Method::GetParameter,
            "SET_PARAMETER" => Method::SetParameter,
            _ => Method::Other,
        }
    }
}

/// One request, whole: its head parsed, its body read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    /// The method as sent (at most [`reader::MAX_METHOD`] bytes), for the log.
    pub method_name: String,
    /// The request URI as sent: `rtsp://host:port/path?query`, or `*`.
    pub uri: String,
    /// Header names as sent; look them up with [`Request::header`].
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Request {
    /// The first header of this name (names compare without case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header of this name, in order (`Authorization` may come twice).
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `CSeq` every request carries and every response repeats.
    pub fn cseq(&self) -> Option<u32> {
        self.header("CSeq")?.trim().parse().ok()
    }

    /// The path of the request URI (`/door/trackID=0`), without its query; `None` for
    /// `*` or a URI that is not `rtsp://` or `rtsps://`.
    pub fn path(&self) -> Option<&str> {
        let rest = self
            .uri
            .strip_prefix("rtsp://")
            .or_else(|| self.uri.strip_prefix("rtsps://"))
            .or_else(|| self.uri.strip_prefix("RTSP://"))?;
        let path = rest.find('/').map_or("/", |i| &rest[i..]);
        Some(path.split(['?', '#']).next().unwrap_or("/"))
    }

    /// The query of the request URI (`token=...`), if any.
    pub fn query(&self) -> Option<&str> {
        let (_, query) = self.uri.split_once('?')?;
        Some(query.split('#').next().unwrap_or(""))
    }
}

/// A response's status, with the reason phrase RFC 2326 gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    RequestEntityTooLarge,
    RequestUriTooLarge,
    SessionNotFound,
    MethodNotValidInThisState,
    UnsupportedTransport,
    InternalServerError,
    NotImplemented,
    ServiceUnavailable,
    VersionNotSupported,
}

impl Status {
    pub fn code(self) -> u16 {
        match self {
            Status::Ok => 200,
            Status::BadRequest => 400,
            Status::Unauthorized => 401,
            Status::Forbidden => 403,
            Status::NotFound => 404,
            Status::MethodNotAllowed => 405,
            Status::RequestEntityTooLarge => 413,
            Status::RequestUriTooLarge => 414,
            Status::SessionNotFound => 454,
            Status::MethodNotValidInThisState => 455,
            Status::UnsupportedTransport => 461,
            Status::InternalServerError => 500,
            Status::NotImplemented => 501,
            Status::ServiceUnavailable => 503,
            Status::VersionNotSupported => 505,
        }
    }

    pub fn reason(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::BadRequest => "Bad Request",
            Status::Unauthorized => "Unauthorized",
            Status::Forbidden => "Forbidden",
            Status::NotFound => "Not Found",
            Status::MethodNotAllowed => "Method Not Allowed",
            Status::RequestEntityTooLarge => "Request Entity Too Large",
            Status::RequestUriTooLarge => "Request-URI Too Large",
            Status::SessionNotFound => "Session Not Found",
            Status::MethodNotValidInThisState => "Method Not Valid in This State",
            Status::UnsupportedTransport => "Unsupported Transport",
            Status::InternalServerError => "Internal Server Error",
            Status::NotImplemented => "Not Implemented",
            Status::ServiceUnavailable => "Service Unavailable",
            Status::VersionNotSupported => "RTSP Version Not Supported",
        }
    }
}

/// A response to write: its status, headers and body. `CSeq` goes first, as clients
/// expect it; `Content-Length` is written from the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: Status,
    pub cseq: Option<u32>,
    pub headers: Vec<(&'static str, String)>,
    pub body: Bytes,
}

impl Response {
    pub fn new(status: Status, cseq: Option<u32>) -> Response {
        Response {
            status,
            cseq,
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.push((name, value.into()));
        self
    }

    /// A body, with its type.
    pub fn body(mut self, content_type: &'static str, body: impl Into<Bytes>) -> Response {
        self.headers.push(("Content-Type", content_type.to_owned()));
        self.body = body.into();
        self
    }

    /// The response as sent. Header values never hold a line break: one would end the
    /// head early, so any is replaced by a space.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128 + self.body.len());
        let line = |out: &mut Vec<u8>, name: &str, value: &str| {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            for c in value.chars() {
                let c = if c == '\r' || c == '\n' { ' ' } else { c };
                let mut utf8 = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
            }
            out.extend_from_slice(b"\r\n");
        };
        out.extend_from_slice(
            format!(
                "RTSP/1.0 {} {}\r\n",
                self.status.code(),
                self.status.reason()
            )
            .as_bytes(),
        );
        if let Some(cseq) = self.cseq {
            line(&mut out, "CSeq", &cseq.to_string());
        }
        for (name, value) in &self.headers {
            line(&mut out, name, value);
        }
        if !self.body.is_empty() {
            line(&mut out, "Content-Length", &self.body.len().to_string());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uri: &str) -> Request {
        Request {
            method: Method::Describe,
            method_name: "DESCRIBE".into(),
            uri: uri.into(),
            headers: vec![("cseq".into(), " 7".into())],
            body: Bytes::new(),
        }
    }

    #[test]
    fn the_path_and_query_come_from_the_uri() {
        let r = request("rtsp://192.168.1.5:8554/door/trackID=0?token=abc");
        assert_eq!(r.path(), Some("/door/trackID=0"));
        assert_eq!(r.query(), Some("token=abc"));
        assert_eq!(r.cseq(), Some(7), "names compare without case");
        assert_eq!(request("rtsp://host:8554").path(), Some("/"));
        assert_eq!(request("*").path(), None);
        assert_eq!(request("http://host/door").path(), None);
    }

    #[test]
    fn a_response_repeats_the_cseq_and_never_breaks_a_line_from_a_value() {
        let bytes = Response::new(Status::NotFound, Some(3))
            .header("Server", "remotecam")
            .header("X-Evil", "a\r\nInjected: 1")
            .body("text/plain", "no such camera\n")
            .to_bytes();
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(
            text,
            "RTSP/1.0 404 Not Found\r\nCSeq: 3\r\nServer: remotecam\r\nX-Evil: a  Injected: 1\r\n\
             Content-Type: text/plain\r\nContent-Length: 15\r\n\r\nno such camera\n"
        );
    }
}
