//! Starting the hub: data directory, token, certificate, the two listeners, the banner.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use axum_server::tls_rustls::RustlsConfig;
use clap::Args;

use crate::auth::{self, Auth};
use crate::hub::Hub;
use crate::tls;
use crate::web::{self, AppState, Limits, Tls};

/// How the hub serves. Each flag will have a key of the same name in the config file.
#[derive(Debug, Clone, Args)]
pub struct Options {
    /// Address to listen on (both HTTP and HTTPS). The default serves the whole LAN.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::UNSPECIFIED))]
    pub bind: IpAddr,
    /// Plain HTTP port (0 picks a free one).
    #[arg(long, default_value_t = 8100)]
    pub port: u16,
    /// HTTPS port (0 picks a free one). Phones need HTTPS to allow the camera.
    #[arg(long, default_value_t = 8443)]
    pub https_port: u16,
    /// Where the token, certificate and (later) recordings live
    /// [default: the user's data directory, e.g. ~/.local/share/remotecam].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Your own certificate (PEM) instead of the generated self-signed one.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Let requests from this machine (127.0.0.1, ::1) in without the token.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub trust_loopback: bool,
    /// Largest frame a publisher may send, in bytes.
    #[arg(long, default_value_t = Limits::default().max_message_bytes)]
    pub max_frame_bytes: usize,
    /// Most cameras the hub keeps; a publisher for a new name beyond it is refused.
    #[arg(long, default_value_t = 64)]
    pub max_cameras: usize,
}

impl Options {
    pub fn data_dir(&self) -> anyhow::Result<PathBuf> {
        match &self.data_dir {
            Some(d) => Ok(d.clone()),
            None => dirs::data_dir()
                .map(|d| d.join("remotecam"))
                .context("no user data directory on this system: pass --data-dir"),
        }
    }
}

/// Runs the hub until the process is stopped.
pub async fn run(options: Options) -> anyhow::Result<()> {
    // One crypto provider for the whole process (see docs/DEPENDENCIES: ring).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let data_dir = options.data_dir()?;
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating the data directory {}", data_dir.display()))?;
    let token = auth::load_or_create_token(&data_dir)?;
    let hostname = gethostname::gethostname().to_string_lossy().into_owned();
    let lan = lan_addresses();

    let (cert, key) = match (&options.tls_cert, &options.tls_key) {
        (Some(c), Some(k)) => (c.clone(), k.clone()),
        _ => {
            let files = tls::load_or_create(&data_dir, &tls::wanted_names(&hostname, &lan))?;
            if files.created {
                tracing::info!(path = %files.cert.display(), "made a new self-signed certificate");
            }
            (files.cert, files.key)
        }
    };
    let tls_config = RustlsConfig::from_pem_file(&cert, &key)
        .await
        .with_context(|| {
            format!(
                "loading TLS certificate {} and key {}",
                cert.display(),
                key.display()
            )
        })?;

    let state = AppState {
        hub: Arc::new(Hub::new(options.max_cameras)),
        auth: Arc::new(Auth::new(token.clone(), options.trust_loopback)),
        limits: Limits {
            max_message_bytes: options.max_frame_bytes,
        },
    };
    let router = web::app(state);

    let http = tokio::net::TcpListener::bind((options.bind, options.port))
        .await
        .with_context(|| {
            format!(
                "listening on {}:{} (HTTP; change it with --port)",
                options.bind, options.port
            )
        })?;
    let https =
        std::net::TcpListener::bind((options.bind, options.https_port)).with_context(|| {
            format!(
                "listening on {}:{} (HTTPS; change it with --https-port)",
                options.bind, options.https_port
            )
        })?;
    https.set_nonblocking(true)?;
    let http_addr = http.local_addr()?;
    let https_addr = https.local_addr()?;

    print_banner(&data_dir, http_addr, https_addr, &lan, &token);

    let http_server = axum::serve(
        http,
        router
            .clone()
            .into_make_service_with_connect_info::<SocketAddr>(),
    );
    let https_server = axum_server::from_tcp_rustls(https, tls_config)?.serve(
        router
            .layer(axum::Extension(Tls))
            .into_make_service_with_connect_info::<SocketAddr>(),
    );
    // Streams never end by themselves, so a stop does not wait for viewers to leave.
    tokio::select! {
        r = http_server => r.context("HTTP server")?,
        r = https_server => r.context("HTTPS server")?,
        _ = shutdown_signal() => tracing::info!("stopping"),
    }
    Ok(())
}

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

fn print_banner(
    data_dir: &std::path::Path,
    http: SocketAddr,
    https: SocketAddr,
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
    out.push_str(&format!("Data directory: {}\n\n", data_dir.display()));
    out.push_str(&format!(
        "  Dashboard:           http://{}:{}/\n",
        host(local),
        http.port()
    ));
    out.push_str(&format!(
        "  Camera of this computer: http://{}:{}/publish\n",
        host(local),
        http.port()
    ));
    let reachable: Vec<IpAddr> = if http.ip().is_unspecified() {
        lan.iter().copied().filter(IpAddr::is_ipv4).collect()
    } else if http.ip().is_loopback() {
        Vec::new()
    } else {
        vec![http.ip()]
    };
    if reachable.is_empty() {
        out.push_str("\n  Only this machine can connect (--bind is a loopback address).\n");
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
        if let Ok(code) = qrcode::QrCode::new(first.as_bytes()) {
            let qr = code
                .render::<qrcode::render::unicode::Dense1x2>()
                // Terminals draw light text on a dark background: paint the light
                // modules so that the code reads the right way round.
                .dark_color(qrcode::render::unicode::Dense1x2::Light)
                .light_color(qrcode::render::unicode::Dense1x2::Dark)
                .quiet_zone(true)
                .build();
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
