//! MQTT: the hub on a broker, for home automation (Home Assistant, Node-RED, scripts).
//!
//! The hub says whether it is there (`<prefix>/available`, `online`, with a last will of
//! `offline`), and for each camera whether it is online, whether there is motion, the
//! motion level, its events (the JSON of `/api/events`) and a snapshot when motion
//! starts; it takes commands to turn detection and recording on and off, and announces
//! every camera to Home Assistant (discovery). The topics are in `docs/api.md`.
//!
//! Two tasks: the link drives the connection (rumqttc's event loop, reconnecting with
//! backoff), the bridge turns the hub's state into messages and commands into changes.
//! Neither is on a camera's path: the bridge reads the hub's event channel (a bridge
//! behind skips, never holds it up) and reads the cameras' state once a second, and its
//! messages go to the link's bounded queue: a broker that is down or slow costs the
//! cameras nothing.

mod bridge;
mod discovery;
mod link;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, LastWill, MqttOptions, QoS, Transport};

use crate::config::MqttTable;
use crate::hub::Hub;
use crate::source::camera_tls::Trust;

/// Messages waiting for the broker at most; past that, new ones are dropped (the state
/// is sent again whole once the broker is back).
const QUEUE: usize = 64;
/// Largest message the hub takes from the broker (commands are a word).
const MAX_INCOMING: usize = 64 * 1024;

/// `[mqtt]`, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct MqttConfig {
    pub host: String,
    pub port: u16,
    /// `mqtts://`: the broker's certificate must be this.
    pub tls: Option<Trust>,
    pub credentials: Option<(String, String)>,
    /// First level of every topic of the hub's.
    pub prefix: String,
    pub client_id: String,
    /// Home Assistant's discovery prefix, when the hub announces its cameras there.
    pub discovery: Option<String>,
}

impl MqttConfig {
    /// `[mqtt]` of the config file, for a hub whose data is in `data_dir` (the default
    /// client id is made from it: stable across restarts, different for each hub).
    pub fn from_table(table: &MqttTable, data_dir: &Path) -> Result<MqttConfig, String> {
        let url = url::Url::parse(&table.url).map_err(|e| format!("mqtt.url: {e}"))?;
        let (tls, default_port) = match url.scheme() {
            "mqtt" => (None, 1883),
            "mqtts" => {
                let trust = Trust::pinned(table.fingerprint.as_deref()).ok_or(
                    "mqtt.fingerprint: the SHA-256 of the broker's certificate, 64 hex digits",
                )?;
                (Some(trust), 8883)
            }
            other => {
                return Err(format!("mqtt.url: mqtt:// or mqtts:// (got {other}://)"));
            }
        };
        if table.fingerprint.is_some() && tls.is_none() {
            return Err("mqtt.fingerprint needs an mqtts:// url".into());
        }
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or("mqtt.url: no broker host")?
            .trim_matches(['[', ']'])
            .to_owned();
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let credentials = match (&table.username, url.username()) {
            (Some(user), _) => Some((user.clone(), table.password.clone().unwrap_or_default())),
            (None, "") => None,
            (None, user) => Some((
                decode(user),
                table
                    .password
                    .clone()
                    .or_else(|| url.password().map(decode))
                    .unwrap_or_default(),
            )),
        };
        let prefix = table.prefix.clone().unwrap_or_else(|| "remotecam".into());
        topic_level("mqtt.prefix", &prefix)?;
        let discovery = match (table.discovery.unwrap_or(true), &table.discovery_prefix) {
            (false, _) => None,
            (true, p) => Some(p.clone().unwrap_or_else(|| "homeassistant".into())),
        };
        if let Some(p) = &discovery {
            topic_level("mqtt.discovery_prefix", p)?;
        }
        let client_id = match &table.client_id {
            Some(id) if !id.is_empty() && id.len() <= 64 => id.clone(),
            Some(_) => return Err("mqtt.client_id: 1 to 64 characters".into()),
            None => default_client_id(data_dir),
        };
        Ok(MqttConfig {
            host,
            port: url.port().unwrap_or(default_port),
            tls,
            credentials,
            prefix,
            client_id,
            discovery,
        })
    }
}

/// A topic part the hub's own topics start with: one or more levels, no wildcards.
fn topic_level(key: &str, text: &str) -> Result<(), String> {
    let bad = text.is_empty()
        || text.starts_with('/')
        || text.ends_with('/')
        || text.contains(['+', '#', '\0']);
    if bad {
        return Err(format!(
            "{key}: a topic without wildcards or a leading or trailing / (got {text:?})"
        ));
    }
    Ok(())
}

