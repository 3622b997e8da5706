//! Who an RTSP request is: the hub's rules for HTTP ([`crate::auth`]), with the token
//! where RTSP clients put a password. A URL's `rtsp://user:token@host/...` becomes
//! Basic (RFC 7617) or Digest (RFC 2617, MD5, with or without `qop=auth`)
//! authentication, whichever the client picks of the two challenges a 401 carries;
//! the user name is anything. A `?token=` in the URL works too, as on HTTP.
//!
//! Digest proves the password without sending it, so the hub must know the password:
//! it knows its own token, and reads a scoped token back from its seal
//! (`auth/sealed.rs`); a token made before seals works with Basic and `?token=`.

use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest as _, Md5};
use remotecam_core::rtsp::Request;

use crate::auth::{Admitted, Auth, Refused, Via};

pub const REALM: &str = "remotecam";

/// The `WWW-Authenticate` values of a 401: Digest first, the stronger.
pub fn challenges(nonce: &str) -> [String; 2] {
    [
        format!("Digest realm=\"{REALM}\", nonce=\"{nonce}\", algorithm=MD5"),
        format!("Basic realm=\"{REALM}\""),
    ]
}

/// Decides on `request` from `peer`; `nonce` is the one this connection's challenges
/// carry.
pub fn check(
    auth: &Auth,
    peer: IpAddr,
    request: &Request,
    nonce: &str,
) -> Result<Admitted, Refused> {
    let mut passwords = Vec::new();
    let mut digest_failed = false;
    for value in request.headers_named("Authorization") {
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        if scheme.eq_ignore_ascii_case("Basic") {
            if let Some(password) = basic_password(rest) {
                passwords.push(password);
            } else {
                digest_failed = true;
            }
        } else if scheme.eq_ignore_ascii_case("Digest") {
            let proof = Digest::parse(rest).filter(|d| d.nonce == nonce);
            let checked = proof.and_then(|d| {
                auth.check_proof(|password| d.proves(password, &request.method_name))
            });
            match checked {
                Some(Ok(grant)) => {
                    return Ok(Admitted {
                        grant,
                        via: Via::Header,
                    });
                }
                Some(Err(refused)) => return Err(refused),
                None => digest_failed = true,
            }
        }
    }
    let query = crate::auth::query_token(request.query()).map(|t| (t, Via::Query));
    let basic = passwords.iter().map(|p| (p.as_str(), Via::Header));
    match auth.check_offered(Some(peer), query.into_iter().chain(basic)) {
        Err(Refused::Missing) if digest_failed => auth.untokened(Some(peer), false, true),
        other => other,
    }
}

/// The password of a Basic `Authorization` value (after the scheme).
fn basic_password(encoded: &str) -> Option<String> {
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (_, password) = text.split_once(':')?;
    Some(password.to_owned())
}

/// A Digest `Authorization` value's parameters.
#[derive(Debug, Default, PartialEq, Eq)]
struct Digest {
    username: String,
    realm: String,
    nonce: String,
    uri: String,
    response: String,
    qop: Option<String>,
    nc: String,
    cnonce: String,
}

impl Digest {
    /// The parameters after the scheme: `key="value"` or `key=token`, comma-separated.
    fn parse(params: &str) -> Option<Digest> {
        let mut d = Digest::default();
        let mut rest = params.trim();
        while !rest.is_empty() {
            let (key, after) = rest.split_once('=')?;
            let key = key.trim().to_ascii_lowercase();
            let after = after.trim_start();
            let (value, next) = match after.strip_prefix('"') {
                Some(quoted) => {
                    let end = quoted.find('"')?;
                    (&quoted[..end], &quoted[end + 1..])
                }
                None => match after.find(',') {
                    Some(end) => (after[..end].trim_end(), &after[end..]),
                    None => (after.trim_end(), ""),
                },
            };
            let value = value.to_owned();
            match key.as_str() {
                "username" => d.username = value,
                "realm" => d.realm = value,
                "nonce" => d.nonce = value,
                "uri" => d.uri = value,
                "response" => d.response = value.to_ascii_lowercase(),
                "qop" => d.qop = Some(value),
                "nc" => d.nc = value,
                "cnonce" => d.cnonce = value,
                _ => {}
            }
            rest = next.trim_start().trim_start_matches(',').trim_start();
        }
        Some(d)
    }

    /// Whether the response proves `password` for a request of `method`.
    fn proves(&self, password: &str, method: &str) -> bool {
        let ha1 = md5_hex(&format!("{}:{}:{password}", self.username, self.realm));
        let ha2 = md5_hex(&format!("{method}:{}", self.uri));
        let expected = match self.qop.as_deref() {
            Some(qop) => md5_hex(&format!(
                "{ha1}:{}:{}:{}:{qop}:{ha2}",
                self.nonce, self.nc, self.cnonce
            )),
            None => md5_hex(&format!("{ha1}:{}:{ha2}", self.nonce)),
        };
        self.realm == REALM
            && crate::auth::constant_time_eq(expected.as_bytes(), self.response.as_bytes())
    }
}

