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
        Some(Command::Devices) => list_devices(),
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
