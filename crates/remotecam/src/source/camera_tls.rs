//! TLS to a camera (`rtsps://`), and to an MQTT broker (`mqtts://`). Its certificate is checked against the system's
//! certificate authorities, or pinned by its SHA-256 fingerprint (`#fingerprint=`): the
//! way to trust the self-signed certificate most cameras have, where checking the
//! name would fail and trusting anything would let anyone on the path watch. A refused
//! certificate is named by its fingerprint, so the error says what to pin.

use std::sync::{Arc, Mutex, OnceLock};

use rustls::DigitallySignedStruct;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// Which certificate the camera must show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    /// One signed by an authority the system trusts, for the URL's host name.
    Authorities,
    /// This one, by the SHA-256 of its DER bytes, whoever signed it.
    Fingerprint([u8; 32]),
}

impl Trust {
    /// A config file's `fingerprint` key: that certificate when given, else the system's
    /// authorities; `None` for a fingerprint that is not one.
    pub(crate) fn pinned(fingerprint: Option<&str>) -> Option<Trust> {
        match fingerprint {
            Some(text) => parse_fingerprint(text).map(Trust::Fingerprint),
            None => Some(Trust::Authorities),
        }
    }
}

/// `#fingerprint=` as typed: 64 hex digits, with or without colons.
pub(crate) fn parse_fingerprint(text: &str) -> Option<[u8; 32]> {
    let digits: Vec<u8> = text.bytes().filter(|&b| b != b':').collect();
    if digits.len() != 64 {
        return None;
    }
    let mut print = [0u8; 32];
    for (byte, pair) in print.iter_mut().zip(digits.chunks(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(print)
}

/// The TLS handshake over `tcp`, within the caller's timeout.
pub(super) async fn connect(
    tcp: TcpStream,
    host: &str,
    trust: Trust,
) -> Result<TlsStream<TcpStream>, String> {
    let (config, verifier) = config(trust)?;
    let name = ServerName::try_from(host.to_owned()).map_err(|e| format!("TLS: {host}: {e}"))?;
    tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| match verifier.refused() {
            Some(Refusal { shown, why: None }) => format!(
                "the camera's TLS certificate is not trusted: its SHA-256 fingerprint is \
                 {shown}, not the one after #fingerprint="
            ),
            Some(Refusal {
                shown,
                why: Some(why),
            }) => format!(
                "the camera's TLS certificate is not trusted: {why}; if it is the camera's \
                 own, add #fingerprint={shown} to the URL"
            ),
            None => format!("TLS: {e}"),
        })
}

/// A client's TLS settings for a server that must show a certificate of `trust`, and
/// the verifier that says why it refused one.
pub(crate) fn config(trust: Trust) -> Result<(Arc<rustls::ClientConfig>, Arc<Verifier>), String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(Verifier {
        trust,
        authorities: authorities(),
        provider: Arc::clone(&provider),
        refused: Mutex::new(None),
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::clone(&verifier) as Arc<dyn ServerCertVerifier>)
        .with_no_client_auth();
    Ok((Arc::new(config), verifier))
}

/// The system's certificate authorities, read once (None when it has none).
fn authorities() -> Option<Arc<WebPkiServerVerifier>> {
    static AUTHORITIES: OnceLock<Option<Arc<WebPkiServerVerifier>>> = OnceLock::new();
    AUTHORITIES
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
            WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                Arc::new(rustls::crypto::ring::default_provider()),
            )
            .build()
            .ok()
        })
        .clone()
}

/// Why a server's certificate was refused (rustls's own error only names a kind).
#[derive(Debug, Clone)]
pub(crate) struct Refusal {
    /// The SHA-256 of the certificate shown, in hex: what to pin.
    pub(crate) shown: String,
    /// The authorities' reason, or `None` when another certificate was pinned.
    pub(crate) why: Option<String>,
}

#[derive(Debug)]
pub(crate) struct Verifier {
    trust: Trust,
    authorities: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
    refused: Mutex<Option<Refusal>>,
}

impl Verifier {
    fn refuse(&self, shown: String, why: Option<String>) -> rustls::Error {
        *self.refused.lock().unwrap() = Some(Refusal { shown, why });
        rustls::Error::InvalidCertificate(rustls::CertificateError::ApplicationVerificationFailure)
    }

    /// Why the last handshake refused the server's certificate, if it did.
    pub(crate) fn refused(&self) -> Option<Refusal> {
        self.refused.lock().unwrap().take()
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let print = ring::digest::digest(&ring::digest::SHA256, end_entity);
        let shown: String = print.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        match self.trust {
            Trust::Fingerprint(pin) if print.as_ref() == pin => Ok(ServerCertVerified::assertion()),
            Trust::Fingerprint(_) => Err(self.refuse(shown, None)),
            Trust::Authorities => {
                let checked = match &self.authorities {
                    Some(authorities) => authorities
                        .verify_server_cert(
                            end_entity,
                            intermediates,
                            server_name,
                            ocsp_response,
                            now,
                        )
                        .map_err(|e| e.to_string()),
                    None => Err("the system has no certificate authorities".to_owned()),
                };
                checked.map_err(|e| self.refuse(shown, Some(e)))
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_is_read_with_or_without_colons() {
        let hex = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
        let with_colons: String = hex
            .as_bytes()
            .chunks(2)
            .map(|p| std::str::from_utf8(p).unwrap())
            .collect::<Vec<_>>()
            .join(":");
        let print = parse_fingerprint(hex).unwrap();
        assert_eq!(print[0], 0x00);
        assert_eq!(print[31], 0xff);
        assert_eq!(parse_fingerprint(&with_colons), Some(print));
        assert_eq!(parse_fingerprint(&hex[2..]), None);
        assert_eq!(parse_fingerprint(&hex.replace('0', "g")), None);
    }
}
