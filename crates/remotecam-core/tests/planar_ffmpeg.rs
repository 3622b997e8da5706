//! JPEGs as ffmpeg writes them (per-picture optimised Huffman tables; 4:2:0, 4:2:2 and
//! 4:4:4; a size that is not a whole number of blocks; made with `ffmpeg -f lavfi -i
//! testsrc2=size=98x60,noise=alls=8:allf=t -frames:v 1 -pix_fmt FMT -q:v 3`) give the
//! hub's luma at 1/8 as the block means of a general decoder's luma.

use std::path::Path;

use remotecam_core::planar::luma_eighth;
use zune_jpeg::zune_core::bytestream::ZCursor;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// zune-jpeg's luma of the same JPEG.
fn reference_luma(jpeg: &[u8]) -> (usize, usize, Vec<u8>) {
    let options = DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::Luma);
    let mut d = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(jpeg), options);
    let px = d.decode().unwrap();
    let (w, h) = d.dimensions().unwrap();
    (w, h, px)
}

#[test]
fn ffmpeg_jpegs_decode_like_a_general_decoder() {
    for format in ["yuvj420p", "yuvj422p", "yuvj444p"] {
        let jpeg = fixture(&format!("ffmpeg-{format}.jpg"));
        let (w, h, luma) = reference_luma(&jpeg);
        assert_eq!((w, h), (98, 60));
        let mut small = Vec::new();
        let (sw, sh) = luma_eighth(&jpeg, &mut small).unwrap();
        assert_eq!((sw, sh), (12, 7), "{format}");
        for (i, &ours) in small.iter().enumerate() {
            let (bx, by) = (i % sw, i / sw);
            let sum: u32 = (0..64)
                .map(|j| u32::from(luma[(by * 8 + j / 8) * w + bx * 8 + j % 8]))
                .sum();
            let mean = (sum / 64) as u8;
            assert!(
                ours.abs_diff(mean) <= 2,
                "{format} block {bx},{by}: {ours} vs {mean}"
            );
        }
    }
}
