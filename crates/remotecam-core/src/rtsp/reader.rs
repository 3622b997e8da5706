//! A client's bytes as RTSP requests and interleaved packets, sans I/O.
//!
//! Everything a client claims is bounded before memory is taken: a request head is at
//! most [`MAX_HEAD`] bytes and [`MAX_HEADERS`] lines, a body at most [`MAX_BODY`]; an
//! interleaved packet (a client's RTCP receiver reports) is skipped as it comes, never
//! held. The search for a head's end resumes where it stopped, so a client sending a
//! byte at a time costs a byte's work per byte. After an error the reader takes nothing
//! more: the connection is answered and closed.

use bytes::{Buf, Bytes, BytesMut};

use super::{Method, Request};

/// The longest request head (request line and headers). Real clients send well under
/// 1 KiB; a Digest `Authorization` header is a few hundred bytes.
pub const MAX_HEAD: usize = 16 << 10;
/// The most header lines in one request.
pub const MAX_HEADERS: usize = 64;
/// The longest request body (`GET_PARAMETER` and `SET_PARAMETER` carry a few names).
pub const MAX_BODY: usize = 4 << 10;
/// The longest method name kept.
pub const MAX_METHOD: usize = 32;
/// The longest request URI.
pub const MAX_URI: usize = 4 << 10;

/// What a client sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    Request(Request),
    /// An interleaved packet (`$`, channel, length; RFC 2326 10.12), its bytes skipped.
    Interleaved {
        channel: u8,
        len: u16,
    },
}

/// Why a client's bytes are not RTSP; the listener answers with the status each maps to
/// and closes the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("a request head above {MAX_HEAD} bytes")]
    HeadTooLong,
    #[error("a request with more than {MAX_HEADERS} headers")]
    TooManyHeaders,
    #[error("a request URI above {MAX_URI} bytes")]
    UriTooLong,
    #[error("a request body above {MAX_BODY} bytes")]
    BodyTooLong,
    #[error("not an RTSP request line")]
    BadRequestLine,
    #[error("a header line without a name and a colon")]
    BadHeader,
    #[error("a Content-Length that is not a number")]
    BadLength,
    #[error("RTSP version {0} (this listener speaks RTSP/1.0)")]
    Version(String),
}

impl RequestError {
    /// The status to answer it with.
    pub fn status(&self) -> super::Status {
        use super::Status;
        match self {
            RequestError::HeadTooLong
            | RequestError::TooManyHeaders
            | RequestError::BadRequestLine
            | RequestError::BadHeader
            | RequestError::BadLength => Status::BadRequest,
            RequestError::UriTooLong => Status::RequestUriTooLarge,
            RequestError::BodyTooLong => Status::RequestEntityTooLarge,
            RequestError::Version(_) => Status::VersionNotSupported,
        }
    }
}

/// Takes requests and packets from the front of a client's bytes: feed it with
/// [`RequestReader::read`] each time more arrived.
#[derive(Debug, Default)]
pub struct RequestReader {
    /// Bytes of an interleaved packet still to skip.
    skipping: usize,
    /// How far the search for the end of the head got.
    scanned: usize,
    /// A parsed head waiting for its body.
    waiting: Option<(Request, usize)>,
    failed: bool,
}

impl RequestReader {
    /// The next whole message at the front of `buf`, which it takes from `buf`; `None`
    /// until more bytes arrive. `buf` never needs to hold more than [`MAX_HEAD`] +
    /// [`MAX_BODY`] bytes: past that an error comes first.
    pub fn read(&mut self, buf: &mut BytesMut) -> Result<Option<Incoming>, RequestError> {
        if self.failed {
            return Ok(None);
        }
        let out = self.read_inner(buf);
        if out.is_err() {
            self.failed = true;
        }
        out
    }

