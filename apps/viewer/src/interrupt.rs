//! SIGINT, SIGTERM and SIGHUP (on Windows: Ctrl-C, Ctrl-Break and closing the console): the
//! first asks the running command to stop, the second ends the process at once.
//!
//! The binary installs the handler ([`install`], with the `ctrlc` crate, which runs it on a thread
//! of its own, not in signal context). The first signal sets [`flag`]; the commands look at the
//! flag they were given ([`crate::Context::stop`]) before each frame and stop with
//! [`crate::ViewerError::Interrupted`]: the stream is stopped, partial files are removed and the
//! process exits with [`crate::EXIT_INTERRUPTED`]. If the command is stuck (a camera that does not
//! answer), a second signal removes the partial files ([`crate::atomic::remove_partials`]) and
//! exits with the same code without waiting.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::EXIT_INTERRUPTED;

/// Set by the first signal.
static REQUESTED: AtomicBool = AtomicBool::new(false);

/// The flag the first signal sets, for [`crate::Context::stop`].
pub fn flag() -> &'static AtomicBool {
    &REQUESTED
}

/// What the handler does on each signal: the first sets the flag; any later one removes the
/// partial files and exits.
fn on_signal() {
    if REQUESTED.swap(true, Ordering::SeqCst) {
        crate::atomic::remove_partials();
        std::process::exit(EXIT_INTERRUPTED);
    }
}

/// Installs the handler for the process (once; the binary calls it before running a command).
pub fn install() -> Result<(), ctrlc::Error> {
    ctrlc::set_handler(on_signal)
}

/// Whether `stop` was set.
pub fn requested(stop: &AtomicBool) -> bool {
    stop.load(Ordering::Relaxed)
}
