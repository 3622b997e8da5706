//! Drawing text on pictures, with the 8x8 public-domain font of `font8x8`: enough for
//! the messages the hub and clients draw (camera names, "no signal", timeouts) without a
//! font renderer.

use bytes::Bytes;
use font8x8::{BASIC_FONTS, UnicodeFonts};

/// An RGB (or BGR: the drawing does not care) picture to draw text on.
#[derive(Debug, Clone)]
pub struct Canvas {
    pub width: usize,
    pub height: usize,
    pub rgb: Vec<u8>,
}

impl Canvas {
    pub fn new(width: usize, height: usize, rgb: [u8; 3]) -> Canvas {
        let mut data = Vec::with_capacity(width * height * 3);
        for _ in 0..width * height {
            data.extend_from_slice(&rgb);
        }
        Canvas {
            width,
            height,
            rgb: data,
        }
    }

    /// Width in pixels of `text` at `scale` (8x8 glyphs).
    pub fn text_width(text: &str, scale: usize) -> usize {
        text.chars().count() * 8 * scale
    }

    /// Draws `text` with its top-left corner at (x, y); clips at the edges. Characters
    /// without a glyph are drawn as '?'.
    pub fn text(&mut self, x: usize, y: usize, text: &str, scale: usize, rgb: [u8; 3]) {
        for (i, c) in text.chars().enumerate() {
            let glyph = BASIC_FONTS
                .get(c)
                .or_else(|| BASIC_FONTS.get('?'))
                .unwrap_or([0; 8]);
            let gx = x + i * 8 * scale;
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8 {
                    if bits >> col & 1 == 0 {
                        continue;
                    }
                    for dy in 0..scale {
                        for dx in 0..scale {
                            self.put(gx + col * scale + dx, y + row * scale + dy, rgb);
                        }
                    }
                }
            }
        }
    }

    /// Draws `text` centred horizontally at row `y`, as large as fits in 90% of the
    /// width (up to `max_scale`); text too long for one line even at the smallest size
    /// goes over several, by words (a word longer than a line is cut into pieces), so
    /// nothing is ever cut at the picture's edges. Returns the height drawn.
    pub fn centred(&mut self, y: usize, text: &str, max_scale: usize, rgb: [u8; 3]) -> usize {
        let fit = self.width * 9 / 10;
        let chars = text.chars().count().max(1);
        let scale = (fit / (chars * 8)).clamp(1, max_scale);
        if Self::text_width(text, scale) <= fit {
            self.line_centred(y, text, scale, rgb);
            return 8 * scale;
        }
        let lines = wrap(text, (fit / 8).max(1));
        for (i, line) in lines.iter().enumerate() {
            self.line_centred(y + i * 10, line, 1, rgb);
        }
        lines.len() * 10
    }

    fn line_centred(&mut self, y: usize, text: &str, scale: usize, rgb: [u8; 3]) {
        let w = Self::text_width(text, scale);
        self.text(self.width.saturating_sub(w) / 2, y, text, scale, rgb);
    }

    fn put(&mut self, x: usize, y: usize, rgb: [u8; 3]) {
        if x < self.width && y < self.height {
            let i = (y * self.width + x) * 3;
            self.rgb[i..i + 3].copy_from_slice(&rgb);
        }
    }

    pub fn to_jpeg(&self, quality: u8) -> Bytes {
        let mut out = Vec::new();
        let w = u16::try_from(self.width).expect("canvas width fits u16");
        let h = u16::try_from(self.height).expect("canvas height fits u16");
        jpeg_encoder::Encoder::new(&mut out, quality)
            .encode(&self.rgb, w, h, jpeg_encoder::ColorType::Rgb)
            .expect("encoding to memory cannot fail");
        Bytes::from(out)
    }
}

/// `text` in lines of at most `per_line` characters, broken between words; a word
/// longer than a line is cut into pieces of a line each.
fn wrap(text: &str, per_line: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let (mut line, mut len) = (String::new(), 0);
    for word in text.split(' ') {
        let word: Vec<char> = word.chars().collect();
        for piece in word.chunks(per_line) {
            if len > 0 && len + 1 + piece.len() > per_line {
                lines.push(std::mem::take(&mut line));
                len = 0;
            }
            if len > 0 {
                line.push(' ');
                len += 1;
            }
            line.extend(piece);
            len += piece.len();
        }
    }
    if len > 0 || lines.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_breaks_between_words_and_cuts_words_longer_than_a_line() {
        assert_eq!(
            wrap("camera front-door-of-the-garage is off", 11),
            ["camera", "front-door-", "of-the-gara", "ge is off"]
        );
        assert_eq!(wrap("", 4), [""]);
    }

    #[test]
    fn text_too_long_for_a_line_goes_over_several() {
        let mut c = Canvas::new(100, 60, [0, 0, 0]);
        // 38 characters at 8 px: 304 px, three lines of at most 11 characters.
        let height = c.centred(
            2,
            "no frame from camera 'door' in 1.0 s x",
            2,
            [255, 255, 255],
        );
        assert_eq!(height, 40);
        let lit = |x: usize, y: usize| c.rgb[(y * 100 + x) * 3] > 0;
        // Nothing is drawn in the outer 5% columns (each line fits), and every line has ink.
        for y in 0..60 {
            assert!(!lit(0, y) && !lit(99, y), "row {y} reaches the edge");
        }
        for line in 0..4 {
            assert!(
                (0..100).any(|x| (0..8).any(|dy| lit(x, 2 + line * 10 + dy))),
                "line {line}"
            );
        }
    }

    #[test]
    fn text_marks_pixels() {
        let mut c = Canvas::new(64, 16, [0, 0, 0]);
        c.text(0, 0, "AB", 1, [255, 255, 255]);
        let lit = c.rgb.chunks(3).filter(|p| p[0] == 255).count();
        assert!(lit > 10, "{lit} pixels lit");
        // Nothing drawn past the two glyphs.
        let beyond = (0..16).any(|y| (16..64).any(|x| c.rgb[(y * 64 + x) * 3] != 0));
        assert!(!beyond);
    }

    #[test]
    fn centred_text_fits_and_to_jpeg_is_valid() {
        let mut c = Canvas::new(100, 40, [0, 0, 0]);
        let h = c.centred(4, "short text", 4, [255, 255, 255]);
        assert_eq!(h, 8, "scaled down to the smallest size that fits");
        let jpeg = c.to_jpeg(80);
        let info = crate::jpeg::inspect(&jpeg).unwrap();
        assert_eq!((info.width, info.height), (100, 40));
    }
}
