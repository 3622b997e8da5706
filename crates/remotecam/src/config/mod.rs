//! The config file (TOML). Every flag of the hub has a key of the same name; cameras are
//! tables `[cameras.<name>]` with a `source` URL, or without one for a camera that comes
//! by itself (a browser, a `Publisher`) and only has settings here; `[motion]` gives the
//! motion settings every camera starts from. Unknown keys are errors, and every error
//! names the file, the line and what was expected. The reference is `docs/config.md`.
//!
//! One responsibility, kept whole: the file's shape and its checks (about 400 lines),
//! then their tests, each error's wording and place (the rest).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::hub::camera_name;
use crate::motion::{MotionSettings, MotionUpdate};
use crate::source::{RtspSpec, SourceSpec};

/// Every setting the hub takes both as a flag and as a key of the config file, declared
/// once: clap reads the flags (the doc comments are `--help`), serde the file, where each
/// key has its flag's name (`--https-port`, `https_port`). The file also has `[motion]`
/// and `[cameras.<name>]`, which have no flags. A flag given wins over the file
/// ([`Keys::over`]); defaults are applied after (`server::Settings`).
#[derive(Debug, Clone, Default, clap::Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keys {
    /// Address to listen on, HTTP, HTTPS and RTSP [default: 0.0.0.0, the whole LAN].
    #[arg(long)]
    pub bind: Option<IpAddr>,
    /// Plain HTTP port, 0 for any free one [default: 8100].
    #[arg(long)]
    pub port: Option<u16>,
    /// HTTPS port, 0 for any free one [default: 8443]. Phones need HTTPS for the camera.
    #[arg(long)]
    pub https_port: Option<u16>,
    /// RTSP port, where every camera is rtsp://host:port/<camera>, 0 for any free one
    /// [default: 8554, as other RTSP servers and NVRs use].
    #[arg(long)]
    pub rtsp_port: Option<u16>,
    /// Where the hub keeps its data: token, certificate and key, motion.json, recordings/,
    /// and remotecam.toml if you put one there
    /// [default: the user's data directory, e.g. ~/.local/share/remotecam].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Your own certificate (PEM) instead of the generated self-signed one.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Let requests from this machine (127.0.0.1, ::1) in without the token [default: true].
    #[arg(long, action = clap::ArgAction::Set)]
    pub trust_loopback: Option<bool>,
    /// Largest frame a publisher or source may send, in bytes [default: 8388608].
    #[arg(long)]
    pub max_frame_bytes: Option<usize>,
    /// Largest picture a publisher or source may send, width times height in pixels
    /// [default: 33177600, 7680x4320].
    #[arg(long)]
    pub max_frame_pixels: Option<u64>,
    /// More names the hub answers to (comma-separated), besides localhost, its
    /// addresses, its host name and its certificate's names: e.g. a name a reverse proxy
    /// or a DNS record gives it. Requests for any other name are refused (DNS rebinding).
    #[arg(long, value_delimiter = ',')]
    pub allowed_hosts: Option<Vec<String>>,
    /// Most cameras the hub keeps [default: 64].
    #[arg(long)]
    pub max_cameras: Option<usize>,
    /// Most client connections open at once, both listeners together [default: 4096,
    /// and never more than the open-file limit leaves after 128 for the hub itself].
    #[arg(long)]
    pub max_connections: Option<usize>,
    /// Most connections open at once from one address that needs the token (another
    /// machine) [default: 128].
    #[arg(long)]
    pub max_connections_per_address: Option<usize>,
    /// Start with a test-pattern camera named "demo", so there is something to watch.
    #[arg(long)]
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub demo: bool,
    /// Remove recordings older than this many days, 0 to keep them whatever their age
    /// [default: 30].
    #[arg(long)]
    pub record_max_age_days: Option<f64>,
    /// Keep at most this many megabytes of recordings, 0 for no limit [default: 0].
    #[arg(long)]
    pub record_max_total_mb: Option<f64>,
    /// Keep this many megabytes free on the recordings' disk: old clips are removed, and
    /// recording stops when none is left to remove [default: 256].
    #[arg(long)]
    pub record_min_free_mb: Option<u64>,
    /// POST every hub event (JSON) to this http:// or https:// URL.
    #[arg(long)]
    pub webhook: Option<String>,
    /// `[motion]`: the motion settings of every camera that has none of its own (saved
    /// from its page or the API), any of the keys of `/api/cameras/{name}/motion`.
    #[arg(skip)]
    #[serde(default, skip_serializing)]
    pub motion: Option<toml::Spanned<MotionUpdate>>,
    /// `[mqtt]`: the broker the hub tells its cameras' state and events to, and takes
    /// commands from (`docs/config.md`).
    #[arg(skip)]
    #[serde(default, skip_serializing)]
    pub mqtt: Option<MqttTable>,
    /// `[recordings]`: where clips go besides the data directory (`[recordings.s3]`).
    #[arg(skip)]
    #[serde(default, skip_serializing)]
    pub recordings: Option<RecordingsTable>,
    /// `[[peers]]`: other hubs whose cameras and clips this hub's pages show.
    #[arg(skip)]
    #[serde(default, skip_serializing)]
    pub peers: Vec<PeerTable>,
    /// `[cameras.<name>]`, by name (where the parser found it, for errors).
    #[arg(skip)]
    #[serde(default, skip_serializing)]
    pub cameras: BTreeMap<toml::Spanned<String>, CameraTable>,
}

