//! Output files that appear whole or not at all.
//!
//! An [`AtomicFile`] writes to a hidden temporary file in the target's own directory (so the
//! final rename stays on one file system) and renames it over the target on [`AtomicFile::commit`].
//! Dropped without a commit (an error, a bad argument found later, a signal), it removes the
//! temporary file: no partial output is ever left behind. Creating it is also the writability
//! check the commands run before they open the camera.
//!
//! The target is checked with [`check_target`] when the file is created and again right before
//! the rename (see [`crate::output`]): only a new file or an existing regular file is ever
//! replaced. The temporary file is created with `create_new` (`O_CREAT | O_EXCL`,
//! `CREATE_NEW`), which never opens an existing entry or follows a link.
//!
//! Every temporary file alive is also listed in a process-wide registry, so that a second
//! SIGINT/SIGTERM ([`crate::interrupt`]), which exits at once, can still remove them
//! ([`remove_partials`]).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::error::ViewerError;
use crate::output::{check_frame_directory, check_target, parent_directory};

/// Distinguishes temporary files created by one process.
static NEXT_TEMP: AtomicU32 = AtomicU32::new(0);

/// The temporary files not yet committed or removed, for [`remove_partials`].
static PARTIALS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Adds `path` to, or removes it from, the registry of partial files.
fn register(path: &Path, alive: bool) {
    let mut partials = PARTIALS.lock().unwrap_or_else(PoisonError::into_inner);
    if alive {
        partials.push(path.to_path_buf());
    } else if let Some(index) = partials.iter().position(|p| p == path) {
        partials.swap_remove(index);
    }
}

/// Removes every temporary file still being written (best effort) and returns how many were
/// removed. For a process about to exit without unwinding; the [`AtomicFile`]s themselves stay
/// usable (their own removal then finds nothing).
pub fn remove_partials() -> usize {
    remove_partials_where(|_| true)
}

/// [`remove_partials`] for the registered files `which` selects.
fn remove_partials_where(which: impl Fn(&Path) -> bool) -> usize {
    let partials = PARTIALS.lock().unwrap_or_else(PoisonError::into_inner);
    partials
        .iter()
        .filter(|path| which(path) && fs::remove_file(path).is_ok())
        .count()
}

/// A file being written under a temporary name, renamed to its target on commit.
#[derive(Debug)]
pub struct AtomicFile {
    file: Option<File>,
    temp: PathBuf,
    target: PathBuf,
    option: &'static str,
}

impl AtomicFile {
    /// Creates the temporary file for `target` (named by command-line `option`, for messages).
    ///
    /// Fails with [`ViewerError::UnwritableOutput`] if `target` is no place for an output
    /// ([`check_target`]: a link, a directory, a device...), or its directory cannot be written.
    pub fn create(option: &'static str, target: &Path) -> Result<Self, ViewerError> {
        check_target(option, target)?;
        let unwritable = |reason: String| ViewerError::UnwritableOutput {
            option,
            path: target.to_path_buf(),
            reason,
        };
        let name = target
            .file_name()
            .ok_or_else(|| unwritable("it names no file".into()))?;
        let temp = parent_directory(target).join(format!(
            ".{}.{}-{}.partial",
            name.to_string_lossy(),
            std::process::id(),
            NEXT_TEMP.fetch_add(1, Ordering::Relaxed)
        ));
        // Registered before it exists, so that no instant has it on disk and unlisted.
        register(&temp, true);
        let file = match OpenOptions::new().write(true).create_new(true).open(&temp) {
            Ok(file) => file,
            Err(error) => {
                register(&temp, false);
                return Err(unwritable(error.to_string()));
            }
        };
        Ok(AtomicFile {
            file: Some(file),
            temp,
            target: target.to_path_buf(),
            option,
        })
    }

    /// The path the file will have once committed.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// The temporary path being written now.
    pub fn temp_path(&self) -> &Path {
        &self.temp
    }

    /// Flushes, syncs and renames the file to its target, if the target is still nothing or a
    /// regular file; otherwise fails (exit code 1) and leaves the target as it is.
    pub fn commit(mut self) -> Result<(), ViewerError> {
        let what = || format!("{} {}", self.option, self.target.display());
        if let Some(file) = self.file.take() {
            file.sync_all().map_err(|e| ViewerError::io(what(), e))?;
        }
        if let Err(refused) = check_target(self.option, &self.target) {
            let reason = match refused {
                ViewerError::UnwritableOutput { reason, .. } => reason,
                other => other.to_string(),
            };
            return Err(ViewerError::io(
                what(),
                io::Error::other(format!(
                    "{reason}: it changed while the viewer was writing and is left as it is"
                )),
            ));
        }
        fs::rename(&self.temp, &self.target).map_err(|e| ViewerError::io(what(), e))?;
        // Renamed: nothing is left to remove.
        register(&self.temp, false);
        self.temp = PathBuf::new();
        Ok(())
    }

