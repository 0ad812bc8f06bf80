//! The viewer's built-in camera: the avcam driver loaded into the Linux emulation, spoken to
//! through the KS client library (`avcam-client`). [`ClientCamera`] implements [`Camera`].
//!
//! - `device_info`: `KSPROPERTY_PIN_CTYPES`, `KSPROPERTY_PIN_CATEGORY` and
//!   `KSPROPERTY_PIN_DATARANGES`; each `KS_DATARANGE_VIDEO` becomes one [`FormatInfo`].
//! - `start`: the exact `KS_DATAFORMAT_VIDEOINFOHEADER` for the requested format, size and
//!   interval is offered to `KSPROPERTY_PIN_DATAINTERSECTION`, the pin is created with the
//!   format the driver proposes, then stepped STOP -> ACQUIRE -> PAUSE -> RUN.
//! - Frames, [`FramePath::Shared`] (the default): one `IOCTL_KS_READ_STREAM` whose header
//!   brings no buffer (`Data` NULL, `FrameExtent` 0); the pin lends it a frame of its own pool
//!   (our allocator) and the viewer reads the very bytes the driver rendered
//!   ([`FrameMemory::PinAllocator`]). A lent frame stays unchanged until the pin has lent
//!   `LEASE_WINDOW` (K, the pool's frame count - 1) more frames (`avcam::frame_path`), so the
//!   viewer keeps K shared reads: while it holds one frame, the other K - 1 stay queued, and the
//!   held one is queued again only once the viewer released it (its next `next_frame`). At most
//!   K - 1 frames are lent after the held one meanwhile, so it is never overwritten, and the pin
//!   still has a read for each frame that falls due while the viewer converts one.
//! - Frames, [`FramePath::Copy`] (`--copy`): [`READS_IN_FLIGHT`] reads are kept queued, each
//!   into one of the stream's own buffers, allocated once at `start` and reused (a frame handed
//!   out is re-queued when the next one is asked for); the driver copies each frame into them
//!   ([`FrameMemory::ClientCopy`]). Small per-read allocations remain in the client path (the
//!   header bytes and the emulation's copy of them), none of frame size.
//! - Time: at a whole frame rate the emulation's clock runs in real time
//!   (`ClockControl::start_real_time`), so frames arrive at the requested fps and a slow viewer
//!   sees real drops. Unthrottled (`--fps 0`), the format's shortest interval is requested and
//!   the clock stays virtual: when the oldest read is not complete, the clock is advanced by
//!   exactly one frame interval, which fires the driver's timer and fills it. Frames then come
//!   as fast as the driver renders and the viewer consumes them; their presentation times are
//!   virtual (one interval apart), their arrival times real.
//! - Stats: `KSPROPERTY_DROPPEDFRAMES_CURRENT`, and the status of the pin's frame pool
//!   allocator (`KSPROPERTY_STREAMALLOCATOR_STATUS`, asked of the allocator the driver created
//!   on the pin, found through the driver's pool report).

use std::collections::VecDeque;
use std::time::Duration;

use avcam_avstream::{FrameSize, PixelFormat as KsPixel, VideoFormat};
use avcam_client::{request, Transport};
use avcam_emulation::{AsyncIo, Kernel};
use ks::guid::KSCATEGORY_VIDEO_CAMERA;
use ks::nt::{DRIVER_OBJECT, UNICODE_STRING};
use ks::status::STATUS_SUCCESS;
use ks::video::{
    KSSTREAM_HEADER, KSSTREAM_HEADER_OPTIONSF_DURATIONVALID, KSSTREAM_HEADER_OPTIONSF_TIMEVALID,
    KS_DATARANGE_VIDEO, KS_FRAME_INFO, PINNAME_VIDEO_CAPTURE, PINNAME_VIDEO_PREVIEW,
    PINNAME_VIDEO_STILL,
};
use ks::{GUID, NTSTATUS};
use zerocopy::{FromBytes, IntoBytes};

use crate::camera::{
    AllocatorStatus, Camera, CameraError, DeviceInfo, FormatInfo, Frame, FrameMemory, FramePath,
    Framing, PinInfo, PinKind, PixelFormat, Rate, Size, Stream, StreamConfig, StreamStats,
};

/// Reads kept queued on the pin while streaming: enough that the driver always has a buffer
/// while the viewer holds one frame and converts it.
pub const READS_IN_FLIGHT: usize = 4;