impl Keys {
    /// These keys (the flags) over `file`'s: each key given here wins, the others come
    /// from the file. Done on the keys' TOML form, so that no key is listed again here.
    pub fn over(&self, file: &Keys) -> Keys {
        let table = |keys: &Keys| toml::Table::try_from(keys).expect("keys serialize");
        let mut merged = table(file);
        merged.extend(table(self));
        let mut keys: Keys = merged.try_into().expect("merged keys deserialize");
        keys.motion.clone_from(&file.motion);
        keys.mqtt.clone_from(&file.mqtt);
        keys.peers.clone_from(&file.peers);
        keys.recordings.clone_from(&file.recordings);
        keys.cameras.clone_from(&file.cameras);
        keys
    }
}

/// `[mqtt]`, as written; checked by `mqtt::MqttConfig::from_table`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttTable {
    /// `mqtt://host[:port]` or `mqtts://host[:port]`, credentials allowed in it.
    pub url: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// `mqtts://`: the SHA-256 of the broker's certificate, to trust a self-signed one.
    pub fingerprint: Option<String>,
    /// First level of the hub's topics [default: remotecam].
    pub prefix: Option<String>,
    /// [default: remotecam-<host name>-<8 hex digits of the data directory>]
    pub client_id: Option<String>,
    /// Announce the cameras to Home Assistant [default: true].
    pub discovery: Option<bool>,
    /// [default: homeassistant]
    pub discovery_prefix: Option<String>,
}

/// `[recordings]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordingsTable {
    /// `[recordings.s3]`: upload each finished clip to an S3-compatible store.
    pub s3: Option<crate::record::upload::S3Table>,
}

/// One of `[[peers]]`, as written; checked by `peers::from_tables`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerTable {
    /// What this hub calls it, on its pages.
    pub name: String,
    /// The other hub's address: `https://cabin.local:8443`.
    pub url: String,
    /// A token of the other hub's (a viewer token made there is enough).
    pub token: String,
    /// `https://`: the SHA-256 of the other hub's certificate, to trust its self-signed one.
    pub fingerprint: Option<String>,
}

/// `[cameras.<name>]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraTable {
    /// Where the hub gets the frames; none for a camera that publishes by itself.
    pub source: Option<toml::Spanned<String>>,
    /// RTSP sources: the camera's second (H.264) stream, decoded for motion detection
    /// and the JPEG views instead of `source`.
    pub detect_source: Option<toml::Spanned<String>>,
    /// HTTP and RTSP sources: seconds to wait for the connection.
    pub connect_timeout_s: Option<f64>,
    /// HTTP and RTSP sources: seconds a stream may stay silent before it is reconnected.
    pub read_timeout_s: Option<f64>,
    /// HTTP snapshot sources: fetches per second.
    pub poll_fps: Option<f64>,
    /// Run the source only while someone watches.
    pub on_demand: Option<bool>,
    /// With `on_demand`: seconds without viewers before the source stops.
    pub idle_after_s: Option<f64>,
    /// `[cameras.<name>.motion]`: motion settings, any of the keys of
    /// `/api/cameras/{name}/motion`.
    pub motion: Option<toml::Spanned<MotionUpdate>>,
}

/// A camera the config file asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfiguredCamera {
    pub name: String,
    /// `None`: a camera that comes by itself (a browser, a `Publisher`); the file only
    /// gives its settings, which apply when it appears.
    pub source: Option<SourceSpec>,
    /// When set, the source runs only while someone watches, and stops after this long
    /// without viewers.
    pub on_demand: Option<Duration>,
    /// Motion settings the file sets (checked); they apply at every start, over those
    /// saved from the API.
    pub motion: Option<MotionUpdate>,
}

