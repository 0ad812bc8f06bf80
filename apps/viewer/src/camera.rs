//! The camera interface the viewer consumes, and the values that cross it.
//!
//! The viewer never talks KS itself: it asks a [`Camera`] for its [`DeviceInfo`], starts a
//! [`Stream`] with a validated [`StreamConfig`], and pulls [`Frame`]s from it. The camera's client
//! library implements these two traits over KS requests (on the emulation on Linux, on real
//! handles on Windows); the tests implement them with a test double that renders frames itself.
//!
//! Units follow KS: times and frame intervals are in 100 ns units (`REFERENCE_TIME`), counts are
//! those of `KS_FRAME_INFO`, `KSPROPERTY_DROPPEDFRAMES_CURRENT_S` and `KSSTREAMALLOCATOR_STATUS`.

use core::fmt;
use core::str::FromStr;
use core::time::Duration;

/// 100 ns units in one second: the unit of KS times and frame intervals.
pub const UNITS_PER_SECOND: u64 = 10_000_000;

/// A pixel format the camera can stream.
///
/// Memory layouts are those of the KS/DirectShow subtypes: YUV formats are top-down, RGB formats
/// are DIBs (BGR byte order, bottom-up unless the frame says otherwise).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PixelFormat {
    /// `MEDIASUBTYPE_NV12`: a Y plane, then one interleaved U,V plane at half width and height
    /// (4:2:0), both planes with the frame's stride. Width and height are even.
    Nv12,
    /// `MEDIASUBTYPE_YUY2`: packed 4:2:2, bytes Y0 U Y1 V for each pair of pixels. Width is even.
    Yuy2,
    /// `MEDIASUBTYPE_RGB24`: packed B, G, R bytes per pixel.
    Rgb24,
    /// `MEDIASUBTYPE_RGB32`: B, G, R, X bytes per pixel (X ignored).
    Rgb32,
}

impl PixelFormat {
    /// Every format, in the order the viewer lists them.
    pub const ALL: [PixelFormat; 4] = [
        PixelFormat::Nv12,
        PixelFormat::Yuy2,
        PixelFormat::Rgb24,
        PixelFormat::Rgb32,
    ];

    /// The lower-case name used on the command line and in reports (`nv12`, `yuy2`, ...).
    pub fn name(self) -> &'static str {
        match self {
            PixelFormat::Nv12 => "nv12",
            PixelFormat::Yuy2 => "yuy2",
            PixelFormat::Rgb24 => "rgb24",
            PixelFormat::Rgb32 => "rgb32",
        }
    }

    /// True for the DIB formats (RGB24, RGB32), which may be stored bottom-up.
    pub fn is_rgb(self) -> bool {
        matches!(self, PixelFormat::Rgb24 | PixelFormat::Rgb32)
    }

    /// Bytes of one row of the first plane without padding: `width * bytes per pixel`
    /// (NV12: the Y row, `width`; YUY2: `2 * width`; RGB24: `3 * width`; RGB32: `4 * width`).
    pub fn row_bytes(self, width: usize) -> usize {
        match self {
            PixelFormat::Nv12 => width,
            PixelFormat::Yuy2 => 2 * width,
            PixelFormat::Rgb24 => 3 * width,
            PixelFormat::Rgb32 => 4 * width,
        }
    }

    /// Rows stored in memory for a picture `height` rows high: NV12 adds `height / 2` chroma rows.
    pub fn stored_rows(self, height: usize) -> usize {
        match self {
            PixelFormat::Nv12 => height + height / 2,
            _ => height,
        }
    }
}

impl fmt::Display for PixelFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A picture size in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Size {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl Size {
    /// A size of `width` x `height` pixels.
    pub const fn new(width: u32, height: u32) -> Self {
        Size { width, height }
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

/// Why a `WxH` size did not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseSizeError;

impl fmt::Display for ParseSizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("expected WIDTHxHEIGHT with both numbers above zero, e.g. 1280x720")
    }
}

impl std::error::Error for ParseSizeError {}

impl FromStr for Size {
    type Err = ParseSizeError;

    /// Parses `WxH` (also `W*H`), e.g. `1280x720`; both numbers must be above zero.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (width, height) = text
            .trim()
            .split_once(['x', 'X', '*'])
            .ok_or(ParseSizeError)?;
        let width: u32 = width.trim().parse().map_err(|_| ParseSizeError)?;
        let height: u32 = height.trim().parse().map_err(|_| ParseSizeError)?;
        if width == 0 || height == 0 {
            return Err(ParseSizeError);
        }
        Ok(Size { width, height })
    }
}

