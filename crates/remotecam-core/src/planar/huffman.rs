//! Huffman tables in canonical form, with the lookups the 1/8 reader uses, and the
//! cache of the tables frames send.

use std::sync::{Arc, Mutex};

use super::{DecodeError, LUT_BITS, Result, SKIP_BITS};

/// One Huffman table, canonical form (JPEG Annex C), with lookup tables for short codes.
#[derive(Clone)]
pub(super) struct Huffman {
    /// By the next `LUT_BITS` bits: `(code length << 8) | value`, 0 for a longer code.
    pub(super) lut: [u16; 1 << LUT_BITS],
    /// By the next `SKIP_BITS` bits, for an AC table whose coefficients are skipped over
    /// (luma at 1/8): the bits taken by the code and its extra bits, and how far it moves
    /// along the block (`run + 1`, 16 for a run of 16 zeros, 64 for end of block); 0 when
    /// the code is longer than the lookup (its extra bits may reach past it: they are
    /// only counted). Packed as `bits | advance << 5`.
    pub(super) skip: Box<[u16; 1 << SKIP_BITS]>,
    /// By the next `SKIP_BITS` bits, for an AC table skipped over: every code that lies
    /// in them, up to an end of block, taken at once with its extra bits (those of the
    /// last may reach past the window: they are only counted, at most 11 + 1 + 15 bits in
    /// all). Packed as `bits | advance << 5 | ends << 12`, where `advance` is how far the
    /// codes before any end of block move along the block; `bits` 0 when not even one
    /// code fits. Short codes come several to a lookup this way, and nearly every code
    /// of a noisy picture in one.
    pub(super) skip_many: Box<[u16; 1 << SKIP_BITS]>,
    /// Largest code of each length (index 1..=16), -1 where there is none.
    pub(super) maxcode: [i32; 17],
    /// Index into `values` of a code of each length, minus that length's first code.
    pub(super) offset: [i32; 17],
    pub(super) values: [u8; 256],
}

impl Huffman {
    /// From a DHT table's 16 counts and its values. The lookup only AC coefficients use
    /// (`skip_many`) is filled for AC tables only; `skip` serves both (for a
    /// DC table, it gives the bits of a code and its difference).
    pub(super) fn new(counts: &[u8; 16], values: &[u8], ac: bool) -> Result<Huffman> {
        let mut h = Huffman {
            lut: [0; 1 << LUT_BITS],
            skip: Box::new([0; 1 << SKIP_BITS]),
            skip_many: Box::new([0; 1 << SKIP_BITS]),
            maxcode: [-1; 17],
            offset: [0; 17],
            values: [0; 256],
        };
        if values.len() > 256 {
            return Err(DecodeError::Corrupt("Huffman table with over 256 codes"));
        }
        h.values[..values.len()].copy_from_slice(values);
        // The codes short enough for `skip_many`, shortest first.
        let mut short = Vec::new();
        let mut code: i32 = 0;
        let mut k: usize = 0;
        for len in 1..=16u32 {
            let n = usize::from(counts[len as usize - 1]);
            h.offset[len as usize] = k as i32 - code;
            for _ in 0..n {
                // Codes of `len` bits run out at 2^len: a table with more is corrupt.
                if code >= 1 << len {
                    return Err(DecodeError::Corrupt("Huffman table with too many codes"));
                }
                let value = values[k];
                if len <= LUT_BITS {
                    let first = (code as usize) << (LUT_BITS - len);
                    h.lut[first..first + (1 << (LUT_BITS - len))]
                        .fill((len as u16) << 8 | u16::from(value));
                }
                // For skipping: the code, its extra bits, and how far it moves.
                let (run, size) = (u32::from(value >> 4), u32::from(value & 15));
                let advance = match (run, size) {
                    (15, 0) => 16,
                    (_, 0) => 64, // end of block (any other zero-size symbol ends it too)
                    (r, _) => r + 1,
                };
                // Skipping needs only the code in the lookup: its extra bits are
                // counted, not read (at most 12 + 15 bits, within what a refill gives).
                let total = len + size;
                if len <= SKIP_BITS {
                    let at = (code as usize) << (SKIP_BITS - len);
                    h.skip[at..at + (1 << (SKIP_BITS - len))].fill((total | advance << 5) as u16);
                    short.push((code as u32, len, value));
                }
                code += 1;
                k += 1;
            }
            if n > 0 {
                h.maxcode[len as usize] = code - 1;
            }
            code <<= 1;
        }
        if ac {
            h.fill_skip_many(&short);
        }
        Ok(h)
    }

    /// How many codes of `len` bits there are.
    #[cfg(test)]
    pub(super) fn count(&self, len: u32) -> i32 {
        if self.maxcode[len as usize] < 0 {
            return 0;
        }
        // Codes of a length run from the first (offset gives its index) to maxcode.
        let before = (1..len).map(|l| self.count(l)).sum::<i32>();
        self.maxcode[len as usize] + self.offset[len as usize] - before + 1
    }