/// A parsed, checked config file.
#[derive(Debug)]
pub struct Config {
    pub path: PathBuf,
    pub file: Keys,
    pub cameras: Vec<ConfiguredCamera>,
    /// `[motion]`, checked.
    pub motion_defaults: Option<MotionUpdate>,
}

/// A config error: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: PathBuf,
    /// 1-based line and column, when the error has a place.
    pub at: Option<(usize, usize)>,
    pub message: String,
    /// The offending line, for context.
    pub line_text: Option<String>,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.at {
            Some((line, col)) => {
                write!(f, "{}:{line}:{col}: {}", self.path.display(), self.message)?
            }
            None => write!(f, "{}: {}", self.path.display(), self.message)?,
        }
        if let Some(text) = &self.line_text {
            write!(f, "\n    {}", text.trim_end())?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            path: path.to_owned(),
            at: None,
            message: format!("cannot read the config file: {e}"),
            line_text: None,
        })?;
        Config::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let error_at = |offset: Option<usize>, message: String| {
            let at = offset.map(|o| line_col(text, o));
            ConfigError {
                path: path.to_owned(),
                at,
                line_text: at
                    .and_then(|(l, _)| text.lines().nth(l - 1))
                    .map(str::to_owned),
                message,
            }
        };
        let file: Keys = toml::from_str(text)
            .map_err(|e| error_at(e.span().map(|s| s.start), friendly(e.message())))?;
        // Motion keys checked as the API checks them; an error points at the key's line.
        let check_motion = |update: &toml::Spanned<MotionUpdate>, camera: Option<&str>| {
            MotionSettings::default()
                .apply(update.get_ref().clone())
                .map_err(|e| {
                    let at = motion_key_at(text, camera, e.key);
                    let table = camera.map_or("motion".into(), |c| format!("cameras.{c}.motion"));
                    error_at(
                        Some(at.unwrap_or(update.span().start)),
                        format!("{table}: {e}"),
                    )
                })
                .map(|_| update.get_ref().clone())
        };
        let motion_defaults = file
            .motion
            .as_ref()
            .map(|update| check_motion(update, None))
            .transpose()?;
        let mut cameras = Vec::new();
        for (key, table) in &file.cameras {
            let (raw_name, header) = (key.get_ref(), Some(key.span().start));
            let name = camera_name(raw_name)
                .map_err(|e| error_at(header, format!("[cameras.{raw_name}]: {e}")))?;
            let mut source = table
                .source
                .as_ref()
                .map(|source| {
                    SourceSpec::parse(source.get_ref()).map_err(|e| {
                        error_at(
                            Some(source.span().start),
                            format!("cameras.{raw_name}.source: {e}"),
                        )
                    })
                })
                .transpose()?;
            let only_for = |key: &str, sources: &str| {
                error_at(
                    header,
                    format!("cameras.{raw_name}.{key} applies only to {sources} sources"),
                )
            };
            let seconds = |key: &str, v: f64| {
                Duration::try_from_secs_f64(v)
                    .ok()
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| error_at(header, format!("cameras.{raw_name}.{key} must be a number of seconds above 0, not {v}")))
            };
            if source.is_none() {
                let set = [
                    ("connect_timeout_s", table.connect_timeout_s.is_some()),
                    ("read_timeout_s", table.read_timeout_s.is_some()),
                    ("poll_fps", table.poll_fps.is_some()),
                    ("on_demand", table.on_demand.is_some()),
                    ("idle_after_s", table.idle_after_s.is_some()),
                    ("detect_source", table.detect_source.is_some()),
                ];
                if let Some((key, _)) = set.iter().find(|(_, set)| *set) {
                    return Err(error_at(
                        header,
                        format!(
                            "cameras.{raw_name}.{key} needs a source: without one, the camera \
                             is one that publishes by itself (a browser, a Publisher) and only \
                             its motion settings apply"
                        ),
                    ));
                }
            }
            match &mut source {
                Some(SourceSpec::Http(http)) => {
                    if let Some(v) = table.connect_timeout_s {
                        http.connect_timeout = seconds("connect_timeout_s", v)?;
                    }
                    if let Some(v) = table.read_timeout_s {
                        http.read_timeout = seconds("read_timeout_s", v)?;
                    }
                    if let Some(v) = table.poll_fps {
                        if !(0.01..=60.0).contains(&v) {
                            return Err(error_at(
                                header,
                                format!(
                                    "cameras.{raw_name}.poll_fps must be from 0.01 to 60, not {v}"
                                ),
                            ));
                        }
                        http.poll_fps = v;
                    }
                    if table.detect_source.is_some() {
                        return Err(only_for("detect_source", "rtsp://"));
                    }
                }
                Some(SourceSpec::Rtsp(rtsp)) => {
                    if let Some(v) = table.connect_timeout_s {
                        rtsp.connect_timeout = seconds("connect_timeout_s", v)?;
                    }
                    if let Some(v) = table.read_timeout_s {
                        rtsp.read_timeout = seconds("read_timeout_s", v)?;
                    }
                    if table.poll_fps.is_some() {
                        return Err(only_for("poll_fps", "http://"));
                    }
                    if let Some(detect) = &table.detect_source {
                        let at = Some(detect.span().start);
                        let key = format!("cameras.{raw_name}.detect_source");
                        match SourceSpec::parse(detect.get_ref()) {
                            Ok(SourceSpec::Rtsp(d)) => {
                                rtsp.detect = Some(Box::new(RtspSpec {
                                    connect_timeout: rtsp.connect_timeout,
                                    read_timeout: rtsp.read_timeout,
                                    ..d
                                }));
                            }
                            Ok(_) => {
                                return Err(error_at(
                                    at,
                                    format!(
                                        "{key} must be an rtsp:// or rtsps:// URL (the camera's H.264 substream)"
                                    ),
                                ));
                            }
                            Err(e) => return Err(error_at(at, format!("{key}: {e}"))),
                        }
                    }
                }
                Some(_) => {
                    for (key, set, sources) in [
                        (
                            "connect_timeout_s",
                            table.connect_timeout_s.is_some(),
                            "http:// and rtsp://",
                        ),
                        (
                            "read_timeout_s",
                            table.read_timeout_s.is_some(),
                            "http:// and rtsp://",
                        ),
                        ("poll_fps", table.poll_fps.is_some(), "http://"),
                        ("detect_source", table.detect_source.is_some(), "rtsp://"),
                    ] {
                        if set {
                            return Err(only_for(key, sources));
                        }
                    }
                }
                None => {}
            }
            let on_demand = match (table.on_demand, table.idle_after_s) {
                (Some(true), idle) => Some(seconds("idle_after_s", idle.unwrap_or(10.0))?),
                (_, Some(_)) => {
                    return Err(error_at(
                        header,
                        format!("cameras.{raw_name}.idle_after_s needs on_demand = true"),
                    ));
                }
                _ => None,
            };
            let motion = table
                .motion
                .as_ref()
                .map(|update| check_motion(update, Some(raw_name)))
                .transpose()?;
            if cameras.iter().any(|c: &ConfiguredCamera| c.name == name) {
                return Err(error_at(
                    header,
                    format!("camera name {name:?} is used twice (names are not case-sensitive)"),
                ));
            }
            cameras.push(ConfiguredCamera {
                name,
                source,
                on_demand,
                motion,
            });
        }
        Ok(Config {
            path: path.to_owned(),
            file,
            cameras,
            motion_defaults,
        })
    }
}