/// One format a pin offers: a pixel format, a size and a range of frame intervals
/// (one `KS_DATARANGE_VIDEO`, as the camera reports it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatInfo {
    /// The pixel format.
    pub pixel_format: PixelFormat,
    /// The picture size.
    pub size: Size,
    /// Shortest frame interval in 100 ns units (`MinFrameInterval`): the highest frame rate.
    pub min_interval: u64,
    /// Longest frame interval in 100 ns units (`MaxFrameInterval`): the lowest frame rate.
    pub max_interval: u64,
}

impl FormatInfo {
    /// Whether `fps` frames per second (an interval of [`interval_for_fps`]) is in this range.
    pub fn allows_fps(&self, fps: u32) -> bool {
        interval_for_fps(fps)
            .is_some_and(|interval| (self.min_interval..=self.max_interval).contains(&interval))
    }

    /// The whole frame rates this range allows, as `(lowest, highest)`; `None` if it allows none.
    pub fn fps_range(&self) -> Option<(u32, u32)> {
        if self.min_interval == 0 || self.min_interval > self.max_interval {
            return None;
        }
        // Highest: the largest n with round(1e7 / n) >= min_interval; start from the floor.
        let mut highest = u32::try_from(UNITS_PER_SECOND / self.min_interval).unwrap_or(u32::MAX);
        while highest > 0 && !self.allows_fps(highest) {
            highest -= 1;
        }
        let mut lowest = u32::try_from(UNITS_PER_SECOND.div_ceil(self.max_interval))
            .unwrap_or(u32::MAX)
            .max(1);
        while lowest <= highest && !self.allows_fps(lowest) {
            lowest += 1;
        }
        (highest >= 1 && lowest <= highest).then_some((lowest, highest))
    }
}

/// The frame interval in 100 ns units for `fps` frames per second: `round(10^7 / fps)`
/// (30 fps -> 333333). `None` for 0.
pub fn interval_for_fps(fps: u32) -> Option<u64> {
    let fps = u64::from(fps);
    (fps > 0).then(|| (UNITS_PER_SECOND + fps / 2) / fps)
}

/// What a pin is for (`KSPIN_DESCRIPTOR.Category`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinKind {
    /// `PINNAME_VIDEO_CAPTURE`: the stream the viewer shows by default.
    Capture,
    /// `PINNAME_VIDEO_PREVIEW`.
    Preview,
    /// `PINNAME_VIDEO_STILL` / `PINNAME_IMAGE`: still images.
    Still,
    /// Any other category.
    Other,
}

impl PinKind {
    /// The lower-case name used in listings.
    pub fn name(self) -> &'static str {
        match self {
            PinKind::Capture => "capture",
            PinKind::Preview => "preview",
            PinKind::Still => "still",
            PinKind::Other => "other",
        }
    }
}

/// One pin of the camera's filter and every format it offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinInfo {
    /// The pin id (`KSPIN_CONNECT.PinId`).
    pub id: u32,
    /// A readable name (e.g. "Capture").
    pub name: String,
    /// What the pin is for.
    pub kind: PinKind,
    /// Every format the pin offers, one entry per size and pixel format.
    pub formats: Vec<FormatInfo>,
}

/// One control of the camera (a picture control, a flip or a pattern setting), as it answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControlInfo {
    /// The name `--set` takes (`brightness`, `hflip`, `pattern`...).
    pub name: String,
    /// What it does.
    pub what: String,
    /// The smallest value.
    pub min: i64,
    /// The largest value.
    pub max: i64,
    /// The default.
    pub default: i64,
    /// The value now.
    pub value: i64,
    /// The value now in the control's text form (`zoneplate`, `on`, `#808080`...).
    pub shown: String,
}

/// What the camera says about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    /// The device's friendly name.
    pub name: String,
    /// Its pins.
    pub pins: Vec<PinInfo>,
    /// The test patterns it can synthesize (e.g. `bars75`), the first being the one it renders
    /// now.
    pub patterns: Vec<String>,
    /// Its controls (empty when the camera has none).
    pub controls: Vec<ControlInfo>,
    /// Whether the camera accepts fault injection (`None`: it cannot say).
    pub fault_injection: Option<bool>,
}

