//! The `avcam-viewer` binary: hands the camera backends to [`avcam_viewer::main_with`].
//!
//! `--backend emulated` (the default) is [`avcam_viewer::backend::ClientCamera`]: the avcam
//! driver loaded into the user-mode emulation, spoken to through the KS client library. In a
//! Windows build, `--backend windows` is `avcam_viewer::windows_backend::WindowsCamera`: an
//! installed avcam device over real KS handles (see docs/viewer.md).

use std::process::ExitCode;

use avcam_viewer::backend::ClientCamera;
use avcam_viewer::{Backend, Camera, CameraError};

/// Opens the camera of `backend`.
fn open_camera(backend: Backend) -> Result<Box<dyn Camera>, CameraError> {
    match backend {
        Backend::Emulated => Ok(Box::new(ClientCamera::open()?)),
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

fn main() -> ExitCode {
    avcam_viewer::main_with(&mut open_camera)
}
