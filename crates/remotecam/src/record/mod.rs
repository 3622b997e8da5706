//! Recording: motion clips as MP4 files, their index, retention, and uploads to object
//! storage.

pub mod error;
pub mod fmp4;
pub mod index;
pub mod recorder;
mod s3_http;
pub mod store;
pub mod units;
pub mod upload;

use std::sync::Arc;
use std::time::Duration;

/// How often retention looks at the recordings (it also runs after every clip).
const RETENTION_EVERY: Duration = Duration::from_secs(60);

/// Applies the retention limits every minute (old clips age out with no new ones).
pub async fn retention_task(recordings: Arc<store::Recordings>) {
    let mut tick = tokio::time::interval(RETENTION_EVERY);
    loop {
        tick.tick().await;
        let r = Arc::clone(&recordings);
        match tokio::task::spawn_blocking(move || r.enforce_retention()).await {
            Ok(Err(e)) => tracing::warn!(error = %e, "retention failed"),
            Err(e) => tracing::error!(error = %e, "retention task failed"),
            Ok(Ok(_)) => {}
        }
    }
}
