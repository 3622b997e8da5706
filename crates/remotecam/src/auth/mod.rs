//! Access control: the hub's token, scoped tokens, and who is trusted without a token.
//!
//! Cameras are private by default. A request is let in when it comes from loopback
//! (127.0.0.1 or ::1, unless `--trust-loopback false`) or carries a token in one of
//! three places: the `remotecam_token` cookie (set when a page is opened with `?token=`),
//! an `Authorization: Bearer` header, or a `?token=` query parameter (for tools such as
//! VLC or Home Assistant that cannot set headers). The hub's own token (the file `token`)
//! and trusted addresses may do everything; a scoped token ([`tokens`]) what its role
//! and cameras allow ([`grant`]).

pub mod grant;
pub mod sealed;
pub mod tokens;

use std::net::IpAddr;
use std::path::Path;

use anyhow::Context;
use axum::http::{HeaderMap, header};

pub use grant::{Action, Cameras, Denied, Ended, Grant, Need};
pub use tokens::{Role, TokenStore};

pub const COOKIE: &str = "remotecam_token";

/// A request let in, and where its token was (or that it needed none).
#[derive(Debug, Clone)]
pub struct Admitted {
    pub grant: Grant,
    pub via: Via,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// From a trusted address, with no token that let it in.
    Trusted,
    /// A token in the cookie or header.
    Header,
    /// A token in the `?token=` query parameter.
    Query,
}

/// Why a request was not let in (HTTP 401).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Missing,
    Wrong,
    /// A scoped token past its expiry.
    Expired,
}

#[derive(Debug)]
pub struct Auth {
    token: String,
    trust_loopback: bool,
    tokens: TokenStore,
}

enum Found {
    Hub,
    Scoped(std::sync::Arc<tokens::Held>),
    Expired,
}

impl Auth {
    pub fn new(token: String, trust_loopback: bool, tokens: TokenStore) -> Auth {
        Auth {
            token,
            trust_loopback,
            tokens,
        }
    }

    /// The hub's own token.
    pub fn token(&self) -> &str {
        &self.token
    }

    pub fn tokens(&self) -> &TokenStore {
        &self.tokens
    }

    /// Whether a request from `peer` is let in without a token.
    pub fn trusts(&self, peer: Option<IpAddr>) -> bool {
        self.trust_loopback && peer.is_some_and(is_trusted_loopback)
    }

    /// Decides on a request from `peer` with these headers and raw query string.
    pub fn check(
        &self,
        peer: Option<IpAddr>,
        headers: &HeaderMap,
        query: Option<&str>,
    ) -> Result<Admitted, Refused> {
        // A right token in the query wins even for trusted clients: a page opened with
        // it then gets the cookie, wherever it was opened; and a scoped token sent from
        // a trusted address gets what its scope allows (a share link tried out on the
        // hub's own machine shows what its receiver will see).
        let offered = query_token(query).map(|t| (t, Via::Query)).into_iter();
        self.check_offered(
            peer,
            offered.chain(header_tokens(headers).map(|t| (t, Via::Header))),
        )
    }

    /// Decides on a client from `peer` that offers these tokens, the first right one
    /// winning (the RTSP listener's: `?token=`, a Basic password).
    pub fn check_offered<'a>(
        &self,
        peer: Option<IpAddr>,
        offered: impl Iterator<Item = (&'a str, Via)>,
    ) -> Result<Admitted, Refused> {
        let mut expired = false;
        let mut any = false;
        let mut refreshed = false;
        for (candidate, via) in offered {
            any = true;
            let grant = match self.find(candidate, &mut refreshed) {
                Some(Found::Hub) => Grant::everything(Some(candidate)),
                Some(Found::Scoped(held)) => Grant::scoped(held, candidate),
                Some(Found::Expired) => {
                    expired = true;
                    continue;
                }
                None => continue,
            };
            return Ok(Admitted { grant, via });
        }
        self.untokened(peer, expired, any)
    }

