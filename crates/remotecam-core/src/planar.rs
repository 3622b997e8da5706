//! The motion detector's picture straight from a JPEG: [`luma_eighth`] gives the luma at
//! 1/8 scale from the DC coefficients (each is the mean of an 8x8 block), with no
//! inverse DCT and the colour components' data only skipped over, for the cost of the
//! entropy decoding alone. A general decoder does much more (libjpeg-turbo's own 1/8
//! scaling took 1.65 times as long on the benchmark's frames, BENCHMARKS.md); full
//! decodes (the recorder's) are libjpeg-turbo's.
//!
//! The parts, in order: the Huffman tables and their lookups ([`Huffman`]), the bit
//! reader ([`Bits`]), the headers ([`Header`]), and the block walk that skips each
//! block's AC coefficients ([`luma_eighth`], [`skip_ac`]).
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

use std::sync::{Arc, Mutex};

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

type Result<T> = std::result::Result<T, DecodeError>;

/// Largest picture read (pixels): 8K x 8K. A header may claim anything; the output is
/// allocated from it.
const MAX_PIXELS: usize = 8192 * 8192;

/// Bits looked up at once when decoding a Huffman code; longer codes take the slow path.
const LUT_BITS: u32 = 9;
/// Bits looked up at once when skipping an AC coefficient (its code and its extra bits).
const SKIP_BITS: u32 = 12;

/// One Huffman table, canonical form (JPEG Annex C), with lookup tables for short codes.
#[derive(Clone)]
struct Huffman {
    /// By the next `LUT_BITS` bits: `(code length << 8) | value`, 0 for a longer code.
    lut: [u16; 1 << LUT_BITS],
    /// By the next `SKIP_BITS` bits, for an AC table whose coefficients are skipped over
    /// (luma at 1/8): the bits taken by the code and its extra bits, and how far it moves
    /// along the block (`run + 1`, 16 for a run of 16 zeros, 64 for end of block); 0 when
    /// the code is longer than the lookup (its extra bits may reach past it: they are
    /// only counted). Packed as `bits | advance << 5`.
    skip: Box<[u16; 1 << SKIP_BITS]>,
    /// By the next `SKIP_BITS` bits, for an AC table skipped over: every code that lies
    /// in them, up to an end of block, taken at once with its extra bits (those of the
    /// last may reach past the window: they are only counted, at most 11 + 1 + 15 bits in
    /// all). Packed as `bits | advance << 5 | ends << 12`, where `advance` is how far the
    /// codes before any end of block move along the block; `bits` 0 when not even one
    /// code fits. Short codes come several to a lookup this way, and nearly every code
    /// of a noisy picture in one.
    skip_many: Box<[u16; 1 << SKIP_BITS]>,
    /// Largest code of each length (index 1..=16), -1 where there is none.
    maxcode: [i32; 17],
    /// Index into `values` of a code of each length, minus that length's first code.
    offset: [i32; 17],
    values: [u8; 256],
}