/// How frames reach the viewer. Either way the camera renders each frame straight into the
/// buffer the read brings; what differs is whose memory that is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FramePath {
    /// The viewer is a kernel-mode consumer: it creates an allocator on the pin from the pin's
    /// framing (`KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX`), queues the allocator's frames as
    /// the reads' buffers and reads each frame where the camera rendered it.
    Allocator,
    /// The viewer is a user-mode application: it reads (`IOCTL_KS_READ_STREAM`) into buffers of
    /// its own, reused from frame to frame.
    Copy,
}

impl FramePath {
    /// `allocator` or `copy`, as in reports.
    pub fn name(self) -> &'static str {
        match self {
            FramePath::Allocator => "allocator",
            FramePath::Copy => "copy",
        }
    }
}

/// The frame rate asked of the camera.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rate {
    /// A whole number of frames per second: the stream's `AvgTimePerFrame` is
    /// [`interval_for_fps`]`(fps)` and frames are due at `start + n * interval`.
    Fps(u32),
    /// As fast as the client takes them: the format's shortest interval is requested and the
    /// backend does not pace delivery by the wall clock (stress runs only).
    Unthrottled,
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rate::Fps(fps) => write!(f, "{fps} fps"),
            Rate::Unthrottled => f.write_str("unthrottled"),
        }
    }
}

/// A validated request to stream: every field was checked against the [`DeviceInfo`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamConfig {
    /// The pin to connect to.
    pub pin: u32,
    /// The pixel format.
    pub pixel_format: PixelFormat,
    /// The picture size.
    pub size: Size,
    /// The frame rate.
    pub rate: Rate,
    /// The test pattern, one of [`DeviceInfo::patterns`].
    pub pattern: String,
    /// Allocator frames (a kernel-mode consumer) or the client's own buffers (an application).
    pub frame_path: FramePath,
    /// Controls to set before streaming, by name (each checked against
    /// [`DeviceInfo::controls`]), in order.
    pub controls: Vec<(String, i64)>,
    /// The caption overlay's text to set before streaming.
    pub caption: Option<String>,
    /// Faults to inject while streaming (cleared when the stream stops).
    pub faults: Option<FaultPlan>,
}

/// Faults to inject: avcam's `AVCAM_FAULT_PLAN` (see `PROPSETID_AVCAM_FAULTS`).
pub type FaultPlan = ks::avcam::AVCAM_FAULT_PLAN;

/// What the camera injected: avcam's `AVCAM_FAULT_COUNTERS`.
pub type FaultCounters = ks::avcam::AVCAM_FAULT_COUNTERS;

/// Whose memory a frame's bytes are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameMemory {
    /// A frame of the allocator the client created on the pin, read where the camera rendered
    /// it.
    PinAllocator,
    /// A buffer of the client's own, which the camera rendered into.
    ClientBuffer,
}

/// One frame as delivered: its bytes and what `KSSTREAM_HEADER` and `KS_FRAME_INFO` say of it.
///
/// It borrows the stream: the buffer it lies in (an allocator frame or a client buffer) is given
/// back to the pin only at the next [`Stream::next_frame`] or at [`Stream::stop`].
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    /// The pixel format.
    pub pixel_format: PixelFormat,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Bytes from the start of one stored row to the next (`lSurfacePitch`), for every plane.
    pub stride: usize,
    /// RGB only: the first row in memory is the bottom row of the picture (a DIB with a
    /// positive `biHeight`). Always false for YUV.
    pub bottom_up: bool,
    /// The bytes: [`PixelFormat::stored_rows`] rows of `stride` bytes (the last row may stop
    /// after [`PixelFormat::row_bytes`]).
    pub data: &'a [u8],
    /// `PresentationTime.Time` in 100 ns units, if `KSSTREAM_HEADER_OPTIONSF_TIMEVALID`.
    pub presentation_time: Option<i64>,
    /// `Duration` in 100 ns units, if `KSSTREAM_HEADER_OPTIONSF_DURATIONVALID`.
    pub duration: Option<i64>,
    /// `KS_FRAME_INFO.PictureNumber`: frames the camera produced before this one.
    pub picture_number: i64,
    /// `KS_FRAME_INFO.DropCount`: frames the camera dropped so far.
    pub drop_count: i64,
    /// Whether the bytes lie in an allocator frame or in a client buffer.
    pub memory: FrameMemory,
    /// When the frame arrived on the camera's clock (the presentation times' clock, 100 ns
    /// units), if the backend can tell.
    pub arrival_time: Option<i64>,
    /// `KSSTREAM_HEADER_OPTIONSF_DATADISCONTINUITY`.
    pub discontinuity: bool,
}