    /// The grant of the token a proof is of (`proves`: whether the client's proof
    /// holds for a token; RTSP's Digest answers), the hub's own or a scoped one the hub
    /// can read back; `None` when it proves none of them.
    pub fn check_proof(&self, proves: impl Fn(&str) -> bool) -> Option<Result<Grant, Refused>> {
        if proves(&self.token) {
            return Some(Ok(Grant::everything(Some(&self.token))));
        }
        self.tokens.reload_if_changed();
        let held = self
            .tokens
            .readable()
            .into_iter()
            .find(|h| h.secret().is_some_and(&proves))?;
        if held.record.expired(jiff::Timestamp::now()) {
            return Some(Err(Refused::Expired));
        }
        let secret = held.secret().unwrap_or_default().to_owned();
        Some(Ok(Grant::scoped(held, &secret)))
    }

    /// A client no token let in: trusted, or refused for the reason its tokens say.
    pub fn untokened(
        &self,
        peer: Option<IpAddr>,
        expired: bool,
        any: bool,
    ) -> Result<Admitted, Refused> {
        if self.trusts(peer) {
            Ok(Admitted {
                grant: Grant::everything(None),
                via: Via::Trusted,
            })
        } else if expired {
            Err(Refused::Expired)
        } else if any {
            Err(Refused::Wrong)
        } else {
            Err(Refused::Missing)
        }
    }

    /// What `candidate` is; the tokens file is looked at once per request (`refreshed`),
    /// and not for the hub's own token.
    fn find(&self, candidate: &str, refreshed: &mut bool) -> Option<Found> {
        if constant_time_eq(candidate.as_bytes(), self.token.as_bytes()) {
            return Some(Found::Hub);
        }
        if !std::mem::replace(refreshed, true) {
            self.tokens.reload_if_changed();
        }
        let held = self.tokens.find(candidate)?;
        Some(if held.record.expired(jiff::Timestamp::now()) {
            Found::Expired
        } else {
            Found::Scoped(held)
        })
    }
}

/// Loopback as local programs reach it: 127.0.0.1 and ::1 (also IPv4-mapped). The rest
/// of 127.0.0.0/8 is not trusted, which lets tests stand in for another machine.
pub fn is_trusted_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4 == std::net::Ipv4Addr::LOCALHOST,
        IpAddr::V6(v6) => {
            v6 == std::net::Ipv6Addr::LOCALHOST
                || v6.to_ipv4_mapped() == Some(std::net::Ipv4Addr::LOCALHOST)
        }
    }
}

fn header_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    let bearer = headers
        .get_all(header::AUTHORIZATION)
        .into_iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.strip_prefix("Bearer ").map(str::trim));
    let cookies = headers
        .get_all(header::COOKIE)
        .into_iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().strip_prefix(COOKIE)?.strip_prefix('='));
    bearer.chain(cookies)
}

/// The value of `token=` in a raw query string.
pub fn query_token(query: Option<&str>) -> Option<&str> {
    query?.split('&').find_map(|kv| kv.strip_prefix("token="))
}

/// The query string without its `token` parameter (for the redirect after the cookie is
/// set, so the token does not stay in the address bar or history).
pub fn query_without_token(query: &str) -> String {
    query
        .split('&')
        .filter(|kv| !kv.starts_with("token=") && !kv.is_empty())
        .collect::<Vec<_>>()
        .join("&")
}

