//! The `avcam-viewer` binary: hands the camera backend to [`avcam_viewer::main_with`].
//!
//! The backend is [`avcam_viewer::backend::ClientCamera`]: the avcam driver loaded into the
//! Linux emulation, spoken to through the KS client library (see docs/viewer.md).

use std::process::ExitCode;

use avcam_viewer::backend::ClientCamera;
use avcam_viewer::{Camera, CameraError};

/// Opens the camera backend.
fn open_camera() -> Result<Box<dyn Camera>, CameraError> {
    Ok(Box::new(ClientCamera::open()?))
}

fn main() -> ExitCode {
    avcam_viewer::main_with(&mut open_camera)
}
