//! A clip on disk: fragmented MP4 (ISO BMFF) with one H.264 (or H.265) track, written a
//! fragment (about one second) at a time, of the camera's access units as they came
//! (its own, or those its encoder made): only the clip's first fragment starts with a
//! keyframe, and the others are a second long whatever the camera's keyframe interval
//! (a crash still loses about a second).
//!
//! Why fragmented: every fragment is complete on its own (`moof` says where its samples
//! are, `mdat` holds them), so a file cut short by a crash or a full disk is playable up
//! to its last whole fragment. [`recover`] cuts a file back to that point. A finished
//! file also gets its duration written into the `moov` so players show a seek bar.
//!
//! Timestamps are the frames' own (90 kHz timescale): a camera that sends 12 frames one
//! second and 30 the next plays back at the speed it happened.

use std::fs::File;
use std::io::{IoSlice, Read, Seek, SeekFrom};
use std::num::NonZeroU32;
use std::os::unix::fs::FileExt;
use std::path::Path;

use bytes::Bytes;
use shiguredo_mp4::boxes::{FtypBox, MoofBox, MoovBox, SampleEntry};
use shiguredo_mp4::mux::{Fmp4SegmentMuxer, Sample};
use shiguredo_mp4::{Decode, Encode, TrackKind};

use crate::video::{AccessUnit, VideoParams};

/// Media timescale: ticks per second.
pub const TIMESCALE: u32 = 90_000;
/// A new fragment starts with the first frame at least this long after the fragment's
/// first.
pub const FRAGMENT_TICKS: u64 = TIMESCALE as u64;

struct Pending {
    dts: u64,
    keyframe: bool,
    /// NAL units with 4-byte lengths.
    data: Bytes,
}

/// What a clip file holds so far.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Written {
    /// Samples in complete fragments.
    pub frames: u64,
    /// Duration of the complete fragments, in [`TIMESCALE`] ticks.
    pub ticks: u64,
    /// File size up to the end of the last complete fragment.
    pub bytes: u64,
}

impl Written {
    pub fn seconds(&self) -> f64 {
        self.ticks as f64 / f64::from(TIMESCALE)
    }

    /// The duration in whole milliseconds (the index's unit).
    pub fn millis(&self) -> i64 {
        (self.seconds() * 1000.0).round() as i64
    }
}

/// An open clip file.
pub struct ClipFile {
    file: File,
    muxer: Fmp4SegmentMuxer,
    sample_entry: Option<SampleEntry>,
    /// The camera's parameters the sample entry was made from (its own video only).
    params: Option<std::sync::Arc<VideoParams>>,
    pending: Vec<Pending>,
    init_len: u64,
    written: Written,
}

impl std::fmt::Debug for ClipFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClipFile")
            .field("written", &self.written)
            .finish_non_exhaustive()
    }
}

fn mux_err(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(format!("MP4: {e}"))
}

impl ClipFile {
    /// Creates the file (it must not exist).
    pub fn create(path: &Path) -> std::io::Result<ClipFile> {
        let file = File::options().write(true).create_new(true).open(path)?;
        Ok(ClipFile {
            file,
            muxer: Fmp4SegmentMuxer::new().map_err(mux_err)?,
            sample_entry: None,
            params: None,
            pending: Vec::new(),
            init_len: 0,
            written: Written::default(),
        })
    }

    /// Whether a unit at `dts` starts the next fragment.
    fn starts_fragment(&self, dts: u64) -> bool {
        match self.pending.first() {
            None => true,
            Some(first) => dts.saturating_sub(first.dts) >= FRAGMENT_TICKS,
        }
    }

    pub fn written(&self) -> Written {
        self.written
    }

    /// Adds an access unit (a camera's own, or one its encoder made), at `dts` ticks, as
    /// it came. The first must be a
    /// keyframe; a unit with other parameters than the clip's (a new resolution) is
    /// refused with [`NewParameters`]: it needs a new file.
    pub fn push_unit(&mut self, dts: u64, unit: &AccessUnit) -> std::io::Result<()> {
        match &self.params {
            Some(params) if std::sync::Arc::ptr_eq(params, &unit.params) => {}
            Some(params) if **params == *unit.params => {}
            Some(_) => return Err(std::io::Error::other(NewParameters)),
            None => {
                if !unit.keyframe {
                    return Err(std::io::Error::other("a clip must start with a keyframe"));
                }
                self.sample_entry = Some(crate::video::mp4::sample_entry(&unit.params)?);
                self.params = Some(std::sync::Arc::clone(&unit.params));
            }
        }
        self.push_sample(dts, unit.keyframe, unit.data.clone())
    }