    /// Builds `skip_many` from `codes` (every code of at most `SKIP_BITS` bits, as
    /// `(code, length, value)`, shortest first): for each window of bits, the codes read
    /// one after the other while each code lies in the window (its extra bits may not:
    /// they are counted, and the codes stop at the first whose extra bits reach the
    /// window's end).
    ///
    /// Walks the sequences of codes that fit rather than each window: all windows that
    /// begin with the same codes share an entry, which goes in as one run. The tables are
    /// built anew for every frame whose encoder optimizes its Huffman codes.
    pub(super) fn fill_skip_many(&mut self, codes: &[(u32, u32, u8)]) {
        self.walk(codes, 0, 0, 0);
    }

    /// [`Huffman::fill_skip_many`] for the windows that begin with `prefix` (`pos` bits:
    /// whole codes with their extra bits, moving `advance` along the block).
    pub(super) fn walk(&mut self, codes: &[(u32, u32, u8)], prefix: u32, pos: u32, advance: u32) {
        let windows = |prefix: u32, bits: u32| {
            let at = (prefix as usize) << (SKIP_BITS - bits);
            at..at + (1 << (SKIP_BITS - bits))
        };
        // Where no further code lies in the window, the codes so far.
        self.skip_many[windows(prefix, pos)].fill((pos | advance << 5) as u16);
        for &(code, len, value) in codes {
            if len > SKIP_BITS - pos {
                break;
            }
            let (run, size) = (u32::from(value >> 4), u32::from(value & 15));
            let a = match (run, size) {
                (15, 0) => 16,
                (_, 0) => 64,
                (r, _) => r + 1,
            };
            let (with, end) = (prefix << len | code, pos + len);
            if a == 64 {
                self.skip_many[windows(with, end)].fill((end | advance << 5 | 1 << 12) as u16);
            } else if advance + a > 127 {
                // Left to the next lookup.
            } else if end + size >= SKIP_BITS {
                self.skip_many[windows(with, end)].fill(((end + size) | (advance + a) << 5) as u16);
            } else {
                for extra in 0..1 << size {
                    self.walk(codes, with << size | extra, end + size, advance + a);
                }
            }
        }
    }
}

/// The table a DHT entry defines: built once and shared while frames keep sending the
/// same one (a camera's encoder nearly always does). Building the lookups costs about a
/// tenth of decoding a 720p frame's luma at 1/8.
pub(super) fn cached_table(class: u8, spec: &[u8]) -> Result<Arc<Huffman>> {
    /// A built table by its class and DHT bytes (counts and values).
    type Entry = (u8, Vec<u8>, Arc<Huffman>);
    /// Recently built tables, newest last.
    static CACHE: Mutex<Vec<Entry>> = Mutex::new(Vec::new());
    pub(super) const KEEP: usize = 16;
    let found = CACHE
        .lock()
        .expect("table cache lock")
        .iter()
        .find(|(c, bytes, _)| *c == class && bytes[..] == *spec)
        .map(|(_, _, table)| Arc::clone(table));
    if let Some(table) = found {
        return Ok(table);
    }
    let counts: [u8; 16] = spec[..16].try_into().expect("16 counts");
    let table = Arc::new(Huffman::new(&counts, &spec[16..], class == 1)?);
    let mut cache = CACHE.lock().expect("table cache lock");
    if cache.len() == KEEP {
        cache.remove(0);
    }
    cache.push((class, spec.to_vec(), Arc::clone(&table)));
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planar::header::standard_tables;

    /// `skip_many` as defined: for each window, the codes read one after the other.
    #[test]
    fn skipping_lookup_reads_each_window_code_by_code() {
        let standard = standard_tables();
        // One code of each length, the shortest a run of 16 zeros: twelve of them fill
        // a window and move further than one entry can say.
        let skewed_values = [
            0xF0, 0x01, 0x00, 0x12, 0x2A, 0x03, 0x41, 0x05, 0x61, 0x0A, 0xE1,
        ];
        let mut skewed_counts = [0u8; 16];
        skewed_counts[..skewed_values.len()].fill(1);
        let skewed = Huffman::new(&skewed_counts, &skewed_values, true).unwrap();
        for table in [&*standard[2], &*standard[3], &skewed] {
            // The table's codes, from its canonical form.
            let mut codes = Vec::new();
            for len in 1..=16u32 {
                let first = table.maxcode[len as usize] + 1 - table.count(len);
                for code in first..=table.maxcode[len as usize] {
                    let value = table.values[(table.offset[len as usize] + code) as usize];
                    codes.push((code as u32, len, value));
                }
            }
            for window in 0..1u32 << SKIP_BITS {
                let (mut pos, mut advance, mut ends) = (0, 0, 0);
                while pos < SKIP_BITS {
                    let bits =
                        |len: u32| (window << pos & ((1 << SKIP_BITS) - 1)) >> (SKIP_BITS - len);
                    let Some(&(_, len, value)) = codes
                        .iter()
                        .find(|&&(code, len, _)| len <= SKIP_BITS - pos && bits(len) == code)
                    else {
                        break;
                    };
                    let (run, size) = (u32::from(value >> 4), u32::from(value & 15));
                    if size == 0 && run != 15 {
                        (pos, ends) = (pos + len, 1);
                        break;
                    }
                    let a = if size == 0 { 16 } else { run + 1 };
                    if advance + a > 127 {
                        break;
                    }
                    (pos, advance) = (pos + len + size, advance + a);
                }
                assert_eq!(
                    table.skip_many[window as usize],
                    (pos | advance << 5 | ends << 12) as u16,
                    "window {window:012b}"
                );
            }
        }
    }
}
