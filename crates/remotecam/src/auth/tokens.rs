//! Scoped tokens: made by `remotecam token add` or `POST /api/tokens`, each with a role,
//! optionally limited to cameras and with an expiry, kept in `tokens.json` in the data
//! directory as their SHA-256 (a token is 128 random bits: a fast hash is enough) and
//! sealed for the hub alone (`sealed.rs`: RTSP's Digest authentication needs it back).
//!
//! The hub and the command line both change the file: under a lock, read afresh, replaced
//! whole. The hub reads it again when it changes (it looks at each request with a scoped
//! token, and every second), so a token revoked from the command line is refused from the
//! next request and its open streams close within a second; one revoked through the API
//! at once ([`Held::revoked`]). A file the
//! hub cannot read lets no scoped token in (the hub's own token still works): a revoked
//! token must never come back because the file broke.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::sealed::{SealingKey, Secret};

pub const FILE: &str = "tokens.json";

/// The most tokens a hub keeps: every list the hub holds is bounded.
pub const MAX_TOKENS: usize = 1000;

/// A tokens file larger than this is not read (it holds at most [`MAX_TOKENS`] short
/// records).
const MAX_FILE_BYTES: u64 = 4 << 20;

/// What a token may do. Each role may do what the ones before it may.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Watch cameras (live, snapshots, motion status) and their recordings.
    Viewer,
    /// Watch, and publish a camera from the publisher page or a program.
    Publisher,
    /// Everything: settings, deleting, tokens.
    Admin,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Publisher => "publisher",
            Role::Admin => "admin",
        }
    }
}

/// A token as the file keeps it: never the token itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRecord {
    /// Names the token for listing and revoking; not secret.
    pub id: String,
    /// What the token is for, as its maker wrote it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub role: Role,
    /// The cameras it opens; empty: every camera.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cameras: Vec<String>,
    pub created: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<Timestamp>,
    /// The SHA-256 of the token, in hex.
    pub sha256: String,
    /// The token sealed for the hub alone (`sealed.rs`), for RTSP's Digest
    /// authentication; tokens made before it have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<String>,
}

impl TokenRecord {
    pub fn expired(&self, now: Timestamp) -> bool {
        self.expires.is_some_and(|t| t <= now)
    }

    /// The page its receiver should open, with the token: the publisher page for a
    /// publisher, the camera's page for a token of one camera, else the dashboard.
    pub fn share_path(&self, token: &str) -> String {
        match (self.role, self.cameras.as_slice()) {
            (Role::Publisher, [camera]) => format!("/publish?camera={camera}&token={token}"),
            (Role::Publisher, _) => format!("/publish?token={token}"),
            (_, [camera]) => format!("/cameras/{camera}?token={token}"),
            _ => format!("/?token={token}"),
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenFile {
    tokens: Vec<TokenRecord>,
}

/// What a new token is to be.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub name: String,
    pub role: Role,
    pub cameras: Vec<String>,
    pub expires: Option<Timestamp>,
}

/// A token the hub accepts, as long as it is held: revoking it (or the file losing it)
/// sends `true` to everyone watching [`Held::revoked`].
#[derive(Debug)]
pub struct Held {
    pub record: TokenRecord,
    /// The token itself, from its seal.
    secret: Option<Secret>,
    revoked: watch::Sender<bool>,
}

impl Held {
    /// The token itself, where the hub can open its seal.
    pub fn secret(&self) -> Option<&str> {
        self.secret.as_ref().map(|s| s.0.as_str())
    }

    /// Becomes `true` when the token is revoked.
    pub fn revoked(&self) -> watch::Receiver<bool> {
        self.revoked.subscribe()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{0}")]
    Invalid(String),
    #[error("the hub keeps at most {MAX_TOKENS} tokens: revoke some first")]
    Full,
    #[error("no system randomness: {0}")]
    NoRandomness(#[from] getrandom::Error),
    #[error("{}: {source}", path.display())]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// File identity and version: a change of any means the file was replaced or written.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        Stamp {
            modified: meta.modified().ok(),
            len: meta.len(),
            inode: meta.ino(),
        }
    }
}

#[derive(Debug, Default)]
struct Accepted {
    by_hash: HashMap<[u8; 32], Arc<Held>>,
    /// The file as last read (`None`: there was none).
    stamp: Option<Stamp>,
}

/// The scoped tokens a hub accepts, and their file.
#[derive(Debug, Default)]
pub struct TokenStore {
    /// `None`: a hub without a data directory (tests), which keeps no tokens.
    path: Option<PathBuf>,
    /// Made from the hub's token, when the data directory has one.
    key: Option<SealingKey>,
    accepted: Mutex<Accepted>,
}

impl TokenStore {
    /// The tokens kept in `data_dir`. A file that cannot be read is logged and accepts
    /// nothing (see the module's comment).
    pub fn open(data_dir: &Path) -> TokenStore {
        let hub_token = std::fs::read_to_string(data_dir.join("token")).ok();
        let store = TokenStore {
            path: Some(data_dir.join(FILE)),
            key: hub_token
                .as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(SealingKey::of_hub_token),
            accepted: Mutex::default(),
        };
        store.reload_if_changed();
        store
    }

    /// The token `candidate`, if it is one of these (expired ones too: the caller tells
    /// the client which it was). The caller calls [`TokenStore::reload_if_changed`]
    /// once per request first, so that a token made or revoked from the command line
    /// counts from the next request.
    pub fn find(&self, candidate: &str) -> Option<Arc<Held>> {
        let hash = sha256(candidate);
        self.lock().by_hash.get(&hash).cloned()
    }

    /// The tokens the hub can read back (for Digest checks), expired ones too.
    pub fn readable(&self) -> Vec<Arc<Held>> {
        self.lock()
            .by_hash
            .values()
            .filter(|h| h.secret.is_some())
            .cloned()
            .collect()
    }

    /// Every token, oldest first.
    pub fn list(&self) -> Vec<TokenRecord> {
        let mut out: Vec<TokenRecord> = self
            .lock()
            .by_hash
            .values()
            .map(|h| h.record.clone())
            .collect();
        out.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.id.cmp(&b.id)));
        out
    }

