//! Starting the hub: data directory, token, certificate, the two listeners, the banner.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use crate::auth::{self, Auth, TokenStore};
use crate::config::{Config, ConfiguredCamera, Keys};
use crate::frame::FrameLimits;
use crate::hosts::{self, HostNames};
use crate::hub::{Hub, OnNewCamera, RecordingsSetup};
use crate::listen::{self, ConnectionLimits, Connections};
use crate::motion::SettingsStore;
use crate::record::store::{Recordings, Retention};
use crate::source::SourceContext;
use crate::tls;
use crate::web::{self, AppState};

/// How the hub serves, from the command line: the config file, and every setting it
/// also takes from that file ([`Keys`], declared once for both).
#[derive(Debug, Clone, Default, Args)]
pub struct Options {
    /// The config file [default: remotecam.toml in the data directory, if it exists].
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub keys: Keys,
}

/// The settings in force: flags, else the config file, else the defaults.
#[derive(Debug, Clone)]
pub struct Settings {
    pub config: Option<PathBuf>,
    pub bind: IpAddr,
    pub port: u16,
    pub https_port: u16,
    /// The RTSP port, and whether it was asked for (a default port that is taken is
    /// left, with a warning: another RTSP server may run on the machine).
    pub rtsp_port: (u16, bool),
    pub data_dir: PathBuf,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub trust_loopback: bool,
    pub frame_limits: FrameLimits,
    pub allowed_hosts: Vec<String>,
    pub max_cameras: usize,
    pub max_connections: Option<usize>,
    pub max_connections_per_address: usize,
    pub retention: Retention,
    pub webhook: Option<String>,
    pub mqtt: Option<crate::mqtt::MqttConfig>,
    /// `[[peers]]`, checked.
    pub peers: Vec<crate::peers::Peer>,
    /// `[recordings.s3]`, checked: where finished clips are uploaded.
    pub s3: Option<crate::record::upload::S3Config>,
    pub cameras: Vec<ConfiguredCamera>,
    /// The config file's `[motion]`: what every camera's motion settings start from.
    pub motion_defaults: Option<crate::motion::MotionUpdate>,
}

