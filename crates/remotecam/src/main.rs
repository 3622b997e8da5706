//! The `remotecam` command.

use clap::Parser;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(
    name = "remotecam",
    version,
    about = "A camera hub: phones, webcams and IP cameras in; live MJPEG, snapshot and WebSocket out."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    options: remotecam::server::Options,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Check a config file without serving: prints its cameras, or the errors.
    CheckConfig {
        /// The config file.
        file: std::path::PathBuf,
    },
    /// List the USB webcams (V4L2 devices) with their formats, sizes and frame rates.
    Devices,
    /// Access tokens with a role, for some cameras, until some time: share links.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
}

#[derive(Debug, clap::Subcommand)]
enum TokenAction {
    /// Make a token and print its share link (the token is shown this once).
    Add {
        /// What it may do: viewer (watch cameras and recordings), publisher (also publish
        /// a camera), admin (everything).
        #[arg(long, value_enum)]
        role: remotecam::auth::Role,
        /// A camera it opens (repeat for more); without: every camera.
        #[arg(long = "camera", value_name = "NAME")]
        cameras: Vec<String>,
        /// When it stops working: a duration (30m, 12h, 7d, 2w) or an RFC 3339 time;
        /// without: never.
        #[arg(long, value_name = "WHEN")]
        expires: Option<String>,
        /// What it is for (shown by `token list`).
        #[arg(long, default_value = "")]
        name: String,
    },
    /// List the tokens (never their values).
    List,
    /// Revoke a token: it stops working, open streams included, within a second.
    Revoke {
        /// The token's id, as `token add` and `token list` show it.
        id: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(|| remotecam::excerpt::CutStderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Some(Command::CheckConfig { file }) => check_config(&file),
        Some(Command::Devices) => list_devices(),
        Some(Command::Token { action }) => token(&settings(&cli.options), action),
        None => remotecam::server::run(settings(&cli.options)).await,
    }
}

fn settings(options: &remotecam::server::Options) -> remotecam::server::Settings {
    match remotecam::server::Settings::resolve(options) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("remotecam: {e:#}");
            std::process::exit(2);
        }
    }
}

/// `remotecam token ...`: changes the data directory's tokens file, which a running hub
/// follows.
fn token(settings: &remotecam::server::Settings, action: TokenAction) -> anyhow::Result<()> {
    use remotecam::auth::tokens::{NewToken, TokenStore, parse_expiry};
    std::fs::create_dir_all(&settings.data_dir)?;
    // The hub's token seals the new token (auth/sealed.rs): made here if the hub never ran.
    remotecam::auth::load_or_create_token(&settings.data_dir)?;
    let store = TokenStore::open(&settings.data_dir);
    match action {
        TokenAction::Add {
            role,
            cameras,
            expires,
            name,
        } => {
            let now = jiff::Timestamp::now();
            let expires = expires
                .map(|e| parse_expiry(&e, now))
                .transpose()
                .map_err(anyhow::Error::msg)?;
            let new = NewToken {
                name,
                role,
                cameras,
                expires,
            };
            let (secret, record) = store.add(new)?;
            println!("Token {} ({}), shown this once:", record.id, scope(&record));
            println!("  {secret}");
            let links = remotecam::server::links(settings, &record.share_path(&secret));
            println!("Share link:");
            for link in &links {
                println!("  {link}");
            }
            if let Some(qr) = links.first().and_then(|l| remotecam::server::qr_code(l)) {
                println!("{qr}");
            }
            println!("Revoke it with: remotecam token revoke {}", record.id);
        }
        TokenAction::List => {
            let tokens = store.list();
            if tokens.is_empty() {
                println!("no tokens (the hub's own token is in the file 'token')");
            }
            for record in tokens {
                let name = if record.name.is_empty() {
                    String::new()
                } else {
                    format!(": {}", record.name)
                };
                println!("{}  {}{name}", record.id, scope(&record));
            }
        }
        TokenAction::Revoke { id } => {
            if !store.revoke(&id)? {
                eprintln!("remotecam: no token '{id}' (see remotecam token list)");
                std::process::exit(1);
            }
            println!("revoked {id}");
        }
    }
    Ok(())
}

/// A token's role, cameras and expiry in words.
fn scope(record: &remotecam::auth::tokens::TokenRecord) -> String {
    let cameras = if record.cameras.is_empty() {
        "every camera".to_owned()
    } else {
        format!("camera {}", record.cameras.join(", "))
    };
    let expires = match record.expires {
        Some(t) if record.expired(jiff::Timestamp::now()) => format!("expired {t}"),
        Some(t) => format!("until {t}"),
        None => "no expiry".to_owned(),
    };
    format!("{}, {cameras}, {expires}", record.role.name())
}

fn list_devices() -> anyhow::Result<()> {
    let devices = remotecam::source::system_devices().list()?;
    if devices.is_empty() {
        println!("no video capture devices found");
    }
    for device in devices {
        println!("{}: {}", device.path, device.name);
        println!(
            "  source = \"v4l2://{}?width=W&height=H&fps=F\"",
            device.path
        );
        for mode in &device.modes {
            let fps: Vec<String> = mode
                .fps
                .iter()
                .map(|f| {
                    format!("{f:.4}")
                        .trim_end_matches('0')
                        .trim_end_matches('.')
                        .to_owned()
                })
                .collect();
            println!(
                "  {:<5} {:>4}x{:<4} fps {}",
                mode.kind.name(),
                mode.width,
                mode.height,
                if fps.is_empty() {
                    "?".into()
                } else {
                    fps.join(", ")
                }
            );
        }
    }
    Ok(())
}

fn check_config(file: &std::path::Path) -> anyhow::Result<()> {
    match remotecam::config::Config::load(file) {
        Ok(config) => {
            println!("{}: ok, {} camera(s)", file.display(), config.cameras.len());
            for camera in &config.cameras {
                let demand = match camera.on_demand {
                    Some(idle) => format!(
                        ", on demand (stops after {} s unwatched)",
                        idle.as_secs_f64()
                    ),
                    None => String::new(),
                };
                match &camera.source {
                    Some(source) => println!("  {}: {source}{demand}", camera.name),
                    None => println!("  {}: settings only (publishes by itself)", camera.name),
                }
            }
            Ok(())
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