/// Line and column (1-based) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map_or(0, |p| p + 1) + 1;
    (line, col)
}

/// Where the parser found motion key `key`: in `[motion]`, or in camera `camera`'s
/// `motion` table (the file read again, for an error only).
fn motion_key_at(text: &str, camera: Option<&str>, key: &str) -> Option<usize> {
    type Keyed = BTreeMap<toml::Spanned<String>, toml::Value>;
    #[derive(Deserialize)]
    struct File {
        motion: Option<Keyed>,
        #[serde(default)]
        cameras: BTreeMap<String, CameraMotion>,
    }
    #[derive(Deserialize)]
    struct CameraMotion {
        motion: Option<Keyed>,
    }
    let mut file: File = toml::from_str(text).ok()?;
    let table = match camera {
        None => file.motion?,
        Some(name) => file.cameras.remove(name)?.motion?,
    };
    let found = table.into_keys().find(|k| k.get_ref() == key)?;
    Some(found.span().start)
}

/// The parser's words, made plainer for the types a user meets here.
fn friendly(message: &str) -> String {
    message
        .trim()
        .replace("expected u16", "expected a port number (0 to 65535)")
        .replace("expected usize", "expected a whole number")
        .replace("expected a boolean", "expected true or false")
        .replace(
            "invalid IP address syntax",
            "not an IP address (like 0.0.0.0 or 192.168.1.5)",
        )
}

#[cfg(test)]
mod tests;