fn md5_hex(text: &str) -> String {
    crate::auth::hex(&Md5::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::TokenStore;
    use bytes::Bytes;
    use remotecam_core::rtsp::Method;

    fn request(uri: &str, authorization: &[String]) -> Request {
        Request {
            method: Method::Describe,
            method_name: "DESCRIBE".into(),
            uri: uri.into(),
            headers: authorization
                .iter()
                .map(|a| ("Authorization".to_owned(), a.clone()))
                .collect(),
            body: Bytes::new(),
        }
    }

    const LAN: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 9));
    const URI: &str = "rtsp://192.0.2.1:8554/door";

    fn auth() -> Auth {
        Auth::new("s3cret".into(), true, TokenStore::default())
    }

    /// A Digest answer as a client makes it (RFC 2617 3.2.2).
    fn digest(user: &str, password: &str, nonce: &str, qop: bool) -> String {
        let ha1 = md5_hex(&format!("{user}:{REALM}:{password}"));
        let ha2 = md5_hex(&format!("DESCRIBE:{URI}"));
        if qop {
            let response = md5_hex(&format!("{ha1}:{nonce}:00000001:abcd:auth:{ha2}"));
            format!(
                "Digest username=\"{user}\", realm=\"{REALM}\", nonce=\"{nonce}\", \
                 uri=\"{URI}\", response=\"{response}\", qop=auth, nc=00000001, cnonce=\"abcd\""
            )
        } else {
            let response = md5_hex(&format!("{ha1}:{nonce}:{ha2}"));
            format!(
                "Digest username=\"{user}\", realm=\"{REALM}\", nonce=\"{nonce}\", \
                 uri=\"{URI}\", response=\"{response}\""
            )
        }
    }

    #[test]
    fn digest_with_any_user_name_and_the_hubs_token() {
        for qop in [false, true] {
            let ok = request(URI, &[digest("anyone", "s3cret", "n1", qop)]);
            assert!(check(&auth(), LAN, &ok, "n1").is_ok(), "qop {qop}");
            let wrong = request(URI, &[digest("anyone", "guess", "n1", qop)]);
            assert_eq!(
                check(&auth(), LAN, &wrong, "n1").unwrap_err(),
                Refused::Wrong
            );
            let replayed = request(URI, &[digest("anyone", "s3cret", "old", qop)]);
            assert_eq!(
                check(&auth(), LAN, &replayed, "n1").unwrap_err(),
                Refused::Wrong,
                "another connection's nonce"
            );
        }
    }

    #[test]
    fn digest_with_a_scoped_token_gets_its_scope() {
        use crate::auth::tokens::{NewToken, Role};
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "s3cret").unwrap();
        let store = TokenStore::open(dir.path());
        let new = NewToken {
            name: String::new(),
            role: Role::Viewer,
            cameras: vec!["door".into()],
            expires: None,
        };
        let (viewer, _) = store.add(new).unwrap();
        let auth = Auth::new("s3cret".into(), true, store);
        let ok = request(URI, &[digest("frigate", &viewer, "n1", true)]);
        let admitted = check(&auth, LAN, &ok, "n1").unwrap();
        assert_eq!(admitted.grant.cameras(), Some(&["door".to_owned()][..]));
        let wrong = request(URI, &[digest("frigate", "guess", "n1", true)]);
        assert_eq!(check(&auth, LAN, &wrong, "n1").unwrap_err(), Refused::Wrong);
    }

    #[test]
    fn basic_query_and_trusted_loopback_as_on_http() {
        let basic = |pair: &str| format!("Basic {}", STANDARD.encode(pair));
        let ok = request(URI, &[basic("admin:s3cret")]);
        assert_eq!(check(&auth(), LAN, &ok, "n").unwrap().via, Via::Header);
        let wrong = request(URI, &[basic("admin:nope")]);
        assert_eq!(
            check(&auth(), LAN, &wrong, "n").unwrap_err(),
            Refused::Wrong
        );
        let none = request(URI, &[]);
        assert_eq!(
            check(&auth(), LAN, &none, "n").unwrap_err(),
            Refused::Missing
        );
        let query = request(&format!("{URI}?token=s3cret"), &[]);
        assert_eq!(check(&auth(), LAN, &query, "n").unwrap().via, Via::Query);
        let local = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
        assert_eq!(check(&auth(), local, &none, "n").unwrap().via, Via::Trusted);
        let garbage = request(URI, &["Basic %%%".into(), "Digest x".into()]);
        assert_eq!(
            check(&auth(), LAN, &garbage, "n").unwrap_err(),
            Refused::Wrong
        );
    }

    #[test]
    fn digest_parameters_quoted_or_not_in_any_order() {
        let d = Digest::parse(
            "response=\"ABC\",username=\"a, b\" ,realm=remotecam, nonce=\"n\", uri=\"rtsp://h/x\"",
        )
        .unwrap();
        assert_eq!(d.username, "a, b");
        assert_eq!(d.realm, "remotecam");
        assert_eq!(d.response, "abc");
        assert_eq!(d.uri, "rtsp://h/x");
        assert!(Digest::parse("username=\"unterminated").is_none());
    }
}
