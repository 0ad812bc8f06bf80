//! The camera core's one error type, and the one place it becomes an NTSTATUS.
//!
//! Each variant carries what a log line or a test needs, and [`Error::status`] /
//! [`Error::information`] say how to complete the request: the status, and the value for
//! `IoStatus.Information` (the size needed, for the two size answers).
//!
//! The status rules, after the KS documentation and Microsoft's samples:
//! - a well-formed format or range that none of the pin's ranges accept: `STATUS_NO_MATCH`;
//! - a format that contradicts itself or the KS structure rules (sizes that do not add up, a
//!   zero frame interval, `biSize` not 40): `STATUS_INVALID_PARAMETER`;
//! - an input shorter than the structure it must hold: `STATUS_INVALID_BUFFER_SIZE`;
//! - an output buffer of zero bytes (a size query): `STATUS_BUFFER_OVERFLOW` (a warning) with
//!   the size needed; a non-empty output buffer too small: `STATUS_BUFFER_TOO_SMALL` with the
//!   size needed;
//! - a state jump the pin cannot make in one step: `STATUS_INVALID_DEVICE_STATE`;
//! - a control value out of range, or a fault plan that contradicts itself:
//!   `STATUS_INVALID_PARAMETER` (the KS ProcAmp pages' answer to an out-of-range value).

use core::fmt;

use ks::status::{
    NTSTATUS, STATUS_BUFFER_OVERFLOW, STATUS_BUFFER_TOO_SMALL, STATUS_INVALID_BUFFER_SIZE,
    STATUS_INVALID_DEVICE_STATE, STATUS_INVALID_PARAMETER, STATUS_NO_MATCH,
};
use ks::GUID;

use crate::state::PinState;

/// Everything the camera core can refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// An input buffer is shorter than the structure it must hold.
    Truncated {
        /// Bytes given.
        len: usize,
        /// Bytes the structure needs.
        needed: usize,
    },
    /// A zero-length output buffer: the caller asks for the size (`STATUS_BUFFER_OVERFLOW`).
    SizeQuery {
        /// Bytes the answer needs.
        needed: usize,
    },
    /// A non-empty output buffer (or frame buffer, or scratch) that is too small.
    BufferTooSmall {
        /// Bytes given.
        len: usize,
        /// Bytes needed.
        needed: usize,
    },
    /// A destination pitch (`KS_FRAME_INFO.lSurfacePitch`) shorter than a row of the format.
    InvalidPitch {
        /// The pitch asked for (bytes).
        pitch: usize,
        /// Bytes of one row of the format.
        row: usize,
    },
    /// `KSDATAFORMAT.FormatSize` is not what the structure needs, or exceeds the buffer.
    FormatSize {
        /// The declared `FormatSize`.
        declared: u32,
        /// The size expected.
        expected: u32,
    },
    /// `MajorFormat` is not video (nor a wildcard, for a range).
    MajorFormat(GUID),
    /// `SubFormat` is not one of the camera's pixel formats (nor a wildcard, for a range).
    SubFormat(GUID),
    /// `Specifier` is not `KSDATAFORMAT_SPECIFIER_VIDEOINFO` (nor a wildcard, for a range).
    Specifier(GUID),
    /// `KSDATAFORMAT.Flags` asks for temporal compression or attributes.
    FormatFlags(u32),
    /// `biSize` is not 40 or `biPlanes` is not 1.
    BitmapHeader {
        /// `biSize`.
        size: u32,
        /// `biPlanes`.
        planes: u16,
    },
    /// `biCompression` / `biBitCount` do not belong to the subtype.
    Compression {
        /// `biCompression`.
        compression: u32,
        /// `biBitCount`.
        bit_count: u16,
    },
    /// A negative height: top-down pictures are not offered (KS RGB is bottom-up).
    TopDown,
    /// An odd width or height for a format that subsamples chroma (NV12, YUY2).
    OddDimension {
        /// `biWidth`.
        width: i32,
        /// `biHeight`.
        height: i32,
    },
    /// A picture size none of the ranges offer.
    FrameSize {
        /// `biWidth`.
        width: i32,
        /// `biHeight`.
        height: i32,
    },
    /// `biSizeImage` is not the size the format's geometry gives.
    ImageSize {
        /// `biSizeImage`.
        declared: u32,
        /// The size computed from format and size.
        expected: u32,
    },
    /// `KSDATAFORMAT.SampleSize` is neither 0 nor the image size.
    SampleSize {
        /// `SampleSize`.
        declared: u32,
        /// The image size.
        expected: u32,
    },
    /// `rcSource` / `rcTarget` ask for cropping or scaling.
    Rectangle,
    /// `AvgTimePerFrame` is zero.
    ZeroInterval,
    /// `AvgTimePerFrame` lies outside the range's interval bounds.
    IntervalOutOfRange {
        /// `AvgTimePerFrame`.
        interval: i64,
        /// The shortest interval the size allows.
        min: i64,
        /// The longest interval (1 fps).
        max: i64,
    },
    /// No range of the pin matches the client's range (data intersection).
    NoMatch,
    /// `KSPIN_CONNECT.PinId` names no pin factory of the filter.
    PinId {
        /// The id given.
        id: u32,
        /// How many pin factories the filter has.
        count: u32,
    },
    /// `KSPIN_CONNECT.Interface` is not standard streaming.
    Interface {
        /// The interface set.
        set: GUID,
        /// The interface id.
        id: u32,
    },
    /// `KSPIN_CONNECT.Medium` is not the standard device-I/O medium.
    Medium {
        /// The medium set.
        set: GUID,
        /// The medium id.
        id: u32,
    },
    /// `KSPIN_CONNECT.PinToHandle` is set: the capture pin is a sink, it connects to nothing.
    PinToPin,
    /// A `KSSTATE` value outside STOP..RUN.
    UnknownState(u32),
    /// A state change the pin cannot make in one step (AVStream steps one state at a time).
    IllegalTransition {
        /// The pin's state.
        from: PinState,
        /// The state asked for.
        to: PinState,
    },
    /// A control's value outside its range (or off its step).
    OutOfRange {
        /// The value given.
        value: i64,
        /// The smallest valid value.
        min: i64,
        /// The largest valid value.
        max: i64,
    },
    /// A control's or fault plan's value that is not valid (what is wrong with it).
    InvalidValue(&'static str),
}