    /// Makes a token: returns it (the only time it is seen) with its record.
    pub fn add(&self, new: NewToken) -> Result<(String, TokenRecord), TokenError> {
        let now = Timestamp::now();
        if new.expires.is_some_and(|t| t <= now) {
            return Err(TokenError::Invalid("the expiry is in the past".into()));
        }
        if new.name.len() > 200 {
            return Err(TokenError::Invalid(
                "a token's name has at most 200 bytes".into(),
            ));
        }
        if new.cameras.len() > 64 {
            return Err(TokenError::Invalid(
                "a token opens at most 64 cameras by name".into(),
            ));
        }
        let mut cameras = Vec::with_capacity(new.cameras.len());
        for raw in &new.cameras {
            let name = crate::hub::camera_name(raw)
                .map_err(|e| TokenError::Invalid(format!("camera '{raw}': {e}")))?;
            if !cameras.contains(&name) {
                cameras.push(name);
            }
        }
        let secret = super::random_hex(16)?;
        let record = TokenRecord {
            id: String::new(),
            name: new.name,
            role: new.role,
            cameras,
            created: now,
            expires: new.expires,
            sha256: super::hex(&sha256(&secret)),
            sealed: self.key.as_ref().map(|k| k.seal(&secret)).transpose()?,
        };
        let record = self.change(move |tokens| {
            if tokens.len() >= MAX_TOKENS {
                return Err(TokenError::Full);
            }
            let mut record = record;
            record.id = loop {
                let id = super::random_hex(4)?;
                if tokens.iter().all(|t| t.id != id) {
                    break id;
                }
            };
            tokens.push(record.clone());
            Ok(record)
        })?;
        Ok((secret, record))
    }

    /// Revokes the token `id`: `false` if there was none. Its open streams close.
    pub fn revoke(&self, id: &str) -> Result<bool, TokenError> {
        self.change(|tokens| {
            let before = tokens.len();
            tokens.retain(|t| t.id != id);
            Ok(tokens.len() != before)
        })
    }

    /// Reads the file again if it changed since it was last read (a `stat` when not).
    pub fn reload_if_changed(&self) {
        let Some(path) = &self.path else { return };
        let stamp = std::fs::metadata(path).ok().map(|m| Stamp::of(&m));
        if stamp == self.lock().stamp {
            return;
        }
        match read(path) {
            Ok((tokens, stamp)) => self.accept(tokens, stamp),
            Err(e) => {
                tracing::error!(
                    "{e}: no scoped token is accepted until the file is mended or removed"
                );
                self.accept(Vec::new(), stamp);
            }
        }
    }