/// How long `stop` waits for a cancelled read to come back before giving its buffer up.
const CANCEL_WAIT: Duration = Duration::from_secs(5);

/// Unthrottled: how long a read may take to come back after its frame was made due before the
/// virtual clock is moved on by one more frame.
const UNTHROTTLED_PATIENCE: Duration = Duration::from_millis(50);

/// The device name `list` shows.
const DEVICE_NAME: &str = "avcam virtual camera (emulation)";

/// The patterns the camera renders. The driver exposes no pattern control yet, so only the
/// synthesizer's default, the colour bars, can be asked for.
const PATTERNS: [&str; 1] = ["bars"];

/// The emulation's `DriverEntry` signature over avcam's.
unsafe extern "system" fn avcam_entry(
    driver: *mut DRIVER_OBJECT,
    path: *mut UNICODE_STRING,
) -> NTSTATUS {
    // SAFETY: the emulation's loader passes its live driver object and registry path, which is
    // exactly what avcam's DriverEntry requires.
    unsafe { avcam_driver::driver_entry::DriverEntry(driver, path) }
}

/// Maps a client error to the viewer's camera error.
pub(crate) fn client_error(error: avcam_client::ClientError) -> CameraError {
    match error {
        avcam_client::ClientError::Request { request, status } => CameraError::Request {
            request: request.into(),
            status: status as u32,
        },
        avcam_client::ClientError::NoDevice(_) => CameraError::NotFound {
            what: "a device in KSCATEGORY_VIDEO_CAMERA".into(),
        },
        avcam_client::ClientError::Timeout => CameraError::Timeout {
            waited: Duration::ZERO,
        },
        other => CameraError::Backend {
            message: other.to_string(),
        },
    }
}

/// A failed request of the backend's own.
fn request_error(request: &str, status: NTSTATUS) -> CameraError {
    CameraError::Request {
        request: request.into(),
        status: status as u32,
    }
}

/// The viewer's pixel format for the driver's.
pub(crate) fn viewer_pixel(format: KsPixel) -> PixelFormat {
    match format {
        KsPixel::Nv12 => PixelFormat::Nv12,
        KsPixel::Yuy2 => PixelFormat::Yuy2,
        KsPixel::Rgb24 => PixelFormat::Rgb24,
        KsPixel::Rgb32 => PixelFormat::Rgb32,
    }
}

/// The driver's pixel format for the viewer's.
fn ks_pixel(format: PixelFormat) -> KsPixel {
    match format {
        PixelFormat::Nv12 => KsPixel::Nv12,
        PixelFormat::Yuy2 => KsPixel::Yuy2,
        PixelFormat::Rgb24 => KsPixel::Rgb24,
        PixelFormat::Rgb32 => KsPixel::Rgb32,
    }
}

/// One `KS_DATARANGE_VIDEO` as a [`FormatInfo`]; `None` for a range the viewer cannot show
/// (another subtype, a size that does not fit, a non-positive interval).
pub fn parse_video_range(bytes: &[u8]) -> Option<FormatInfo> {
    let (range, _) = KS_DATARANGE_VIDEO::read_from_prefix(bytes).ok()?;
    let pixel = KsPixel::from_subtype(&range.DataRange.SubFormat)?;
    let header = &range.VideoInfoHeader.bmiHeader;
    let width = u32::try_from(header.biWidth).ok()?;
    let height = header.biHeight.unsigned_abs();
    let min_interval = u64::try_from(range.ConfigCaps.MinFrameInterval).ok()?;
    let max_interval = u64::try_from(range.ConfigCaps.MaxFrameInterval).ok()?;
    (width > 0 && height > 0 && min_interval > 0).then_some(FormatInfo {
        pixel_format: viewer_pixel(pixel),
        size: Size::new(width, height),
        min_interval,
        max_interval,
    })
}

/// The pin kind for a `KSPROPERTY_PIN_CATEGORY` answer.
fn pin_kind(category: &GUID) -> PinKind {
    if *category == PINNAME_VIDEO_CAPTURE {
        PinKind::Capture
    } else if *category == PINNAME_VIDEO_PREVIEW {
        PinKind::Preview
    } else if *category == PINNAME_VIDEO_STILL {
        PinKind::Still
    } else {
        PinKind::Other
    }
}

/// The avcam camera on the emulation: a kernel with the driver loaded. Each request opens the
/// filter through `KSCATEGORY_VIDEO_CAMERA` and closes it when done.
pub struct ClientCamera {
    kernel: Kernel,
}