    fn read_inner(&mut self, buf: &mut BytesMut) -> Result<Option<Incoming>, RequestError> {
        loop {
            if self.skipping > 0 {
                let n = self.skipping.min(buf.len());
                buf.advance(n);
                self.skipping -= n;
                if self.skipping > 0 {
                    return Ok(None);
                }
            }
            if let Some((_, len)) = &self.waiting {
                if buf.len() < *len {
                    return Ok(None);
                }
                let (mut request, len) = self.waiting.take().expect("a waiting request");
                request.body = buf.split_to(len).freeze();
                return Ok(Some(Incoming::Request(request)));
            }
            match buf.first() {
                None => return Ok(None),
                // Blank lines between messages are allowed (RFC 2326 15.1).
                Some(b'\r' | b'\n') => buf.advance(1),
                Some(b'$') => {
                    if buf.len() < 4 {
                        return Ok(None);
                    }
                    let channel = buf[1];
                    let len = u16::from_be_bytes([buf[2], buf[3]]);
                    buf.advance(4);
                    self.skipping = usize::from(len);
                    return Ok(Some(Incoming::Interleaved { channel, len }));
                }
                Some(_) => {
                    let Some(end) = self.head_end(buf) else {
                        if buf.len() > MAX_HEAD {
                            return Err(RequestError::HeadTooLong);
                        }
                        return Ok(None);
                    };
                    self.scanned = 0;
                    if end > MAX_HEAD {
                        return Err(RequestError::HeadTooLong);
                    }
                    let head = buf.split_to(end);
                    let (request, body) = parse_head(&head)?;
                    if body == 0 {
                        return Ok(Some(Incoming::Request(request)));
                    }
                    self.waiting = Some((request, body));
                }
            }
        }
    }

    /// Where the head at the front of `buf` ends (after its blank line), searching on
    /// from where the last search stopped.
    fn head_end(&mut self, buf: &[u8]) -> Option<usize> {
        let from = self.scanned;
        let window = &buf[from..buf.len().min(MAX_HEAD + 4)];
        let found = window.iter().enumerate().find_map(|(i, &b)| {
            if b != b'\n' {
                return None;
            }
            let before = &buf[..from + i];
            // The line this ends is empty.
            (before.ends_with(b"\n\r") || before.ends_with(b"\n")).then_some(from + i + 1)
        });
        if found.is_none() {
            self.scanned = from + window.len();
        }
        found
    }
}

