//! A streaming parser for `multipart/x-mixed-replace` (MJPEG over HTTP), sans I/O.
//!
//! Cameras in the wild bend the format in many ways; each quirk this parser accepts has
//! a test below: parts with or without `Content-Length`; a boundary given with or
//! without its leading `--`, quoted, or different from the one the header announced;
//! CRLF or bare LF line ends; blank lines or garbage before and between parts.
//!
//! Memory is bounded: a part larger than `max_part` is an error, and bytes that cannot
//! start a part are dropped as they come.

use bytes::{Buf, Bytes, BytesMut};
use thiserror::Error;

/// Longest header block of one part.
const MAX_HEADERS: usize = 16 * 1024;
/// Preamble read without finding the announced boundary before the parser looks for any
/// `--` line instead.
const RELEARN_AFTER: usize = 64 * 1024;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum MultipartError {
    #[error("a part is larger than {0} bytes")]
    PartTooLarge(usize),
    #[error("a part's headers are longer than {MAX_HEADERS} bytes")]
    HeadersTooLong,
    #[error("bad Content-Length {0:?}")]
    BadLength(String),
}

/// The boundary in a `Content-Type` header value, without quotes or a leading `--`.
pub fn boundary_of(content_type: &str) -> Option<String> {
    content_type.split(';').find_map(|param| {
        let (key, value) = param.split_once('=')?;
        if !key.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let value = value.trim().trim_matches('"');
        let value = value.strip_prefix("--").unwrap_or(value);
        (!value.is_empty()).then(|| value.to_owned())
    })
}

#[derive(Debug)]
enum State {
    /// Looking for a delimiter line.
    Delimiter,
    /// After a delimiter line, reading headers.
    Headers,
    /// Reading a body, of known length or up to the next delimiter.
    Body(Option<usize>),
}

/// Feed bytes with [`push`](Self::push), take parts with [`next_part`](Self::next_part).
#[derive(Debug)]
pub struct MultipartParser {
    /// `--` + boundary, once known.
    delimiter: Option<Vec<u8>>,
    buf: BytesMut,
    state: State,
    max_part: usize,
    /// Bytes dropped while looking for a delimiter since the last part.
    skipped: usize,
}

impl MultipartParser {
    /// `boundary` as announced by the response's `Content-Type` (see [`boundary_of`]),
    /// if any; without one the first `--` line sets it.
    pub fn new(boundary: Option<&str>, max_part: usize) -> MultipartParser {
        MultipartParser {
            delimiter: boundary.map(|b| format!("--{b}").into_bytes()),
            buf: BytesMut::new(),
            state: State::Delimiter,
            max_part,
            skipped: 0,
        }
    }

    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete part's body, `Ok(None)` when more bytes are needed.
    pub fn next_part(&mut self) -> Result<Option<Bytes>, MultipartError> {
        loop {
            match self.state {
                State::Delimiter => {
                    if !self.find_delimiter() {
                        return Ok(None);
                    }
                    self.state = State::Headers;
                }
                State::Headers => {
                    let Some((end, next)) = find_blank_line(&self.buf) else {
                        if self.buf.len() > MAX_HEADERS {
                            return Err(MultipartError::HeadersTooLong);
                        }
                        return Ok(None);
                    };
                    let len = content_length(&self.buf[..end])?;
                    if let Some(len) = len
                        && len > self.max_part
                    {
                        return Err(MultipartError::PartTooLarge(self.max_part));
                    }
                    self.buf.advance(next);
                    self.state = State::Body(len);
                }
                State::Body(Some(len)) => {
                    if self.buf.len() < len {
                        return Ok(None);
                    }
                    let part = self.buf.split_to(len).freeze();
                    self.state = State::Delimiter;
                    self.skipped = 0;
                    return Ok(Some(part));
                }
                State::Body(None) => {
                    let delimiter = self
                        .delimiter
                        .as_deref()
                        .expect("known after a delimiter line");
                    let Some(at) = find_line_start(&self.buf, delimiter, 0) else {
                        if self.buf.len() > self.max_part {
                            return Err(MultipartError::PartTooLarge(self.max_part));
                        }
                        return Ok(None);
                    };
                    let mut part = self.buf.split_to(at);
                    // The line end before the delimiter belongs to the delimiter.
                    if part.ends_with(b"\r\n") {
                        part.truncate(part.len() - 2);
                    } else if part.ends_with(b"\n") {
                        part.truncate(part.len() - 1);
                    }
                    self.state = State::Delimiter;
                    self.skipped = 0;
                    return Ok(Some(part.freeze()));
                }
            }
        }
    }