impl ClientCamera {
    /// Boots an emulated kernel and loads avcam's `DriverEntry` into it.
    pub fn open() -> Result<ClientCamera, CameraError> {
        let kernel = Kernel::new();
        // Until the driver moves its frame timer to a high-resolution EX_TIMER (issue 10,
        // defect 5): a 100 ns clock tick, so the driver's KTIMER expires at its due time as it
        // did before the emulation modelled the tick. With the default 15.625 ms tick the
        // KTIMER expires once per tick and the viewer shows the defect (1000 fps stress:
        // frames dropped; unthrottled mode: frames late). The integrator removes this line.
        kernel.clock().set_tick(1);
        let status = kernel.load_driver(avcam_entry);
        if status != STATUS_SUCCESS {
            return Err(request_error("DriverEntry", status));
        }
        Ok(ClientCamera { kernel })
    }

    /// The emulated kernel (for tests that look behind the client).
    pub fn kernel(&self) -> &Kernel {
        &self.kernel
    }

    fn open_filter(&self) -> Result<avcam_client::Camera<'_>, CameraError> {
        avcam_client::Camera::open(&self.kernel, &KSCATEGORY_VIDEO_CAMERA).map_err(client_error)
    }
}

impl Drop for ClientCamera {
    fn drop(&mut self) {
        self.kernel.unload_driver();
    }
}

/// The device, its pins and every format they offer, asked of an open `filter` on any
/// transport (`KSPROPERTY_PIN_CTYPES`, `_DATARANGES`, `_CATEGORY`), then the filter is closed.
pub(crate) fn read_device_info<T: Transport>(
    filter: avcam_client::Camera<'_, T>,
    name: &str,
) -> Result<DeviceInfo, CameraError> {
    let result = (|| {
        let mut pins = Vec::new();
        for id in 0..filter.pin_count().map_err(client_error)? {
            let formats = filter
                .data_ranges(id)
                .map_err(client_error)?
                .iter()
                .filter_map(|range| parse_video_range(range))
                .collect();
            let kind = filter
                .pin_category(id)
                .map_or(PinKind::Other, |category| pin_kind(&category));
            let name = match kind {
                PinKind::Capture => "Capture",
                PinKind::Preview => "Preview",
                PinKind::Still => "Still",
                PinKind::Other => "Pin",
            };
            pins.push(PinInfo {
                id,
                name: name.into(),
                kind,
                formats,
            });
        }
        Ok(DeviceInfo {
            name: name.into(),
            pins,
            patterns: PATTERNS.iter().map(|p| (*p).into()).collect(),
        })
    })();
    let closed = filter.close().map_err(client_error);
    let info = result?;
    closed?;
    Ok(info)
}

/// The exact format `config` asks for, checked against what the camera can render.
pub(crate) fn wanted_format(config: &StreamConfig) -> Result<VideoFormat, CameraError> {
    if !PATTERNS.contains(&config.pattern.as_str()) {
        return Err(CameraError::NotFound {
            what: format!(
                "pattern {}: the camera renders only {}",
                config.pattern,
                PATTERNS.join(", ")
            ),
        });
    }
    let size = FrameSize::find(
        i32::try_from(config.size.width).unwrap_or(0),
        i32::try_from(config.size.height).unwrap_or(0),
    )
    .ok_or_else(|| CameraError::NotFound {
        what: format!("size {} on the camera", config.size),
    })?;
    let pixel = ks_pixel(config.pixel_format);
    let interval = match config.rate {
        Rate::Fps(fps) => crate::camera::interval_for_fps(fps)
            .and_then(|i| i64::try_from(i).ok())
            .unwrap_or(i64::MAX),
        Rate::Unthrottled => avcam_avstream::ranges::CaptureRange {
            format: pixel,
            size,
        }
        .min_interval(),
    };
    VideoFormat::new(pixel, size, interval).map_err(|error| CameraError::Backend {
        message: format!(
            "the camera refuses {} {}: {error:?}",
            config.pixel_format, config.size
        ),
    })
}

