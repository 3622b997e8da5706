//! The motion detector's picture straight from a JPEG: [`luma_eighth`] gives the luma at
//! 1/8 scale from the DC coefficients (each is the mean of an 8x8 block), with no
//! inverse DCT and the colour components' data only skipped over, for the cost of the
//! entropy decoding alone. A general decoder does much more (libjpeg-turbo's own 1/8
//! scaling took 1.65 times as long on the benchmark's frames, BENCHMARKS.md); full
//! decodes (the recorder's) are libjpeg-turbo's.
//!
//! The parts, in order: the Huffman tables and their lookups (`huffman.rs`), the bit
//! reader (`bits.rs`), the headers (`header.rs`), and the block walk that skips each
//! block's AC coefficients (`eighth.rs`).
//!
//! Only what cameras and browsers send is decoded here: sequential Huffman-coded JPEG
//! (baseline or extended), 8 bits, one scan holding every component, 1 (gray) or 3
//! (YCbCr) components. Anything else (progressive, arithmetic coding, several scans,
//! CMYK, RGB-coded) is [`DecodeError::Unsupported`], and the caller falls back to a
//! general decoder. Frames without Huffman tables (the MJPEG convention) use the
//! standard ones.
//!
//! Corrupt data never panics: integer arithmetic on coefficients wraps, every table index
//! is checked, and entropy data that runs out before the last block is an error.

mod bits;
mod eighth;
mod header;
mod huffman;

pub use eighth::luma_eighth;

use thiserror::Error;

/// Why [`luma_eighth`] gave no picture.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum DecodeError {
    /// A valid JPEG of a kind this decoder leaves to a general one.
    #[error("JPEG not decodable here: {0}")]
    Unsupported(&'static str),
    #[error("corrupt JPEG: {0}")]
    Corrupt(&'static str),
}

pub(crate) type Result<T> = std::result::Result<T, DecodeError>;

/// Largest picture read (pixels): 8K x 8K. A header may claim anything; the output is
/// allocated from it.
pub(crate) const MAX_PIXELS: usize = 8192 * 8192;

/// Bits looked up at once when decoding a Huffman code; longer codes take the slow path.
pub(crate) const LUT_BITS: u32 = 9;
/// Bits looked up at once when skipping an AC coefficient (its code and its extra bits).
pub(crate) const SKIP_BITS: u32 = 12;