    fn push_sample(&mut self, dts: u64, keyframe: bool, data: Bytes) -> std::io::Result<()> {
        if let Some(last) = self.pending.last()
            && dts <= last.dts
        {
            return Err(std::io::Error::other(
                "frame timestamps must increase within a clip",
            ));
        }
        if self.written.frames == 0 && self.pending.is_empty() && !keyframe {
            return Err(std::io::Error::other("a clip must start with a keyframe"));
        }
        if self.starts_fragment(dts) && !self.pending.is_empty() {
            self.flush(dts)?;
        }
        self.pending.push(Pending {
            dts,
            keyframe,
            data,
        });
        Ok(())
    }

    /// Writes the pending samples as one fragment; `end` is when the last one stops
    /// showing (the next frame's time). Synced to disk, so a power cut keeps it.
    pub fn flush(&mut self, end: u64) -> std::io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let timescale = NonZeroU32::new(TIMESCALE).expect("non-zero");
        let mut samples = Vec::with_capacity(self.pending.len());
        let mut offset = 0;
        for (i, p) in self.pending.iter().enumerate() {
            let next = self.pending.get(i + 1).map_or(end, |n| n.dts);
            let duration = next.saturating_sub(p.dts).max(1);
            samples.push(Sample {
                track_kind: TrackKind::Video,
                timescale,
                sample_entry: (self.written.frames == 0 && i == 0)
                    .then(|| self.sample_entry.clone())
                    .flatten(),
                duration: u32::try_from(duration).map_err(mux_err)?,
                keyframe: p.keyframe,
                composition_time_offset: None,
                data_offset: offset,
                data_size: p.data.len(),
            });
            offset += p.data.len() as u64;
        }
        let header = self
            .muxer
            .create_media_segment_metadata(&samples)
            .map_err(mux_err)?;
        let init = match self.written.frames {
            0 => self.muxer.init_segment_bytes().map_err(mux_err)?,
            _ => Vec::new(),
        };
        if self.written.frames == 0 {
            self.init_len = init.len() as u64;
        }
        // The samples' bytes are written from where they are, not copied together.
        let mut parts = vec![IoSlice::new(&init), IoSlice::new(&header)];
        parts.extend(self.pending.iter().map(|p| IoSlice::new(&p.data)));
        let len = (init.len() + header.len()) as u64 + offset;
        write_all_at(&self.file, &mut parts, self.written.bytes)?;
        self.file.sync_data()?;
        let first_dts = self.pending[0].dts;
        self.written.frames += self.pending.len() as u64;
        self.written.ticks += end.saturating_sub(first_dts).max(1);
        self.written.bytes += len;
        self.pending.clear();
        Ok(())
    }

    /// Writes what is pending (`end` as in [`flush`](Self::flush)), records the duration
    /// in the header and syncs. On a write error (a full disk) the file is cut back to its
    /// last whole fragment and finished as that.
    pub fn finish(mut self, end: u64) -> (Written, Option<std::io::Error>) {
        let error = self.flush(end).err();
        if error.is_some() {
            let _ = self.file.set_len(self.written.bytes);
        }
        if self.written.frames > 0 {
            let _ = set_duration(&self.file, self.init_len, self.written.ticks);
            let _ = self.file.sync_all();
        }
        (self.written, error)
    }
}

/// A camera's access unit whose parameters differ from the clip's: the clip goes on in a
/// new file.
#[derive(Debug)]
pub struct NewParameters;

impl std::fmt::Display for NewParameters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the camera changed its video parameters")
    }
}

impl std::error::Error for NewParameters {}