/// Offers `wanted` to `DATAINTERSECTION` on `filter` and creates the pin with the format the
/// driver proposes: the filter, that format and the pin. On failure the filter is closed.
pub(crate) fn connect<'k, T: Transport>(
    filter: avcam_client::Camera<'k, T>,
    pin_id: u32,
    wanted: &VideoFormat,
) -> Result<ConnectedPin<'k, T>, CameraError> {
    let created = filter
        .intersect(pin_id, wanted.to_ks().as_bytes())
        .map_err(client_error)
        .and_then(|proposed| {
            let format = VideoFormat::parse(&proposed).map_err(|error| CameraError::Backend {
                message: format!("the pin proposed a format the viewer cannot read: {error:?}"),
            })?;
            let pin = filter.create_pin(pin_id, &proposed).map_err(client_error)?;
            Ok((format, pin))
        });
    match created {
        Ok((format, pin)) => Ok((filter, format, pin)),
        Err(error) => {
            let _ = filter.close();
            Err(error)
        }
    }
}

/// What [`connect`] gives: the open filter, the pin's format and the pin.
pub(crate) type ConnectedPin<'k, T> = (
    avcam_client::Camera<'k, T>,
    VideoFormat,
    avcam_client::Pin<'k, T>,
);

/// The viewer's [`Frame`] for `data`, a frame of `format` as the driver's `header` and `info`
/// describe it (times only where the header flags them valid).
pub(crate) fn viewer_frame<'a>(
    format: &VideoFormat,
    header: &KSSTREAM_HEADER,
    info: &KS_FRAME_INFO,
    data: &'a [u8],
    memory: FrameMemory,
) -> Frame<'a> {
    let size = format.size();
    let flags = header.OptionsFlags;
    Frame {
        pixel_format: viewer_pixel(format.pixel_format()),
        width: size.width,
        height: size.height,
        stride: format.layout().stride,
        bottom_up: format.pixel_format().is_bottom_up(),
        data,
        presentation_time: (flags & KSSTREAM_HEADER_OPTIONSF_TIMEVALID != 0)
            .then_some(header.PresentationTime.Time),
        duration: (flags & KSSTREAM_HEADER_OPTIONSF_DURATIONVALID != 0).then_some(header.Duration),
        picture_number: info.PictureNumber,
        drop_count: info.DropCount,
        memory,
    }
}

/// Closes the pin, then the filter (whichever is still open); the pin's failure first.
pub(crate) fn close_pin_and_filter<T: Transport>(
    pin: Option<avcam_client::Pin<'_, T>>,
    filter: Option<avcam_client::Camera<'_, T>>,
) -> Result<(), CameraError> {
    let closed_pin = pin.map_or(Ok(()), |pin| pin.close().map_err(client_error));
    let closed_filter = filter.map_or(Ok(()), |filter| filter.close().map_err(client_error));
    closed_pin.and(closed_filter)
}

impl Camera for ClientCamera {
    fn device_info(&mut self) -> Result<DeviceInfo, CameraError> {
        read_device_info(self.open_filter()?, DEVICE_NAME)
    }

    fn start(&mut self, config: &StreamConfig) -> Result<Box<dyn Stream + '_>, CameraError> {
        let wanted = wanted_format(config)?;
        let (filter, format, pin) = connect(self.open_filter()?, config.pin, &wanted)?;
        let unthrottled = config.rate == Rate::Unthrottled;
        let mut stream = ClientStream::new(
            &self.kernel,
            filter,
            pin,
            format,
            unthrottled,
            config.frame_path,
        );
        if let Err(error) = stream.run() {
            let _ = Box::new(stream).stop();
            return Err(error);
        }
        Ok(Box::new(stream))
    }
}

/// One of the stream's buffers and the read queued into it, if any.
struct Slot {
    /// The frame bytes; the driver writes here through the read's `KSSTREAM_HEADER.Data`.
    buffer: Box<[u8]>,
    /// The queued read.
    read: Option<AsyncIo>,
}

/// A running stream of [`ClientCamera`].
pub struct ClientStream<'k> {
    kernel: &'k Kernel,
    filter: Option<avcam_client::Camera<'k>>,
    pin: Option<avcam_client::Pin<'k>>,
    format: VideoFormat,
    unthrottled: bool,
    /// Shared mode: `LEASE_WINDOW` reads with no buffer, each answered with a lent pool frame.
    shared: bool,
    real_time: bool,
    slots: Vec<Slot>,
    /// Slots with a read queued, oldest first.
    queued: VecDeque<usize>,
    /// The slot whose frame the viewer holds.
    held: Option<usize>,
    delivered: u64,
    /// The interrupt time of RUN (unthrottled: where the virtual clock started).
    epoch: i64,
    /// Unthrottled: frame intervals the virtual clock moved since RUN.
    intervals_advanced: u64,
}

