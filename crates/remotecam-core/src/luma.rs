//! The motion detector's working picture: luma only, about [`WORK_WIDTH`] pixels wide,
//! made from whatever luma there is (a JPEG's DC coefficients, a decoded JPEG, a decoded
//! H.264 picture) by the same rule, so that every source gives pictures of one size and,
//! but for rounding, one content.

/// Width of the working picture, at most.
pub const WORK_WIDTH: usize = 160;

/// A grayscale picture, one byte per pixel, rows without padding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Luma {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

/// The working picture from a full luma plane (`w x h`, rows `stride` apart). A plane
/// at least 8 times [`WORK_WIDTH`] wide is averaged over 8x8 blocks first, as a JPEG's
/// DC coefficients are (partial blocks left out), then as [`from_eighth`] does; a
/// narrower one is averaged by the whole factor that brings it to at most that width.
pub fn working_picture(plane: &[u8], stride: usize, w: usize, h: usize) -> Luma {
    if w / 8 >= WORK_WIDTH {
        let eighth = box_average(plane, stride, w, h, 8);
        return from_eighth(eighth);
    }
    box_average(plane, stride, w, h, w.div_ceil(WORK_WIDTH).max(1))
}

/// The working picture from the luma at 1/8 (at least [`WORK_WIDTH`] wide): as it is,
/// or averaged down by a whole factor if still twice as wide or more.
pub fn from_eighth(eighth: Luma) -> Luma {
    let f = eighth.width / WORK_WIDTH;
    if f <= 1 {
        return eighth;
    }
    box_average(&eighth.pixels, eighth.width, eighth.width, eighth.height, f)
}

/// `pixels` (`w x h`, rows `stride` apart) reduced `f` times each way, each output pixel
/// the mean of an `f x f` square (a partial square at the edges is left out).
pub fn box_average(pixels: &[u8], stride: usize, w: usize, h: usize, f: usize) -> Luma {
    let (sw, sh) = ((w / f).max(1), (h / f).max(1));
    let (fw, fh) = (f.min(w), f.min(h));
    let mut out = Vec::with_capacity(sw * sh);
    // Column sums over each band of `fh` rows (a loop the compiler runs on vectors), then
    // `fw` of them to a pixel. 16-bit sums: `f` is at most 51 for any picture the hub
    // takes (65535 wide is 8192 at 1/8, 51 times the working width), and 257 rows of
    // 255 still fit.
    debug_assert!(fh <= 257);
    let mut columns = vec![0u16; sw * fw];
    let area = (fw * fh) as u32;
    for y in 0..sh {
        columns.fill(0);
        for dy in 0..fh {
            let row = &pixels[(y * fh + dy) * stride..][..sw * fw];
            for (sum, &p) in columns.iter_mut().zip(row) {
                *sum += u16::from(p);
            }
        }
        out.extend(
            columns
                .chunks_exact(fw)
                .map(|c| (c.iter().map(|&s| u32::from(s)).sum::<u32>() / area) as u8),
        );
    }
    Luma {
        width: sw,
        height: sh,
        pixels: out,
    }
}