/// `remotecam-<host name>-<8 hex digits of the data directory's path>`.
fn default_client_id(data_dir: &Path) -> String {
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let host: String = host
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(32)
        .collect();
    let dir = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_owned());
    let digest = ring::digest::digest(&ring::digest::SHA256, dir.as_os_str().as_encoded_bytes());
    let hex: String = digest.as_ref()[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("remotecam-{host}-{hex}")
}

/// Connects the hub to the broker of `config`, for as long as the process runs.
pub fn start(hub: Arc<Hub>, config: MqttConfig, max_snapshot_bytes: usize) -> anyhow::Result<()> {
    let topics = bridge::Topics::new(&config.prefix);
    let mut options = MqttOptions::new(&config.client_id, &config.host, config.port);
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_clean_session(true)
        .set_max_packet_size(MAX_INCOMING, max_snapshot_bytes + 1024)
        .set_request_channel_capacity(QUEUE)
        .set_last_will(LastWill::new(
            topics.available(),
            "offline",
            QoS::AtLeastOnce,
            true,
        ));
    if let Some((user, password)) = &config.credentials {
        options.set_credentials(user, password);
    }
    let mut verifier = None;
    if let Some(trust) = config.tls {
        let (tls, checks) =
            crate::source::camera_tls::config(trust).map_err(|e| anyhow::anyhow!("mqtt: {e}"))?;
        options.set_transport(Transport::tls_with_config(
            rumqttc::TlsConfiguration::Rustls(tls),
        ));
        verifier = Some(checks);
    }
    let (client, events) = AsyncClient::new(options, QUEUE);
    let (connection, sessions) = tokio::sync::watch::channel(link::Connection::default());
    let (commands_in, commands) = tokio::sync::mpsc::channel(link::TO_BRIDGE);
    tracing::info!(broker = %format!("{}:{}", config.host, config.port), client_id = %config.client_id, "MQTT");
    tokio::spawn(link::drive(events, verifier, connection, commands_in));
    let discovery = config
        .discovery
        .map(|prefix| discovery::Discovery::new(&prefix, &config.client_id, topics.clone()));
    tokio::spawn(bridge::run(
        hub, client, sessions, commands, topics, discovery,
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(url: &str) -> MqttTable {
        MqttTable {
            url: url.into(),
            ..MqttTable::default()
        }
    }

    #[test]
    fn the_url_gives_host_port_tls_and_credentials() {
        let dir = Path::new("/nonexistent");
        let c = MqttConfig::from_table(&table("mqtt://u%40x:p%3Aw@broker.lan"), dir).unwrap();
        assert_eq!((c.host.as_str(), c.port, c.tls), ("broker.lan", 1883, None));
        assert_eq!(c.credentials, Some(("u@x".into(), "p:w".into())));
        assert_eq!(c.prefix, "remotecam");
        assert_eq!(c.discovery.as_deref(), Some("homeassistant"));
        assert!(c.client_id.starts_with("remotecam-"), "{}", c.client_id);
        let c = MqttConfig::from_table(&table("mqtts://[::1]"), dir).unwrap();
        assert_eq!(
            (c.host.as_str(), c.port, c.tls),
            ("::1", 8883, Some(Trust::Authorities))
        );
        // The same data directory, the same id; another, another.
        assert_eq!(default_client_id(dir), default_client_id(dir));
        assert_ne!(
            default_client_id(dir),
            default_client_id(Path::new("/elsewhere"))
        );
    }

    #[test]
    fn wrong_keys_say_which() {
        let dir = Path::new("/nonexistent");
        for (t, key) in [
            (table("http://broker"), "mqtt.url"),
            (table("mqtt://"), "mqtt.url"),
            (
                MqttTable {
                    prefix: Some("home/#".into()),
                    ..table("mqtt://b")
                },
                "mqtt.prefix",
            ),
            (
                MqttTable {
                    fingerprint: Some("ab".into()),
                    ..table("mqtt://b")
                },
                "mqtt.fingerprint",
            ),
            (
                MqttTable {
                    fingerprint: Some("zz".into()),
                    ..table("mqtts://b")
                },
                "mqtt.fingerprint",
            ),
        ] {
            let e = MqttConfig::from_table(&t, dir).unwrap_err();
            assert!(e.starts_with(key), "{e}");
        }
    }
}