impl<'k> ClientStream<'k> {
    fn new(
        kernel: &'k Kernel,
        filter: avcam_client::Camera<'k>,
        pin: avcam_client::Pin<'k>,
        format: VideoFormat,
        unthrottled: bool,
        frame_path: FramePath,
    ) -> Self {
        let shared = frame_path == FramePath::Shared;
        // Shared: LEASE_WINDOW slots without a buffer (the pin lends its own frames; one held
        // plus the others queued never exceed the lease window).
        let (reads, image) = if shared {
            (avcam_driver::frame_pool::LEASE_WINDOW, 0)
        } else {
            (READS_IN_FLIGHT, format.image_size() as usize)
        };
        let slots = (0..reads)
            .map(|_| Slot {
                buffer: vec![0u8; image].into_boxed_slice(),
                read: None,
            })
            .collect();
        ClientStream {
            kernel,
            filter: Some(filter),
            pin: Some(pin),
            format,
            unthrottled,
            shared,
            real_time: false,
            slots,
            queued: VecDeque::with_capacity(READS_IN_FLIGHT),
            held: None,
            delivered: 0,
            epoch: 0,
            intervals_advanced: 0,
        }
    }

    fn pin(&self) -> Result<&avcam_client::Pin<'k>, CameraError> {
        self.pin.as_ref().ok_or(CameraError::Backend {
            message: "the pin is closed".into(),
        })
    }

    /// Starts the clock and steps the pin to RUN with every read queued.
    fn run(&mut self) -> Result<(), CameraError> {
        if !self.unthrottled {
            self.kernel.clock().start_real_time();
            self.real_time = true;
        }
        for state in [
            ks::avstream::KSSTATE_ACQUIRE,
            ks::avstream::KSSTATE_PAUSE,
            ks::avstream::KSSTATE_RUN,
        ] {
            self.pin()?.set_state(state).map_err(client_error)?;
        }
        self.epoch = self.kernel.clock().now_100ns();
        for slot in 0..self.slots.len() {
            self.queue(slot)?;
        }
        Ok(())
    }

    /// Queues a read into `slot`'s buffer.
    fn queue(&mut self, slot: usize) -> Result<(), CameraError> {
        let pin = self.pin()?.file();
        let entry = &mut self.slots[slot];
        let headers = request::read_headers(&mut entry.buffer);
        entry.read = Some(self.kernel.read_stream(pin, &headers));
        self.queued.push_back(slot);
        Ok(())
    }

    /// Unthrottled: moves the virtual clock to the next frame's due time, 100 ns past the
    /// presentation time the driver's frame rate gives it (exact, not a multiple of the
    /// truncated interval: at 240 fps frame n is due at n x 41666.67, not n x 41666).
    fn advance_one_frame(&mut self) {
        self.intervals_advanced += 1;
        let due = self.format.rate().time_of_frame(self.intervals_advanced);
        let target = self.epoch.saturating_add(due).saturating_add(1);
        let now = self.kernel.clock().now_100ns();
        if target > now {
            let ns = u64::try_from(i128::from(target - now) * 100).unwrap_or(u64::MAX);
            self.kernel.clock().advance(ns);
        }
    }

    /// Waits for the oldest queued read; on success it leaves the queue and its header and
    /// frame info are returned.
    fn complete_oldest(
        &mut self,
        timeout: Duration,
    ) -> Result<(usize, KSSTREAM_HEADER, KS_FRAME_INFO), CameraError> {
        let slot = *self.queued.front().ok_or(CameraError::Backend {
            message: "no read is queued".into(),
        })?;
        if self.unthrottled && self.intervals_advanced < self.delivered {
            // Every frame due so far was received: make the next one due. The driver renders it
            // into the oldest queued read (its leading edge) from the timer's DPC.
            self.advance_one_frame();
        }
        let (status, output) = match self.slots[slot].read.as_ref() {
            Some(AsyncIo::Done(done)) => (done.result.status, done.output.clone()),
            Some(AsyncIo::Pending(pending)) if !self.unthrottled => match pending.wait(timeout) {
                Some(result) => (result.status, pending.output().unwrap_or_default()),
                None => return Err(CameraError::Timeout { waited: timeout }),
            },
            Some(AsyncIo::Pending(_)) => self.wait_unthrottled(slot, timeout)?,
            None => {
                return Err(CameraError::Backend {
                    message: "a queued slot has no read".into(),
                })
            }
        };
        self.queued.pop_front();
        self.slots[slot].read = None;
        if status != STATUS_SUCCESS {
            return Err(request_error("IOCTL_KS_READ_STREAM", status));
        }
        let parsed = KSSTREAM_HEADER::read_from_prefix(&output)
            .ok()
            .and_then(|(header, rest)| {
                KS_FRAME_INFO::read_from_prefix(rest)
                    .ok()
                    .map(|(info, _)| (header, info))
            });
        let (header, info) = parsed.ok_or(CameraError::Backend {
            message: "IOCTL_KS_READ_STREAM returned a short stream header".into(),
        })?;
        Ok((slot, header, info))
    }

    /// Unthrottled: waits for the read in `slot`, making one more frame due whenever a short
    /// wait passes without it (the read may still be completing on the emulation's thread, so
    /// the clock is not pushed at once; an extra due frame only ever fills the next queued
    /// read). Gives up after `timeout`.
    fn wait_unthrottled(
        &mut self,
        slot: usize,
        timeout: Duration,
    ) -> Result<(NTSTATUS, Vec<u8>), CameraError> {
        let started = std::time::Instant::now();
        loop {
            let Some(AsyncIo::Pending(pending)) = self.slots[slot].read.as_ref() else {
                return Err(CameraError::Backend {
                    message: "a queued slot has no pending read".into(),
                });
            };
            let left = timeout.saturating_sub(started.elapsed());
            if let Some(result) = pending.wait(left.min(UNTHROTTLED_PATIENCE)) {
                return Ok((result.status, pending.output().unwrap_or_default()));
            }
            if left.is_zero() {
                return Err(CameraError::Timeout { waited: timeout });
            }
            self.advance_one_frame();
        }
    }

    /// `KSPROPERTY_STREAMALLOCATOR_STATUS` of the pin's frame pool, with its allocation count.
    fn allocator_status(&self) -> Option<AllocatorStatus> {
        let pin = self.pin.as_ref()?;
        let _entered = self.kernel.enter();
        // SAFETY: the pin's file is open (the stream owns it), so its FILE_OBJECT is live and
        // carries the KS object header KsGetObjectFromFileObject reads.
        let ks_pin =
            unsafe { avcam_kernel::KsGetObjectFromFileObject(self.kernel.file_object(pin.file())) };
        // SAFETY: `ks_pin` is a live KSPIN of avcam (the file is one of its pins), and this
        // thread entered the kernel at PASSIVE_LEVEL.
        let report = unsafe { avcam_driver::capture_pin::pool_report(ks_pin.cast()) }?;
        let mut property = ks::ks::KSIDENTIFIER {
            Set: ks::guid::KSPROPSETID_StreamAllocator,
            Id: ks::ks::KSPROPERTY_STREAMALLOCATOR_STATUS,
            Flags: ks::ks::KSPROPERTY_TYPE_GET,
        };
        let mut status = ks::ks::KSSTREAMALLOCATOR_STATUS::default();
        let mut returned = 0u32;
        // SAFETY: the allocator file belongs to the pool of the running pin (live until STOP,
        // which only this stream can ask for); both buffers are locals that outlive the call
        // and are exactly the sizes passed.
        let result = unsafe {
            avcam_kernel::KsSynchronousIoControlDevice(
                report.allocator_file,
                ks::nt::KernelMode,
                ks::ks::IOCTL_KS_PROPERTY,
                (&raw mut property).cast(),
                core::mem::size_of_val(&property) as u32,
                (&raw mut status).cast(),
                core::mem::size_of_val(&status) as u32,
                &mut returned,
            )
        };
        if result != STATUS_SUCCESS {
            return None;
        }
        let outstanding = status.AllocatedFrames;
        Some(AllocatorStatus {
            framing: Framing {
                frames: status.Framing.Frames,
                frame_size: status.Framing.FrameSize,
                alignment_mask: status.Framing.FileAlignment,
                pool_type: status.Framing.PoolType,
            },
            frames_outstanding: outstanding,
            allocs: Some(report.frames_allocated),
            frees: Some(
                report
                    .frames_allocated
                    .saturating_sub(u64::from(outstanding)),
            ),
        })
    }

    fn counters(&self) -> Result<StreamStats, CameraError> {
        let dropped = self.pin()?.dropped_frames().map_err(client_error)?;
        Ok(StreamStats {
            frames_delivered: self.delivered,
            frames_dropped: u64::try_from(dropped.drop_count).unwrap_or(0),
            copies_avoided: if self.shared { self.delivered } else { 0 },
            frames_copied: if self.shared { 0 } else { self.delivered },
            allocator: self.allocator_status(),
        })
    }
}