impl Error {
    /// The NTSTATUS that completes the request: the one mapping of this crate.
    pub const fn status(&self) -> NTSTATUS {
        match self {
            Error::Truncated { .. } => STATUS_INVALID_BUFFER_SIZE,
            Error::SizeQuery { .. } => STATUS_BUFFER_OVERFLOW,
            Error::BufferTooSmall { .. } => STATUS_BUFFER_TOO_SMALL,
            Error::InvalidPitch { .. }
            | Error::FormatSize { .. }
            | Error::BitmapHeader { .. }
            | Error::Compression { .. }
            | Error::ImageSize { .. }
            | Error::SampleSize { .. }
            | Error::ZeroInterval
            | Error::PinId { .. }
            | Error::UnknownState(_)
            | Error::OutOfRange { .. }
            | Error::InvalidValue(_) => STATUS_INVALID_PARAMETER,
            Error::MajorFormat(_)
            | Error::SubFormat(_)
            | Error::Specifier(_)
            | Error::FormatFlags(_)
            | Error::TopDown
            | Error::OddDimension { .. }
            | Error::FrameSize { .. }
            | Error::Rectangle
            | Error::IntervalOutOfRange { .. }
            | Error::Interface { .. }
            | Error::Medium { .. }
            | Error::PinToPin
            | Error::NoMatch => STATUS_NO_MATCH,
            Error::IllegalTransition { .. } => STATUS_INVALID_DEVICE_STATE,
        }
    }