impl Frame<'_> {
    /// Whether the frame came without a picture (`DataUsed` 0: an empty frame, which a camera
    /// may deliver and a consumer must skip).
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// `KSALLOCATOR_FRAMING` of the client's allocator on the pin, as
/// `KSPROPERTY_STREAMALLOCATOR_STATUS` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Framing {
    /// `Frames`: frames the allocator holds.
    pub frames: u32,
    /// `FrameSize`: bytes per frame.
    pub frame_size: u32,
    /// `FileAlignment`: alignment mask (e.g. 15 for 16-byte alignment).
    pub alignment_mask: u32,
    /// `PoolType`: the `POOL_TYPE` value (0 NonPagedPool, 512 NonPagedPoolNx, ...).
    pub pool_type: u32,
}

/// The state of the allocator the client created on the pin (allocator mode).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AllocatorStatus {
    /// Its framing.
    pub framing: Framing,
    /// `AllocatedFrames`: frames handed out and not yet freed.
    pub frames_outstanding: u32,
    /// Frames the client took from it (`KSMETHOD_STREAMALLOCATOR_ALLOC`), if the backend counts
    /// them.
    pub allocs: Option<u64>,
    /// Frames the client gave back (`KSMETHOD_STREAMALLOCATOR_FREE`), if the backend counts them.
    pub frees: Option<u64>,
}

/// Counters of a running stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Frames handed to the viewer so far.
    pub frames_delivered: u64,
    /// `KSPROPERTY_DROPPEDFRAMES_CURRENT.DropCount`: frames the camera could not deliver.
    pub frames_dropped: u64,
    /// Frames delivered in frames of the client's allocator on the pin (allocator mode).
    pub frames_in_allocator_frames: u64,
    /// Frames delivered in the client's own buffers (copy mode).
    pub frames_in_client_buffers: u64,
    /// The status of the client's allocator on the pin (allocator mode; `None` without one).
    pub allocator: Option<AllocatorStatus>,
}

/// Why a camera request failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CameraError {
    /// No avcam device is installed: the backend found no device interface of it.
    NotInstalled {
        /// What was looked for and not found, e.g. the interface category.
        reason: String,
    },
    /// No avcam device (or no such pin) was found.
    NotFound {
        /// What was looked for.
        what: String,
    },
    /// The device answered a request with an error NTSTATUS.
    Request {
        /// The request, e.g. "KSPROPERTY_CONNECTION_STATE set RUN".
        request: String,
        /// The NTSTATUS it returned.
        status: u32,
    },
    /// No frame arrived in time.
    Timeout {
        /// How long the viewer waited.
        waited: Duration,
    },
    /// Anything else the backend reports.
    Backend {
        /// A one-line description.
        message: String,
    },
    /// The camera does not offer what was asked (a control, fault injection).
    Unsupported {
        /// What.
        what: String,
    },
}

impl fmt::Display for CameraError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CameraError::NotInstalled { reason } => {
                write!(f, "no avcam camera is installed ({reason})")
            }
            CameraError::NotFound { what } => write!(f, "not found: {what}"),
            CameraError::Request { request, status } => {
                write!(f, "{request} failed with NTSTATUS {status:#010x}")
            }
            CameraError::Timeout { waited } => {
                write!(f, "no frame within {:.1} s", waited.as_secs_f64())
            }
            CameraError::Backend { message } => f.write_str(message),
            CameraError::Unsupported { what } => write!(f, "the camera does not offer {what}"),
        }
    }
}

impl std::error::Error for CameraError {}

/// A camera the viewer can list and stream from.
///
/// # Invariants
/// `start` is only called with a config whose pin, pixel format, size and rate appear in the
/// latest [`Camera::device_info`], and whose pattern is one of its patterns. At most one stream
/// is running at a time (the stream borrows the camera).
pub trait Camera {
    /// The device, its pins and every format they offer.
    fn device_info(&mut self) -> Result<DeviceInfo, CameraError>;

    /// Connects the pin with `config`, sets it to RUN and returns the running stream.
    fn start(&mut self, config: &StreamConfig) -> Result<Box<dyn Stream + '_>, CameraError>;

    /// Sets controls (names of [`DeviceInfo::controls`], values in their ranges) and the
    /// caption, without streaming.
    fn set_controls(
        &mut self,
        _controls: &[(String, i64)],
        _caption: Option<&str>,
    ) -> Result<(), CameraError> {
        Err(CameraError::Unsupported {
            what: "controls".into(),
        })
    }
}

