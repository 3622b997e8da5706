//! A JPEG's headers up to its scan: frame, tables, restart interval, scan components.

use std::sync::Arc;

use super::huffman::{Huffman, cached_table};
use super::{DecodeError, MAX_PIXELS, Result};

/// A component of the frame, as its frame header and the scan describe it.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Component {
    pub(super) id: u8,
    pub(super) h: usize,
    pub(super) v: usize,
    pub(super) quant: usize,
    pub(super) dc_table: usize,
    pub(super) ac_table: usize,
}

/// What the header says, up to the start of the scan.
pub(super) struct Header {
    pub(super) width: usize,
    pub(super) height: usize,
    pub(super) components: Vec<Component>,
    pub(super) quant: [Option<[u16; 64]>; 4],
    pub(super) dc: [Option<Arc<Huffman>>; 4],
    pub(super) ac: [Option<Arc<Huffman>>; 4],
    pub(super) restart_interval: usize,
    /// Where the entropy-coded data starts.
    pub(super) scan_start: usize,
    pub(super) adobe_transform: Option<u8>,
}

pub(super) fn be16(data: &[u8], at: usize) -> Result<usize> {
    data.get(at..at + 2)
        .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        .ok_or(DecodeError::Corrupt("truncated header"))
}

impl Header {
    pub(super) fn empty() -> Header {
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

    pub(super) fn parse(data: &[u8]) -> Result<Header> {
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

    pub(super) fn frame(&mut self, seg: &[u8]) -> Result<()> {
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

    pub(super) fn max_sampling(&self) -> (usize, usize) {
        let h = self.components.iter().map(|c| c.h).max().unwrap_or(1);
        let v = self.components.iter().map(|c| c.v).max().unwrap_or(1);
        (h, v)
    }

    pub(super) fn huffman(&mut self, mut seg: &[u8]) -> Result<()> {
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

    pub(super) fn quantization(&mut self, mut seg: &[u8]) -> Result<()> {
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

    pub(super) fn scan(&mut self, seg: &[u8]) -> Result<()> {
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
    pub(super) fn mcus(&self) -> (usize, usize) {
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

/// Standard tables (JPEG Annex K.3): DC luma, DC chroma, AC luma, AC chroma.
pub(super) fn standard_tables() -> &'static [Arc<Huffman>; 4] {
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
