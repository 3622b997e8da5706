//! The entropy-coded data's bit reader: markers and stuffed bytes, restarts, and
//! Huffman decoding through a table's lookups.

use super::huffman::Huffman;
use super::{DecodeError, LUT_BITS, Result};

/// The entropy-coded data of a scan, read bit by bit, with stuffed zero bytes removed.
/// Past a marker or the end of the data it reads zeros, and counts them, so that running
/// out of data is found out.
pub(super) struct Bits<'a> {
    pub(super) data: &'a [u8],
    pub(super) pos: usize,
    /// The next bits, most significant first.
    pub(super) acc: u64,
    pub(super) n: u32,
    /// Zero bytes put in past the real data.
    pub(super) padded: u32,
}

impl<'a> Bits<'a> {
    pub(super) fn new(data: &'a [u8], pos: usize) -> Bits<'a> {
        Bits {
            data,
            pos,
            acc: 0,
            n: 0,
            padded: 0,
        }
    }

    /// Fills the accumulator to at least 57 bits.
    #[inline]
    pub(super) fn refill(&mut self) {
        // Fast path: the next 8 bytes hold no 0xFF (no stuffing, no marker), so as many
        // whole bytes as fit go in at once.
        if let Some(chunk) = self.data.get(self.pos..self.pos + 8) {
            let word = u64::from_be_bytes(chunk.try_into().expect("8 bytes"));
            let inv = !word;
            let has_ff = inv.wrapping_sub(0x0101_0101_0101_0101) & !inv & 0x8080_8080_8080_8080;
            if has_ff == 0 {
                let bytes = (63 - self.n) / 8;
                let keep = word & !(u64::MAX >> (bytes * 8));
                self.acc |= keep >> self.n;
                self.n += bytes * 8;
                self.pos += bytes as usize;
                return;
            }
        }
        self.refill_slow();
    }

    /// [`Bits::refill`] for a hot loop that holds the buffer in locals (`acc`, `n`):
    /// puts them back, refills, and gives the new values.
    #[inline(always)]
    pub(super) fn refill_from(&mut self, acc: u64, n: u32) -> (u64, u32) {
        (self.acc, self.n) = (acc, n);
        self.refill();
        (self.acc, self.n)
    }

    #[cold]
    pub(super) fn refill_slow(&mut self) {
        while self.n <= 56 {
            let mut byte = 0;
            match self.data.get(self.pos) {
                Some(&0xFF) => {
                    if self.data.get(self.pos + 1) == Some(&0) {
                        byte = 0xFF;
                        self.pos += 2;
                    } else {
                        // A marker: the scan (or its restart interval) ends here.
                        self.padded += 1;
                    }
                }
                Some(&b) => {
                    byte = b;
                    self.pos += 1;
                }
                None => self.padded += 1,
            }
            self.acc |= u64::from(byte) << (56 - self.n);
            self.n += 8;
        }
    }

    #[inline]
    pub(super) fn peek(&self, bits: u32) -> u32 {
        (self.acc >> (64 - bits)) as u32
    }

    #[inline]
    pub(super) fn consume(&mut self, bits: u32) {
        self.acc <<= bits;
        self.n -= bits;
    }

    /// The next Huffman-coded value. Needs at least 16 bits in the accumulator.
    #[inline]
    pub(super) fn decode(&mut self, h: &Huffman) -> Result<u8> {
        let e = h.lut[self.peek(LUT_BITS) as usize];
        if e != 0 {
            self.consume(u32::from(e >> 8));
            return Ok(e as u8);
        }
        self.decode_slow(h)
    }

    #[cold]
    pub(super) fn decode_slow(&mut self, h: &Huffman) -> Result<u8> {
        let word = self.peek(16) as i32;
        for len in LUT_BITS + 1..=16 {
            let code = word >> (16 - len);
            if code <= h.maxcode[len as usize] {
                self.consume(len);
                let i = h.offset[len as usize] + code;
                return usize::try_from(i)
                    .ok()
                    .and_then(|i| h.values.get(i).copied())
                    .ok_or(DecodeError::Corrupt("bad Huffman code"));
            }
        }
        Err(DecodeError::Corrupt("bad Huffman code"))
    }

    /// Whether the bits taken so far went past the real data.
    pub(super) fn overran(&self) -> bool {
        self.n < self.padded * 8
    }

    /// At a restart interval's end: drops the buffered bits and steps over the RSTn
    /// marker, which must be next.
    pub(super) fn restart(&mut self) -> Result<()> {
        if self.overran() {
            return Err(DecodeError::Corrupt("entropy data ends early"));
        }
        self.acc = 0;
        self.n = 0;
        self.padded = 0;
        // Fill bytes (0xFF) may come before the marker.
        while self.data.get(self.pos) == Some(&0xFF) && self.data.get(self.pos + 1) == Some(&0xFF) {
            self.pos += 1;
        }
        match self.data.get(self.pos..self.pos + 2) {
            Some(&[0xFF, 0xD0..=0xD7]) => {
                self.pos += 2;
                Ok(())
            }
            _ => Err(DecodeError::Corrupt("restart marker missing")),
        }
    }
}
