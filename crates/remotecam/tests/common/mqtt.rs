//! A real MQTT broker (Debian's mosquitto) on 127.0.0.1 with a password file, and a
//! client that hears everything on it, as Home Assistant would.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::mpsc;

use super::{WAIT, free_port};

pub const MQTT_USER: &str = "hub";
pub const MQTT_PASSWORD: &str = "s3cret";

/// mosquitto, with one user ([`MQTT_USER`]); stopped when dropped.
pub struct Broker {
    child: Option<Child>,
    pub port: u16,
    /// A second listener, over TLS with a self-signed certificate, when asked for.
    pub tls_port: Option<u16>,
    dir: tempfile::TempDir,
}

impl Broker {
    pub fn start() -> Broker {
        Broker::new(false)
    }

    /// With a TLS listener too (`tls_port`); gives the SHA-256 of its certificate.
    pub fn start_tls() -> (Broker, String) {
        let broker = Broker::new(true);
        let der = std::fs::read(broker.dir.path().join("cert.der")).unwrap();
        let print = ring::digest::digest(&ring::digest::SHA256, &der);
        let hex = print.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        (broker, hex)
    }

    fn new(tls: bool) -> Broker {
        let dir = tempfile::tempdir().unwrap();
        if tls {
            let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
            std::fs::write(dir.path().join("cert.pem"), made.cert.pem()).unwrap();
            std::fs::write(dir.path().join("cert.der"), made.cert.der()).unwrap();
            std::fs::write(dir.path().join("key.pem"), made.signing_key.serialize_pem()).unwrap();
        }
        let passwords = dir.path().join("passwords");
        let made = Command::new("mosquitto_passwd")
            .args(["-c", "-b"])
            .arg(&passwords)
            .args([MQTT_USER, MQTT_PASSWORD])
            .status()
            .expect("mosquitto_passwd (Debian's mosquitto)");
        assert!(made.success());
        let mut broker = Broker {
            child: None,
            port: free_port(),
            tls_port: tls.then(free_port),
            dir,
        };
        broker.run();
        broker
    }

    /// The URL a hub is given, credentials in it.
    pub fn url(&self) -> String {
        format!("mqtt://{MQTT_USER}:{MQTT_PASSWORD}@127.0.0.1:{}", self.port)
    }

    fn run(&mut self) {
        let config = self.dir.path().join("mosquitto.conf");
        let dir = self.dir.path().display();
        let mut text = format!(
            "allow_anonymous false\npassword_file {dir}/passwords\npersistence false\n\
             user root\nlog_dest stderr\nlistener {} 127.0.0.1\n",
            self.port
        );
        if let Some(port) = self.tls_port {
            text += &format!(
                "listener {port} 127.0.0.1\ncertfile {dir}/cert.pem\nkeyfile {dir}/key.pem\n"
            );
        }
        std::fs::write(&config, text).unwrap();
        // Debian puts it in /usr/sbin, which not every PATH has.
        let bin = ["/usr/sbin/mosquitto", "mosquitto"]
            .into_iter()
            .find(|b| std::path::Path::new(b).exists())
            .unwrap_or("mosquitto");
        let child = Command::new(bin)
            .arg("-c")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto (Debian's package)");
        self.child = Some(child);
        // Ready once it takes a connection.
        let deadline = Instant::now() + WAIT;
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "mosquitto did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops it (what it retained is gone: it keeps nothing on disk).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A new broker process on the same port.
    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }

    /// Freezes it (SIGSTOP): connections are taken by the kernel and never answered,
    /// the worst a broker can do to its clients.
    pub fn freeze(&self, frozen: bool) {
        let pid = self.child.as_ref().expect("running").id();
        let pid = rustix::process::Pid::from_raw(pid as i32).unwrap();
        let signal = if frozen {
            rustix::process::Signal::STOP
        } else {
            rustix::process::Signal::CONT
        };
        rustix::process::kill_process(pid, signal).unwrap();
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One message as a subscriber gets it.
#[derive(Debug, Clone)]
pub struct Message {
    pub topic: String,
    pub payload: Vec<u8>,
    pub retain: bool,
}

impl Message {
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.payload).unwrap_or("<binary>")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.payload).unwrap_or(serde_json::Value::Null)
    }
}

/// A client subscribed to every topic (again after each reconnection), which can also
/// publish commands.
pub struct Listener {
    client: AsyncClient,
    messages: mpsc::UnboundedReceiver<Message>,
    /// Everything heard so far, oldest first.
    pub heard: Vec<Message>,
}

impl Listener {
    pub async fn connect(broker: &Broker) -> Listener {
        // Unique: a broker drops the older of two clients with one id.
        static MADE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = format!("listener-{}-{n}", std::process::id());
        let mut options = MqttOptions::new(id, "127.0.0.1", broker.port);
        options
            .set_credentials(MQTT_USER, MQTT_PASSWORD)
            .set_max_packet_size(16 << 20, 2 << 20)
            .set_keep_alive(Duration::from_secs(5));
        let (client, mut events) = AsyncClient::new(options, 64);
        let (tx, messages) = mpsc::unbounded_channel();
        let subscriber = client.clone();
        tokio::spawn(async move {
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let _ = subscriber.subscribe("#", QoS::AtLeastOnce).await;
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let message = Message {
                            topic: p.topic,
                            payload: p.payload.to_vec(),
                            retain: p.retain,
                        };
                        if tx.send(message).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    // The broker is away (a test stopped it): try again soon.
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        Listener {
            client,
            messages,
            heard: Vec::new(),
        }
    }

    /// Waits for a message on `topic` that `pred` accepts (one already heard counts).
    pub async fn wait(&mut self, topic: &str, pred: impl Fn(&Message) -> bool) -> Message {
        if let Some(m) = self.heard.iter().find(|m| m.topic == topic && pred(m)) {
            return m.clone();
        }
        self.next(topic, pred).await
    }

    /// Waits for the next message on `topic` that `pred` accepts.
    pub async fn next(&mut self, topic: &str, pred: impl Fn(&Message) -> bool) -> Message {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let message = tokio::time::timeout_at(deadline, self.messages.recv())
                .await
                .unwrap_or_else(|_| panic!("no message on {topic} in time"))
                .expect("listener running");
            self.heard.push(message.clone());
            if message.topic == topic && pred(&message) {
                return message;
            }
        }
    }

    /// Waits for `topic` to carry `text`.
    pub async fn wait_text(&mut self, topic: &str, text: &str) -> Message {
        self.wait(topic, |m| m.payload == text.as_bytes()).await
    }

    /// Forgets what was heard: later waits look only at what comes after.
    pub fn forget(&mut self) {
        while let Ok(m) = self.messages.try_recv() {
            self.heard.push(m);
        }
        self.heard.clear();
    }

    pub async fn publish(&self, topic: &str, payload: &str) {
        self.send(topic, payload, false).await;
    }

    /// Publishes a message the broker keeps and sends to every later subscriber.
    pub async fn publish_retained(&self, topic: &str, payload: &str) {
        self.send(topic, payload, true).await;
    }

    async fn send(&self, topic: &str, payload: &str, retain: bool) {
        self.client
            .publish(topic, QoS::AtLeastOnce, retain, payload.as_bytes().to_vec())
            .await
            .unwrap();
    }
}
