//! Access control: the access token and who is trusted without it.
//!
//! Cameras are private by default. A request is let in when it comes from loopback
//! (127.0.0.1 or ::1, unless `--trust-loopback false`) or carries the token in one of
//! three places: the `remotecam_token` cookie (set when a page is opened with `?token=`),
//! an `Authorization: Bearer` header, or a `?token=` query parameter (for tools such as
//! VLC or Home Assistant that cannot set headers).

use std::io::Write;
use std::net::IpAddr;
use std::path::Path;

use anyhow::Context;
use axum::http::{HeaderMap, header};

pub const COOKIE: &str = "remotecam_token";

/// How a request stands against the access rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// From a trusted address: no token needed.
    Trusted,
    /// The right token, found in the cookie or header.
    Token,
    /// The right token, found in the `?token=` query parameter.
    QueryToken,
    Missing,
    Wrong,
}

impl Access {
    pub fn allowed(self) -> bool {
        matches!(self, Access::Trusted | Access::Token | Access::QueryToken)
    }
}

#[derive(Debug, Clone)]
pub struct Auth {
    token: String,
    trust_loopback: bool,
}

impl Auth {
    pub fn new(token: String, trust_loopback: bool) -> Auth {
        Auth {
            token,
            trust_loopback,
        }
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    /// Decides on a request from `peer` with these headers and raw query string.
    pub fn check(&self, peer: Option<IpAddr>, headers: &HeaderMap, query: Option<&str>) -> Access {
        let query = query_token(query);
        // A right token in the query wins even for trusted clients: a page opened with
        // it then gets the cookie, wherever it was opened.
        if query.is_some_and(|t| self.matches(t)) {
            return Access::QueryToken;
        }
        let mut offered = query.is_some();
        for candidate in header_tokens(headers) {
            offered = true;
            if self.matches(candidate) {
                return Access::Token;
            }
        }
        if self.trust_loopback && peer.is_some_and(is_trusted_loopback) {
            Access::Trusted
        } else if offered {
            Access::Wrong
        } else {
            Access::Missing
        }
    }

    fn matches(&self, candidate: &str) -> bool {
        constant_time_eq(candidate.as_bytes(), self.token.as_bytes())
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

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
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
    let mut raw = [0u8; 16];
    getrandom::fill(&mut raw).map_err(|e| anyhow::anyhow!("no system randomness: {e}"))?;
    let token: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    writeln!(file, "{token}").with_context(|| format!("writing {}", path.display()))?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn auth() -> Auth {
        Auth::new("s3cret".into(), true)
    }

    #[test]
    fn loopback_is_trusted_only_when_enabled() {
        let h = HeaderMap::new();
        let local = Some("127.0.0.1".parse().unwrap());
        assert_eq!(auth().check(local, &h, None), Access::Trusted);
        assert_eq!(
            Auth::new("s3cret".into(), false).check(local, &h, None),
            Access::Missing
        );
        let other = Some("127.0.0.2".parse().unwrap());
        assert_eq!(auth().check(other, &h, None), Access::Missing);
        assert_eq!(
            auth().check(Some("::ffff:127.0.0.1".parse().unwrap()), &h, None),
            Access::Trusted
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
        assert_eq!(auth().check(lan, &h, None), Access::Token);
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; remotecam_token=s3cret"),
        );
        assert_eq!(auth().check(lan, &h, None), Access::Token);
        let h = HeaderMap::new();
        assert_eq!(
            auth().check(lan, &h, Some("x=1&token=s3cret")),
            Access::QueryToken
        );
        assert_eq!(auth().check(lan, &h, Some("token=nope")), Access::Wrong);
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
