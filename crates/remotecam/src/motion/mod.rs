//! Motion detection and the rules that turn motion into clips, with no I/O: a detector
//! that scores each (small, grayscale) frame, and a tracker that decides when a clip
//! starts, ends, is split or discarded. The recorder and the API are built on these.
//!
//! `live` runs them on cameras (and hands clips to the recorder) with `preroll`'s frame
//! buffer, `picture` makes the detector's picture from a JPEG, `settings` holds what the
//! API reads and writes, `history` the last minutes of each camera's level.

mod clip;
mod detector;
pub mod history;
pub mod live;
pub mod picture;
mod preroll;
mod session;
pub mod settings;
mod tone;

pub use clip::{ClipEvent, ClipRules, ClipTracker};
pub use detector::{Detector, DetectorSettings, Gray, Polygon, Score};
pub use settings::{
    ChangeError, Motion, MotionSettings, MotionStatus, MotionUpdate, SettingsStore,
};
