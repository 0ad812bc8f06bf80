//! Output files that appear whole or not at all.
//!
//! An [`AtomicFile`] writes to a hidden temporary file in the target's own directory (so the
//! final rename stays on one file system) and renames it over the target on [`AtomicFile::commit`].
//! Dropped without a commit (an error, a bad argument found later), it removes the temporary
//! file: no partial output is ever left behind. Creating it is also the writability check the
//! commands run before they open the camera.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::error::ViewerError;

/// Distinguishes temporary files created by one process.
static NEXT_TEMP: AtomicU32 = AtomicU32::new(0);

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
    /// Fails with [`ViewerError::UnwritableOutput`] if `target` is a directory, has no file name,
    /// or its directory does not exist or cannot be written.
    pub fn create(option: &'static str, target: &Path) -> Result<Self, ViewerError> {
        let unwritable = |reason: String| ViewerError::UnwritableOutput {
            option,
            path: target.to_path_buf(),
            reason,
        };
        if target.is_dir() {
            return Err(unwritable("it is a directory".into()));
        }
        let name = target
            .file_name()
            .ok_or_else(|| unwritable("it names no file".into()))?;
        let directory = match target.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        let temp = directory.join(format!(
            ".{}.{}-{}.partial",
            name.to_string_lossy(),
            std::process::id(),
            NEXT_TEMP.fetch_add(1, Ordering::Relaxed)
        ));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .map_err(|error| unwritable(error.to_string()))?;
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

    /// Flushes, syncs and renames the file to its target.
    pub fn commit(mut self) -> Result<(), ViewerError> {
        let what = || format!("{} {}", self.option, self.target.display());
        if let Some(file) = self.file.take() {
            file.sync_all().map_err(|e| ViewerError::io(what(), e))?;
        }
        fs::rename(&self.temp, &self.target).map_err(|e| ViewerError::io(what(), e))?;
        // Renamed: nothing is left to remove.
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
        }
    }
}

/// Checks that files can be created in `directory` (for `--png DIR`): creates and removes a
/// temporary file there.
pub fn check_directory(option: &'static str, directory: &Path) -> Result<(), ViewerError> {
    if !directory.is_dir() {
        return Err(ViewerError::UnwritableOutput {
            option,
            path: directory.to_path_buf(),
            reason: "no such directory".into(),
        });
    }
    AtomicFile::create(option, &directory.join("probe")).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("avcam-viewer-atomic-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

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
}
