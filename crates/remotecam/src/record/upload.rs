//! Clips in object storage (`[recordings.s3]`): each finished clip and its thumbnail are
//! uploaded to an S3-compatible store (AWS, MinIO, SeaweedFS, Garage, a NAS), and the
//! index records where.
//!
//! The queue is the index itself: finished clips without a remote location, oldest
//! first, so it survives restarts and crashes and never holds more than the disk does.
//! One clip at a time, off every camera's path; a file larger than a part goes up in
//! parts (multipart upload). A failure (the store away, even in the middle of a clip)
//! is retried with a backoff (1 s doubling to a minute) and the clip stays queued, to be
//! sent again whole; nothing is given up. `remotecam_upload_failing` says meanwhile that
//! uploads fail, the log why (an excerpt of the store's answer, which is read up to 64
//! KiB only: `s3_http.rs`).

use std::sync::Arc;
use std::time::Duration;

use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::buffered::BufWriter;
use object_store::path::Path as Key;
use tokio::io::AsyncWriteExt;
use tokio::sync::{broadcast, watch};

use super::index::ClipRow;
use super::store::Recordings;
use crate::events::{HubEvent, What};

/// Bytes of a clip read and sent at once; a larger file goes up in parts of this size
/// (S3 takes parts of 5 MiB and more).
const PART_BYTES: usize = 8 << 20;
/// How long the upload loop waits for a new clip before it looks at the queue again.
const LOOK_EVERY: Duration = Duration::from_secs(30);
const FIRST_RETRY: Duration = Duration::from_secs(1);
const LAST_RETRY: Duration = Duration::from_secs(60);

/// `[recordings.s3]` of the config file, as written; checked by [`S3Config::from_table`].
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Table {
    /// The store's address (`https://s3.example.net`, `http://nas:8333`); none: AWS.
    pub endpoint: Option<String>,
    pub bucket: String,
    /// The keys' first part [default: remotecam].
    pub prefix: Option<String>,
    /// [default: us-east-1]
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

/// `[recordings.s3]`, checked, with its client.
#[derive(Debug, Clone)]
pub struct S3Config {
    store: Arc<dyn ObjectStore>,
    bucket: String,
    prefix: String,
}

/// Why uploading or reading back a clip failed, or `[recordings.s3]` was refused.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("recordings.s3: {0}")]
    Config(String),
    #[error("{0} is not in the bucket {1}")]
    NotInBucket(String, String),
    #[error(transparent)]
    Store(#[from] object_store::Error),
    #[error("recordings index: {0}")]
    Index(String),
    #[error("reading {0}: {1}")]
    File(std::path::PathBuf, std::io::Error),
    #[error("clip {clip} to {key}: {error}")]
    Clip {
        clip: i64,
        key: Key,
        error: Box<UploadError>,
    },
    #[error("sending: {0}")]
    Send(std::io::Error),
}

impl S3Config {
    pub fn from_table(table: &S3Table) -> Result<S3Config, UploadError> {
        let at = |what: &str| UploadError::Config(what.to_owned());
        if table.bucket.is_empty() {
            return Err(at("bucket is required"));
        }
        let prefix = table
            .prefix
            .clone()
            .unwrap_or_else(|| "remotecam".to_owned());
        let prefix = prefix.trim_matches('/').to_owned();
        if Key::parse(&prefix).is_err() {
            return Err(at(&format!("prefix '{prefix}' is not a key prefix")));
        }
        // The store's requests use the process's one crypto provider (ring).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = AmazonS3Builder::new()
            .with_http_connector(super::s3_http::BoundedConnector)
            .with_bucket_name(&table.bucket)
            .with_region(table.region.as_deref().unwrap_or("us-east-1"))
            .with_client_options(
                object_store::ClientOptions::new()
                    .with_connect_timeout(Duration::from_secs(10))
                    .with_timeout(Duration::from_secs(120)),
            )
            // The upload loop retries for ever; the client's own retries are short.
            .with_retry(object_store::RetryConfig {
                max_retries: 2,
                retry_timeout: Duration::from_secs(30),
                ..Default::default()
            });
        if let Some(endpoint) = &table.endpoint {
            let url = url::Url::parse(endpoint).map_err(|e| at(&format!("endpoint: {e}")))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(at("endpoint: an http:// or https:// address"));
            }
            builder = builder
                .with_endpoint(endpoint.trim_end_matches('/'))
                .with_allow_http(url.scheme() == "http");
        }
        builder = match (&table.access_key_id, &table.secret_access_key) {
            (Some(id), Some(secret)) => builder
                .with_access_key_id(id)
                .with_secret_access_key(secret),
            (None, None) => builder.with_skip_signature(true),
            _ => return Err(at("access_key_id and secret_access_key go together")),
        };
        let store = builder.build().map_err(|e| at(&e.to_string()))?;
        Ok(S3Config {
            store: Arc::new(store),
            bucket: table.bucket.clone(),
            prefix,
        })
    }

    /// The key of a clip's file (`ext`: `mp4` or `jpg`): the prefix, then the clip's
    /// path in the recordings directory (camera, day, time and id).
    fn key(&self, clip: &ClipRow, ext: &str) -> Key {
        let key = if self.prefix.is_empty() {
            format!("{}.{ext}", clip.stem)
        } else {
            format!("{}/{}.{ext}", self.prefix, clip.stem)
        };
        Key::from(key)
    }
}