impl Stream for ClientStream<'_> {
    fn next_frame(&mut self, timeout: Duration) -> Result<Frame<'_>, CameraError> {
        if let Some(held) = self.held.take() {
            self.queue(held)?;
        }
        let (slot, header, info) = self.complete_oldest(timeout)?;
        self.held = Some(slot);
        self.delivered += 1;
        let data: &[u8] = if self.shared {
            if header.Data == 0 {
                return Err(CameraError::Backend {
                    message: "the pin answered a shared read without lending a frame".into(),
                });
            }
            // SAFETY: in shared mode the pin lent this read `DataUsed` bytes of its pool frame
            // at `Data`, in this address space (the emulation's kernel pool), unchanged until
            // it lends LEASE_WINDOW more frames or stops. Neither can happen while the returned
            // frame borrows the stream: only the other LEASE_WINDOW - 1 slots have reads queued
            // (this slot is queued again by the next `next_frame`), and STOP only comes from
            // `stop`; both need the borrow to have ended.
            unsafe {
                core::slice::from_raw_parts(
                    header.Data as usize as *const u8,
                    header.DataUsed as usize,
                )
            }
        } else {
            let used = (header.DataUsed as usize).min(self.slots[slot].buffer.len());
            &self.slots[slot].buffer[..used]
        };
        let memory = if self.shared {
            FrameMemory::PinAllocator
        } else {
            FrameMemory::ClientCopy
        };
        Ok(viewer_frame(&self.format, &header, &info, data, memory))
    }

    fn stats(&mut self) -> Result<StreamStats, CameraError> {
        self.counters()
    }

    fn stop(mut self: Box<Self>) -> Result<StreamStats, CameraError> {
        let stats = self.counters();
        let stopped = self.pin().and_then(|pin| {
            pin.set_state(ks::avstream::KSSTATE_STOP)
                .map_err(client_error)
        });
        // STOP cancels the queued reads; wait for each so no buffer is freed under the driver.
        for slot in std::mem::take(&mut self.queued) {
            if let Some(AsyncIo::Pending(pending)) = self.slots[slot].read.take() {
                pending.cancel();
                if pending.wait(CANCEL_WAIT).is_none() {
                    // Still owned by the driver: give the buffer up rather than free it.
                    std::mem::forget(std::mem::take(&mut self.slots[slot].buffer));
                }
            }
        }
        let closed = close_pin_and_filter(self.pin.take(), self.filter.take());
        if self.real_time {
            self.kernel.clock().stop_real_time();
            self.real_time = false;
        }
        let stats = stats?;
        stopped?;
        closed?;
        Ok(stats)
    }
}