/// A request head (up to and with its blank line): the request, and its body's length.
fn parse_head(head: &[u8]) -> Result<(Request, usize), RequestError> {
    let text = std::str::from_utf8(head).map_err(|_| RequestError::BadRequestLine)?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let line = lines.next().ok_or(RequestError::BadRequestLine)?;
    let mut parts = line.split(' ');
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(RequestError::BadRequestLine);
    };
    if method.is_empty()
        || method.len() > MAX_METHOD
        || !method.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
        || uri.is_empty()
    {
        return Err(RequestError::BadRequestLine);
    }
    if uri.len() > MAX_URI {
        return Err(RequestError::UriTooLong);
    }
    if version != "RTSP/1.0" {
        return Err(if version.starts_with("RTSP/") && version.len() <= 16 {
            RequestError::Version(version.to_owned())
        } else {
            RequestError::BadRequestLine
        });
    }
    let mut headers = Vec::new();
    let mut body = 0;
    for line in lines.take_while(|l| !l.is_empty()) {
        if headers.len() == MAX_HEADERS {
            return Err(RequestError::TooManyHeaders);
        }
        let (name, value) = line.split_once(':').ok_or(RequestError::BadHeader)?;
        if name.is_empty() || name.bytes().any(|b| b <= b' ' || b == 0x7F) {
            return Err(RequestError::BadHeader);
        }
        let value = value.trim();
        if name.eq_ignore_ascii_case("Content-Length") {
            body = value.parse().map_err(|_| RequestError::BadLength)?;
            if body > MAX_BODY {
                return Err(RequestError::BodyTooLong);
            }
        }
        headers.push((name.to_owned(), value.to_owned()));
    }
    let request = Request {
        method: Method::parse(method),
        method_name: method.to_owned(),
        uri: uri.to_owned(),
        headers,
        body: Bytes::new(),
    };
    Ok((request, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(bytes: &[u8], chunk: usize) -> Result<Vec<Incoming>, RequestError> {
        let mut reader = RequestReader::default();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for piece in bytes.chunks(chunk) {
            buf.extend_from_slice(piece);
            while let Some(message) = reader.read(&mut buf)? {
                out.push(message);
            }
        }
        Ok(out)
    }

    const DESCRIBE: &[u8] = b"DESCRIBE rtsp://127.0.0.1:8554/door RTSP/1.0\r\nCSeq: 2\r\n\
        User-Agent: Lavf60.16.100\r\nAccept: application/sdp\r\n\r\n";

    #[test]
    fn requests_and_packets_come_whole_whatever_the_chunks() {
        let mut stream = DESCRIBE.to_vec();
        stream.extend_from_slice(b"$\x01\x00\x03abc");
        stream.extend_from_slice(
            b"SET_PARAMETER rtsp://h/door RTSP/1.0\nCSeq: 3\nContent-Length: 5\n\nx: 1\n",
        );
        for chunk in [1, 2, 3, 7, 1000] {
            let got = read_all(&stream, chunk).unwrap();
            assert_eq!(got.len(), 3, "chunks of {chunk}");
            let Incoming::Request(describe) = &got[0] else {
                panic!("{got:?}")
            };
            assert_eq!(describe.method, Method::Describe);
            assert_eq!(describe.cseq(), Some(2));
            assert_eq!(describe.header("accept"), Some("application/sdp"));
            assert_eq!(got[1], Incoming::Interleaved { channel: 1, len: 3 });
            let Incoming::Request(set) = &got[2] else {
                panic!()
            };
            assert_eq!(set.method, Method::SetParameter);
            assert_eq!(&set.body[..], b"x: 1\n", "bare LF line ends too");
        }
    }

    #[test]
    fn a_huge_head_is_refused_without_waiting_for_its_end() {
        let mut reader = RequestReader::default();
        let mut buf = BytesMut::from(&b"OPTIONS * RTSP/1.0\r\nX: "[..]);
        buf.extend_from_slice(&vec![b'a'; MAX_HEAD]);
        assert_eq!(reader.read(&mut buf), Err(RequestError::HeadTooLong));
        assert_eq!(reader.read(&mut buf), Ok(None), "nothing after an error");
    }

    #[test]
    fn too_many_headers_a_long_body_and_other_versions_are_refused() {
        let mut many = b"OPTIONS * RTSP/1.0\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(format!("X{i}: 1\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(read_all(&many, 100), Err(RequestError::TooManyHeaders));
        let long = b"GET_PARAMETER * RTSP/1.0\r\nContent-Length: 99999999\r\n\r\n";
        assert_eq!(read_all(long, 100), Err(RequestError::BodyTooLong));
        assert_eq!(
            read_all(b"OPTIONS * RTSP/2.0\r\n\r\n", 100),
            Err(RequestError::Version("RTSP/2.0".into()))
        );
        for bad in [
            &b"GET / HTTP/1.1\r\n\r\n"[..],
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
            b"OPTIONS  * RTSP/1.0\r\n\r\n",
            b"OPTIONS * RTSP/1.0\r\nno colon\r\n\r\n",
        ] {
            assert!(
                read_all(bad, 100).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn a_head_sent_a_byte_at_a_time_is_searched_once() {
        let mut reader = RequestReader::default();
        let mut buf = BytesMut::new();
        for &b in DESCRIBE {
            assert!(reader.scanned <= buf.len());
            buf.extend_from_slice(&[b]);
            if let Some(Incoming::Request(r)) = reader.read(&mut buf).unwrap() {
                assert_eq!(r.uri, "rtsp://127.0.0.1:8554/door");
                assert!(buf.is_empty());
                return;
            }
        }
        panic!("no request");
    }
}