impl Settings {
    pub fn resolve(options: &Options) -> anyhow::Result<Settings> {
        let default_dir = || {
            dirs::data_dir()
                .map(|d| d.join("remotecam"))
                .context("no user data directory on this system: pass --data-dir")
        };
        let config_path = match (&options.config, &options.keys.data_dir) {
            (Some(path), _) => Some(path.clone()),
            (None, Some(dir)) => Some(dir.join("remotecam.toml")).filter(|p| p.exists()),
            (None, None) => Some(default_dir()?.join("remotecam.toml")).filter(|p| p.exists()),
        };
        let config = match &config_path {
            Some(path) => Some(Config::load(path)?),
            None => None,
        };
        // Flags over the file; then the defaults.
        let keys = match &config {
            Some(c) => options.keys.over(&c.file),
            None => options.keys.clone(),
        };
        let tls = match (keys.tls_cert, keys.tls_key) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => anyhow::bail!("tls_cert and tls_key go together: give both or neither"),
        };
        let mut cameras = config
            .as_ref()
            .map(|c| c.cameras.clone())
            .unwrap_or_default();
        if keys.demo {
            let pattern = crate::source::SourceSpec::Test(Default::default());
            match cameras.iter_mut().find(|c| c.name == "demo") {
                // Settings for the demo camera in the file: it gets the pattern.
                Some(demo) => {
                    demo.source.get_or_insert(pattern);
                }
                None => cameras.push(ConfiguredCamera {
                    name: "demo".into(),
                    source: Some(pattern),
                    on_demand: None,
                    motion: None,
                }),
            }
        }
        let days = keys.record_max_age_days.unwrap_or(30.0);
        if !(days.is_finite() && days >= 0.0) {
            anyhow::bail!("record_max_age_days must be 0 or more (got {days})");
        }
        let total = keys.record_max_total_mb.unwrap_or(0.0);
        if !(total.is_finite() && total >= 0.0) {
            anyhow::bail!("record_max_total_mb must be 0 or more (got {total})");
        }
        if let Some(url) = &keys.webhook
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            anyhow::bail!("webhook must be an http:// or https:// URL (got {url})")
        }
        let data_dir = match keys.data_dir {
            Some(d) => d,
            None => default_dir()?,
        };
        let mqtt = match &keys.mqtt {
            Some(table) => Some(
                crate::mqtt::MqttConfig::from_table(table, &data_dir)
                    .map_err(anyhow::Error::msg)?,
            ),
            None => None,
        };
        let peers = crate::peers::from_tables(&keys.peers).map_err(anyhow::Error::msg)?;
        let s3 = match keys.recordings.as_ref().and_then(|r| r.s3.as_ref()) {
            Some(table) => Some(
                crate::record::upload::S3Config::from_table(table).map_err(anyhow::Error::msg)?,
            ),
            None => None,
        };
        Ok(Settings {
            config: config_path,
            bind: keys.bind.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            port: keys.port.unwrap_or(8100),
            https_port: keys.https_port.unwrap_or(8443),
            rtsp_port: (keys.rtsp_port.unwrap_or(8554), keys.rtsp_port.is_some()),
            data_dir,
            tls,
            trust_loopback: keys.trust_loopback.unwrap_or(true),
            frame_limits: FrameLimits {
                max_bytes: keys
                    .max_frame_bytes
                    .unwrap_or(FrameLimits::default().max_bytes),
                max_pixels: match keys.max_frame_pixels {
                    Some(0) => anyhow::bail!("max_frame_pixels must be more than 0"),
                    Some(n) => n,
                    None => FrameLimits::default().max_pixels,
                },
            },
            allowed_hosts: keys.allowed_hosts.unwrap_or_default(),
            max_cameras: keys.max_cameras.unwrap_or(64),
            max_connections: keys.max_connections,
            max_connections_per_address: keys.max_connections_per_address.unwrap_or(128),
            retention: Retention {
                max_age: (days > 0.0).then(|| Duration::from_secs_f64(days * 86_400.0)),
                max_bytes: (total > 0.0).then_some((total * 1_048_576.0) as u64),
                min_free_bytes: keys.record_min_free_mb.unwrap_or(256) << 20,
            },
            webhook: keys.webhook,
            mqtt,
            peers,
            s3,
            cameras,
            motion_defaults: config.as_ref().and_then(|c| c.motion_defaults.clone()),
        })
    }
}

