//! Where the viewer may write: the checks every output path passes before anything is created.
//!
//! An output (`--output`, `--png`, `--plot`, `--screenshot`, and each `frame-NNNNNN.png` of
//! `--png DIR`) goes only to a new file or over an existing regular file:
//! - never through a symbolic link (or, on Windows, any reparse point) named by the path itself,
//!   never onto a directory, character or block device, FIFO or socket, and on Windows never to
//!   a DOS device name (`NUL`, `CON`, `COM1`, ... with any extension) or a `\\.\` device path;
//! - with the extension of its format where the option implies one (`.y4m`, `.png`);
//! - never two outputs of one command on the same file: the same path spelled two ways, the same
//!   file under two names (hard links), or the file stdout is redirected to.
//!
//! Directories along the path may be symbolic links (`/tmp` is one on some systems): what is
//! checked is the entry the viewer would replace. A refused output is bad input: one line, exit
//! code 2, and nothing is created. [`check_target`] is called again right before the rename that
//! publishes a file ([`crate::atomic::AtomicFile::commit`]), so an entry swapped for a link or a
//! device while the viewer wrote is left alone; what remains between that check and the rename
//! is a window of one system call, and a rename replaces the directory entry only, never what a
//! link points to.

use std::ffi::OsStr;
use std::fs::Metadata;
use std::io;
use std::path::{Path, PathBuf};

use crate::error::ViewerError;

/// A file's identity, independent of the name it was reached by.
#[derive(Debug, PartialEq, Eq)]
pub struct FileId(Identity);

#[cfg(unix)]
type Identity = (u64, u64);
#[cfg(windows)]
type Identity = same_file::Handle;
#[cfg(not(any(unix, windows)))]
type Identity = ();

impl FileId {
    /// The identity of the existing regular file at `path` (already checked by
    /// [`check_target`]); `None` if it cannot be told.
    #[cfg(unix)]
    fn of(_path: &Path, metadata: &Metadata) -> Option<Self> {
        use std::os::unix::fs::MetadataExt;
        Some(FileId((metadata.dev(), metadata.ino())))
    }

    /// The identity of the existing regular file at `path` (already checked by
    /// [`check_target`]); `None` if it cannot be told.
    #[cfg(windows)]
    fn of(path: &Path, _metadata: &Metadata) -> Option<Self> {
        same_file::Handle::from_path(path).ok().map(FileId)
    }

    /// The identity of the existing regular file at `path`; `None`: it cannot be told here.
    #[cfg(not(any(unix, windows)))]
    fn of(_path: &Path, _metadata: &Metadata) -> Option<Self> {
        None
    }

    /// The identity of the file the process's stdout writes to, if it is a regular file.
    #[cfg(unix)]
    pub fn of_stdout() -> Option<Self> {
        use std::os::fd::AsFd;
        let duplicate = io::stdout().as_fd().try_clone_to_owned().ok()?;
        let metadata = std::fs::File::from(duplicate).metadata().ok()?;
        metadata
            .is_file()
            .then(|| FileId::of(Path::new("-"), &metadata))
            .flatten()
    }

    /// The identity of the file the process's stdout writes to, if it is a regular file.
    #[cfg(windows)]
    pub fn of_stdout() -> Option<Self> {
        use std::os::windows::io::AsRawHandle;
        if io::stdout().as_raw_handle().is_null() {
            return None;
        }
        let handle = same_file::Handle::stdout().ok()?;
        // Only a disk file can also be named by a path (a console or a pipe never compares equal).
        let is_disk = handle.as_file().metadata().is_ok_and(|m| m.is_file());
        is_disk.then_some(FileId(handle))
    }

    /// The identity of the file the process's stdout writes to; `None`: it cannot be told here.
    #[cfg(not(any(unix, windows)))]
    pub fn of_stdout() -> Option<Self> {
        None
    }
}

/// What is at an output path now, once it passed [`check_target`].
#[derive(Debug)]
pub enum Existing {
    /// Nothing: the output will be a new file.
    Nothing,
    /// A regular file, which the output will replace.
    RegularFile(Option<FileId>),
}