/// Writes all of `parts` at `offset`, however many calls it takes.
fn write_all_at(
    file: &File,
    mut parts: &mut [IoSlice<'_>],
    mut offset: u64,
) -> std::io::Result<()> {
    while !parts.is_empty() {
        // At most IOV_MAX (1024) parts a call.
        match rustix::io::pwritev(file, &parts[..parts.len().min(1024)], offset) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                offset += n as u64;
                IoSlice::advance_slices(&mut parts, n);
            }
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Writes `ticks` as the duration in the file's `moov` (movie, track, media and
/// fragmented-movie headers), in place: the header keeps its size.
fn set_duration(file: &File, init_len: u64, ticks: u64) -> std::io::Result<()> {
    let mut init = vec![0; init_len as usize];
    file.read_exact_at(&mut init, 0)?;
    let (ftyp, ftyp_len) = FtypBox::decode(&init).map_err(mux_err)?;
    let (mut moov, _) = MoovBox::decode(&init[ftyp_len..]).map_err(mux_err)?;
    let movie = ticks * u64::from(moov.mvhd_box.timescale.get()) / u64::from(TIMESCALE);
    moov.mvhd_box.duration = movie;
    if let Some(mvex) = &mut moov.mvex_box
        && let Some(mehd) = &mut mvex.mehd_box
    {
        mehd.fragment_duration = movie;
    }
    for trak in &mut moov.trak_boxes {
        trak.tkhd_box.duration = movie;
        let media =
            ticks * u64::from(trak.mdia_box.mdhd_box.timescale.get()) / u64::from(TIMESCALE);
        trak.mdia_box.mdhd_box.duration = media;
    }
    let mut patched = ftyp.encode_to_vec().map_err(mux_err)?;
    patched.extend_from_slice(&moov.encode_to_vec().map_err(mux_err)?);
    if patched.len() != init.len() {
        return Err(std::io::Error::other("the MP4 header changed size"));
    }
    file.write_all_at(&patched, 0)
}

/// One top-level box: type and extent.
struct TopBox {
    kind: [u8; 4],
    start: u64,
    end: u64,
}

/// Reads the top-level box headers of `file` (`len` bytes), stopping at the first one
/// that runs past the end.
fn top_boxes(file: &mut File, len: u64) -> std::io::Result<Vec<TopBox>> {
    let mut boxes = Vec::new();
    let mut pos = 0;
    while pos + 8 <= len {
        let mut h = [0u8; 16];
        file.seek(SeekFrom::Start(pos))?;
        let n = (len - pos).min(16) as usize;
        file.read_exact(&mut h[..n])?;
        let size32 = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
        let kind = [h[4], h[5], h[6], h[7]];
        let size = match size32 {
            0 => len - pos,
            1 if n == 16 => u64::from_be_bytes(h[8..16].try_into().expect("8 bytes")),
            1 => break,
            s => u64::from(s),
        };
        if size < 8 || pos + size > len {
            break;
        }
        boxes.push(TopBox {
            kind,
            start: pos,
            end: pos + size,
        });
        pos += size;
    }
    Ok(boxes)
}

/// Brings a clip file left unfinished (the hub was killed, the power went) back to a
/// playable state: cut after its last whole fragment, duration written. `None` when it
/// holds no whole fragment (the caller removes it).
pub fn recover(path: &Path) -> std::io::Result<Option<Written>> {
    let mut file = File::options().read(true).write(true).open(path)?;
    let len = file.metadata()?.len();
    let boxes = top_boxes(&mut file, len)?;
    let (Some(ftyp), Some(moov)) = (boxes.first(), boxes.get(1)) else {
        return Ok(None);
    };
    if &ftyp.kind != b"ftyp" || &moov.kind != b"moov" {
        return Ok(None);
    }
    let init_len = moov.end;
    let mut written = Written {
        frames: 0,
        ticks: 0,
        bytes: init_len,
    };
    let mut i = 2;
    while i + 1 < boxes.len() && &boxes[i].kind == b"moof" && &boxes[i + 1].kind == b"mdat" {
        let mut raw = vec![0; (boxes[i].end - boxes[i].start) as usize];
        file.read_exact_at(&mut raw, boxes[i].start)?;
        let Ok((moof, _)) = MoofBox::decode(&raw) else {
            break;
        };
        for traf in &moof.traf_boxes {
            for trun in &traf.trun_boxes {
                written.frames += trun.samples.len() as u64;
                written.ticks += trun
                    .samples
                    .iter()
                    .map(|s| {
                        u64::from(
                            s.duration
                                .or(traf.tfhd_box.default_sample_duration)
                                .unwrap_or(0),
                        )
                    })
                    .sum::<u64>();
            }
        }
        written.bytes = boxes[i + 1].end;
        i += 2;
    }
    if written.frames == 0 {
        return Ok(None);
    }
    if written.bytes < len {
        file.set_len(written.bytes)?;
    }
    set_duration(&file, init_len, written.ticks)?;
    file.sync_all()?;
    Ok(Some(written))
}
