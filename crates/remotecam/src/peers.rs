//! Other hubs (`[[peers]]`): their cameras and clips on this hub's pages, read through
//! their own API with a token of theirs (a viewer token is enough), passed through as
//! they come: nothing of a peer is copied or kept here, and its video is fetched only
//! while someone here watches it.

use std::time::Duration;

use axum::http::HeaderMap;

use crate::config::PeerTable;
use crate::source::camera_tls::{Trust, config};

/// The most peers a hub lists.
pub const MAX_PEERS: usize = 32;

/// How long a peer has to connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a peer may take to answer a request (its headers; a stream then goes on).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a peer's stream may send nothing (an offline camera's stream still sends its
/// no-signal picture every second).
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// A peer, checked, with its HTTP client.
#[derive(Debug, Clone)]
pub struct Peer {
    /// What this hub calls it (`[a-z0-9_-]`): the pages mark its cameras with it.
    pub name: String,
    /// Where it is, without a trailing slash: `https://cabin.local:8443`.
    pub url: String,
    token: String,
    client: reqwest::Client,
}

impl Peer {
    pub fn from_table(table: &PeerTable) -> Result<Peer, String> {
        let at = |what: &str| format!("peers '{}': {what}", table.name);
        let name = crate::hub::camera_name(&table.name).map_err(|e| at(&e.to_string()))?;
        let url = url::Url::parse(&table.url).map_err(|e| at(&format!("url: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(at("url: an http:// or https:// address of another hub"));
        }
        if url.path() != "/" || url.query().is_some() || !url.username().is_empty() {
            return Err(at(
                "url: the hub's address alone, such as https://cabin.local:8443",
            ));
        }
        // Plain-HTTP clients too take the process's one crypto provider (ring).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut client = reqwest::Client::builder()
            .user_agent(concat!("remotecam/", env!("CARGO_PKG_VERSION"), " (peer)"))
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none());
        match (url.scheme(), &table.fingerprint) {
            ("https", fingerprint) => {
                // A hub's certificate is self-signed unless it was given one: pinned by
                // its SHA-256, or else the system's authorities.
                let trust = Trust::pinned(fingerprint.as_deref()).ok_or_else(|| {
                    at("fingerprint: the SHA-256 of the hub's certificate, 64 hex digits")
                })?;
                let (tls, _) = config(trust).map_err(|e| at(&e))?;
                client = client.use_preconfigured_tls((*tls).clone());
            }
            (_, Some(_)) => return Err(at("fingerprint needs an https:// url")),
            (_, None) => {}
        }
        Ok(Peer {
            name,
            url: url.as_str().trim_end_matches('/').to_owned(),
            token: table.token.clone(),
            client: client.build().map_err(|e| at(&e.to_string()))?,
        })
    }

    /// `GET /api/<path>?<query>` of the peer, with the headers of `forward` that a
    /// player needs (`Range`). `path` is checked by the caller.
    pub async fn get(
        &self,
        path: &str,
        query: &str,
        forward: &HeaderMap,
    ) -> Result<reqwest::Response, String> {
        let mut url = format!("{}/api/{path}", self.url);
        if !query.is_empty() {
            url = format!("{url}?{query}");
        }
        let mut request = self.client.get(url).bearer_auth(&self.token);
        if let Some(range) = forward.get(axum::http::header::RANGE) {
            request = request.header(reqwest::header::RANGE, range.as_bytes());
        }
        match tokio::time::timeout(ANSWER_TIMEOUT, request.send()).await {
            Err(_) => Err(format!("no answer within {} s", ANSWER_TIMEOUT.as_secs())),
            Ok(Err(e)) => Err(words(&e)),
            Ok(Ok(response)) => Ok(response),
        }
    }
}

/// A request error in words, with its causes (reqwest's own display names only the URL).
fn words(e: &reqwest::Error) -> String {
    let mut text = if e.is_connect() {
        "cannot connect".to_owned()
    } else if e.is_timeout() {
        "timed out".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// The peers of `[[peers]]`, checked: names unique, at most [`MAX_PEERS`].
pub fn from_tables(tables: &[PeerTable]) -> Result<Vec<Peer>, String> {
    if tables.len() > MAX_PEERS {
        return Err(format!("at most {MAX_PEERS} [[peers]]"));
    }
    let mut peers: Vec<Peer> = Vec::with_capacity(tables.len());
    for table in tables {
        let peer = Peer::from_table(table)?;
        if peers.iter().any(|p| p.name == peer.name) {
            return Err(format!("peers '{}': two peers of that name", peer.name));
        }
        peers.push(peer);
    }
    Ok(peers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str, url: &str, fingerprint: Option<&str>) -> PeerTable {
        PeerTable {
            name: name.into(),
            url: url.into(),
            token: "t".into(),
            fingerprint: fingerprint.map(Into::into),
        }
    }

    #[test]
    fn peers_are_checked_with_the_reason() {
        let ok = from_tables(&[
            table("cabin", "https://192.168.2.10:8443/", None),
            table("Shed", "http://shed.local:8100", None),
        ])
        .unwrap();
        assert_eq!(ok[0].url, "https://192.168.2.10:8443");
        assert_eq!(ok[1].name, "shed");
        for (bad, says) in [
            (table("a b", "http://x", None), "'a b'"),
            (table("a", "ftp://x", None), "http:// or https://"),
            (table("a", "http://x/api/cameras", None), "address alone"),
            (table("a", "http://x", Some("ab")), "fingerprint needs"),
            (table("a", "https://x", Some("zz")), "64 hex digits"),
        ] {
            let err = from_tables(&[bad]).unwrap_err();
            assert!(err.contains(says), "{err}");
        }
        let twice = [table("a", "http://x", None), table("a", "http://y", None)];
        assert!(from_tables(&twice).unwrap_err().contains("two peers"));
    }
}
