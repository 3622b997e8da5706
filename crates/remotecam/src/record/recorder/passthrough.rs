//! A clip's video: the camera's access units into the file (its own, or those its
//! encoder made), no decoding or encoding. The recorder's other half (`mod.rs`) opens,
//! counts and ends clips.

use std::sync::Arc;

use super::{Clip, Worker};
use crate::camera::{MadePicture, Shown};
use crate::record::error::RecordError;
use crate::record::fmp4::NewParameters;
use crate::video::AccessUnit;
use crate::video::pictures::{Jpeg, PictureMaker};

/// How far the camera's clock may run from the hub's within a clip.
const CLOCKS_APART: std::time::Duration = std::time::Duration::from_secs(2);

impl Worker {
    /// A frame of the clip: the clip opens at its first frame, with the units from the
    /// keyframe at or before it; the frame itself is not written (the camera's units
    /// are).
    pub(super) fn video_frame(&mut self, frame: Shown, score: f32, motion: bool) {
        if self.stopped.is_some() {
            return;
        }
        if self.clip.is_none() {
            let start: Vec<Arc<AccessUnit>> = self.units.from(frame.received()).cloned().collect();
            if !self.open_video(&start) {
                return;
            }
        }
        self.counted(frame, score, motion);
    }

    /// Opens a clip of the camera's own video and writes `units` into it (the first a
    /// keyframe). False when nothing could be opened.
    fn open_video(&mut self, units: &[Arc<AccessUnit>]) -> bool {
        let Some(first) = units.first() else {
            tracing::debug!(camera = %self.name, "no keyframe yet: the clip waits for one");
            return false;
        };
        match self.open((first.received_at, first.received)) {
            Ok(c) => {
                self.clip = Some(Clip {
                    first_unit: Some(Arc::clone(first)),
                    ..c
                })
            }
            Err(e) => {
                self.stop(e);
                return false;
            }
        }
        self.status();
        for unit in units {
            self.write_unit(unit);
        }
        self.clip.is_some()
    }

    /// A unit: into the pre-roll, and into the open clip. Recording all the time, a
    /// keyframe opens the first clip, and the next once the clip is as long as it may
    /// be.
    pub(super) fn unit(&mut self, unit: Arc<AccessUnit>) {
        self.units.push(Arc::clone(&unit));
        if let Some(max) = self.continuous
            && unit.keyframe
            && self
                .clip
                .as_ref()
                .is_none_or(|c| unit.received.saturating_duration_since(c.first) >= max)
        {
            self.start();
            if self.stopped.is_none() {
                self.open_video(std::slice::from_ref(&unit));
            }
            return;
        }
        if self.clip.as_ref().is_some_and(|c| unit.seq > c.last_unit) {
            self.write_unit(&unit);
        }
    }

    /// Writes one of the camera's units into the open clip, at its own time; a unit with
    /// new parameters (a new resolution) goes on in a new file.
    fn write_unit(&mut self, unit: &Arc<AccessUnit>) {
        let Some(clip) = &mut self.clip else { return };
        let first_pts = *clip.first_pts.get_or_insert(unit.pts);
        let mut dts = u64::try_from(unit.pts - first_pts).unwrap_or(0);
        // The camera's clock gives the times (no network jitter in them), unless it
        // disagrees with the hub's by more than [`CLOCKS_APART`] (a camera whose clock
        // jumped would make a clip of seconds last hours): then the hub's time is taken
        // and the camera's counted from there.
        let hub = super::ticks(unit.received.saturating_duration_since(clip.first));
        if dts.abs_diff(hub) > super::ticks(CLOCKS_APART) {
            clip.first_pts = Some(unit.pts - hub as i64);
            dts = hub;
        }
        // Timestamps must rise within a file (a camera with B-frames sends them out of
        // presentation order; shown a tick apart rather than refused).
        if let Some(last) = clip.last_dts
            && dts <= last
        {
            dts = last + 1;
        }
        match clip.file.push_unit(dts, unit) {
            Ok(()) => {
                clip.last_dts = Some(dts);
                clip.last_unit = unit.seq;
                if clip.file.written() != clip.flushed {
                    self.progress();
                }
            }
            Err(e) if e.get_ref().is_some_and(|e| e.is::<NewParameters>()) => {
                if !self.cut_for_new_size(unit.received) {
                    return;
                }
                self.end(true);
                self.start();
                if self.stopped.is_none() && unit.keyframe {
                    self.open_video(std::slice::from_ref(unit));
                }
            }
            Err(e) => self.stop(RecordError::io("writing the clip", &e)),
        }
    }
}

/// A picture (with its thumbnail) of `keyframe`, decoded on its own: a clip's
/// thumbnail when nothing made pictures of it.
pub(super) fn picture_of(keyframe: &AccessUnit) -> Option<(f32, Shown)> {
    let mut maker = PictureMaker::new().ok()?;
    let picture = match maker.decode(keyframe, true, Jpeg::Thumbnail) {
        Ok(picture) => picture?,
        Err(e) => {
            tracing::debug!(error = %e, "no thumbnail");
            return None;
        }
    };
    let made = MadePicture {
        seq: keyframe.seq,
        width: picture.width,
        height: picture.height,
        captured_at: keyframe.captured_at,
        received_at: keyframe.received_at,
        received: keyframe.received,
        luma: picture.luma,
        frame: None,
        thumbnail: Some(picture.thumbnail?),
    };
    Some((0.0, Shown::Made(Arc::new(made))))
}