    /// Read, change and write the file under its lock, then accept what it holds.
    fn change<T>(
        &self,
        edit: impl FnOnce(&mut Vec<TokenRecord>) -> Result<T, TokenError>,
    ) -> Result<T, TokenError> {
        let Some(path) = &self.path else {
            return Err(TokenError::Invalid("this hub keeps no tokens".into()));
        };
        let failed = |source| TokenError::File {
            path: path.clone(),
            source,
        };
        let lock = crate::files::private(&path.with_extension("lock"), false).map_err(failed)?;
        lock.lock().map_err(failed)?;
        let (mut tokens, _) = read(path)?;
        let out = edit(&mut tokens)?;
        write(path, &tokens).map_err(failed)?;
        let stamp = std::fs::metadata(path).map_err(failed)?;
        self.accept(tokens, Some(Stamp::of(&stamp)));
        Ok(out)
    }

    /// Makes `tokens` the accepted ones. A token kept keeps its [`Held`] (its open
    /// streams stay open); one gone is revoked.
    fn accept(&self, tokens: Vec<TokenRecord>, stamp: Option<Stamp>) {
        let mut accepted = self.lock();
        let mut old = std::mem::take(&mut accepted.by_hash);
        for record in tokens.into_iter().take(MAX_TOKENS) {
            let Some(hash) = unhex(&record.sha256) else {
                continue;
            };
            let held = match old.remove(&hash) {
                Some(held) if held.record == record => held,
                _ => Arc::new(Held {
                    secret: self.open_seal(&record, &hash),
                    record,
                    revoked: watch::Sender::new(false),
                }),
            };
            accepted.by_hash.insert(hash, held);
        }
        accepted.stamp = stamp;
        for gone in old.into_values() {
            gone.revoked.send_replace(true);
        }
    }

    /// The token a record's seal holds, if this hub sealed it (and it is the token the
    /// record's hash names).
    fn open_seal(&self, record: &TokenRecord, hash: &[u8; 32]) -> Option<Secret> {
        let secret = self.key.as_ref()?.open(record.sealed.as_deref()?)?;
        (sha256(&secret) == *hash).then_some(Secret(secret))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Accepted> {
        self.accepted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn read(path: &Path) -> Result<(Vec<TokenRecord>, Option<Stamp>), TokenError> {
    let failed = |source| TokenError::File {
        path: path.to_owned(),
        source,
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), None)),
        Err(e) => return Err(failed(e)),
    };
    let stamp = Stamp::of(&file.metadata().map_err(failed)?);
    let mut text = String::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(failed)?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(failed(std::io::Error::other(format!(
            "larger than {} MiB",
            MAX_FILE_BYTES >> 20
        ))));
    }
    let parsed: TokenFile =
        serde_json::from_str(&text).map_err(|e| failed(std::io::Error::other(e)))?;
    Ok((parsed.tokens, Some(stamp)))
}

fn write(path: &Path, tokens: &[TokenRecord]) -> std::io::Result<()> {
    let file = TokenFile {
        tokens: tokens.to_vec(),
    };
    let json = serde_json::to_vec_pretty(&file).map_err(std::io::Error::other)?;
    crate::files::replace(path, &json)
}

fn sha256(text: &str) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    digest.as_ref().try_into().expect("SHA-256 is 32 bytes")
}

