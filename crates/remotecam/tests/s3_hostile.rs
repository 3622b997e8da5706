//! An S3 endpoint that answers every request with an error of 150 MB: the hub reads a
//! bounded excerpt of it, logs a short one, says uploads fail, and keeps retrying with
//! its backoff; its memory and its log stay small.

mod common;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What the store claims and sends with each error.
const ERROR_BYTES: usize = 150 << 20;

/// A store that reads each request's head and answers it with a 500 of
/// [`ERROR_BYTES`] of XML, sent as fast as it is taken.
async fn hostile_store() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut byte).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&byte[..n]),
                    }
                }
                let answer = format!(
                    "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/xml\r\n\
                     Content-Length: {ERROR_BYTES}\r\nConnection: close\r\n\r\n<Error><Message>"
                );
                if stream.write_all(answer.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = vec![b'x'; 64 << 10];
                for _ in 0..ERROR_BYTES / chunk.len() {
                    if stream.write_all(&chunk).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    endpoint
}

/// The most the hub's resident memory may reach at its peak (`VmHWM`): about twice what
/// it takes without the store (it peaked at 203 MB when it read the errors whole).
const PEAK_MAX_KIB: u64 = 128 << 10;

#[tokio::test]
async fn a_store_answering_with_huge_errors_leaves_memory_and_the_log_small() {
    let endpoint = hostile_store().await;
    let hub = Hub::with_config(
        &format!(
            "[cameras.demo.motion]\nenabled = true\nrecord = true\ncontinuous = true\n\
             max_clip_s = 1\n\n[recordings.s3]\nendpoint = \"{endpoint}\"\nbucket = \"clips\"\n\
             access_key_id = \"k\"\nsecret_access_key = \"s\"\n"
        ),
        &["--demo"],
    );
    // Three failed rounds (1 s, then 2 s between them).
    let deadline = std::time::Instant::now() + WAIT;
    while hub.log_lines_with("uploading clips failed").len() < 3 {
        assert!(std::time::Instant::now() < deadline, "{:?}", hub.log());
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let peak = hub.peak_rss_kib();
    assert!(
        peak < PEAK_MAX_KIB,
        "the hub's memory peaked at {} MB",
        peak >> 10
    );
    assert_eq!(hub.metric("remotecam_upload_failing").await, Some(1.0));
    let logged: usize = hub.log().iter().map(String::len).sum();
    assert!(logged < 64 << 10, "the hub logged {logged} bytes");
}