/// Whether two secrets are equal, in time that does not depend on where they differ.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Reads the token saved in `data_dir/token`, or makes one (128 random bits, hex) and
/// saves it readable by the owner only.
pub fn load_or_create_token(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join("token");
    match std::fs::read_to_string(&path) {
        Ok(s) if !s.trim().is_empty() => return Ok(s.trim().to_owned()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let token = random_hex(16).map_err(|e| anyhow::anyhow!("no system randomness: {e}"))?;
    crate::files::replace(&path, format!("{token}\n").as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(token)
}

/// `bytes` random bytes in hex.
pub(crate) fn random_hex(bytes: usize) -> Result<String, getrandom::Error> {
    let mut raw = vec![0u8; bytes];
    getrandom::fill(&mut raw)?;
    Ok(hex(&raw))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn auth() -> Auth {
        Auth::new("s3cret".into(), true, TokenStore::default())
    }

    fn via(result: Result<Admitted, Refused>) -> Result<Via, Refused> {
        result.map(|a| a.via)
    }

    #[test]
    fn loopback_is_trusted_only_when_enabled() {
        let h = HeaderMap::new();
        let local = Some("127.0.0.1".parse().unwrap());
        assert_eq!(via(auth().check(local, &h, None)), Ok(Via::Trusted));
        let untrusting = Auth::new("s3cret".into(), false, TokenStore::default());
        assert_eq!(
            via(untrusting.check(local, &h, None)),
            Err(Refused::Missing)
        );
        let other = Some("127.0.0.2".parse().unwrap());
        assert_eq!(via(auth().check(other, &h, None)), Err(Refused::Missing));
        assert_eq!(
            via(auth().check(Some("::ffff:127.0.0.1".parse().unwrap()), &h, None)),
            Ok(Via::Trusted)
        );
    }

    #[test]
    fn token_in_header_cookie_or_query() {
        let lan = Some("192.0.2.9".parse().unwrap());
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer s3cret"),
        );
        assert_eq!(via(auth().check(lan, &h, None)), Ok(Via::Header));
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; remotecam_token=s3cret"),
        );
        assert_eq!(via(auth().check(lan, &h, None)), Ok(Via::Header));
        let h = HeaderMap::new();
        let admitted = auth().check(lan, &h, Some("x=1&token=s3cret")).unwrap();
        assert_eq!(admitted.via, Via::Query);
        assert_eq!(admitted.grant.token(), Some("s3cret"));
        assert_eq!(admitted.grant.role(), Role::Admin);
        assert_eq!(
            via(auth().check(lan, &h, Some("token=nope"))),
            Err(Refused::Wrong)
        );
    }

    #[test]
    fn a_scoped_token_gets_its_scope_and_an_expired_one_is_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::open(dir.path());
        let new = |expires| tokens::NewToken {
            name: String::new(),
            role: Role::Viewer,
            cameras: vec!["door".into()],
            expires,
        };
        let (viewer, _) = store.add(new(None)).unwrap();
        let soon = jiff::Timestamp::now() + jiff::SignedDuration::from_millis(50);
        let (expiring, _) = store.add(new(Some(soon))).unwrap();
        let auth = Auth::new("s3cret".into(), true, store);
        let h = HeaderMap::new();
        // From a trusted address too: the token's scope, not everything.
        let local = Some("127.0.0.1".parse().unwrap());
        let admitted = auth
            .check(local, &h, Some(&format!("token={viewer}")))
            .unwrap();
        assert_eq!(admitted.grant.role(), Role::Viewer);
        assert_eq!(admitted.grant.cameras(), Some(&["door".to_owned()][..]));
        let lan = Some("192.0.2.9".parse().unwrap());
        while jiff::Timestamp::now() <= soon {
            std::thread::yield_now();
        }
        assert_eq!(
            via(auth.check(lan, &h, Some(&format!("token={expiring}")))),
            Err(Refused::Expired)
        );
    }

    #[test]
    fn redirect_query_drops_token() {
        assert_eq!(query_without_token("token=abc"), "");
        assert_eq!(query_without_token("a=1&token=abc&b=2"), "a=1&b=2");
    }

    #[test]
    fn token_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_create_token(dir.path()).unwrap();
        assert_eq!(a.len(), 32);
        assert_eq!(load_or_create_token(dir.path()).unwrap(), a);
    }
}
