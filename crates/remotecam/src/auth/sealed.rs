//! A scoped token kept so that only the hub can read it back: sealed with
//! ChaCha20-Poly1305 under a key made from the hub's own token, beside its SHA-256.
//!
//! RTSP clients prove a password with Digest authentication (and pick it over Basic
//! when both are offered, as ffmpeg does) without sending it: to check the proof the
//! hub must know the password. The hash alone cannot give it back; the sealed copy can,
//! to the hub (or the command line on its data directory), which holds the hub's token
//! in the file next to `tokens.json`, and which may do everything anyway. The tokens
//! file alone still gives nothing away. A hub whose token was changed cannot open the
//! old seals: those tokens still work everywhere but with Digest.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

/// The key tokens are sealed with.
pub struct SealingKey(LessSafeKey);

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(..)")
    }
}

impl SealingKey {
    /// The key of the hub whose own token is `hub_token`.
    pub fn of_hub_token(hub_token: &str) -> SealingKey {
        let mut context = ring::digest::Context::new(&ring::digest::SHA256);
        context.update(b"remotecam: scoped tokens sealed\0");
        context.update(hub_token.as_bytes());
        let key =
            UnboundKey::new(&CHACHA20_POLY1305, context.finish().as_ref()).expect("a 32-byte key");
        SealingKey(LessSafeKey::new(key))
    }

    /// `secret` sealed: base64 of a random nonce, the ciphertext and its tag.
    pub fn seal(&self, secret: &str) -> Result<String, getrandom::Error> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce)?;
        let mut data = secret.as_bytes().to_vec();
        self.0
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut data)
            .expect("a token fits in one message");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(STANDARD.encode(out))
    }

    /// The secret `sealed` holds, if this key sealed it.
    pub fn open(&self, sealed: &str) -> Option<String> {
        let raw = STANDARD.decode(sealed).ok()?;
        if raw.len() < NONCE_LEN {
            return None;
        }
        let (nonce, data) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut data = data.to_vec();
        let plain = self.0.open_in_place(nonce, Aad::empty(), &mut data).ok()?;
        String::from_utf8(plain.to_vec()).ok()
    }
}

/// A token's secret, held by the hub for Digest checks; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_hub_that_sealed_a_token_opens_it() {
        let key = SealingKey::of_hub_token("hub-token");
        let sealed = key.seal("0123456789abcdef").unwrap();
        assert!(!sealed.contains("0123456789abcdef"));
        assert_ne!(
            sealed,
            key.seal("0123456789abcdef").unwrap(),
            "a new nonce each time"
        );
        assert_eq!(key.open(&sealed).as_deref(), Some("0123456789abcdef"));
        assert_eq!(SealingKey::of_hub_token("another").open(&sealed), None);
        let mut raw = STANDARD.decode(&sealed).unwrap();
        raw[NONCE_LEN] ^= 1;
        assert_eq!(key.open(&STANDARD.encode(raw)), None, "tampered");
        assert_eq!(key.open("%%"), None);
        assert_eq!(key.open(""), None);
    }
}