/// Why an entry is no place for an output, or `None` if it is a regular file.
fn refusal(metadata: &Metadata) -> Option<&'static str> {
    let kind = metadata.file_type();
    if kind.is_symlink() {
        return Some("it is a symbolic link (outputs are never written through one)");
    }
    if kind.is_dir() {
        return Some("it is a directory");
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::MetadataExt;
        /// `FILE_ATTRIBUTE_REPARSE_POINT`: a symbolic link, junction or other reparse point.
        const FILE_ATTRIBUTE_REPARSE_POINT: u32 = 0x400;
        if metadata.file_attributes() & FILE_ATTRIBUTE_REPARSE_POINT != 0 {
            return Some("it is a reparse point (outputs are never written through one)");
        }
    }
    if kind.is_file() {
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_char_device() {
            return Some("it is a character device");
        }
        if kind.is_block_device() {
            return Some("it is a block device");
        }
        if kind.is_fifo() {
            return Some("it is a FIFO");
        }
        if kind.is_socket() {
            return Some("it is a socket");
        }
    }
    Some("it is not a regular file")
}

/// The DOS device a Windows file name opens instead of a file (`NUL`, `con.png`, `COM1.y4m`,
/// `CONOUT$`...), if any: the name before its first dot, trailing spaces ignored, in any case.
pub fn dos_device(name: &OsStr) -> Option<String> {
    let name = name.to_str()?;
    let stem = name.split('.').next().unwrap_or(name).trim_end_matches(' ');
    let upper = stem.to_ascii_uppercase();
    let numbered = |prefix: &str| {
        upper.strip_prefix(prefix).is_some_and(|digit| {
            matches!(digit, "1" | "2" | "3" | "4" | "5" | "6" | "7" | "8" | "9")
                || matches!(digit, "\u{b9}" | "\u{b2}" | "\u{b3}")
        })
    };
    let reserved = matches!(
        upper.as_str(),
        "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$"
    ) || numbered("COM")
        || numbered("LPT");
    reserved.then_some(upper)
}

/// Whether `path` is a Windows device path (`\\.\NAME`, `\\?\GLOBALROOT\...`): not a file.
#[cfg(windows)]
fn is_device_path(path: &Path) -> bool {
    use std::path::{Component, Prefix};
    match path.components().next() {
        Some(Component::Prefix(prefix)) => match prefix.kind() {
            Prefix::DeviceNS(_) => true,
            Prefix::Verbatim(name) => name.eq_ignore_ascii_case("GLOBALROOT"),
            _ => false,
        },
        _ => false,
    }
}

/// Checks that `path` (named by command-line `option`) may receive an output: it names a file
/// in an existing directory, and is nothing or a regular file. Never creates anything.
pub fn check_target(option: &'static str, path: &Path) -> Result<Existing, ViewerError> {
    let refuse = |reason: String| ViewerError::UnwritableOutput {
        option,
        path: path.to_path_buf(),
        reason,
    };
    let name = path
        .file_name()
        .ok_or_else(|| refuse("it names no file".into()))?;
    #[cfg(windows)]
    {
        if is_device_path(path) {
            return Err(refuse("it is a device path, not a file".into()));
        }
        if let Some(device) = dos_device(name) {
            return Err(refuse(format!(
                "{device} is a Windows device name, not a file"
            )));
        }
    }
    #[cfg(not(windows))]
    let _ = name;
    match std::fs::symlink_metadata(path) {
        Ok(metadata) => match refusal(&metadata) {
            Some(reason) => Err(refuse(reason.into())),
            None => Ok(Existing::RegularFile(FileId::of(path, &metadata))),
        },
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            let directory = parent_directory(path);
            match std::fs::metadata(directory) {
                Ok(metadata) if metadata.is_dir() => Ok(Existing::Nothing),
                Ok(_) => Err(refuse(format!(
                    "{} is not a directory",
                    directory.display()
                ))),
                Err(error) => Err(refuse(format!("{}: {error}", directory.display()))),
            }
        }
        Err(error) => Err(refuse(error.to_string())),
    }
}

/// The directory `path` is in (`.` for a bare file name).
pub fn parent_directory(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Whether `path` ends with `.extension`, in any case.
pub fn has_extension(path: &Path, extension: &str) -> bool {
    path.extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case(extension))
}