impl S3Config {
    /// A clip's file in the store (`ext`: `mp4` or `jpg`), from its `remote` location,
    /// with a byte range; the store's error in words.
    pub async fn get(
        &self,
        remote: &str,
        ext: &str,
        range: Option<object_store::GetRange>,
    ) -> Result<object_store::GetResult, UploadError> {
        let video = remote
            .strip_prefix(&format!("s3://{}/", self.bucket))
            .ok_or_else(|| UploadError::NotInBucket(remote.to_owned(), self.bucket.clone()))?;
        let key = match video.strip_suffix(".mp4") {
            Some(stem) => format!("{stem}.{ext}"),
            None => video.to_owned(),
        };
        let options = object_store::GetOptions {
            range,
            ..Default::default()
        };
        Ok(self.store.get_opts(&Key::from(key), options).await?)
    }
}

/// Uploads the queued clips until the hub stops: at start, at each saved clip, and
/// every [`LOOK_EVERY`].
pub async fn upload_task(
    recordings: Arc<Recordings>,
    config: S3Config,
    mut events: broadcast::Receiver<HubEvent>,
    mut stopped: watch::Receiver<bool>,
) {
    // Scrapers see the counters at 0 before the first upload.
    for counter in [
        "remotecam_uploaded_clips_total",
        "remotecam_uploaded_bytes_total",
        "remotecam_upload_failures_total",
    ] {
        metrics::counter!(counter).increment(0);
    }
    metrics::gauge!("remotecam_upload_failing").set(0.0);
    let mut retry = FIRST_RETRY;
    loop {
        match upload_queued(&recordings, &config).await {
            Ok(()) => {
                retry = FIRST_RETRY;
                metrics::gauge!("remotecam_upload_failing").set(0.0);
            }
            Err(e) => {
                metrics::counter!("remotecam_upload_failures_total").increment(1);
                metrics::gauge!("remotecam_upload_failing").set(1.0);
                // The store's words are in it: a short excerpt.
                let error = crate::excerpt::of(&e.to_string());
                tracing::warn!(%error, "uploading clips failed; trying again in {} s", retry.as_secs());
                tokio::select! {
                    () = tokio::time::sleep(retry) => {}
                    _ = stopped.wait_for(|s| *s) => return,
                }
                retry = (retry * 2).min(LAST_RETRY);
                continue;
            }
        }
        let wake = async {
            loop {
                match events.recv().await {
                    Ok(HubEvent {
                        what: What::ClipSaved { .. },
                        ..
                    }) => return,
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => return,
                    Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
                }
            }
        };
        tokio::select! {
            () = wake => {}
            () = tokio::time::sleep(LOOK_EVERY) => {}
            _ = stopped.wait_for(|s| *s) => return,
        }
    }
}

