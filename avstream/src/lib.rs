//! The avcam camera core: the safe, `no_std` logic behind the AVStream capture pin.
//!
//! The driver shell (Windows) and the emulation (Linux) call into this crate; it never calls
//! out. Time comes in as arguments (100 ns units), memory comes in as slices the caller owns.
//!
//! | module | what it does | C names it stands for |
//! |---|---|---|
//! | [`pixel`] | pixel formats and frame sizes: strides, planes, `biSizeImage` | `KS_BITMAPINFOHEADER` fields |
//! | [`rate`] | exact rational frame rates and frame times | `AvgTimePerFrame` |
//! | [`ranges`] | the pin's data ranges (format x size x rate rule) | `KS_DATARANGE_VIDEO` |
//! | [`connect`] | the pin create request | `KSPIN_CONNECT` + `KSDATAFORMAT` |
//! | [`format`] | parsing and validating a format into a [`VideoFormat`] | SetDataFormat, `KS_DATAFORMAT_VIDEOINFOHEADER` |
//! | [`intersect`] | the data intersection handler and its size protocol | `KSPROPERTY_PIN_DATAINTERSECTION` |
//! | [`state`] | the pin state machine and what each step must do | `KSSTATE`, SetDeviceState |
//! | [`clock`] | the drift-free frame clock, drop accounting | `KS_FRAME_INFO`, `KSPROPERTY_DROPPEDFRAMES_CURRENT` |
//! | [`deliver`] | what the pin does with the buffer at its leading edge: render a due frame (pitch, `DataUsed`), complete it empty, or wait; the faults applied | Process, `KSSTREAM_POINTER.OffsetOut`, `lSurfacePitch` |
//! | [`synth`] | pattern synthesis straight into a frame buffer: patterns, overlays, flips, picture controls | (avshws' image synthesizer) |
//! | [`controls`] | the device's controls: ranges, defaults, the checks of every SET | `PROPSETID_VIDCAP_VIDEOPROCAMP`, `_VIDEOCONTROL`, `PROPSETID_AVCAM_PATTERN` |
//! | [`faults`] | fault injection: the plan, per-frame decisions, the counters | `PROPSETID_AVCAM_FAULTS` |
//! | [`error`] | the crate's one error type and its NTSTATUS mapping | `NTSTATUS` |
//!
//! A typical pin life: [`intersect::intersect`] answers the client, [`VideoFormat::parse`] checks
//! the format the client sets, [`PinStateMachine::step`] drives STOP -> ACQUIRE (build a
//! [`synth::Synthesizer`] and size the allocator from [`VideoFormat::image_size`]) -> PAUSE -> RUN
//! (start the [`FrameClock`]); on each pass of Process [`deliver::StreamState::plan`] says what to do
//! with the buffer at the leading edge and the synthesizer renders the due frame straight into it.
#![no_std]
// `deny`, not `forbid`: the one exception is `synth::store` (streaming-store intrinsics).
#![deny(unsafe_code)]

#[cfg(test)]
extern crate std;

pub mod clock;
pub mod connect;
pub mod controls;
pub mod deliver;
pub mod error;
pub mod faults;
pub mod format;
pub mod intersect;
pub mod pixel;
pub mod ranges;
pub mod rate;
pub mod state;
pub mod synth;

pub use clock::{FrameClock, FrameStamp};
pub use connect::PinConnect;
pub use error::Error;
pub use format::VideoFormat;
pub use pixel::{FrameSize, PixelFormat};
pub use rate::FrameRate;
pub use state::{PinState, PinStateMachine, StepAction};
