//! The `avcam-viewer` binary: hands the camera backends to [`avcam_viewer::main_with`].
//!
//! `--backend emulated` (the default) is [`avcam_viewer::backend::ClientCamera`]: the avcam
//! driver loaded into the user-mode emulation (the built-in one, or with `--driver FILE` a
//! cross-built avcam.sys), spoken to through the KS client library. In a
//! Windows build, `--backend windows` is `avcam_viewer::windows_backend::WindowsCamera`: an
//! installed avcam device over real KS handles (see docs/viewer.md).

use std::process::ExitCode;

use avcam_viewer::backend::{ClientCamera, DriverImage};
use avcam_viewer::{Backend, Camera, CameraError};

/// Opens the camera of `backend` (on the emulation: from `driver`, the image `--driver` named,
/// when there is one).
fn open_camera(
    backend: Backend,
    driver: Option<&'static DriverImage>,
) -> Result<Box<dyn Camera>, CameraError> {
    match backend {
        Backend::Emulated => Ok(Box::new(ClientCamera::open_with(driver)?)),
        #[cfg(windows)]
        Backend::Windows => Ok(Box::new(
            avcam_viewer::windows_backend::WindowsCamera::open()?,
        )),
        // `run_with_backends` refuses the backend before it asks for a camera.
        #[cfg(not(windows))]
        Backend::Windows => Err(CameraError::Backend {
            message: "the windows backend needs a Windows build".into(),
        }),
    }
}

/// Runs [`probe_stdout`] before `main`, before Rust's runtime puts `/dev/null` in place of a
/// closed descriptor 1 (after which a closed stdout cannot be told from a redirection to
/// `/dev/null`). Rust's own runtime reads its arguments on Linux the same way.
#[cfg(target_os = "linux")]
#[used]
#[link_section = ".init_array"]
static PROBE_STDOUT: extern "C" fn() = probe_stdout;

/// Notes whether descriptor 1 is closed ([`avcam_viewer::stdout::mark_closed_at_start`]).
#[cfg(target_os = "linux")]
extern "C" fn probe_stdout() {
    // SAFETY: fcntl(F_GETFD) takes the descriptor number and no pointer, and reads only the
    // descriptor's flags; on a closed descriptor it fails with EBADF, which is what is asked.
    let flags = unsafe { libc::fcntl(1, libc::F_GETFD) };
    if flags == -1 {
        avcam_viewer::stdout::mark_closed_at_start();
    }
}

fn main() -> ExitCode {
    avcam_viewer::main_with(&mut open_camera)
}
