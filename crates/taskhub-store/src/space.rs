//! The free space on the database's file system, the second half of the readiness probe
//! (the first is the writer's heartbeat commit).
//!
//! The heartbeat alone can pass on a disk that is full: SQLite reuses a WAL file from its
//! start after a checkpoint, and a one-page commit can land in space the file already
//! holds (or in the slack of its last block) while a larger group needs new blocks and
//! fails with `SQLITE_FULL`. So the store also reports itself not ready while less than
//! [`RESERVE_BYTES`] is free. The check only reports: writes are never refused by it.

use std::path::PathBuf;

use crate::error::SqliteError;

/// Free space below which the store is not ready: one largest request body at the
/// default `--max-body-bytes` (1 MiB), so a publish the server accepts fits when it is.
pub(crate) const RESERVE_BYTES: u64 = 1 << 20;

/// Where to measure, and how much must be free.
#[derive(Debug)]
pub(crate) struct FreeSpace {
    /// The database file: it, its WAL and its lock file share one file system.
    path: PathBuf,
    reserve: u64,
}

impl FreeSpace {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            reserve: RESERVE_BYTES,
        }
    }

    /// `Ok` while at least the reserve is free to unprivileged users (`f_bavail`): the
    /// blocks a file system keeps for root are its owner's emergency room, not TaskHub's.
    pub(crate) fn check(&self) -> Result<(), SqliteError> {
        let stats = rustix::fs::statvfs(&self.path).map_err(|e| {
            SqliteError::Unavailable(format!(
                "cannot read the free space of {}: {e}",
                self.path.display()
            ))
        })?;
        let available = stats.f_bavail.saturating_mul(stats.f_frsize);
        if available < self.reserve {
            return Err(SqliteError::LowOnSpace {
                path: self.path.display().to_string(),
                available,
                reserve: self.reserve,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_a_file_system_with_less_than_the_reserve_free() {
        let dir = tempfile::tempdir().expect("tempdir");
        let roomy = FreeSpace {
            path: dir.path().to_owned(),
            reserve: 0,
        };
        roomy.check().expect("nothing is reserved");
        let full = FreeSpace {
            path: dir.path().to_owned(),
            reserve: u64::MAX,
        };
        let error = full.check().expect_err("no disk has that much free");
        assert!(matches!(error, SqliteError::LowOnSpace { .. }), "{error:?}");
        assert!(error.to_string().contains("bytes free"), "{error}");
    }

    #[test]
    fn a_path_that_cannot_be_measured_is_not_ready() {
        let dir = tempfile::tempdir().expect("tempdir");
        let gone = FreeSpace::new(dir.path().join("missing").join("t.db"));
        let error = gone.check().expect_err("nothing to measure");
        assert!(
            error.to_string().contains("cannot read the free space"),
            "{error}"
        );
    }
}
