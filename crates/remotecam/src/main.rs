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
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Some(Command::CheckConfig { file }) => check_config(&file),
        None => {
            let settings = match remotecam::server::Settings::resolve(&cli.options) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("remotecam: {e:#}");
                    std::process::exit(2);
                }
            };
            remotecam::server::run(settings).await
        }
    }
}

fn check_config(file: &std::path::Path) -> anyhow::Result<()> {
    match remotecam::config::Config::load(file) {
        Ok(config) => {
            println!("{}: ok, {} camera(s)", file.display(), config.cameras.len());
            for camera in &config.cameras {
                println!("  {}: {:?}", camera.name, camera.source);
            }
            Ok(())
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