/// Runs the hub until the process is stopped.
pub async fn run(options: Settings) -> anyhow::Result<()> {
    // One crypto provider for the whole process: ring, which builds with a C compiler
    // alone (aws-lc-rs, the other provider rustls offers, needs cmake too).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let fd_limit = listen::raise_fd_limit();
    // What the hub writes (clips, thumbnails, the index, settings) is the user's alone:
    // cameras are private.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let data_dir = options.data_dir.clone();
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating the data directory {}", data_dir.display()))?;
    let token = auth::load_or_create_token(&data_dir)?;
    let hostname = gethostname::gethostname().to_string_lossy().into_owned();
    let lan = lan_addresses();

    let (cert, key) = match &options.tls {
        Some((c, k)) => (c.clone(), k.clone()),
        None => {
            let files = tls::load_or_create(&data_dir, &tls::wanted_names(&hostname, &lan))?;
            if files.created {
                tracing::info!(path = %files.cert.display(), "made a new self-signed certificate");
            }
            (files.cert, files.key)
        }
    };
    let cert_names = hosts::certificate_names(&std::fs::read_to_string(&cert).unwrap_or_default());
    let hosts = HostNames::new(
        &hostname,
        cert_names
            .iter()
            .chain(&options.allowed_hosts)
            .map(String::as_str),
    );
    let tls = listen::tls_acceptor(&cert, &key)?;
    // Recordings (and recovery of clips a crash left) before any camera exists. A hub
    // whose recordings cannot open still streams.
    let root = data_dir.join("recordings");
    // Made 0700 by the mask; one made by an older version (0755) is closed too.
    if let Err(e) = std::fs::create_dir_all(&root).and_then(|()| {
        std::fs::set_permissions(&root, std::os::unix::fs::PermissionsExt::from_mode(0o700))
    }) {
        tracing::warn!(path = %root.display(), error = %e, "cannot make the recordings private");
    }
    let retention = options.retention.clone();
    let recordings =
        match tokio::task::spawn_blocking(move || Recordings::open(&root, retention)).await? {
            Ok(recordings) => {
                let recordings = Arc::new(recordings);
                tokio::spawn(crate::record::retention_task(Arc::clone(&recordings)));
                RecordingsSetup::Open(recordings)
            }
            Err(e) => {
                tracing::error!(error = %e, "recordings unavailable; nothing will be recorded");
                RecordingsSetup::Failed(e.to_string())
            }
        };
    // Every camera gets a motion task: it waits, costing nothing, until detection is
    // enabled, and ends when the camera leaves the hub.
    let start_motion: OnNewCamera = Box::new(|hub, entry| {
        let inputs = crate::motion::live::Inputs::new(
            &entry.camera,
            &entry.motion,
            hub.event_sender(),
            hub.recordings().cloned(),
            hub.stopping(),
        );
        tokio::spawn(crate::motion::live::run(inputs));
        crate::stage::spawn(&entry.camera);
    });
    let hub = Arc::new(Hub::with_parts(
        options.max_cameras,
        SettingsStore::open(Some(&data_dir)),
        recordings,
        Some(start_motion),
    ));
    if let Some(url) = &options.webhook {
        tokio::spawn(crate::events::webhook(hub.events(), url.clone()));
    }
    if let (Some(s3), Some(recordings)) = (&options.s3, hub.recordings()) {
        tokio::spawn(crate::record::upload::upload_task(
            Arc::clone(recordings),
            s3.clone(),
            hub.events(),
            hub.stopped(),
        ));
    }
    crate::web::metrics::handle();
    tokio::spawn(crate::web::metrics::count_events(Arc::clone(&hub)));
    if let Some(mqtt) = &options.mqtt {
        crate::mqtt::start(
            Arc::clone(&hub),
            mqtt.clone(),
            options.frame_limits.max_bytes,
        )?;
    }
    let sources = SourceContext::new(options.frame_limits);
    if let Some(defaults) = &options.motion_defaults {
        hub.motion_store.set_defaults(defaults.clone());
    }
    for camera in &options.cameras {
        if let Some(update) = &camera.motion {
            hub.motion_store.configure(&camera.name, update.clone());
        }
        let Some(source) = &camera.source else {
            continue;
        };
        let cam = hub
            .get_or_create(&camera.name, source.kind())
            .with_context(|| format!("adding configured camera {}", camera.name))?;
        tokio::spawn(crate::source::supervise(
            cam,
            source.clone(),
            sources.clone(),
            camera.on_demand,
        ));
    }
    let http = tokio::net::TcpListener::bind((options.bind, options.port))
        .await
        .with_context(|| {
            format!(
                "listening on {}:{} (HTTP; change it with --port)",
                options.bind, options.port
            )
        })?;
    let https = tokio::net::TcpListener::bind((options.bind, options.https_port))
        .await
        .with_context(|| {
            format!(
                "listening on {}:{} (HTTPS; change it with --https-port)",
                options.bind, options.https_port
            )
        })?;
    let rtsp = bind_rtsp(options.bind, options.rtsp_port).await?;
    let http_addr = http.local_addr()?;
    let https_addr = https.local_addr()?;
    let rtsp_addr = rtsp.as_ref().map(|l| l.local_addr()).transpose()?;
    let auth = Arc::new(Auth::new(
        token.clone(),
        options.trust_loopback,
        TokenStore::open(&data_dir),
    ));
    tokio::spawn(follow_tokens(Arc::clone(&auth)));
    let stalls = Arc::new(web::stalls::Stalls::default());
    let state = AppState {
        hub: Arc::clone(&hub),
        auth: Arc::clone(&auth),
        limits: options.frame_limits,
        peers: options.peers.clone().into(),
        s3: options.s3.clone(),
        hosts: Arc::new(hosts),
        ports: web::Ports {
            http: http_addr.port(),
            https: https_addr.port(),
            rtsp: rtsp_addr.map(|a| a.port()),
        },
        stalls: Arc::clone(&stalls),
    };
    tokio::spawn(Arc::clone(&state.stalls).run());
    let router = web::app(state);

    print_banner(&data_dir, (http_addr, https_addr, rtsp_addr), &lan, &token);
    if let Some(path) = &options.config {
        tracing::info!(path = %path.display(), cameras = options.cameras.len(), "config file read");
    }

    let limits = ConnectionLimits::new(
        options.max_connections,
        options.max_connections_per_address,
        fd_limit,
    );
    tracing::info!(
        open_files = fd_limit,
        connections = limits.total,
        per_address = limits.per_address,
        "connection limits"
    );
    let connections = Connections::new(limits, options.trust_loopback);
    let (stop, stopping) = tokio::sync::watch::channel(false);
    for (listener, tls) in [(http, None), (https, Some(tls))] {
        tokio::spawn(listen::serve(
            listener,
            router.clone(),
            tls,
            Arc::clone(&connections),
            stopping.clone(),
        ));
    }
    if let Some(listener) = rtsp {
        let context = crate::rtsp_server::Context {
            hub: Arc::clone(&hub),
            auth: Arc::clone(&auth),
            connections: Arc::clone(&connections),
            stalls: Arc::clone(&stalls),
            streams: Arc::default(),
        };
        tokio::spawn(crate::rtsp_server::serve(
            listener,
            context,
            stopping.clone(),
        ));
    }
    shutdown_signal().await;
    // A stop finishes the open clips, lets the responses in flight go out (the event
    // streams end with the stop's last events), and does not wait long for viewers:
    // streams never end by themselves.
    tracing::info!("stopping");
    hub.stop(STOP_WITHIN).await;
    stop.send_replace(true);
    connections.closed(CLOSE_WITHIN).await;
    Ok(())
}

