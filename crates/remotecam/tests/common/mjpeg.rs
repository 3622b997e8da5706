//! A strict reader of the hub's MJPEG streams.

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

use super::WAIT;

/// One part of a multipart MJPEG stream.
#[derive(Debug)]
pub struct Part {
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Part {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads `multipart/x-mixed-replace` as a strict client would: every part must have a
/// Content-Length and end where it says.
pub struct MjpegReader {
    body: std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<Bytes>> + Send>>,
    buf: BytesMut,
    boundary: String,
}

impl MjpegReader {
    pub async fn open(url: &str) -> MjpegReader {
        let response = tokio::time::timeout(WAIT, reqwest::get(url))
            .await
            .expect("the stream's answer in time")
            .unwrap();
        assert_eq!(response.status(), 200, "{url}");
        let ctype = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        let boundary = ctype
            .split("boundary=")
            .nth(1)
            .expect("boundary in content type")
            .to_owned();
        assert!(ctype.starts_with("multipart/x-mixed-replace"), "{ctype}");
        MjpegReader {
            body: Box::pin(response.bytes_stream()),
            buf: BytesMut::new(),
            boundary,
        }
    }

    async fn fill(&mut self) {
        let chunk = tokio::time::timeout(WAIT, self.body.next())
            .await
            .expect("stream data in time")
            .expect("stream still open")
            .unwrap();
        self.buf.extend_from_slice(&chunk);
    }

    pub async fn next_part(&mut self) -> Part {
        let start = format!("--{}\r\n", self.boundary);
        loop {
            if let Some(head_end) = find(&self.buf, b"\r\n\r\n") {
                assert!(
                    self.buf.starts_with(start.as_bytes()),
                    "part starts with the boundary"
                );
                let head = std::str::from_utf8(&self.buf[start.len()..head_end])
                    .unwrap()
                    .to_owned();
                let headers: Vec<(String, String)> = head
                    .split("\r\n")
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                    .collect();
                let len: usize = headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                    .expect("Content-Length on every part")
                    .1
                    .parse()
                    .unwrap();
                let total = head_end + 4 + len + 2;
                while self.buf.len() < total {
                    self.fill().await;
                }
                let mut part = self.buf.split_to(total);
                assert_eq!(&part[total - 2..], b"\r\n", "part ends with CRLF");
                let body = part.split_off(head_end + 4).freeze().slice(..len);
                return Part { headers, body };
            }
            self.fill().await;
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