/// A running stream.
pub trait Stream {
    /// Waits up to `timeout` for the next frame ([`CameraError::Timeout`] if none came).
    /// The previous frame is released first (its buffer given back to the pin).
    fn next_frame(&mut self, timeout: Duration) -> Result<Frame<'_>, CameraError>;

    /// The stream's counters now (dropped frames are queried from the pin, the allocator status
    /// from the client's allocator).
    fn stats(&mut self) -> Result<StreamStats, CameraError>;

    /// Sets the control called `name` (one of [`DeviceInfo::controls`]) while streaming: the
    /// camera applies it from its next frame.
    fn set_control(&mut self, name: &str, _value: i64) -> Result<(), CameraError> {
        Err(CameraError::Unsupported {
            what: format!("the control {name}"),
        })
    }

    /// Asks the camera for one stall of `ms` milliseconds (fault injection).
    fn stall(&mut self, _ms: u32) -> Result<(), CameraError> {
        Err(CameraError::Unsupported {
            what: "stalls".into(),
        })
    }

    /// What the camera injected since the stream's fault plan was set, or since
    /// [`Stream::end_faults`] (`None`: no plan, or the camera cannot say).
    fn fault_counters(&mut self) -> Result<Option<FaultCounters>, CameraError> {
        Ok(None)
    }

    /// Ends the stream's fault plan: what the camera injected so far, then no more faults (a
    /// frame held back still completes late: [`Stream::fault_counters`] counts it afresh).
    fn end_faults(&mut self) -> Result<Option<FaultCounters>, CameraError> {
        Ok(None)
    }

    /// Stops the pin (RUN -> STOP), takes the cancelled reads' buffers back, releases the last
    /// frame, closes the allocator (if any), the pin and the filter, and returns the final
    /// counters: the drops as they were before STOP, the allocator as it is once every frame
    /// came back. A fault plan the stream set is cleared.
    fn stop(self: Box<Self>) -> Result<StreamStats, CameraError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_print() {
        assert_eq!("1280x720".parse(), Ok(Size::new(1280, 720)));
        assert_eq!(" 320X240 ".parse(), Ok(Size::new(320, 240)));
        assert_eq!(Size::new(1920, 1080).to_string(), "1920x1080");
        for bad in [
            "", "1280", "x720", "0x720", "1280x0", "-1x2", "12ax3", "1x2x3",
        ] {
            assert_eq!(bad.parse::<Size>(), Err(ParseSizeError), "{bad:?}");
        }
    }

    #[test]
    fn intervals_round_to_the_nearest_100ns() {
        assert_eq!(interval_for_fps(0), None);
        assert_eq!(interval_for_fps(1), Some(10_000_000));
        assert_eq!(interval_for_fps(30), Some(333_333));
        assert_eq!(interval_for_fps(60), Some(166_667));
        assert_eq!(interval_for_fps(1000), Some(10_000));
    }

    #[test]
    fn fps_ranges_follow_the_intervals() {
        let format = FormatInfo {
            pixel_format: PixelFormat::Nv12,
            size: Size::new(640, 480),
            min_interval: 10_000,     // 1000 fps
            max_interval: 10_000_000, // 1 fps
        };
        assert_eq!(format.fps_range(), Some((1, 1000)));
        assert!(format.allows_fps(1) && format.allows_fps(30) && format.allows_fps(1000));
        assert!(!format.allows_fps(0) && !format.allows_fps(1001));

        let narrow = FormatInfo {
            min_interval: 333_333,
            max_interval: 666_667,
            ..format.clone()
        };
        assert_eq!(narrow.fps_range(), Some((15, 30)));
        assert!(!narrow.allows_fps(31) && !narrow.allows_fps(14));

        let empty = FormatInfo {
            min_interval: 400_001, // between 25 fps (400000) and 24 fps (416667)
            max_interval: 400_002,
            ..format
        };
        assert_eq!(empty.fps_range(), None);
    }

    #[test]
    fn layouts_per_format() {
        assert_eq!(PixelFormat::Nv12.row_bytes(640), 640);
        assert_eq!(PixelFormat::Nv12.stored_rows(480), 720);
        assert_eq!(PixelFormat::Yuy2.row_bytes(640), 1280);
        assert_eq!(PixelFormat::Rgb24.row_bytes(641), 1923);
        assert_eq!(PixelFormat::Rgb32.row_bytes(640), 2560);
        assert_eq!(PixelFormat::Rgb32.stored_rows(480), 480);
        assert!(PixelFormat::Rgb24.is_rgb() && !PixelFormat::Yuy2.is_rgb());
    }
}
