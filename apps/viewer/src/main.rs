//! The `avcam-viewer` binary: hands the camera backend to [`avcam_viewer::main_with`].
//!
//! The backend is the camera's KS client library (the emulation on Linux, real handles on
//! Windows). Until it is wired in here, every command that needs a camera reports that it has
//! none (exit code 1); arguments are still checked and `--help` works. Wiring it is one line:
//! `Ok(Box::new(ClientCamera::open()?))` in `open_camera`, where `ClientCamera` implements
//! [`avcam_viewer::Camera`] (see docs/viewer.md).

use std::process::ExitCode;

use avcam_viewer::{Camera, CameraError};

/// Opens the camera backend.
fn open_camera() -> Result<Box<dyn Camera>, CameraError> {
    Err(CameraError::NotFound {
        what: "a camera backend: the KS client library is not wired into avcam-viewer yet \
               (see docs/viewer.md)"
            .into(),
    })
}

fn main() -> ExitCode {
    avcam_viewer::main_with(&mut open_camera)
}