fn unhex(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// An expiry as a user writes it: a duration from now (`30m`, `12h`, `7d`, `2w`; also `s`)
/// or an RFC 3339 time (`2026-12-24T18:00:00Z`).
pub fn parse_expiry(text: &str, now: Timestamp) -> Result<Timestamp, String> {
    let text = text.trim();
    if let Ok(t) = text.parse::<Timestamp>() {
        return Ok(t);
    }
    let explain = || {
        format!(
            "expiry '{text}': write a duration such as 30m, 12h, 7d or 2w, or a time such \
             as 2026-12-24T18:00:00Z"
        )
    };
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(explain)?;
    let (number, unit) = text.split_at(split);
    let number: i64 = number.parse().map_err(|_| explain())?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(explain()),
    };
    number
        .checked_mul(unit_secs)
        .filter(|_| number > 0)
        .and_then(|secs| now.checked_add(jiff::SignedDuration::from_secs(secs)).ok())
        .ok_or_else(explain)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn viewer(cameras: &[&str]) -> NewToken {
        NewToken {
            name: "for a friend".into(),
            role: Role::Viewer,
            cameras: cameras.iter().map(|c| c.to_string()).collect(),
            expires: None,
        }
    }

    #[test]
    fn tokens_are_kept_hashed_and_found_by_value() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::open(dir.path());
        let (secret, record) = store.add(viewer(&["Door", "door", "yard"])).unwrap();
        assert_eq!(record.cameras, ["door", "yard"]);
        assert_eq!(store.find(&secret).unwrap().record, record);
        assert!(store.find("nope").is_none());
        let file = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert!(!file.contains(&secret), "{file}");
        assert!(file.contains(&record.sha256));
        // Another process (the command line) sees it, and the hub keeps it across starts.
        assert_eq!(TokenStore::open(dir.path()).list(), [record]);
    }

    #[test]
    fn the_hub_reads_a_token_back_from_its_seal_and_only_its_own() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "hub-token\n").unwrap();
        let (secret, record) = TokenStore::open(dir.path()).add(viewer(&[])).unwrap();
        assert!(record.sealed.is_some());
        let again = TokenStore::open(dir.path());
        let readable = again.readable();
        assert_eq!(readable.len(), 1);
        assert_eq!(readable[0].secret(), Some(secret.as_str()));
        assert!(!format!("{readable:?}").contains(&secret), "never printed");
        // Another hub token: the seal stays shut, the token still works by its hash.
        std::fs::write(dir.path().join("token"), "changed\n").unwrap();
        let changed = TokenStore::open(dir.path());
        assert!(changed.readable().is_empty());
        assert!(changed.find(&secret).is_some());
    }

    #[test]
    fn revoking_ends_the_held_token_and_keeps_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::open(dir.path());
        let (a, ra) = store.add(viewer(&[])).unwrap();
        let (b, _) = store.add(viewer(&[])).unwrap();
        let held_a = store.find(&a).unwrap();
        let held_b = store.find(&b).unwrap();
        assert!(store.revoke(&ra.id).unwrap());
        assert!(!store.revoke(&ra.id).unwrap());
        assert!(*held_a.revoked().borrow());
        assert!(!*held_b.revoked().borrow());
        assert!(store.find(&a).is_none());
        assert!(Arc::ptr_eq(&store.find(&b).unwrap(), &held_b));
    }

    #[test]
    fn a_change_by_another_process_is_seen_and_revokes() {
        let dir = tempfile::tempdir().unwrap();
        let hub = TokenStore::open(dir.path());
        let cli = TokenStore::open(dir.path());
        let (secret, record) = cli.add(viewer(&["door"])).unwrap();
        assert!(hub.find(&secret).is_none());
        // What the hub does before it looks a request's token up.
        hub.reload_if_changed();
        let held = hub.find(&secret).unwrap();
        cli.revoke(&record.id).unwrap();
        // What the hub does every second for the open streams.
        hub.reload_if_changed();
        assert!(*held.revoked().borrow());
        assert!(hub.find(&secret).is_none());
    }

    #[test]
    fn a_broken_file_accepts_nothing_until_mended() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::open(dir.path());
        let (secret, _) = store.add(viewer(&[])).unwrap();
        let held = store.find(&secret).unwrap();
        let path = dir.path().join(FILE);
        let good = std::fs::read(&path).unwrap();
        std::fs::write(&path, b"{\"tokens\": [").unwrap();
        store.reload_if_changed();
        assert!(store.find(&secret).is_none());
        assert!(*held.revoked().borrow());
        // Adding refuses to write over what it cannot read.
        assert!(matches!(
            store.add(viewer(&[])),
            Err(TokenError::File { .. })
        ));
        std::fs::write(&path, good).unwrap();
        store.reload_if_changed();
        assert!(store.find(&secret).is_some());
    }

    #[test]
    fn bad_requests_are_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::open(dir.path());
        let past = Timestamp::now() - jiff::SignedDuration::from_secs(1);
        let mut new = viewer(&[]);
        new.expires = Some(past);
        assert!(store.add(new).unwrap_err().to_string().contains("past"));
        let err = store.add(viewer(&["front door"])).unwrap_err();
        assert!(err.to_string().contains("front door"), "{err}");
        assert!(store.list().is_empty());
        assert!(TokenStore::default().add(viewer(&[])).is_err());
    }

    #[test]
    fn expiries_as_users_write_them() {
        let now: Timestamp = "2026-12-02T10:00:00Z".parse().unwrap();
        let at = |t: &str| parse_expiry(t, now).map(|t| t.to_string());
        assert_eq!(at("7d").unwrap(), "2026-12-09T10:00:00Z");
        assert_eq!(at("90m").unwrap(), "2026-12-02T11:30:00Z");
        assert_eq!(at("2w").unwrap(), "2026-12-16T10:00:00Z");
        assert_eq!(at("2026-12-24T18:00:00Z").unwrap(), "2026-12-24T18:00:00Z");
        for bad in ["", "7", "d", "7y", "0d", "-1d", "99999999999999d"] {
            assert!(at(bad).is_err(), "{bad}");
        }
    }
}
