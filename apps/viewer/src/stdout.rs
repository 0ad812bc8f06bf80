//! The process's stdout as the commands see it: a closed stdout fails every write with a clear
//! error instead of swallowing the bytes, and a broken one (EPIPE, e.g. `| head -c 100`) stops
//! the command quietly ([`crate::ViewerError::stdout`]).
//!
//! Rust's runtime puts `/dev/null` in place of a standard stream that was closed when the
//! process started (Unix), and its Windows stdout reports success when there is no stdout
//! handle: either way the frames would vanish while the viewer reports success. On Linux the
//! binary notes a closed descriptor 1 before the runtime starts ([`mark_closed_at_start`], from
//! `src/main.rs`); on Windows a missing stdout handle is seen directly.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::ViewerError;

/// Whether descriptor 1 was closed when the process started.
static CLOSED_AT_START: AtomicBool = AtomicBool::new(false);

/// Records that the process started with its stdout closed. Called by the binary before `main`
/// (it stores one flag, so it needs nothing of the runtime).
pub fn mark_closed_at_start() {
    CLOSED_AT_START.store(true, Ordering::Relaxed);
}

/// Whether the process has no stdout to write to.
pub fn is_closed() -> bool {
    #[cfg(windows)]
    {
        use std::os::windows::io::AsRawHandle;
        let handle = io::stdout().as_raw_handle();
        // No handle (NULL) or INVALID_HANDLE_VALUE (-1): nothing to write to.
        if handle.is_null() || handle.addr() == usize::MAX {
            return true;
        }
    }
    CLOSED_AT_START.load(Ordering::Relaxed)
}

/// The error every write to a closed stdout fails with.
pub fn closed_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "stdout is closed (give it a file or a pipe)",
    )
}

/// Stands in for a closed stdout: every write and flush fails with [`closed_error`].
#[derive(Clone, Copy, Debug, Default)]
pub struct ClosedStdout;

impl Write for ClosedStdout {
    fn write(&mut self, _bytes: &[u8]) -> io::Result<usize> {
        Err(closed_error())
    }

    fn flush(&mut self) -> io::Result<()> {
        Err(closed_error())
    }
}

/// Checks, before anything runs, that `stdout` can be written, as `what` needs: a flush, which
/// fails on [`ClosedStdout`] ([`ViewerError::StdoutClosed`], exit code 2) and costs nothing on
/// an open stream.
pub fn require_open(stdout: &mut dyn Write, what: &'static str) -> Result<(), ViewerError> {
    stdout.flush().map_err(|error| {
        if error.kind() == io::ErrorKind::NotConnected {
            ViewerError::StdoutClosed { what }
        } else {
            ViewerError::stdout(what, error)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_stdout_fails_every_write_and_the_probe() {
        let mut closed = ClosedStdout;
        assert_eq!(
            closed.write_all(b"frame").unwrap_err().kind(),
            io::ErrorKind::NotConnected
        );
        let error = require_open(&mut closed, "--output -").unwrap_err();
        assert_eq!(error.exit_code(), crate::error::EXIT_USAGE);
        assert_eq!(
            error.to_string(),
            "stdout is closed, but --output - goes there (give it a file or a pipe)"
        );
        assert!(require_open(&mut Vec::new(), "--output -").is_ok());
    }
}
