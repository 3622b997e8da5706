//! Recording: motion clips as MP4 files, their index, and retention.

pub mod encode;
pub mod fmp4;