/// One output of a command, checked.
#[derive(Debug)]
struct Planned {
    option: &'static str,
    /// The canonical directory and the file name: one spelling per path.
    key: (PathBuf, String),
    id: Option<FileId>,
}

/// The outputs of one command: each checked with [`check_target`] and for its extension, none
/// the same file as another or as stdout. Build it before any output is created.
#[derive(Debug, Default)]
pub struct Plan {
    outputs: Vec<Planned>,
    stdout: Option<FileId>,
}

impl Plan {
    /// A plan that also refuses the file the process's stdout is redirected to.
    pub fn new() -> Self {
        Plan {
            outputs: Vec::new(),
            stdout: FileId::of_stdout(),
        }
    }

    /// Adds the file output `path` of `option`, which must end with `.extension`.
    pub fn file(
        &mut self,
        option: &'static str,
        path: &Path,
        extension: &str,
    ) -> Result<(), ViewerError> {
        let existing = check_target(option, path)?;
        if !has_extension(path, extension) {
            return Err(ViewerError::Unsupported {
                message: format!(
                    "{option} {}: the file name must end with .{extension}",
                    path.display()
                ),
            });
        }
        let refuse = |reason: String| ViewerError::UnwritableOutput {
            option,
            path: path.to_path_buf(),
            reason,
        };
        let directory = std::fs::canonicalize(parent_directory(path))
            .map_err(|error| refuse(error.to_string()))?;
        let mut name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if cfg!(windows) {
            // NTFS names compare without regard to case.
            name = name.to_lowercase();
        }
        let key = (directory, name);
        let id = match existing {
            Existing::Nothing => None,
            Existing::RegularFile(id) => id,
        };
        if id.is_some() && id == self.stdout {
            return Err(refuse(
                "it is the file stdout is redirected to (give another file)".into(),
            ));
        }
        if let Some(other) = self
            .outputs
            .iter()
            .find(|other| other.key == key || (id.is_some() && other.id == id))
        {
            return Err(refuse(format!(
                "it is the same file as {} (give each output its own file)",
                other.option
            )));
        }
        self.outputs.push(Planned { option, key, id });
        Ok(())
    }
}

