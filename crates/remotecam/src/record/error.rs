//! What went wrong while recording, with the kind the recorder decides on: a full disk
//! stops recording until a new clip finds room (`disk_full`); anything else stops it
//! with its message (`error`). The kind is taken from the cause (an I/O error's kind,
//! SQLite's code), never from a message.

use crate::events::StopReason;

use super::recorder::RecordingState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// No room: the disk, the user's quota, or the hub's free-space floor.
    Full,
    /// Another file system error.
    Io,
    /// The recordings index (SQLite) failed.
    Index,
    /// The H.264 encoder failed.
    Codec,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RecordError {
    pub kind: Kind,
    /// What failed, for the log and the camera's recording state.
    pub message: String,
}

impl RecordError {
    pub fn new(kind: Kind, message: impl Into<String>) -> RecordError {
        RecordError {
            kind,
            message: message.into(),
        }
    }

    /// `doing` (e.g. "cannot create x.mp4") failed with `e`.
    pub fn io(doing: impl std::fmt::Display, e: &std::io::Error) -> RecordError {
        let kind = match e.kind() {
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => Kind::Full,
            _ => Kind::Io,
        };
        RecordError::new(kind, format!("{doing}: {e}"))
    }

    pub fn index(e: &rusqlite::Error) -> RecordError {
        let kind = match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DiskFull) => Kind::Full,
            _ => Kind::Index,
        };
        RecordError::new(kind, format!("recordings index: {e}"))
    }

    /// The recorder's state once this stopped it.
    pub fn state(&self) -> RecordingState {
        match self.kind {
            Kind::Full => RecordingState::DiskFull,
            _ => RecordingState::Error,
        }
    }

    /// The reason `recording_stopped` gives.
    pub fn reason(&self) -> StopReason {
        match self.kind {
            Kind::Full => StopReason::DiskFull,
            _ => StopReason::Error,
        }
    }
}

impl From<rusqlite::Error> for RecordError {
    fn from(e: rusqlite::Error) -> RecordError {
        RecordError::index(&e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_told_by_its_cause() {
        let full = std::io::Error::from(std::io::ErrorKind::StorageFull);
        assert_eq!(RecordError::io("writing", &full).kind, Kind::Full);
        let quota = std::io::Error::from(std::io::ErrorKind::QuotaExceeded);
        assert_eq!(
            RecordError::io("writing", &quota).state(),
            RecordingState::DiskFull
        );
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let e = RecordError::io("cannot create a.mp4", &denied);
        assert_eq!((e.kind, e.reason()), (Kind::Io, StopReason::Error));
        assert!(e.message.starts_with("cannot create a.mp4: "), "{e}");
        let sqlite_full = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            None,
        );
        assert_eq!(RecordError::from(sqlite_full).kind, Kind::Full);
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        );
        assert_eq!(RecordError::from(busy).state(), RecordingState::Error);
    }
}
