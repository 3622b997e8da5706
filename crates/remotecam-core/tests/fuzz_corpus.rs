//! Replays the fuzzers' corpora (`fuzz/corpus`) through the parsers on every test run,
//! with the same checks as the fuzz targets, so nothing the fuzzer once found regresses.

use std::path::Path;

use remotecam_core::multipart::MultipartParser;

fn corpus(name: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(name);
    let files: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    assert!(files.len() > 10, "corpus {name} has {} files", files.len());
    files
}

#[test]
fn multipart_corpus() {
    const MAX_PART: usize = 64 * 1024;
    for data in corpus("multipart") {
        let Some((&control, stream)) = data.split_first() else {
            continue;
        };
        let chunk = usize::from(control & 0x3F) + 1;
        let boundary = if control & 0x40 != 0 {
            Some("frame")
        } else {
            None
        };
        let mut parser = MultipartParser::new(boundary, MAX_PART);
        'feed: for piece in stream.chunks(chunk) {
            parser.push(piece);
            loop {
                match parser.next_part() {
                    Ok(Some(part)) => assert!(part.len() <= MAX_PART + 2),
                    Ok(None) => break,
                    Err(_) => break 'feed,
                }
            }
        }
    }
}

#[test]
fn jpeg_inspect_corpus() {
    for data in corpus("jpeg_inspect") {
        if let Ok(info) = remotecam_core::jpeg::inspect(&data) {
            assert!(info.width > 0 && info.height > 0);
        }
    }
}

#[test]
fn planar_corpus() {
    use remotecam_core::planar::luma_eighth;
    let mut small = Vec::new();
    let mut decoded = 0;
    for data in corpus("planar") {
        if let Ok((w, h)) = luma_eighth(&data, &mut small) {
            decoded += 1;
            assert_eq!(small.len(), w * h);
        }
    }
    // The seeds are real JPEGs (4:2:0, 4:2:2, 4:4:4, 4:4:0, gray) and must decode.
    assert!(decoded >= 6, "only {decoded} corpus files decode");
}

#[test]
fn rtsp_request_corpus() {
    use bytes::BytesMut;
    use remotecam_core::rtsp::reader::{MAX_BODY, MAX_HEAD, MAX_HEADERS};
    use remotecam_core::rtsp::{Incoming, RequestReader, transport};
    let mut requests = 0;
    for data in corpus("rtsp_request") {
        let Some((&control, stream)) = data.split_first() else {
            continue;
        };
        let chunk = usize::from(control & 0x3F) + 1;
        let mut reader = RequestReader::default();
        let mut buf = BytesMut::new();
        'feed: for piece in stream.chunks(chunk) {
            buf.extend_from_slice(piece);
            loop {
                match reader.read(&mut buf) {
                    Ok(Some(Incoming::Request(r))) => {
                        requests += 1;
                        assert!(r.headers.len() <= MAX_HEADERS);
                        assert!(r.body.len() <= MAX_BODY);
                        if let Some(t) = r.header("Transport") {
                            assert!(transport::offers(t).len() <= 16);
                        }
                    }
                    Ok(Some(Incoming::Interleaved { .. })) => {}
                    Ok(None) => break,
                    Err(_) => break 'feed,
                }
            }
            assert!(buf.len() <= MAX_HEAD + MAX_BODY + 4 + chunk);
        }
    }
    assert!(requests > 10, "the seeds are requests");
}
