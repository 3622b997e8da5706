//! Hostile RTSP clients: huge heads, endless headers, garbage, sessions set up and never
//! played, a flood from one address, a client that never reads. Each gets a clear
//! error or is closed; the hub stays small and a good client misses no packet.

mod common;

use common::{Hub, RSS_MAX_KIB, RawRtsp, Received, basic};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const PATTERN: &str = "[cameras.door]\nsource = \"test:?width=320&height=240&fps=15\"\n";

async fn connect_from(from: &str, to: std::net::SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(std::net::SocketAddr::new(from.parse().unwrap(), 0))
        .unwrap();
    socket.connect(to).await.unwrap()
}

/// Sends `bytes` (in the background: the hub may close before taking them all) and
/// reads what the hub answers until it closes.
async fn answer_to(hub: &Hub, bytes: Vec<u8>) -> String {
    let stream = connect_from("127.0.0.2", hub.rtsp).await;
    let (mut rd, mut wr) = stream.into_split();
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(&bytes).await;
        wr
    });
    let mut answer = Vec::new();
    tokio::time::timeout(common::WAIT, rd.read_to_end(&mut answer))
        .await
        .expect("the hub closes the connection")
        .ok();
    drop(writer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// The RTP sequence numbers a client received are one run, none missing.
fn contiguous(seqs: &[u16]) -> bool {
    seqs.windows(2).all(|w| w[1] == w[0].wrapping_add(1))
}

#[tokio::test]
async fn hostile_clients_get_clear_errors_and_a_good_client_misses_nothing() {
    let hub = Hub::with_config(PATTERN, &[]);
    let url = format!("rtsp://{}/door", hub.rtsp);
    let mut good = RawRtsp::connect_from("127.0.0.1", hub.rtsp).await;
    assert_eq!(good.play(&url, &[]).await.status, 200);
    let mut seqs = Vec::new();
    let mut read_good = async |good: &mut RawRtsp, packets: usize| {
        for _ in 0..packets {
            let p = good.rtp().await.expect("the good client plays on");
            seqs.push(u16::from_be_bytes([p[2], p[3]]));
        }
    };
    read_good(&mut good, 20).await;

    // A head of 1 MB, 10,000 headers, not RTSP at all.
    let mut huge = b"OPTIONS * RTSP/1.0\r\nX-Pad: ".to_vec();
    huge.resize(1 << 20, b'a');
    let answer = answer_to(&hub, huge).await;
    assert!(
        answer.starts_with("RTSP/1.0 400 Bad Request\r\n"),
        "{answer}"
    );
    assert!(
        answer.contains("a request head above 16384 bytes"),
        "{answer}"
    );
    let mut many = b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n".to_vec();
    for i in 0..10_000 {
        many.extend_from_slice(format!("X{i}: 1\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    let answer = answer_to(&hub, many).await;
    assert!(
        answer.starts_with("RTSP/1.0 400 Bad Request\r\n"),
        "{answer}"
    );
    let answer = answer_to(
        &hub,
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n".to_vec(),
    )
    .await;
    assert!(answer.contains("not an RTSP request line"), "{answer}");
    read_good(&mut good, 20).await;

    // Interleaved garbage from a playing client: skipped; it plays on and is answered.
    let mut noisy = RawRtsp::connect_from("127.0.0.1", hub.rtsp).await;
    assert_eq!(noisy.play(&url, &[]).await.status, 200);
    let mut garbage = Vec::new();
    for i in 0..2000u32 {
        garbage.extend_from_slice(&[b'$', (i % 7) as u8, 0, 64]);
        garbage.extend(std::iter::repeat_n((i % 251) as u8, 64));
    }
    noisy.stream.write_all(&garbage).await.unwrap();
    noisy.send("GET_PARAMETER", &url, &[]).await;
    loop {
        match noisy.next().await {
            Received::Reply(reply) => break assert_eq!(reply.status, 200),
            Received::Packet { .. } => {}
            Received::Closed => panic!("the noisy client was closed"),
        }
    }
    assert!(noisy.rtp().await.is_some());

    // Sessions set up and never played, from another machine with the token.
    let auth = basic("x", &hub.token);
    let mut idle = Vec::new();
    for _ in 0..50 {
        let mut c = RawRtsp::connect_from("127.0.0.2", hub.rtsp).await;
        let describe = c
            .request("DESCRIBE", &url, &[("Authorization", &auth)])
            .await;
        assert_eq!(describe.status, 200);
        let track = format!("{url}/trackID=0");
        let transport = ("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1");
        let setup = c
            .request("SETUP", &track, &[("Authorization", &auth), transport])
            .await;
        assert_eq!(setup.status, 200);
        idle.push(c);
    }
    read_good(&mut good, 20).await;

    // 500 connections from one address: past its share (128) they are closed at once.
    let mut flood = Vec::new();
    for _ in 0..500 {
        flood.push(connect_from("127.0.0.3", hub.rtsp).await);
    }
    let mut answered = 0;
    for stream in &mut flood {
        let _ = stream
            .write_all(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n")
            .await;
        let mut buf = [0u8; 256];
        if let Ok(Ok(n)) = tokio::time::timeout(common::WAIT, stream.read(&mut buf)).await
            && n > 0
        {
            answered += 1;
        }
    }
    assert_eq!(answered, 128, "the per-address share");
    read_good(&mut good, 20).await;

    // A client that plays and never reads.
    let mut deaf = RawRtsp::connect_from("127.0.0.4", hub.rtsp).await;
    assert_eq!(
        deaf.play(&url, &[("Authorization", &auth)]).await.status,
        200
    );
    read_good(&mut good, 60).await;
    assert!(
        contiguous(&seqs),
        "the good client missed packets: {seqs:?}"
    );
    let rss = hub.rss_kib();
    assert!(rss < RSS_MAX_KIB, "the hub grew to {} MB", rss >> 10);
    drop((idle, flood, deaf));
}

/// A client that stops reading holds one unit at most, and is closed when it holds it
/// for longer than the stall limit.
#[tokio::test]
async fn a_client_that_never_reads_is_closed() {
    // Noise at 4 Mbit/s: the buffers between them fill within seconds.
    let camera = common::RtspCamera::with(common::RtspOptions {
        pattern: "snow",
        bitrate: 4096,
        ..Default::default()
    });
    let hub = Hub::with_config(
        &format!("[cameras.door]\nsource = \"{}\"\n", camera.url_with_user()),
        &[],
    );
    let url = format!("rtsp://{}/door", hub.rtsp);
    // Its receive buffer small, as a phone's on a poor link.
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(16 << 10).unwrap();
    let mut deaf = RawRtsp::on(socket.connect(hub.rtsp).await.unwrap());
    assert_eq!(deaf.play(&url, &[]).await.status, 200);
    hub.wait_camera("door", |c| c["viewers"] == 1).await;
    // It reads nothing: the hub's writes fill the buffers between them and stall, and
    // the hub closes it then (the stall limit, within the harness's wait).
    hub.wait_camera("door", |c| c["viewers"] == 0).await;
    // What was sent before ends with the hub's close.
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match tokio::time::timeout(common::WAIT, deaf.stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(_)) => {}
            Err(_) => panic!("the client that never read is still served"),
        }
    }
}
