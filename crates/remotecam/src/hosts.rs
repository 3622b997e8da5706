//! The hub's own names: the only `Host` values it answers to.
//!
//! A page on another site can make the browser send requests to the hub by giving its
//! own name a DNS record that points at the hub's address (DNS rebinding): the browser
//! then treats the hub as part of that site, the request comes from loopback (trusted)
//! and its `Origin` matches its `Host`. What gives such a request away is its `Host`: a
//! name that is not one of the hub's. So every request whose `Host` (or, in HTTP/2, its
//! authority) is not one of the names below is refused before anything else:
//!
//! - `localhost` and names under `.localhost` (browsers resolve them to loopback
//!   themselves, never through DNS);
//! - any IP address: a browser sends an address as `Host` only when the page itself was
//!   opened at that address, so there is no name to rebind;
//! - the machine's host name and `<host name>.local`;
//! - the names in the HTTPS certificate (the generated one or the user's own);
//! - the names in `allowed_hosts` (config file or `--allowed-hosts`).
//!
//! A request without any `Host` (HTTP/1.0 tools) is let through: browsers always send it.

use std::collections::BTreeSet;
use std::net::IpAddr;

/// The set of names the hub answers to, lower-cased, without a trailing dot.
#[derive(Debug, Clone, Default)]
pub struct HostNames {
    names: BTreeSet<String>,
}

impl HostNames {
    /// The machine's own names plus `extra` (certificate names, configured names).
    pub fn new<'a>(hostname: &str, extra: impl IntoIterator<Item = &'a str>) -> HostNames {
        let mut names = BTreeSet::new();
        let mut add = |n: &str| {
            let n = normalise(n);
            if !n.is_empty() {
                names.insert(n);
            }
        };
        if !hostname.is_empty() {
            add(hostname);
            if !hostname.contains('.') {
                add(&format!("{hostname}.local"));
            }
        }
        for name in extra {
            add(name);
        }
        HostNames { names }
    }

    /// The names besides `localhost` and IP addresses, for messages and logs.
    pub fn listed(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    /// Whether `authority` (`host`, `host:port`, `[v6]:port`) names this hub.
    pub fn accepts(&self, authority: &str) -> bool {
        let host = host_part(authority);
        if host.parse::<IpAddr>().is_ok() {
            return true;
        }
        let host = normalise(host);
        host == "localhost" || host.ends_with(".localhost") || self.names.contains(&host)
    }
}

/// The host of an authority, without its port and brackets.
fn host_part(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("");
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    }
}

fn normalise(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// The DNS names (and addresses) a PEM certificate is issued for, from its subject
/// alternative names; empty when it cannot be read (the TLS listener reports that).
pub fn certificate_names(pem: &str) -> Vec<String> {
    use x509_parser::extensions::GeneralName;
    let Ok((_, pem)) = x509_parser::pem::parse_x509_pem(pem.as_bytes()) else {
        return Vec::new();
    };
    let Ok(cert) = pem.parse_x509() else {
        return Vec::new();
    };
    let Ok(Some(names)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    names
        .value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some((*dns).to_owned()),
            GeneralName::IPAddress(octets) => match octets.len() {
                4 => <[u8; 4]>::try_from(*octets)
                    .ok()
                    .map(|a| IpAddr::from(a).to_string()),
                16 => <[u8; 16]>::try_from(*octets)
                    .ok()
                    .map(|a| IpAddr::from(a).to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_names_and_addresses_pass_others_do_not() {
        let hosts = HostNames::new("Box", ["cam.example.org.", "*.ignored"]);
        for ok in [
            "localhost",
            "localhost:8100",
            "LOCALHOST.:8443",
            "app.localhost:8100",
            "127.0.0.1:8100",
            "127.0.0.2",
            "192.168.1.5:8443",
            "[::1]:8100",
            "[fe80::1]",
            "box:8100",
            "box.local",
            "BOX.LOCAL.:8443",
            "cam.example.org",
        ] {
            assert!(hosts.accepts(ok), "{ok} should be accepted");
        }
        for refused in [
            "evil.example:8100",
            "evil.example",
            "localhost.evil.example",
            "box.evil.example",
            "127.0.0.1.nip.io:8100",
            "example.org",
            "",
        ] {
            assert!(!hosts.accepts(refused), "{refused} should be refused");
        }
    }

    #[test]
    fn a_certificate_names_its_hosts() {
        let (pem, _) =
            crate::tls::generate(&["cam.example.org".into(), "192.0.2.7".into()]).unwrap();
        let mut names = certificate_names(&pem);
        names.sort();
        assert_eq!(names, ["192.0.2.7", "cam.example.org"]);
        assert!(certificate_names("not a certificate").is_empty());
    }
}
