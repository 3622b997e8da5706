//! The HTTPS certificate.
//!
//! Browsers only let a page use the camera when the page is secure, so a phone on the LAN
//! needs HTTPS. On first start the hub makes a self-signed certificate naming every way
//! the phone may reach it (localhost, the hostname, every LAN address), keeps it in the
//! data directory and reuses it, so the browser's one-time exception stays valid. It is
//! made again only when an address appears that the old one does not name.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair, SanType,
};

/// Validity of a generated certificate, in days (the longest some phones accept).
const VALIDITY_DAYS: i64 = 825;

#[derive(Debug, Clone)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// True when this start made a new certificate.
    pub created: bool,
}

/// The names the certificate must carry.
pub fn wanted_names(hostname: &str, addresses: &[IpAddr]) -> Vec<String> {
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if !hostname.is_empty() && hostname != "localhost" {
        names.push(hostname.to_owned());
        if !hostname.contains('.') {
            names.push(format!("{hostname}.local"));
        }
    }
    for ip in addresses {
        names.push(ip.to_string());
    }
    names.sort();
    names.dedup();
    names
}

/// Returns the generated certificate in `data_dir/tls/`, making it if it is missing or
/// does not name everything in `names`.
pub fn load_or_create(data_dir: &Path, names: &[String]) -> anyhow::Result<CertFiles> {
    let dir = data_dir.join("tls");
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let names_file = dir.join("names.txt");
    if cert.exists() && key.exists() {
        let have = std::fs::read_to_string(&names_file).unwrap_or_default();
        let have: Vec<&str> = have.lines().collect();
        if names.iter().all(|n| have.contains(&n.as_str())) {
            return Ok(CertFiles {
                cert,
                key,
                created: false,
            });
        }
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let (cert_pem, key_pem) = generate(names)?;
    write_private(&key, key_pem.as_bytes())?;
    std::fs::write(&cert, cert_pem).with_context(|| format!("writing {}", cert.display()))?;
    std::fs::write(&names_file, names.join("\n"))
        .with_context(|| format!("writing {}", names_file.display()))?;
    Ok(CertFiles {
        cert,
        key,
        created: true,
    })
}

/// A self-signed server certificate for `names` (DNS names or IP addresses), as PEM
/// (certificate, private key).
pub fn generate(names: &[String]) -> anyhow::Result<(String, String)> {
    let mut params = CertificateParams::default();
    params.subject_alt_names = names
        .iter()
        .map(|n| match n.parse::<IpAddr>() {
            Ok(ip) => Ok(SanType::IpAddress(ip)),
            Err(_) => Ok(SanType::DnsName(n.clone().try_into()?)),
        })
        .collect::<Result<_, rcgen::Error>>()?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "remotecam hub");
    dn.push(DnType::OrganizationName, "remotecam (self-signed)");
    params.distinguished_name = dn;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let today = days_since_epoch(SystemTime::now());
    let (y, m, d) = civil_from_days(today - 1);
    params.not_before = rcgen::date_time_ymd(y, m, d);
    let (y, m, d) = civil_from_days(today + VALIDITY_DAYS);
    params.not_after = rcgen::date_time_ymd(y, m, d);
    let key = KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn write_private(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(data)
        .with_context(|| format!("writing {}", path.display()))
}

fn days_since_epoch(t: SystemTime) -> i64 {
    (t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() / 86_400) as i64
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's
/// `civil_from_days`).
fn civil_from_days(z: i64) -> (i32, u8, u8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let y = (yoe + era * 400 + i64::from(m <= 2)) as i32;
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_779), (2026, 11, 22));
    }

    #[test]
    fn certificate_is_reused_until_a_name_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let names = wanted_names("box", &["192.0.2.4".parse().unwrap()]);
        assert!(names.contains(&"box.local".to_owned()));
        let first = load_or_create(dir.path(), &names).unwrap();
        assert!(first.created);
        let pem = std::fs::read_to_string(&first.cert).unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(!load_or_create(dir.path(), &names).unwrap().created);
        let more = wanted_names("box", &["192.0.2.5".parse().unwrap()]);
        assert!(load_or_create(dir.path(), &more).unwrap().created);
    }
}