    /// Drops bytes up to a complete delimiter line and consumes that line; false when
    /// more data is needed.
    fn find_delimiter(&mut self) -> bool {
        if self.delimiter.is_some() && self.skipped + self.buf.len() > RELEARN_AFTER {
            // The announced boundary never came: learn the one the stream uses.
            self.delimiter = None;
        }
        let at = match &self.delimiter {
            Some(d) => find_line_start(&self.buf, d, 0),
            None => find_line_start(&self.buf, b"--", 0),
        };
        let Some(at) = at else {
            // Keep a tail that may hold the start of a delimiter; drop the rest.
            let keep = self.delimiter.as_ref().map_or(2, Vec::len) + 2;
            if self.buf.len() > keep {
                let drop = self.buf.len() - keep;
                self.buf.advance(drop);
                self.skipped += drop;
            }
            return false;
        };
        let Some(line_end) = self.buf[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map(|p| at + p)
        else {
            if self.buf.len() - at > MAX_HEADERS {
                // A "--" line that never ends is not a delimiter.
                self.buf.advance(at + 2);
                self.skipped += at + 2;
            }
            return false;
        };
        if self.delimiter.is_none() {
            let line = trim_line_end(&self.buf[at..line_end]);
            // A closing delimiter ("--boundary--") names the same boundary.
            let line = line
                .strip_suffix(b"--")
                .filter(|l| l.len() > 2)
                .unwrap_or(line);
            self.delimiter = Some(line.to_vec());
        }
        self.skipped += at;
        self.buf.advance(line_end + 1);
        true
    }
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Where `needle` starts at the beginning of a line (offset 0 or after `\n`), searching
/// from `from`.
fn find_line_start(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let mut start = from;
    while start + needle.len() <= hay.len() {
        let pos = hay[start..]
            .windows(needle.len())
            .position(|w| w == needle)?
            + start;
        if pos == 0 || hay[pos - 1] == b'\n' {
            return Some(pos);
        }
        start = pos + 1;
    }
    None
}

/// End of the header block: (where the headers end, where the body starts).
fn find_blank_line(buf: &[u8]) -> Option<(usize, usize)> {
    // Headers may be empty: the body may start right after the delimiter line's blank.
    if buf.starts_with(b"\r\n") {
        return Some((0, 2));
    }
    if buf.starts_with(b"\n") {
        return Some((0, 1));
    }
    let crlf = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| (p, p + 4));
    let lf = buf
        .windows(2)
        .position(|w| w == b"\n\n")
        .map(|p| (p, p + 2));
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

fn content_length(headers: &[u8]) -> Result<Option<usize>, MultipartError> {
    for line in headers.split(|&b| b == b'\n') {
        let line = trim_line_end(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        if line[..colon]
            .trim_ascii()
            .eq_ignore_ascii_case(b"content-length")
        {
            let value = String::from_utf8_lossy(line[colon + 1..].trim_ascii()).into_owned();
            return value
                .parse()
                .map(Some)
                .map_err(|_| MultipartError::BadLength(value));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &[u8] = b"\xFF\xD8first\xFF\xD9";
    const B: &[u8] = b"\xFF\xD8second\r\n--not-a-boundary\xFF\xD9";

    fn part(boundary: &str, body: &[u8], length: bool) -> Vec<u8> {
        let mut out = format!("--{boundary}\r\nContent-Type: image/jpeg\r\n").into_bytes();
        if length {
            out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
        out.extend_from_slice(b"\r\n");
        out
    }

    /// Feeds `stream` in chunks of every size from 1 to 7 bytes, and whole.
    fn parse_all(boundary: Option<&str>, stream: &[u8]) -> Vec<Vec<Bytes>> {
        let mut results = Vec::new();
        for chunk in [1, 2, 3, 5, 7, stream.len().max(1)] {
            let mut p = MultipartParser::new(boundary, 1 << 20);
            let mut parts = Vec::new();
            for piece in stream.chunks(chunk) {
                p.push(piece);
                while let Some(part) = p.next_part().unwrap() {
                    parts.push(part);
                }
            }
            results.push(parts);
        }
        results
    }

    fn assert_parts(boundary: Option<&str>, stream: &[u8], expected: &[&[u8]]) {
        for parts in parse_all(boundary, stream) {
            let parts: Vec<&[u8]> = parts.iter().map(|p| &p[..]).collect();
            assert_eq!(parts, expected);
        }
    }

    #[test]
    fn boundary_from_content_type() {
        assert_eq!(
            boundary_of("multipart/x-mixed-replace; boundary=frame").as_deref(),
            Some("frame")
        );
        assert_eq!(
            boundary_of("multipart/x-mixed-replace;boundary=\"--myb\"").as_deref(),
            Some("myb")
        );
        assert_eq!(
            boundary_of("multipart/x-mixed-replace; BOUNDARY=--x; a=b").as_deref(),
            Some("x")
        );
        assert_eq!(boundary_of("multipart/x-mixed-replace"), None);
    }

    #[test]
    fn parts_with_content_length() {
        let mut s = part("frame", A, true);
        s.extend(part("frame", B, true));
        assert_parts(Some("frame"), &s, &[A, B]);
    }

    #[test]
    fn parts_without_content_length_end_at_the_next_delimiter() {
        let mut s = part("frame", A, false);
        s.extend(part("frame", B, false));
        s.extend(b"--frame\r\n".iter());
        // B holds "--not-a-boundary" inside: only a line starting with the delimiter counts.
        assert_parts(Some("frame"), &s, &[A, B]);
    }

    #[test]
    fn leading_crlfs_and_garbage_between_parts() {
        let mut s = b"\r\n\r\ngarbage\x00\x01 before\r\n".to_vec();
        s.extend(part("frame", A, true));
        s.extend(b"\r\nnoise between parts\r\n\r\n".iter());
        s.extend(part("frame", B, true));
        assert_parts(Some("frame"), &s, &[A, B]);
    }

    #[test]
    fn boundary_announced_with_dashes_or_not_at_all() {
        let mut s = part("abc", A, true);
        s.extend(part("abc", B, true));
        assert_parts(
            Some(&boundary_of("multipart/x-mixed-replace;boundary=--abc").unwrap()),
            &s,
            &[A, B],
        );
        assert_parts(None, &s, &[A, B]);
    }

    #[test]
    fn wrong_announced_boundary_is_relearnt() {
        let mut s = Vec::new();
        let big = vec![b'x'; 40_000];
        for _ in 0..3 {
            s.extend(part("actual", &big, true));
        }
        s.extend(part("actual", A, true));
        let parts = &parse_all(Some("announced"), &s)[5];
        assert!(parts.len() >= 2, "parts after relearning: {}", parts.len());
        assert_eq!(&parts.last().unwrap()[..], A);
    }

    #[test]
    fn bare_lf_line_ends() {
        let s = b"--b\nContent-Length: 9\n\n\xFF\xD8first\xFF\xD9\n--b\n\n\xFF\xD8x\xFF\xD9\n--b\n";
        assert_parts(Some("b"), s, &[A, b"\xFF\xD8x\xFF\xD9"]);
    }

    #[test]
    fn limits_hold() {
        let mut p = MultipartParser::new(Some("b"), 100);
        p.push(b"--b\r\nContent-Length: 101\r\n\r\n");
        assert_eq!(p.next_part(), Err(MultipartError::PartTooLarge(100)));
        let mut p = MultipartParser::new(Some("b"), 100);
        p.push(b"--b\r\n\r\n");
        p.push(&[0u8; 200]);
        assert_eq!(p.next_part(), Err(MultipartError::PartTooLarge(100)));
        let mut p = MultipartParser::new(Some("b"), 100);
        p.push(b"--b\r\nContent-Length: ten\r\n\r\n");
        assert!(matches!(p.next_part(), Err(MultipartError::BadLength(_))));
        let mut p = MultipartParser::new(Some("b"), 100);
        p.push(b"--b\r\nX: ");
        p.push(&[b'a'; 20_000]);
        assert_eq!(p.next_part(), Err(MultipartError::HeadersTooLong));
    }

    #[test]
    fn garbage_alone_is_dropped_not_kept() {
        let mut p = MultipartParser::new(Some("frame"), 1 << 20);
        for _ in 0..100 {
            p.push(&[b'z'; 10_000]);
            assert_eq!(p.next_part(), Ok(None));
        }
        assert!(p.buf.len() < 64, "kept {} bytes of garbage", p.buf.len());
    }
}