    /// The value for `IoStatus.Information`: the size needed for the two size answers, else 0.
    pub const fn information(&self) -> usize {
        match self {
            Error::SizeQuery { needed } | Error::BufferTooSmall { needed, .. } => *needed,
            _ => 0,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated { len, needed } => {
                write!(f, "input of {len} bytes, the structure needs {needed}")
            }
            Error::SizeQuery { needed } => write!(f, "size query: {needed} bytes needed"),
            Error::BufferTooSmall { len, needed } => {
                write!(f, "buffer of {len} bytes, {needed} needed")
            }
            Error::InvalidPitch { pitch, row } => {
                write!(f, "pitch of {pitch} bytes, a row needs {row}")
            }
            Error::FormatSize { declared, expected } => {
                write!(f, "FormatSize {declared}, expected {expected}")
            }
            Error::MajorFormat(g) => write!(f, "major format {g:?} is not video"),
            Error::SubFormat(g) => write!(f, "subtype {g:?} is not offered"),
            Error::Specifier(g) => write!(f, "specifier {g:?} is not VIDEOINFO"),
            Error::FormatFlags(x) => write!(f, "format flags {x:#x} not supported"),
            Error::BitmapHeader { size, planes } => {
                write!(f, "biSize {size} / biPlanes {planes}: expected 40 / 1")
            }
            Error::Compression {
                compression,
                bit_count,
            } => write!(
                f,
                "biCompression {compression:#x} / biBitCount {bit_count} do not fit the subtype"
            ),
            Error::TopDown => write!(f, "negative biHeight (top-down) not offered"),
            Error::OddDimension { width, height } => {
                write!(f, "{width}x{height}: chroma subsampling needs even sizes")
            }
            Error::FrameSize { width, height } => write!(f, "{width}x{height} not offered"),
            Error::ImageSize { declared, expected } => {
                write!(f, "biSizeImage {declared}, expected {expected}")
            }
            Error::SampleSize { declared, expected } => {
                write!(f, "SampleSize {declared}, expected 0 or {expected}")
            }
            Error::Rectangle => write!(f, "cropping/scaling rectangles not supported"),
            Error::ZeroInterval => write!(f, "AvgTimePerFrame is zero"),
            Error::IntervalOutOfRange { interval, min, max } => {
                write!(f, "AvgTimePerFrame {interval} outside {min}..={max}")
            }
            Error::NoMatch => write!(f, "no data range matches"),
            Error::PinId { id, count } => write!(f, "pin id {id}, the filter has {count}"),
            Error::Interface { set, id } => {
                write!(f, "interface {set:?}/{id} not standard streaming")
            }
            Error::Medium { set, id } => write!(f, "medium {set:?}/{id} not standard"),
            Error::PinToPin => write!(f, "PinToHandle set: the pin connects to nothing"),
            Error::UnknownState(s) => write!(f, "KSSTATE {s} unknown"),
            Error::IllegalTransition { from, to } => {
                write!(f, "state {from:?} -> {to:?} is not one step")
            }
            Error::OutOfRange { value, min, max } => {
                write!(f, "{value} outside {min}..={max}")
            }
            Error::InvalidValue(what) => write!(f, "invalid value: {what}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ks::status::nt_success;
    use std::string::ToString;

    #[test]
    fn size_answers_carry_the_size_and_others_do_not() {
        assert_eq!(Error::SizeQuery { needed: 152 }.information(), 152);
        assert_eq!(
            Error::SizeQuery { needed: 152 }.status(),
            STATUS_BUFFER_OVERFLOW
        );
        assert_eq!(
            Error::BufferTooSmall {
                len: 8,
                needed: 152
            }
            .information(),
            152
        );
        assert_eq!(
            Error::BufferTooSmall {
                len: 8,
                needed: 152
            }
            .status(),
            STATUS_BUFFER_TOO_SMALL
        );
        assert_eq!(Error::NoMatch.information(), 0);
    }

    #[test]
    fn every_error_is_a_failure_or_warning_status() {
        let all = [
            Error::Truncated { len: 0, needed: 64 },
            Error::SizeQuery { needed: 1 },
            Error::BufferTooSmall { len: 0, needed: 1 },
            Error::InvalidPitch { pitch: 1, row: 2 },
            Error::FormatSize {
                declared: 0,
                expected: 152,
            },
            Error::MajorFormat(GUID::NULL),
            Error::ZeroInterval,
            Error::NoMatch,
            Error::UnknownState(9),
            Error::OutOfRange {
                value: 11,
                min: 0,
                max: 10,
            },
            Error::InvalidValue("x"),
            Error::IllegalTransition {
                from: PinState::Stop,
                to: PinState::Run,
            },
        ];
        for e in all {
            assert!(!nt_success(e.status()), "{e}");
            assert!(!e.to_string().is_empty(), "{e:?} says what went wrong");
        }
        assert_eq!(
            Error::Truncated { len: 3, needed: 64 }.to_string(),
            "input of 3 bytes, the structure needs 64"
        );
        assert_eq!(Error::ZeroInterval.status(), STATUS_INVALID_PARAMETER);
        assert_eq!(Error::TopDown.status(), STATUS_NO_MATCH);
        assert_eq!(
            Error::IllegalTransition {
                from: PinState::Stop,
                to: PinState::Run
            }
            .status(),
            STATUS_INVALID_DEVICE_STATE
        );
    }
}
