//! The JPEGs tests send: labelled frames, a scene with a moving square, a header that
//! claims another size.

use bytes::Bytes;
use remotecam::placeholder::Canvas;

/// A JPEG of `width` x `height` with `label` drawn on it. With `noise`, the background
/// is pseudo-random so the JPEG is large (like a real camera picture).
pub fn test_jpeg(width: usize, height: usize, label: &str, noise: bool) -> Bytes {
    let mut canvas = Canvas::new(width, height, [40, 90, 160]);
    if noise {
        let mut x: u32 = 0x9E37_79B9 ^ label.len() as u32;
        for b in canvas.rgb.iter_mut() {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *b = (x & 0xFF) as u8;
        }
    }
    canvas.text(8, 8, label, 2, [255, 255, 255]);
    canvas.to_jpeg(85)
}

/// A 640x480 scene: gradient and checks, with a white square at `square` if any.
pub fn scene(square: Option<(usize, usize)>) -> Bytes {
    let mut c = Canvas::new(640, 480, [0, 0, 0]);
    for y in 0..480 {
        for x in 0..640 {
            let v = (40 + x / 5 + if (x / 32 + y / 32) % 2 == 0 { 30 } else { 0 }) as u8;
            c.rgb[(y * 640 + x) * 3..][..3].copy_from_slice(&[v, v, v]);
        }
    }
    if let Some((sx, sy)) = square {
        for y in sy..sy + 96 {
            for x in sx..sx + 96 {
                c.rgb[(y * 640 + x) * 3..][..3].copy_from_slice(&[255, 255, 255]);
            }
        }
    }
    c.to_jpeg(85)
}

/// `jpeg` with the picture size in its frame header replaced (a header's claim).
pub fn claiming(jpeg: &[u8], width: u16, height: u16) -> Bytes {
    let mut jpeg = jpeg.to_vec();
    let sof = jpeg
        .windows(2)
        .position(|w| w[0] == 0xFF && matches!(w[1], 0xC0 | 0xC2))
        .expect("a frame header");
    jpeg[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    jpeg[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    jpeg.into()
}

/// A JPEG of about `bytes` bytes (a camera's largest frames): a small labelled picture
/// whose metadata (APP15 segments) fills the rest.
pub fn padded_jpeg(bytes: usize, label: &str) -> Bytes {
    let small = test_jpeg(64, 48, label, false);
    let mut out = small[..2].to_vec();
    let segment = 65_533;
    while out.len() + small.len() + segment + 4 < bytes {
        out.extend_from_slice(&[0xFF, 0xEF]);
        out.extend_from_slice(&((segment + 2) as u16).to_be_bytes());
        out.resize(out.len() + segment, 0x5A);
    }
    out.extend_from_slice(&small[2..]);
    Bytes::from(out)
}
