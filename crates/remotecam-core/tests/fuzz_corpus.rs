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
