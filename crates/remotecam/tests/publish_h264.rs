//! Publishers of H.264 (what the publisher page sends with WebCodecs): the camera is a
//! video camera like an RTSP one (its codec in the API, `stream.mp4` as it came, its
//! pictures decoded for snapshots and MJPEG, its clips its own units with nothing
//! encoded), and a hostile one gets its close code and costs nobody else anything.

mod common;

use std::path::Path;

use common::*;
use serde_json::json;

/// Sends `count` units of `stream` (looped, times going on) at 30 a second; the
/// units sent, in order, and the keyframes the hub asked for meanwhile.
async fn publish(
    mut publisher: VideoPublisher,
    stream: &H264Stream,
    count: usize,
) -> (Vec<Vec<u8>>, u32) {
    let mut tick = tokio::time::interval(std::time::Duration::from_micros(33_333));
    let mut asks = 0;
    let mut sent = Vec::new();
    for i in 0..count {
        tick.tick().await;
        let unit = &stream.units[i % stream.units.len()];
        publisher.unit(unit, i as i64 * 33_333, &mut asks).await;
        sent.push(unit.clone());
    }
    (sent, asks)
}

async fn download(hub: &Hub, url: &str, to: &Path) {
    let res = reqwest::get(hub.url(url)).await.unwrap();
    assert_eq!(res.status(), 200, "{url}");
    std::fs::write(to, res.bytes().await.unwrap()).unwrap();
}

fn jpeg_size(jpeg: &[u8]) -> (usize, usize) {
    let mut decoder =
        zune_jpeg::JpegDecoder::new(zune_jpeg::zune_core::bytestream::ZCursor::new(jpeg));
    decoder.decode_headers().unwrap();
    decoder.dimensions().unwrap()
}