impl Drop for ClientStream<'_> {
    fn drop(&mut self) {
        if self.real_time {
            self.kernel.clock().stop_real_time();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::camera::Rate;

    #[test]
    fn the_camera_lists_its_capture_pin_and_every_range() {
        let mut camera = ClientCamera::open().unwrap();
        let info = camera.device_info().unwrap();
        assert_eq!(info.patterns, ["bars"]);
        let capture = info
            .pins
            .iter()
            .find(|pin| pin.kind == PinKind::Capture)
            .expect("a capture pin");
        assert_eq!(capture.formats.len(), avcam_avstream::ranges::RANGE_COUNT);
        let vga_nv12 = capture
            .formats
            .iter()
            .find(|f| f.pixel_format == PixelFormat::Nv12 && f.size == Size::new(640, 480))
            .expect("NV12 640x480");
        assert!(vga_nv12.allows_fps(30) && vga_nv12.max_interval == 10_000_000);
    }

    /// Streams 20 unthrottled QVGA NV12 frames over `path`; checks every frame and returns
    /// the distinct frame addresses seen and the final counters.
    fn unthrottled_run(path: FramePath) -> (usize, StreamStats) {
        let mut camera = ClientCamera::open().unwrap();
        let config = StreamConfig {
            pin: 0,
            pixel_format: PixelFormat::Nv12,
            size: Size::new(320, 240),
            rate: Rate::Unthrottled,
            pattern: "bars".into(),
            frame_path: path,
        };
        let memory = match path {
            FramePath::Shared => FrameMemory::PinAllocator,
            FramePath::Copy => FrameMemory::ClientCopy,
        };
        let mut stream = camera.start(&config).unwrap();
        let mut times = Vec::new();
        let mut addresses = std::collections::HashSet::new();
        for n in 0..20 {
            let frame = stream.next_frame(Duration::from_secs(5)).unwrap();
            assert_eq!(frame.picture_number, n + 1);
            assert_eq!(frame.drop_count, 0);
            assert_eq!(frame.data.len(), 320 * 240 * 3 / 2);
            assert_eq!(frame.memory, memory);
            // The top-left pixel is the white 75% bar's luma (text starts lower).
            assert_eq!(frame.data[0], 180);
            addresses.insert(frame.data.as_ptr() as usize);
            times.push(frame.presentation_time.unwrap());
        }
        let interval = avcam_avstream::ranges::CaptureRange {
            format: KsPixel::Nv12,
            size: FrameSize::QVGA,
        }
        .min_interval();
        for pair in times.windows(2) {
            assert!((pair[1] - pair[0] - interval).abs() <= 1, "{times:?}");
        }
        let stats = stream.stop().unwrap();
        assert_eq!((stats.frames_delivered, stats.frames_dropped), (20, 0));
        let allocator = stats.allocator.expect("the pool's allocator answers");
        assert_eq!(allocator.framing.frame_size as usize, 320 * 240 * 3 / 2);
        assert!(allocator.allocs.unwrap() >= 20);
        (addresses.len(), stats)
    }

    #[test]
    fn copied_frames_come_one_interval_apart_in_reused_buffers() {
        let (addresses, stats) = unthrottled_run(FramePath::Copy);
        assert!(addresses <= READS_IN_FLIGHT, "{addresses}");
        assert_eq!((stats.copies_avoided, stats.frames_copied), (0, 20));
    }

    #[test]
    fn shared_frames_are_the_pools_own_recycled_frames() {
        let (addresses, stats) = unthrottled_run(FramePath::Shared);
        let pool = stats.allocator.unwrap().framing.frames as usize;
        assert!(addresses <= pool, "{addresses} addresses, pool of {pool}");
        assert_eq!((stats.copies_avoided, stats.frames_copied), (20, 0));
        // The frame the viewer held was lent when the counters were read (just before STOP),
        // with at most the rest of the lease window.
        let outstanding = stats.allocator.unwrap().frames_outstanding as usize;
        assert!(
            (1..=avcam_driver::frame_pool::LEASE_WINDOW).contains(&outstanding),
            "{outstanding}"
        );
    }

    #[test]
    fn unthrottled_1080p_follows_the_exact_240_fps_timestamps() {
        // 240 fps: the interval 41666 is truncated, so the clock must follow the rate itself.
        let mut camera = ClientCamera::open().unwrap();
        let config = StreamConfig {
            pin: 0,
            pixel_format: PixelFormat::Nv12,
            size: Size::new(1920, 1080),
            rate: Rate::Unthrottled,
            pattern: "bars".into(),
            frame_path: FramePath::Shared,
        };
        let mut stream = camera.start(&config).unwrap();
        let rate = avcam_avstream::rate::FrameRate::per_second(240);
        for n in 0..8u64 {
            let frame = stream.next_frame(Duration::from_secs(5)).unwrap();
            assert_eq!(
                frame.presentation_time,
                Some(rate.time_of_frame(n)),
                "frame {n}"
            );
            assert_eq!((frame.picture_number, frame.drop_count), (n as i64 + 1, 0));
        }
        assert_eq!(stream.stop().unwrap().frames_dropped, 0);
    }

    #[test]
    fn an_unknown_pattern_is_refused_before_the_pin_is_created() {
        let mut camera = ClientCamera::open().unwrap();
        let config = StreamConfig {
            pin: 0,
            pixel_format: PixelFormat::Yuy2,
            size: Size::new(320, 240),
            rate: Rate::Fps(30),
            pattern: "ramp".into(),
            frame_path: FramePath::Copy,
        };
        let error = camera.start(&config).err().unwrap();
        assert!(error.to_string().contains("renders only bars"), "{error}");
    }
}