/// Uploads every queued clip, oldest first; stops at the first failure.
async fn upload_queued(recordings: &Arc<Recordings>, config: &S3Config) -> Result<(), UploadError> {
    loop {
        let r = Arc::clone(recordings);
        let queued = tokio::task::spawn_blocking(move || r.index.not_uploaded(16))
            .await
            .map_err(|e| UploadError::Index(e.to_string()))?
            .map_err(|e| UploadError::Index(e.to_string()))?;
        let mut uploaded = 0;
        for clip in queued {
            let Some((remote, bytes)) = upload(recordings, config, &clip).await? else {
                continue;
            };
            tracing::info!(clip = clip.id, %remote, "clip uploaded");
            metrics::counter!("remotecam_uploaded_clips_total").increment(1);
            metrics::counter!("remotecam_uploaded_bytes_total").increment(bytes);
            let r = Arc::clone(recordings);
            tokio::task::spawn_blocking(move || r.index.set_remote(clip.id, &remote))
                .await
                .map_err(|e| UploadError::Index(e.to_string()))?
                .map_err(|e| UploadError::Index(e.to_string()))?;
            uploaded += 1;
        }
        // Nothing left, or only clips whose files went meanwhile (being deleted): they
        // are looked at again later.
        if uploaded == 0 {
            return Ok(());
        }
    }
}

/// Uploads a clip's video, then its thumbnail (if it has one); its remote location and
/// the bytes sent. A clip whose video is gone (deleted meanwhile) is `None`.
async fn upload(
    recordings: &Recordings,
    config: &S3Config,
    clip: &ClipRow,
) -> Result<Option<(String, u64)>, UploadError> {
    let of_clip = |key: &Key| {
        let key = key.clone();
        move |error| UploadError::Clip {
            clip: clip.id,
            key,
            error: Box::new(error),
        }
    };
    let video = config.key(clip, "mp4");
    let Some(mut bytes) = put_file(config, &recordings.mp4_path(clip), &video)
        .await
        .map_err(of_clip(&video))?
    else {
        return Ok(None);
    };
    let thumbnail = config.key(clip, "jpg");
    bytes += put_file(config, &recordings.jpg_path(clip), &thumbnail)
        .await
        .map_err(of_clip(&thumbnail))?
        .unwrap_or(0);
    Ok(Some((format!("s3://{}/{video}", config.bucket), bytes)))
}

/// Sends the file at `path` to `key`, in parts when it is larger than one; the bytes
/// sent, `None` when there is no such file. A multipart upload that fails is aborted
/// (best effort: the store may be the reason it failed).
async fn put_file(
    config: &S3Config,
    path: &std::path::Path,
    key: &Key,
) -> Result<Option<u64>, UploadError> {
    let mut file = match tokio::fs::File::open(path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(UploadError::File(path.to_owned(), e)),
    };
    let mut writer = BufWriter::with_capacity(Arc::clone(&config.store), key.clone(), PART_BYTES);
    let bytes = match tokio::io::copy(&mut file, &mut writer).await {
        Ok(bytes) => bytes,
        Err(e) => {
            let _ = writer.abort().await;
            return Err(UploadError::Send(e));
        }
    };
    // Completing the upload aborts it when it fails.
    writer.shutdown().await.map_err(UploadError::Send)?;
    Ok(Some(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> S3Table {
        S3Table {
            endpoint: Some("http://127.0.0.1:8333".into()),
            bucket: "clips".into(),
            ..S3Table::default()
        }
    }

    #[test]
    fn keys_follow_the_recordings_directory() {
        let config = S3Config::from_table(&table()).unwrap();
        let clip = ClipRow {
            id: 7,
            camera: "door".into(),
            start_ms: 0,
            end_ms: 0,
            frames: 0,
            motion_frames: 0,
            peak: 0.0,
            bytes: 0,
            in_progress: false,
            stem: "door/2026-12-02/101500-7".into(),
            remote: None,
            local: true,
        };
        assert_eq!(
            config.key(&clip, "mp4").as_ref(),
            "remotecam/door/2026-12-02/101500-7.mp4"
        );
        let bare = S3Config::from_table(&S3Table {
            prefix: Some("/".into()),
            ..table()
        })
        .unwrap();
        assert_eq!(
            bare.key(&clip, "jpg").as_ref(),
            "door/2026-12-02/101500-7.jpg"
        );
    }

    #[test]
    fn bad_tables_are_refused_with_the_reason() {
        for (bad, says) in [
            (
                S3Table {
                    bucket: String::new(),
                    ..table()
                },
                "bucket",
            ),
            (
                S3Table {
                    endpoint: Some("ftp://x".into()),
                    ..table()
                },
                "endpoint",
            ),
            (
                S3Table {
                    access_key_id: Some("a".into()),
                    ..table()
                },
                "go together",
            ),
        ] {
            let err = S3Config::from_table(&bad).unwrap_err();
            assert!(matches!(err, UploadError::Config(_)), "{err}");
            assert!(err.to_string().contains(says), "{err}");
        }
    }
}
