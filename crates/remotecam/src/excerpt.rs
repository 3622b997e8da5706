//! What the hub says of text that came from outside (a camera's SDP, a store's error, a
//! peer's content type): a short excerpt, its control characters escaped, with the
//! length of the whole. A log line or an error message stays one short line whatever a
//! camera, peer or store sends, and cannot forge other lines.

/// Characters of the text kept.
pub const KEPT: usize = 120;

/// `text` cut to [`KEPT`] characters, control characters escaped, and "... (N bytes)"
/// when something was cut.
pub fn of(text: &str) -> String {
    said(text, false, text.len())
}

/// The same of bytes that may not be UTF-8; only their start is looked at.
pub fn of_bytes(bytes: &[u8]) -> String {
    let start = &bytes[..bytes.len().min(KEPT * 4)];
    said(
        &String::from_utf8_lossy(start),
        start.len() < bytes.len(),
        bytes.len(),
    )
}

fn said(text: &str, mut cut: bool, whole: usize) -> String {
    let mut out = String::with_capacity(KEPT + 24);
    let mut chars = text.chars();
    for c in chars.by_ref().take(KEPT) {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    cut |= chars.next().is_some();
    if cut {
        out.push_str(&format!("... ({whole} bytes)"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_kept_whole() {
        assert_eq!(of("Content-Type: text/html"), "Content-Type: text/html");
    }

    #[test]
    fn long_text_is_cut_and_says_its_length() {
        let long = "a".repeat(1_000_000);
        let said = of(&long);
        assert_eq!(said, format!("{}... (1000000 bytes)", "a".repeat(KEPT)));
        assert_eq!(of_bytes(long.as_bytes()), said);
    }

    #[test]
    fn control_characters_cannot_start_a_line_of_their_own() {
        let said = of("ok\nERROR forged line\r\x1b[31m");
        assert!(!said.contains(['\n', '\r', '\x1b']), "{said}");
        assert!(said.starts_with("ok\\nERROR forged line\\r"), "{said}");
    }

    #[test]
    fn bytes_that_are_not_text_are_said_too() {
        assert_eq!(of_bytes(&[0xff, b'a']), "\u{fffd}a");
        let big = vec![0xffu8; 10_000];
        assert!(of_bytes(&big).ends_with("... (10000 bytes)"));
    }
}