    /// The open file; it is only `None` after `commit`, which consumes `self`.
    fn file(&mut self) -> io::Result<&mut File> {
        self.file
            .as_mut()
            .ok_or_else(|| io::Error::other("the file was already committed"))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.file()?.write(bytes)
    }

    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file()?.write_all(bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file()?.flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        drop(self.file.take());
        if !self.temp.as_os_str().is_empty() {
            // Best effort: the file was ours and is incomplete.
            let _ = fs::remove_file(&self.temp);
            register(&self.temp, false);
        }
    }
}

/// Checks that frames can be written into `directory` (for `--png DIR`):
/// [`check_frame_directory`], then creates and removes a temporary file there.
pub fn check_directory(option: &'static str, directory: &Path) -> Result<(), ViewerError> {
    check_frame_directory(option, directory)?;
    AtomicFile::create(option, &directory.join("probe")).map(drop)
}

/// A fresh, empty directory for a unit test of this crate's file handling.
#[cfg(test)]
pub(crate) fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("avcam-viewer-unit-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn commit_renames_and_drop_removes() {
        let dir = scratch_dir("commit");
        let target = dir.join("out.y4m");
        let mut file = AtomicFile::create("--output", &target).unwrap();
        file.write_all(b"hello").unwrap();
        assert!(!target.exists(), "nothing at the target before the commit");
        assert_eq!(entries(&dir).len(), 1);
        file.commit().unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"hello");
        assert_eq!(entries(&dir), ["out.y4m"]);

        let mut abandoned = AtomicFile::create("--output", &dir.join("other.y4m")).unwrap();
        abandoned.write_all(b"partial").unwrap();
        drop(abandoned);
        assert_eq!(entries(&dir), ["out.y4m"], "the partial file is gone");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn unwritable_targets_are_named() {
        let dir = scratch_dir("unwritable");
        let missing = dir.join("no/such/dir/out.y4m");
        let error = AtomicFile::create("--output", &missing).unwrap_err();
        assert!(matches!(
            error,
            ViewerError::UnwritableOutput {
                option: "--output",
                ..
            }
        ));
        assert!(error.to_string().contains("no/such/dir/out.y4m"), "{error}");

        let error = AtomicFile::create("--output", &dir).unwrap_err();
        assert!(error.to_string().contains("it is a directory"), "{error}");

        assert!(check_directory("--png", &dir).is_ok());
        assert!(check_directory("--png", &dir.join("missing")).is_err());
        assert!(entries(&dir).is_empty(), "checks leave nothing behind");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn remove_partials_removes_what_is_being_written_and_drop_still_works() {
        let dir = scratch_dir("partials");
        let mut first = AtomicFile::create("--output", &dir.join("a.y4m")).unwrap();
        first.write_all(b"partial").unwrap();
        let second = AtomicFile::create("--png", &dir.join("b.png")).unwrap();
        assert_eq!(entries(&dir).len(), 2);
        // Only this test's files: the other tests' are being written in parallel.
        assert_eq!(remove_partials_where(|path| path.starts_with(&dir)), 2);
        assert!(entries(&dir).is_empty(), "left {:?}", entries(&dir));
        drop(second);
        // A committed file is unregistered: the registry never removes a published output.
        let done = AtomicFile::create("--png", &dir.join("c.png")).unwrap();
        let temp = done.temp_path().to_path_buf();
        done.commit().unwrap();
        assert!(!PARTIALS.lock().unwrap().contains(&temp));
        assert_eq!(remove_partials_where(|path| path.starts_with(&dir)), 0);
        assert_eq!(entries(&dir), ["c.png"]);
        drop(first);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    #[cfg(unix)]
    fn a_target_swapped_for_a_link_while_writing_is_left_alone() {
        let dir = scratch_dir("swap");
        let target = dir.join("out.png");
        let mut file = AtomicFile::create("--png", &target).unwrap();
        file.write_all(b"new").unwrap();
        let victim = dir.join("victim");
        fs::write(&victim, b"precious").unwrap();
        std::os::unix::fs::symlink(&victim, &target).unwrap();
        let error = file.commit().unwrap_err();
        assert_eq!(error.exit_code(), crate::error::EXIT_FAILURE);
        assert!(error.to_string().contains("symbolic link"), "{error}");
        assert!(fs::symlink_metadata(&target)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        assert_eq!(
            entries(&dir),
            ["out.png", "victim"],
            "the temporary file is gone"
        );
        fs::remove_dir_all(dir).unwrap();
    }
}