/// The RTSP listener: an error if the port asked for cannot be had; a warning and no
/// listener if the default one is taken (by another RTSP server, most likely).
async fn bind_rtsp(
    bind: IpAddr,
    (port, asked): (u16, bool),
) -> anyhow::Result<Option<tokio::net::TcpListener>> {
    match tokio::net::TcpListener::bind((bind, port)).await {
        Ok(listener) => Ok(Some(listener)),
        Err(e) if !asked => {
            tracing::warn!(
                error = %e,
                "RTSP is not served: port {port} is taken (another RTSP server?); choose \
                 another with --rtsp-port (0: any free port)"
            );
            Ok(None)
        }
        Err(e) => Err(anyhow::Error::new(e).context(format!(
            "listening on {bind}:{port} (RTSP; change it with --rtsp-port)"
        ))),
    }
}

/// How long a stop waits for open clips to be finished.
const STOP_WITHIN: Duration = Duration::from_secs(10);
/// How long a stop then waits for connections to close.
const CLOSE_WITHIN: Duration = Duration::from_secs(2);

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// This machine's addresses that another device on the LAN could use.
fn lan_addresses() -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .map(|i| i.ip())
        .filter(|ip| match ip {
            IpAddr::V4(v4) => !v4.is_loopback() && !v4.is_link_local(),
            IpAddr::V6(v6) => !v6.is_loopback() && !v6.is_unicast_link_local(),
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Reads the tokens file again whenever it changes (`remotecam token` writes it from
/// another process): the open streams of a token revoked there close within a second.
async fn follow_tokens(auth: Arc<Auth>) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let auth = Arc::clone(&auth);
        let _ = tokio::task::spawn_blocking(move || auth.tokens().reload_if_changed()).await;
    }
}

/// The addresses other machines reach the hub at, bound to `bind`.
fn reachable(bind: IpAddr, lan: &[IpAddr]) -> Vec<IpAddr> {
    if bind.is_unspecified() {
        lan.iter().copied().filter(IpAddr::is_ipv4).collect()
    } else if bind.is_loopback() {
        Vec::new()
    } else {
        vec![bind]
    }
}

/// `path` (with its query) at each address a hub with these settings is reached at from
/// other machines (HTTPS), or at loopback (HTTP) when it is reached only there.
pub fn links(settings: &Settings, path: &str) -> Vec<String> {
    let reachable = reachable(settings.bind, &lan_addresses());
    if reachable.is_empty() {
        let local = if settings.bind.is_unspecified() {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            settings.bind
        };
        return vec![format!(
            "http://{}{path}",
            SocketAddr::new(local, settings.port)
        )];
    }
    reachable
        .into_iter()
        .map(|ip| format!("https://{}{path}", SocketAddr::new(ip, settings.https_port)))
        .collect()
}

/// A QR code of `text` for a terminal.
pub fn qr_code(text: &str) -> Option<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    Some(
        code.render::<qrcode::render::unicode::Dense1x2>()
            // Terminals draw light text on a dark background: paint the light modules
            // so that the code reads the right way round.
            .dark_color(qrcode::render::unicode::Dense1x2::Light)
            .light_color(qrcode::render::unicode::Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
    )
}

fn print_banner(
    data_dir: &std::path::Path,
    (http, https, rtsp): (SocketAddr, SocketAddr, Option<SocketAddr>),
    lan: &[IpAddr],
    token: &str,
) {
    let local = if http.ip().is_unspecified() {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        http.ip()
    };
    let host = |ip: IpAddr| match ip {
        IpAddr::V6(_) => format!("[{ip}]"),
        IpAddr::V4(_) => ip.to_string(),
    };
    let mut out = String::new();
    out.push_str(&format!("remotecam {}\n", env!("CARGO_PKG_VERSION")));
    out.push_str(&format!("HTTP  listening on {http}\n"));
    out.push_str(&format!("HTTPS listening on {https}\n"));
    match rtsp {
        Some(rtsp) => out.push_str(&format!("RTSP  listening on {rtsp}\n")),
        None => out.push_str("RTSP  not served (its port is taken)\n"),
    }
    out.push_str(&format!("Data directory: {}\n\n", data_dir.display()));
    let local_url = |path: &str| format!("http://{}:{}{path}", host(local), http.port());
    for (label, path) in [
        ("Dashboard:", "/"),
        ("Recordings:", "/recordings"),
        ("This computer's camera:", "/publish"),
    ] {
        out.push_str(&format!("  {label:<25}{}\n", local_url(path)));
    }
    let reachable = reachable(http.ip(), lan);
    if reachable.is_empty() {
        out.push_str(
            "\n  Only this machine can connect (--bind is a loopback address): no phone address \
             or QR code.\n",
        );
    } else {
        out.push_str(
            "\n  From a phone or another computer (accept the certificate warning once):\n",
        );
        for ip in &reachable {
            out.push_str(&format!(
                "    https://{}:{}/publish?token={token}\n",
                host(*ip),
                https.port()
            ));
        }
        let first = format!(
            "https://{}:{}/publish?token={token}",
            host(reachable[0]),
            https.port()
        );
        if let Some(qr) = qr_code(&first) {
            out.push_str(&format!("\n  Scan to open it on a phone:\n{qr}\n"));
        }
    }
    out.push_str(&format!(
        "\n  Access token: {token} (file {})\n",
        data_dir.join("token").display()
    ));
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
}