impl Huffman {
    /// From a DHT table's 16 counts and its values. The lookup only AC coefficients use
    /// (`skip_many`) is filled for AC tables only; `skip` serves both (for a
    /// DC table, it gives the bits of a code and its difference).
    fn new(counts: &[u8; 16], values: &[u8], ac: bool) -> Result<Huffman> {
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
    fn count(&self, len: u32) -> i32 {
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
    fn fill_skip_many(&mut self, codes: &[(u32, u32, u8)]) {
        self.walk(codes, 0, 0, 0);
    }

    /// [`Huffman::fill_skip_many`] for the windows that begin with `prefix` (`pos` bits:
    /// whole codes with their extra bits, moving `advance` along the block).
    fn walk(&mut self, codes: &[(u32, u32, u8)], prefix: u32, pos: u32, advance: u32) {
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

/// The entropy-coded data of a scan, read bit by bit, with stuffed zero bytes removed.
/// Past a marker or the end of the data it reads zeros, and counts them, so that running
/// out of data is found out.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    /// The next bits, most significant first.
    acc: u64,
    n: u32,
    /// Zero bytes put in past the real data.
    padded: u32,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8], pos: usize) -> Bits<'a> {
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
    fn refill(&mut self) {
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
    fn refill_from(&mut self, acc: u64, n: u32) -> (u64, u32) {
        (self.acc, self.n) = (acc, n);
        self.refill();
        (self.acc, self.n)
    }

    #[cold]
    fn refill_slow(&mut self) {
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
    fn peek(&self, bits: u32) -> u32 {
        (self.acc >> (64 - bits)) as u32
    }

    #[inline]
    fn consume(&mut self, bits: u32) {
        self.acc <<= bits;
        self.n -= bits;
    }

    /// The next Huffman-coded value. Needs at least 16 bits in the accumulator.
    #[inline]
    fn decode(&mut self, h: &Huffman) -> Result<u8> {
        let e = h.lut[self.peek(LUT_BITS) as usize];
        if e != 0 {
            self.consume(u32::from(e >> 8));
            return Ok(e as u8);
        }
        self.decode_slow(h)
    }

    #[cold]
    fn decode_slow(&mut self, h: &Huffman) -> Result<u8> {
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
    fn overran(&self) -> bool {
        self.n < self.padded * 8
    }

    /// At a restart interval's end: drops the buffered bits and steps over the RSTn
    /// marker, which must be next.
    fn restart(&mut self) -> Result<()> {
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

/// A component of the frame, as its frame header and the scan describe it.
#[derive(Debug, Clone, Copy, Default)]
struct Component {
    id: u8,
    h: usize,
    v: usize,
    quant: usize,
    dc_table: usize,
    ac_table: usize,
}

/// What the header says, up to the start of the scan.
struct Header {
    width: usize,
    height: usize,
    components: Vec<Component>,
    quant: [Option<[u16; 64]>; 4],
    dc: [Option<Arc<Huffman>>; 4],
    ac: [Option<Arc<Huffman>>; 4],
    restart_interval: usize,
    /// Where the entropy-coded data starts.
    scan_start: usize,
    adobe_transform: Option<u8>,
}

fn be16(data: &[u8], at: usize) -> Result<usize> {
    data.get(at..at + 2)
        .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        .ok_or(DecodeError::Corrupt("truncated header"))
}

impl Header {
    fn empty() -> Header {
        Header {
            width: 0,
            height: 0,
            components: Vec::new(),
            quant: [None; 4],
            dc: [None, None, None, None],
            ac: [None, None, None, None],
            restart_interval: 0,
            scan_start: 0,
            adobe_transform: None,
        }
    }

    fn parse(data: &[u8]) -> Result<Header> {
        if data.get(..2) != Some(&[0xFF, 0xD8]) {
            return Err(DecodeError::Corrupt("no start of image"));
        }
        let mut hd = Header::empty();
        let mut pos = 2;
        loop {
            if data.get(pos) != Some(&0xFF) {
                return Err(DecodeError::Corrupt("expected a marker"));
            }
            while data.get(pos) == Some(&0xFF) {
                pos += 1;
            }
            let marker = *data
                .get(pos)
                .ok_or(DecodeError::Corrupt("truncated header"))?;
            pos += 1;
            if matches!(marker, 0x01 | 0xD0..=0xD7) {
                continue;
            }
            if marker == 0xD9 {
                return Err(DecodeError::Corrupt("no scan"));
            }
            let len = be16(data, pos)?;
            let seg = data
                .get(pos + 2..pos + len.max(2))
                .ok_or(DecodeError::Corrupt("truncated header"))?;
            match marker {
                0xC0 | 0xC1 => hd.frame(seg)?,
                0xC2 | 0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => {
                    return Err(DecodeError::Unsupported(
                        "not sequential Huffman-coded (progressive, lossless or arithmetic)",
                    ));
                }
                0xC4 => hd.huffman(seg)?,
                0xDB => hd.quantization(seg)?,
                0xDD => hd.restart_interval = be16(seg, 0)?,
                0xEE if seg.starts_with(b"Adobe") && seg.len() >= 12 => {
                    hd.adobe_transform = Some(seg[11]);
                }
                0xDA => {
                    hd.scan(seg)?;
                    hd.scan_start = pos + len;
                    // Every block takes at least 2 bits (a DC code and an end of block):
                    // a header claiming more blocks than the data can hold is refused
                    // before any plane is allocated for it.
                    let (mx, my) = hd.mcus();
                    let per_mcu: usize = if hd.components.len() == 1 {
                        1
                    } else {
                        hd.components.iter().map(|c| c.h * c.v).sum()
                    };
                    let bits = data.len().saturating_sub(hd.scan_start) * 8;
                    if mx * my * per_mcu * 2 > bits {
                        return Err(DecodeError::Corrupt(
                            "too little data for the picture size it claims",
                        ));
                    }
                    return Ok(hd);
                }
                _ => {}
            }
            pos += len;
        }
    }

    fn frame(&mut self, seg: &[u8]) -> Result<()> {
        if seg.len() < 6 {
            return Err(DecodeError::Corrupt("short frame header"));
        }
        if seg[0] != 8 {
            return Err(DecodeError::Unsupported("not 8 bits per sample"));
        }
        self.height = be16(seg, 1)?;
        self.width = be16(seg, 3)?;
        if self.width == 0 || self.height == 0 {
            return Err(DecodeError::Unsupported("zero width or height"));
        }
        if self.width * self.height > MAX_PIXELS {
            return Err(DecodeError::Unsupported("picture too large"));
        }
        let n = usize::from(seg[5]);
        if n != 1 && n != 3 {
            return Err(DecodeError::Unsupported(
                "neither gray nor three components",
            ));
        }
        let spec = seg
            .get(6..6 + 3 * n)
            .ok_or(DecodeError::Corrupt("short frame header"))?;
        self.components = spec
            .chunks_exact(3)
            .map(|c| Component {
                id: c[0],
                h: usize::from(c[1] >> 4),
                v: usize::from(c[1] & 15),
                quant: usize::from(c[2]),
                ..Component::default()
            })
            .collect();
        for c in &self.components {
            if !(1..=4).contains(&c.h) || !(1..=4).contains(&c.v) || c.quant > 3 {
                return Err(DecodeError::Corrupt("bad component in frame header"));
            }
        }
        if n == 1 {
            // A lone component's sampling factors mean nothing (A.2.2).
            self.components[0].h = 1;
            self.components[0].v = 1;
        }
        let (hmax, vmax) = self.max_sampling();
        if self
            .components
            .iter()
            .any(|c| hmax % c.h != 0 || vmax % c.v != 0)
        {
            return Err(DecodeError::Unsupported("non-integer chroma subsampling"));
        }
        Ok(())
    }

    fn max_sampling(&self) -> (usize, usize) {
        let h = self.components.iter().map(|c| c.h).max().unwrap_or(1);
        let v = self.components.iter().map(|c| c.v).max().unwrap_or(1);
        (h, v)
    }

    fn huffman(&mut self, mut seg: &[u8]) -> Result<()> {
        while !seg.is_empty() {
            if seg.len() < 17 {
                return Err(DecodeError::Corrupt("short Huffman table"));
            }
            let (class, slot) = (seg[0] >> 4, usize::from(seg[0] & 15));
            if class > 1 || slot > 3 {
                return Err(DecodeError::Corrupt("bad Huffman table number"));
            }
            let counts: [u8; 16] = seg[1..17].try_into().expect("16 bytes");
            let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
            let spec = seg
                .get(1..17 + total)
                .ok_or(DecodeError::Corrupt("short Huffman table"))?;
            let table = Some(cached_table(class, spec)?);
            if class == 0 {
                self.dc[slot] = table;
            } else {
                self.ac[slot] = table;
            }
            seg = &seg[17 + total..];
        }
        Ok(())
    }

    fn quantization(&mut self, mut seg: &[u8]) -> Result<()> {
        while !seg.is_empty() {
            let (precision, slot) = (seg[0] >> 4, usize::from(seg[0] & 15));
            if slot > 3 || precision > 1 {
                return Err(DecodeError::Corrupt("bad quantization table number"));
            }
            let size = if precision == 0 { 64 } else { 128 };
            let body = seg
                .get(1..1 + size)
                .ok_or(DecodeError::Corrupt("short quantization table"))?;
            let mut q = [0u16; 64];
            for (k, q) in q.iter_mut().enumerate() {
                *q = if precision == 0 {
                    u16::from(body[k])
                } else {
                    u16::from_be_bytes([body[2 * k], body[2 * k + 1]])
                };
            }
            self.quant[slot] = Some(q);
            seg = &seg[1 + size..];
        }
        Ok(())
    }

    fn scan(&mut self, seg: &[u8]) -> Result<()> {
        if self.components.is_empty() {
            return Err(DecodeError::Corrupt("scan before the frame header"));
        }
        let n = usize::from(
            *seg.first()
                .ok_or(DecodeError::Corrupt("short scan header"))?,
        );
        if n != self.components.len() {
            return Err(DecodeError::Unsupported("components in separate scans"));
        }
        let spec = seg
            .get(1..1 + 2 * n)
            .ok_or(DecodeError::Corrupt("short scan header"))?;
        // The scan lists components in frame order (B.2.3).
        for (c, s) in self.components.iter_mut().zip(spec.chunks_exact(2)) {
            if s[0] != c.id {
                return Err(DecodeError::Corrupt(
                    "scan components differ from the frame's",
                ));
            }
            c.dc_table = usize::from(s[1] >> 4);
            c.ac_table = usize::from(s[1] & 15);
            if c.dc_table > 3 || c.ac_table > 3 {
                return Err(DecodeError::Corrupt("bad Huffman table number"));
            }
        }
        if self.components.len() == 3 {
            let rgb =
                self.adobe_transform == Some(0) || self.components.iter().map(|c| c.id).eq(*b"RGB");
            if rgb {
                return Err(DecodeError::Unsupported("RGB-coded JPEG"));
            }
        }
        // MJPEG frames from webcams leave out the Huffman tables: the standard ones apply.
        for c in &self.components {
            if self.dc[c.dc_table].is_none() || self.ac[c.ac_table].is_none() {
                let std = standard_tables();
                self.dc[c.dc_table]
                    .get_or_insert_with(|| std[usize::from(c.dc_table != 0)].clone());
                self.ac[c.ac_table]
                    .get_or_insert_with(|| std[2 + usize::from(c.ac_table != 0)].clone());
            }
            if self.quant[c.quant].is_none() {
                return Err(DecodeError::Corrupt("missing quantization table"));
            }
        }
        Ok(())
    }

    /// Blocks across and down the scan: MCUs for an interleaved scan (each holding `h x
    /// v` blocks of every component), blocks of the one component otherwise.
    fn mcus(&self) -> (usize, usize) {
        let (hmax, vmax) = self.max_sampling();
        if self.components.len() == 1 {
            (self.width.div_ceil(8), self.height.div_ceil(8))
        } else {
            (
                self.width.div_ceil(8 * hmax),
                self.height.div_ceil(8 * vmax),
            )
        }
    }
}

/// The table a DHT entry defines: built once and shared while frames keep sending the
/// same one (a camera's encoder nearly always does). Building the lookups costs about a
/// tenth of decoding a 720p frame's luma at 1/8.
fn cached_table(class: u8, spec: &[u8]) -> Result<Arc<Huffman>> {
    /// A built table by its class and DHT bytes (counts and values).
    type Entry = (u8, Vec<u8>, Arc<Huffman>);
    /// Recently built tables, newest last.
    static CACHE: Mutex<Vec<Entry>> = Mutex::new(Vec::new());
    const KEEP: usize = 16;
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

/// Standard tables (JPEG Annex K.3): DC luma, DC chroma, AC luma, AC chroma.
fn standard_tables() -> &'static [Arc<Huffman>; 4] {
    use std::sync::OnceLock;
    static TABLES: OnceLock<[Arc<Huffman>; 4]> = OnceLock::new();
    TABLES.get_or_init(|| {
        let dht = crate::jpeg::standard_dht();
        let mut tables = Header::empty();
        tables
            .huffman(&dht[4..])
            .expect("the standard tables are valid");
        let get = |t: &Option<Arc<Huffman>>| t.clone().expect("the standard tables are complete");
        [
            get(&tables.dc[0]),
            get(&tables.dc[1]),
            get(&tables.ac[0]),
            get(&tables.ac[1]),
        ]
    })
}

/// The size of [`luma_eighth`]'s picture: a pixel per whole luma block, at least one.
fn eighth_size(hd: &Header) -> (usize, usize) {
    let (hmax, vmax) = hd.max_sampling();
    let y = hd.components[0];
    let w = ((hd.width * y.h).div_ceil(hmax) / 8).max(1);
    let h = ((hd.height * y.v).div_ceil(vmax) / 8).max(1);
    (w, h)
}

/// The picture's luma at 1/8 scale into `out`, one pixel per whole 8x8 block of the
/// luma plane (the mean of the block, from its DC coefficient); returns its width and
/// height. Partial blocks at the right and bottom edges are left out, so every pixel is
/// the mean of 64 real ones; a picture narrower or shorter than 8 pixels still gives one.
pub fn luma_eighth(jpeg: &[u8], out: &mut Vec<u8>) -> Result<(usize, usize)> {
    let hd = Header::parse(jpeg)?;
    let (w, h) = eighth_size(&hd);
    out.clear();
    out.resize(w * h, 0);
    let q0 = i32::from(hd.quant[hd.components[0].quant].expect("checked in the scan header")[0]);
    /// One block of an MCU, in coding order: its component, tables and place in the MCU.
    struct Slot<'t> {
        luma: bool,
        dc: &'t Huffman,
        ac: &'t Huffman,
        /// The component's blocks across and down an MCU, and this one's place.
        per_mcu: (usize, usize),
        at: (usize, usize),
    }
    let mut slots = Vec::new();
    for (ci, c) in hd.components.iter().enumerate() {
        let dc = hd.dc[c.dc_table]
            .as_deref()
            .expect("checked in the scan header");
        let ac = hd.ac[c.ac_table]
            .as_deref()
            .expect("checked in the scan header");
        // A single-component scan has one block per MCU, whatever the sampling.
        let per_mcu = if hd.components.len() == 1 {
            (1, 1)
        } else {
            (c.h, c.v)
        };
        for v in 0..per_mcu.1 {
            for u in 0..per_mcu.0 {
                let luma = ci == 0;
                slots.push(Slot {
                    luma,
                    dc,
                    ac,
                    per_mcu,
                    at: (u, v),
                });
            }
        }
    }
    // The hot loop: the bit buffer stays in locals across blocks (through `&mut Bits`
    // every step would go through memory); `bits` refills it and handles restarts.
    let (mx, my) = hd.mcus();
    let mut bits = Bits::new(jpeg, hd.scan_start);
    let (mut acc, mut n) = (0u64, 0u32);
    // Only the luma's DC predictor is needed: the chroma's differences are skipped.
    let mut pred = 0i32;
    let mut left = hd.restart_interval;
    for y in 0..my {
        for x in 0..mx {
            if hd.restart_interval > 0 {
                if left == 0 {
                    (bits.acc, bits.n) = (acc, n);
                    bits.restart()?;
                    (acc, n) = (0, 0);
                    pred = 0;
                    left = hd.restart_interval;
                }
                left -= 1;
            }
            for slot in &slots {
                if n < 32 {
                    (acc, n) = bits.refill_from(acc, n);
                }
                if !slot.luma {
                    // Chroma: its DC difference is skipped too.
                    let e = slot.dc.skip[(acc >> (64 - SKIP_BITS)) as usize];
                    if e != 0 {
                        let taken = u32::from(e & 31);
                        (acc, n) = (acc << taken, n - taken);
                    } else {
                        (bits.acc, bits.n) = (acc, n);
                        let size = u32::from(bits.decode(slot.dc)?);
                        bits.consume(size.min(16));
                        (acc, n) = (bits.acc, bits.n);
                    }
                    (acc, n) = skip_ac(&mut bits, slot.ac, acc, n)?;
                    continue;
                }
                let e = slot.dc.lut[(acc >> (64 - LUT_BITS)) as usize];
                let size = if e != 0 {
                    let len = u32::from(e >> 8);
                    (acc, n) = (acc << len, n - len);
                    u32::from(e & 0xFF)
                } else {
                    (bits.acc, bits.n) = (acc, n);
                    let size = bits.decode_slow(slot.dc)?;
                    (acc, n) = (bits.acc, bits.n);
                    u32::from(size)
                };
                if size > 11 {
                    return Err(DecodeError::Corrupt("DC difference too large"));
                }
                let diff = extend((acc >> 32) as u32, size);
                (acc, n) = (acc << size, n - size);
                (acc, n) = skip_ac(&mut bits, slot.ac, acc, n)?;
                pred = pred.wrapping_add(diff);
                let (bx, by) = (
                    x * slot.per_mcu.0 + slot.at.0,
                    y * slot.per_mcu.1 + slot.at.1,
                );
                if bx < w && by < h {
                    out[by * w + bx] = dc_pixel(pred.wrapping_mul(q0));
                }
            }
        }
    }
    (bits.acc, bits.n) = (acc, n);
    if bits.overran() {
        return Err(DecodeError::Corrupt("entropy data ends early"));
    }
    Ok((w, h))
}

/// The coefficient (JPEG's EXTEND, F.12) whose `size` extra bits (at most 16) are at the
/// top of `top`.
#[inline]
fn extend(top: u32, size: u32) -> i32 {
    if size == 0 {
        return 0;
    }
    let v = (top >> (32 - size)) as i32;
    if v < 1 << (size - 1) {
        v - (1 << size) + 1
    } else {
        v
    }
}

/// The pixel value of a block whose only coefficient is `dc` (dequantized): the block's
/// mean.
#[inline]
fn dc_pixel(dc: i32) -> u8 {
    (dc.wrapping_add(4) >> 3).wrapping_add(128).clamp(0, 255) as u8
}

/// Moves past a block's AC coefficients without keeping them.
///
/// The hot loop of [`luma_eighth`]: the bit buffer is held in locals so that it stays in
/// registers (through `&mut Bits` every step would go through memory).
#[inline(always)]
fn skip_ac(bits: &mut Bits<'_>, table: &Huffman, mut acc: u64, mut n: u32) -> Result<(u64, u32)> {
    let mut k = 1;
    while k < 64 {
        if n < 32 {
            (acc, n) = bits.refill_from(acc, n);
        }
        let window = (acc >> (64 - SKIP_BITS)) as usize;
        // Several codes at once, if they stay inside this block: an end of block must
        // come before coefficient 64, and without one the codes may reach it exactly.
        let m = usize::from(table.skip_many[window]);
        let (taken, advance, ends) = ((m & 31) as u32, (m >> 5) & 127, m >> 12 != 0);
        if taken != 0
            && (if ends {
                k + advance < 64
            } else {
                k + advance <= 64
            })
        {
            acc <<= taken;
            n -= taken;
            if ends {
                break;
            }
            k += advance;
            continue;
        }
        let e = table.skip[window];
        if e != 0 {
            let taken = u32::from(e & 31);
            acc <<= taken;
            n -= taken;
            k += usize::from(e >> 5);
            continue;
        }
        (bits.acc, bits.n) = (acc, n);
        let rs = bits.decode(table)?;
        let (run, size) = (usize::from(rs >> 4), u32::from(rs & 15));
        if size == 0 && run != 15 {
            return Ok((bits.acc, bits.n));
        }
        bits.consume(size);
        (acc, n) = (bits.acc, bits.n);
        k += if size == 0 { 16 } else { run + 1 };
    }
    Ok((acc, n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jpeg_encoder::{ColorType, Encoder, SamplingFactor};

    /// A camera-like picture: gradients, texture and an edge.
    fn rgb(w: usize, h: usize) -> Vec<u8> {
        let mut px = Vec::with_capacity(w * h * 3);
        for y in 0..h {
            for x in 0..w {
                let t = ((x * 31 + y * 17) % 23) as u8;
                let edge = if x > w / 2 { 90 } else { 0 };
                px.extend_from_slice(&[
                    (x * 255 / w) as u8 / 2 + t + edge,
                    (y * 255 / h) as u8 / 2 + t,
                    200 - t - edge,
                ]);
            }
        }
        px
    }

    fn encode(w: usize, h: usize, sampling: SamplingFactor, restart: u16) -> Vec<u8> {
        let mut out = Vec::new();
        let mut e = Encoder::new(&mut out, 85);
        e.set_sampling_factor(sampling);
        e.set_restart_interval(restart);
        e.encode(&rgb(w, h), w as u16, h as u16, ColorType::Rgb)
            .unwrap();
        out
    }

    /// zune-jpeg's decode of the same JPEG as YCbCr at full size.
    fn reference(jpeg: &[u8]) -> (usize, usize, Vec<u8>) {
        use zune_jpeg::zune_core::bytestream::ZCursor;
        use zune_jpeg::zune_core::colorspace::ColorSpace;
        use zune_jpeg::zune_core::options::DecoderOptions;
        let options = DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::YCbCr);
        let mut d = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(jpeg), options);
        let px = d.decode().unwrap();
        let (w, h) = d.dimensions().unwrap();
        (w, h, px)
    }

    /// libjpeg-turbo's luma at 1/8 scale: its scaled inverse DCT keeps only each block's
    /// DC coefficient, which is what [`luma_eighth`] reads. Partial blocks at the edges
    /// are in it too (we leave them out): its size is rounded up.
    fn turbo_eighth(jpeg: &[u8]) -> (usize, usize, Vec<u8>) {
        let mut d = turbojpeg::Decompressor::new().unwrap();
        d.set_scaling_factor(turbojpeg::ScalingFactor::ONE_EIGHTH)
            .unwrap();
        let header = d.read_header(jpeg).unwrap();
        let (w, h) = (header.width.div_ceil(8), header.height.div_ceil(8));
        let mut gray = vec![0; w * h];
        let image = turbojpeg::Image {
            pixels: &mut gray[..],
            width: w,
            pitch: w,
            height: h,
            format: turbojpeg::PixelFormat::GRAY,
        };
        d.decompress(jpeg, image).unwrap();
        (w, h, gray)
    }

    /// Largest difference between [`luma_eighth`] and libjpeg-turbo's, over the blocks
    /// both give; checks ours has a pixel per whole block.
    fn eighth_error(jpeg: &[u8]) -> u8 {
        let mut ours = Vec::new();
        let (w, h) = luma_eighth(jpeg, &mut ours).unwrap();
        let header = turbojpeg::read_header(jpeg).unwrap();
        assert_eq!(
            (w, h),
            ((header.width / 8).max(1), (header.height / 8).max(1))
        );
        let (tw, _, theirs) = turbo_eighth(jpeg);
        (0..w * h)
            .map(|i| ours[i].abs_diff(theirs[(i / w) * tw + i % w]))
            .max()
            .unwrap()
    }

    #[test]
    fn luma_matches_libjpeg_turbo_for_every_sampling_and_size() {
        for sampling in [
            SamplingFactor::R_4_4_4,
            SamplingFactor::R_4_2_2,
            SamplingFactor::R_4_2_0,
            SamplingFactor::R_4_4_0,
        ] {
            for (w, h) in [(64, 48), (333, 201), (17, 9), (8, 8), (1, 1)] {
                let jpeg = encode(w, h, sampling, 0);
                let err = eighth_error(&jpeg);
                assert!(err <= 1, "{sampling:?} {w}x{h}: luma off by {err}");
            }
        }
    }

    #[test]
    fn restart_intervals_decode() {
        for restart in [1, 3, 7] {
            let jpeg = encode(200, 120, SamplingFactor::R_4_2_0, restart);
            assert!(eighth_error(&jpeg) <= 1, "restart {restart}");
        }
    }

    #[test]
    fn grayscale_is_read_too() {
        let (w, h) = (100, 60);
        let gray: Vec<u8> = (0..w * h).map(|i| ((i % w) + (i / w)) as u8).collect();
        let mut jpeg = Vec::new();
        Encoder::new(&mut jpeg, 90)
            .encode(&gray, w as u16, h as u16, ColorType::Luma)
            .unwrap();
        assert!(eighth_error(&jpeg) <= 1);
    }

    #[test]
    fn eighth_is_the_mean_of_each_block() {
        let (w, h) = (333, 201);
        for sampling in [SamplingFactor::R_4_2_0, SamplingFactor::R_4_4_4] {
            let jpeg = encode(w, h, sampling, 5);
            let (rw, _, px) = reference(&jpeg);
            let mut small = Vec::new();
            let (sw, sh) = luma_eighth(&jpeg, &mut small).unwrap();
            assert_eq!((sw, sh), (w / 8, h / 8));
            for by in 0..sh {
                for bx in 0..sw {
                    let mut sum = 0u32;
                    for y in 0..8 {
                        for x in 0..8 {
                            sum += u32::from(px[((by * 8 + y) * rw + bx * 8 + x) * 3]);
                        }
                    }
                    let mean = (sum / 64) as u8;
                    let ours = small[by * sw + bx];
                    assert!(
                        ours.abs_diff(mean) <= 2,
                        "block {bx},{by}: {ours} vs {mean}"
                    );
                }
            }
        }
    }

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

    /// Heavy data: noise up to full scale at quality 100, so that coefficients are large,
    /// their extra bits reach past the skipping lookups and many of their codes are
    /// longer than them (up to 16 bits in the standard tables). Skipping over it must land
    /// on every block's DC as libjpeg-turbo's decoding does.
    #[test]
    fn skipping_long_codes_lands_where_decoding_does() {
        let (w, h) = (320, 184);
        let mut x: u32 = 0x2545_F491;
        let px: Vec<u8> = (0..w * h * 3)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                // Noise of every amplitude: quiet, loud, and near full scale.
                let amp = [8, 64, 255][(i / 3 / w / 32) % 3];
                ((i / 3 % w) as u32 / 3 + x % amp) as u8
            })
            .collect();
        for (sampling, restart) in [(SamplingFactor::R_4_2_0, 0), (SamplingFactor::R_4_4_4, 7)] {
            let mut jpeg = Vec::new();
            let mut e = Encoder::new(&mut jpeg, 100);
            e.set_sampling_factor(sampling);
            e.set_restart_interval(restart);
            e.encode(&px, w as u16, h as u16, ColorType::Rgb).unwrap();
            assert!(eighth_error(&jpeg) <= 1, "{sampling:?}");
            let mut small = Vec::new();
            assert!(luma_eighth(&jpeg[..jpeg.len() * 9 / 10], &mut small).is_err());
        }
    }

    #[test]
    fn frames_without_huffman_tables_use_the_standard_ones() {
        let jpeg = encode(64, 32, SamplingFactor::R_4_2_2, 0);
        // Drop every DHT segment, as MJPEG webcams do.
        let mut stripped = vec![0xFF, 0xD8];
        let mut pos = 2;
        loop {
            let marker = jpeg[pos + 1];
            let len = usize::from(u16::from_be_bytes([jpeg[pos + 2], jpeg[pos + 3]]));
            if marker != 0xC4 {
                stripped.extend_from_slice(&jpeg[pos..pos + 2 + len]);
            }
            pos += 2 + len;
            if marker == 0xDA {
                break;
            }
        }
        stripped.extend_from_slice(&jpeg[pos..]);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let size = luma_eighth(&jpeg, &mut a).unwrap();
        assert_eq!(luma_eighth(&stripped, &mut b).unwrap(), size);
        assert_eq!(a, b);
    }

    #[test]
    fn progressive_and_multi_scan_are_left_to_a_general_decoder() {
        let mut progressive = Vec::new();
        let mut e = Encoder::new(&mut progressive, 80);
        e.set_progressive(true);
        e.encode(&rgb(32, 32), 32, 32, ColorType::Rgb).unwrap();
        // This encoder writes 4:1:1 as one scan per component.
        let separate = encode(64, 48, SamplingFactor::R_4_1_1, 0);
        for jpeg in [progressive, separate] {
            assert!(matches!(
                luma_eighth(&jpeg, &mut Vec::new()),
                Err(DecodeError::Unsupported(_))
            ));
        }
    }

    #[test]
    fn cut_or_damaged_data_is_an_error_not_a_panic() {
        let jpeg = encode(120, 80, SamplingFactor::R_4_2_0, 0);
        // Cut in the middle of the entropy data, EOI kept.
        let mut cut = jpeg[..jpeg.len() / 2].to_vec();
        cut.extend_from_slice(&[0xFF, 0xD9]);
        assert!(matches!(
            luma_eighth(&cut, &mut Vec::new()),
            Err(DecodeError::Corrupt(_))
        ));
        // A header claiming a picture far larger than its data: refused up front.
        let mut big = jpeg.clone();
        let sof = big.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        big[sof + 5..sof + 9].copy_from_slice(&[0x1F, 0x40, 0x1F, 0x40]); // 8000 x 8000
        assert_eq!(
            luma_eighth(&big, &mut Vec::new()).unwrap_err(),
            DecodeError::Corrupt("too little data for the picture size it claims")
        );
        // Every byte flipped in turn: any result but a panic.
        for i in 2..jpeg.len() - 2 {
            let mut bad = jpeg.clone();
            bad[i] ^= 0x5A;
            let _ = luma_eighth(&bad, &mut Vec::new());
        }
    }
}
