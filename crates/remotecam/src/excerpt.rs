//! What the hub says of text that came from outside (a camera's SDP, a store's error, a
//! peer's content type): a short excerpt, its control characters escaped, with the
//! length of the whole. A log line or an error message stays one short line whatever a
//! camera, peer or store sends, and cannot forge other lines; and no log line is longer
//! than [`LOG_LINE`], whoever wrote it ([`CutStderr`]).

/// Characters of the text kept: the hub's own messages fit whole.
pub const KEPT: usize = 240;

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

/// The longest log line written whole.
pub const LOG_LINE: usize = 4096;

/// Standard error for the log, each line cut to [`LOG_LINE`] bytes: what a library logs
/// of what it was sent (retina warns with a camera's whole format parameters) stays a
/// line of bounded size. The log's formatter writes each event in one call.
#[derive(Debug, Clone, Copy)]
pub struct CutStderr;

impl std::io::Write for CutStderr {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let mut stderr = std::io::stderr().lock();
        stderr.write_all(&cut_line(line))?;
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// `line` within [`LOG_LINE`] bytes (cut where a character starts), saying how long it
/// was.
fn cut_line(line: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if line.len() <= LOG_LINE {
        return line.into();
    }
    let mut end = LOG_LINE;
    while end > 0 && line[end] & 0xC0 == 0x80 {
        end -= 1;
    }
    let mut out = line[..end].to_vec();
    out.extend_from_slice(format!("... (a line of {} bytes, cut)\n", line.len()).as_bytes());
    out.into()
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
    fn log_lines_are_cut_at_a_character() {
        assert_eq!(&*cut_line(b"short\n"), b"short\n");
        let long = "é".repeat(LOG_LINE);
        let cut = String::from_utf8(cut_line(long.as_bytes()).into_owned()).unwrap();
        assert!(cut.len() < LOG_LINE + 64, "{}", cut.len());
        assert!(cut.ends_with(&format!("... (a line of {} bytes, cut)\n", long.len())));
    }

    #[test]
    fn bytes_that_are_not_text_are_said_too() {
        assert_eq!(of_bytes(&[0xff, b'a']), "\u{fffd}a");
        let big = vec![0xffu8; 10_000];
        assert!(of_bytes(&big).ends_with("... (10000 bytes)"));
    }
}
