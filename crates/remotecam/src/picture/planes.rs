//! The one form of 4:2:0 planes ([`Yuv420`], borrowed: a JPEG decoded into an [`I420`],
//! a video frame as libavcodec decoded it), and [`I420`], planes of the hub's own.

use remotecam_core::luma::{Luma, box_average, working_picture};

/// 4:2:0 planes of 8-bit samples (Y, U, V), `width x height`, rows `strides` bytes
/// apart (which may be more than a row's samples).
#[derive(Debug, Clone, Copy)]
pub struct Yuv420<'a> {
    pub planes: [&'a [u8]; 3],
    pub strides: [usize; 3],
    pub width: usize,
    pub height: usize,
}

impl Yuv420<'_> {
    /// The motion detector's working picture of it (`remotecam_core::luma`).
    pub fn working_picture(&self) -> Luma {
        working_picture(self.planes[0], self.strides[0], self.width, self.height)
    }

    /// Its planes averaged down by the whole factor that brings them to at most
    /// `max_width` wide, to an even size (so that the chroma is half of it each way,
    /// whole); none if that leaves nothing.
    pub fn scaled_down(&self, max_width: usize) -> Option<[Luma; 3]> {
        let f = self.width.div_ceil(max_width).max(1);
        let (tw, th) = ((self.width / f) & !1, (self.height / f) & !1);
        if tw == 0 || th == 0 {
            return None;
        }
        let (cw, ch) = (tw / 2, th / 2);
        let [y, u, v] = self.planes;
        let [ys, us, vs] = self.strides;
        Some([
            box_average(y, ys, tw * f, th * f, f),
            box_average(u, us, cw * f, ch * f, f),
            box_average(v, vs, cw * f, ch * f, f),
        ])
    }
}

/// Planes in one buffer of the hub's own (Y, then U, then V), full range as JPEG has
/// them. Width and height are even: a JPEG with an odd size loses its last column or
/// row. Rows are `y_stride` (luma) and `c_stride` (chroma) bytes apart, which may be
/// more than the picture's width (an odd-width JPEG's chroma rows have a sample more).
#[derive(Debug, Clone, Default)]
pub struct I420 {
    pub width: usize,
    pub height: usize,
    pub y_stride: usize,
    pub c_stride: usize,
    pub(super) data: Vec<u8>,
    /// Where the U and V planes start in `data`.
    pub(super) u_at: usize,
    pub(super) v_at: usize,
}

impl I420 {
    /// The planes, as every picture is seen.
    pub fn view(&self) -> Yuv420<'_> {
        Yuv420 {
            planes: [self.y(), self.u(), self.v()],
            strides: [self.y_stride, self.c_stride, self.c_stride],
            width: self.width,
            height: self.height,
        }
    }

    pub fn y(&self) -> &[u8] {
        &self.data[..self.u_at]
    }

    pub fn u(&self) -> &[u8] {
        &self.data[self.u_at..self.v_at]
    }

    pub fn v(&self) -> &[u8] {
        &self.data[self.v_at..]
    }

    /// The planes from `y`, `u` and `v` (rows `y_stride` and `c_stride` apart), for
    /// pictures made elsewhere (tests).
    pub fn from_planes(
        (width, height): (usize, usize),
        (y_stride, c_stride): (usize, usize),
        [y, u, v]: [&[u8]; 3],
    ) -> I420 {
        let data = [y, u, v].concat();
        I420 {
            width,
            height,
            y_stride,
            c_stride,
            u_at: y.len(),
            v_at: y.len() + u.len(),
            data,
        }
    }

    /// Sizes the buffer for a `w x h` picture (even), rows one after the other.
    pub(super) fn size_for(&mut self, w: usize, h: usize) {
        let (ew, eh) = (w & !1, h & !1);
        self.width = ew;
        self.height = eh;
        (self.y_stride, self.c_stride) = (ew, ew / 2);
        (self.u_at, self.v_at) = (ew * eh, ew * eh + ew * eh / 4);
        self.data.resize(ew * eh * 3 / 2, 128);
    }

    /// The three planes to write: Y, U, V.
    pub(super) fn planes_mut(&mut self) -> (&mut [u8], &mut [u8], &mut [u8]) {
        let (y, chroma) = self.data.split_at_mut(self.u_at);
        let (u, v) = chroma.split_at_mut(self.v_at - self.u_at);
        (y, u, v)
    }
}