/// Checks a `--png DIR` directory: it exists, and no `frame-*.png` entry in it is anything but
/// a regular file (so the frames can all be written; entries are checked again one by one).
pub fn check_frame_directory(option: &'static str, directory: &Path) -> Result<(), ViewerError> {
    let refuse = |reason: String| ViewerError::UnwritableOutput {
        option,
        path: directory.to_path_buf(),
        reason,
    };
    match std::fs::metadata(directory) {
        Ok(metadata) if metadata.is_dir() => {}
        Ok(_) => return Err(refuse("it is not a directory".into())),
        Err(_) => return Err(refuse("no such directory".into())),
    }
    let entries = std::fs::read_dir(directory).map_err(|error| refuse(error.to_string()))?;
    for entry in entries {
        let entry = entry.map_err(|error| refuse(error.to_string()))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with("frame-") && has_extension(Path::new(name.as_ref()), "png")) {
            continue;
        }
        let metadata = entry
            .metadata()
            .map_err(|error| refuse(error.to_string()))?;
        if let Some(reason) = refusal(&metadata) {
            return Err(refuse(format!("{name} in it: {reason}")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atomic::scratch_dir as scratch;
    use std::fs;

    fn reason(result: Result<impl std::fmt::Debug, ViewerError>) -> String {
        match result {
            Err(error) => {
                assert_eq!(error.exit_code(), crate::error::EXIT_USAGE, "{error}");
                error.to_string()
            }
            Ok(value) => panic!("accepted: {value:?}"),
        }
    }

    #[test]
    fn regular_files_and_new_names_are_accepted() {
        let dir = scratch("accept");
        let file = dir.join("old.png");
        fs::write(&file, b"old").unwrap();
        assert!(matches!(
            check_target("--png", &file),
            Ok(Existing::RegularFile(_))
        ));
        assert!(matches!(
            check_target("--png", &dir.join("new.png")),
            Ok(Existing::Nothing)
        ));
        assert!(reason(check_target("--png", &dir.join("missing/new.png")))
            .contains("missing: No such file"));
        assert!(reason(check_target("--png", &file.join("x.png"))).contains("ot a directory"));
        assert!(reason(check_target("--png", &dir)).contains("it is a directory"));
        assert_eq!(fs::read(&file).unwrap(), b"old");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    #[cfg(unix)]
    fn links_devices_and_fifos_are_refused() {
        let dir = scratch("refuse");
        let link = dir.join("link.png");
        std::os::unix::fs::symlink(dir.join("elsewhere.png"), &link).unwrap();
        assert!(reason(check_target("--png", &link)).contains("symbolic link"));
        let to_dir = dir.join("to-dir.png");
        std::os::unix::fs::symlink(&dir, &to_dir).unwrap();
        assert!(reason(check_target("--png", &to_dir)).contains("symbolic link"));
        assert!(reason(check_target("--png", Path::new("/dev/null"))).contains("character device"));
        let fifo = dir.join("fifo.png");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|status| status.success()) {
            assert!(reason(check_target("--png", &fifo)).contains("it is a FIFO"));
        }
        assert!(!dir.join("elsewhere.png").exists());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn dos_device_names_are_recognised_in_any_case_and_with_any_extension() {
        for (name, device) in [
            ("NUL", "NUL"),
            ("nul.png", "NUL"),
            ("Con.y4m", "CON"),
            ("com1.png", "COM1"),
            ("LPT9", "LPT9"),
            ("aux .png", "AUX"),
            ("conout$.png", "CONOUT$"),
        ] {
            assert_eq!(
                dos_device(OsStr::new(name)).as_deref(),
                Some(device),
                "{name}"
            );
        }
        for name in [
            "null.png",
            "console.y4m",
            "com10.png",
            "com0",
            "lpt.png",
            "x.nul",
        ] {
            assert_eq!(dos_device(OsStr::new(name)), None, "{name}");
        }
    }

    #[test]
    fn a_plan_refuses_two_outputs_on_one_file_and_wrong_extensions() {
        let dir = scratch("plan");
        let png = dir.join("a.png");
        let mut plan = Plan::default();
        plan.file("--output", &dir.join("a.y4m"), "y4m").unwrap();
        plan.file("--png", &png, "png").unwrap();
        let respelled = dir.join(".").join("a.png");
        assert!(reason(plan.file("--plot", &respelled, "png")).contains("same file as --png"));
        assert!(
            reason(Plan::default().file("--png", &dir.join("a.y4m"), "png"))
                .contains("must end with .png")
        );
        assert!(Plan::default()
            .file("--png", &dir.join("UP.PNG"), "png")
            .is_ok());
        #[cfg(unix)]
        {
            fs::write(&png, b"x").unwrap();
            let other = dir.join("b.png");
            fs::hard_link(&png, &other).unwrap();
            let mut plan = Plan::default();
            plan.file("--png", &png, "png").unwrap();
            assert!(reason(plan.file("--plot", &other, "png")).contains("same file as --png"));
            // The stdout of a plan is just another identity to avoid.
            let mut plan = Plan {
                outputs: Vec::new(),
                stdout: FileId::of(&png, &fs::metadata(&png).unwrap()),
            };
            assert!(reason(plan.file("--png", &other, "png")).contains("stdout"));
        }
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    #[cfg(unix)]
    fn frame_directories_with_a_planted_link_are_refused() {
        let dir = scratch("frames");
        fs::write(dir.join("frame-000001.png"), b"old").unwrap();
        fs::write(dir.join("notes.txt"), b"x").unwrap();
        check_frame_directory("--png", &dir).unwrap();
        std::os::unix::fs::symlink("/dev/null", dir.join("frame-000002.png")).unwrap();
        assert!(reason(check_frame_directory("--png", &dir))
            .contains("frame-000002.png in it: it is a symbolic link"));
        assert!(
            reason(check_frame_directory("--png", &dir.join("notes.txt")))
                .contains("not a directory")
        );
        fs::remove_dir_all(dir).unwrap();
    }
}