#[tokio::test]
async fn an_h264_publisher_is_a_video_camera_recorded_as_it_came() {
    let dir = tempfile::tempdir().unwrap();
    let stream = h264_stream(dir.path(), 320, 240, 60, 30);
    let hub = Hub::start(&[]);
    let mut publisher = VideoPublisher::connect(&hub, "phone").await;
    publisher.configure(&stream.avcc).await;
    let res = put_motion(
        &hub,
        "phone",
        json!({"record": true, "continuous": true, "max_clip_s": 2}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let avcc_bytes = stream.avcc.len();
    let codec = format!(
        "avc1.{:02X}{:02X}{:02X}",
        stream.avcc[1], stream.avcc[2], stream.avcc[3]
    );
    let sending = tokio::spawn(async move {
        let stream = stream;
        publish(publisher, &stream, 180).await
    });

    // The camera is video, as the publisher's configuration says.
    hub.wait_camera("phone", |c| c["seq"].as_u64() > Some(0))
        .await;
    let status = hub.camera("phone").await;
    assert_eq!(status["codec"], "h264", "{status}");
    assert_eq!(status["codec_string"], json!(codec), "{status}");
    assert_eq!(
        (&status["width"], &status["height"]),
        (&json!(320), &json!(240))
    );
    assert_eq!(status["source"], "browser");

    // Its pictures, decoded: a snapshot and an MJPEG part.
    let snapshot = reqwest::get(hub.url("/api/cameras/phone/snapshot.jpg"))
        .await
        .unwrap();
    assert!(snapshot.headers().contains_key("x-frame-seq"));
    assert_eq!(jpeg_size(&snapshot.bytes().await.unwrap()), (320, 240));
    let mut mjpeg = MjpegReader::open(&hub.url("/api/cameras/phone/stream.mjpg")).await;
    let part = mjpeg.next_part().await;
    assert_eq!(jpeg_size(&part.body), (320, 240));
    drop(mjpeg);
    // A picture keeps the time its unit says it was taken (what a program measures its
    // delay by).
    let mut viewer = connect_ws(&hub.ws_url("/api/cameras/phone/ws")).await;
    let (meta, _) = next_ws_frame(&mut viewer).await;
    let captured = meta["captured_ms"].as_i64().expect("a capture time");
    assert!(
        (CAPTURED_FROM..CAPTURED_FROM + 10_000).contains(&captured),
        "{meta}"
    );
    drop(viewer);

    // Its video as it came, as fragmented MP4: a second of it, read by ffprobe.
    let mut mp4 = reqwest::get(hub.url("/api/cameras/phone/stream.mp4"))
        .await
        .unwrap();
    assert_eq!(mp4.status(), 200);
    let mut bytes = Vec::new();
    while bytes.len() < 20_000 {
        bytes.extend_from_slice(&mp4.chunk().await.unwrap().expect("the stream goes on"));
    }
    drop(mp4);
    let file = dir.path().join("live.mp4");
    std::fs::write(&file, &bytes).unwrap();
    assert_eq!(ffprobe(&file).codec, "h264");

    let (sent, asks) = sending.await.unwrap();
    assert!(
        asks >= 1,
        "the stream.mp4 viewer and the decoder ask for keyframes"
    );

    // Its clips are the units it sent, nothing encoded by the hub.
    let clips = hub
        .finished_clips_when("/api/recordings", |c| !c.is_empty())
        .await;
    let clip = dir.path().join("clip.mp4");
    download(&hub, clips[0]["video_url"].as_str().unwrap(), &clip).await;
    let samples = clip_samples(&clip);
    assert!(samples[0].0, "the clip starts with a keyframe");
    let first = sent.iter().position(|u| *u == samples[0].1).unwrap();
    for (i, (_, bytes)) in samples.iter().enumerate() {
        assert!(
            *bytes == sent[first + i],
            "sample {i} is not the unit sent after sample {}",
            i.saturating_sub(1)
        );
    }
    assert!(samples.len() >= 30, "{} samples", samples.len());
    let encoded = hub
        .metric("remotecam_recorder_encode_seconds_count{camera=\"phone\"}")
        .await;
    assert!(
        encoded.is_none_or(|n| n == 0.0),
        "the hub encoded {encoded:?}"
    );
    let received = hub
        .metric("remotecam_received_bytes_total{camera=\"phone\"}")
        .await;
    let total: usize = sent.iter().map(Vec::len).sum::<usize>() + avcc_bytes;
    assert_eq!(received, Some(total as f64));
}

/// A publisher closed with `code` for what it sent, its reason naming `why`; the hub
/// serves the healthy camera at its full rate and stays small.
async fn refused(
    hub: &Hub,
    bystander: &mut Bystander,
    publisher: &mut VideoPublisher,
    code: u16,
    why: &str,
) {
    let (got, reason) = publisher.closed().await;
    assert_eq!(got, code, "{reason}");
    assert!(reason.contains(why), "{reason}");
    bystander.served(3).await;
    assert!(hub.rss_kib() < RSS_MAX_KIB, "{} KiB", hub.rss_kib());
}

#[tokio::test]
async fn hostile_h264_publishers_get_their_close_codes() {
    let dir = tempfile::tempdir().unwrap();
    let stream = h264_stream(dir.path(), 160, 120, 2, 30);
    let hub = Hub::start(&["--max-frame-bytes", "200000"]);
    let mut bystander = Bystander::start(&hub).await;
    let pps = [0x68, 0xCE, 0x3C, 0x80];

    let mut p = VideoPublisher::connect(&hub, "garbage").await;
    p.configure(b"\x01garbage that is no avcC").await;
    refused(
        &hub,
        &mut bystander,
        &mut p,
        1007,
        "not an H.264 decoder configuration",
    )
    .await;

    let mut p = VideoPublisher::connect(&hub, "huge").await;
    p.configure(&avcc(&sps_claiming(4096, 4096, 51), &pps))
        .await;
    refused(&hub, &mut bystander, &mut p, 1009, "65536x65536").await;

    let mut p = VideoPublisher::connect(&hub, "level").await;
    p.configure(&avcc(&sps_claiming(20, 15, 62), &pps)).await;
    refused(&hub, &mut bystander, &mut p, 1003, "level 6.2").await;

    let mut p = VideoPublisher::connect(&hub, "early").await;
    p.send(
        r#"{"kind":"h264","timestamp_us":0}"#.into(),
        &stream.units[0],
    )
    .await;
    refused(
        &hub,
        &mut bystander,
        &mut p,
        1007,
        "before the decoder configuration",
    )
    .await;

    let mut p = VideoPublisher::connect(&hub, "large").await;
    p.configure(&stream.avcc).await;
    let mut big = (300_000u32 - 4).to_be_bytes().to_vec();
    big.resize(300_000, 0x41);
    p.send(r#"{"kind":"h264","timestamp_us":0}"#.into(), &big)
        .await;
    refused(&hub, &mut bystander, &mut p, 1009, "limit").await;

    // A keyframe, then one-byte P slices as fast as they go.
    let mut p = VideoPublisher::connect(&hub, "flood").await;
    p.configure(&stream.avcc).await;
    p.send(
        r#"{"kind":"h264","timestamp_us":0}"#.into(),
        &stream.units[0],
    )
    .await;
    for i in 1..2000 {
        let meta = format!(r#"{{"kind":"h264","timestamp_us":{i}}}"#);
        if !p.try_send(meta, &[0, 0, 0, 2, 0x41, 0x9A]).await {
            break;
        }
    }
    refused(&hub, &mut bystander, &mut p, 1008, "units in a second").await;

    // Each refused publisher's camera is offline.
    for name in ["garbage", "huge", "level", "early", "large", "flood"] {
        hub.wait_camera(name, |c| c["online"] == false).await;
    }
}
