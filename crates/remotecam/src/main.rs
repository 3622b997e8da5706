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
    #[command(flatten)]
    options: remotecam::server::Options,
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
    remotecam::server::run(cli.options).await
}
