//! The viewer's built-in camera: the avcam driver loaded into the Linux emulation, spoken to
//! through the KS client library (`avcam-client`). [`ClientCamera`] implements [`Camera`].
//!
//! - `device_info`: `KSPROPERTY_PIN_CTYPES`, `KSPROPERTY_PIN_CATEGORY` and
//!   `KSPROPERTY_PIN_DATARANGES`; each `KS_DATARANGE_VIDEO` becomes one [`FormatInfo`](crate::camera::FormatInfo).
//! - `start`: the exact `KS_DATAFORMAT_VIDEOINFOHEADER` for the requested format, size and
//!   interval is offered to `KSPROPERTY_PIN_DATAINTERSECTION`, the pin is created with the
//!   format the driver proposes, then stepped STOP -> ACQUIRE -> PAUSE -> RUN.
//! - Frames, [`FramePath::Allocator`] (the default): the viewer is a kernel-mode consumer
//!   (`avcam_client::Camera::open`). It creates an allocator on the pin from the pin's own
//!   framing (`Pin::create_frame_allocator`: ks.sys serves the create with avcam's
//!   `KsCreateDefaultAllocatorEx` and the pin's `KSALLOCATOR_DISPATCH`), takes every frame the
//!   framing asks for (`Frames`) and queues one `IOCTL_KS_READ_STREAM` into each. The pin
//!   renders straight into them; the viewer reads each delivered frame where it lies
//!   (`Allocator::frame_bytes`, [`FrameMemory::PinAllocator`]: the emulation's kernel memory is
//!   in this process). While the viewer holds one frame the others stay queued; at its next
//!   `next_frame` it gives the held frame back (`KSMETHOD_STREAMALLOCATOR_FREE`), takes one
//!   (`_ALLOC`) and queues a read into it.
//! - Frames, [`FramePath::Copy`] (`--copy`): the viewer is a user-mode application
//!   (`avcam_client::Camera::open_as_application`: its reads' headers are captured, its buffers
//!   probed). [`READS_IN_FLIGHT`] reads are kept queued, each into one of the stream's own
//!   buffers, allocated at `start` and reused (a frame handed out is queued again when the next
//!   one is asked for); the pin renders into them ([`FrameMemory::ClientBuffer`]). Small
//!   per-read allocations remain in the client path (the header bytes and the emulation's copy
//!   of them), none of frame size.
//! - Time: the kernel keeps the default 15.625 ms clock tick (the driver's frame deadlines are
//!   high-resolution timers). At a whole frame rate the emulation's clock runs in real time
//!   (`ClockControl::start_real_time`), so frames arrive at the requested fps and a slow viewer
//!   sees real drops. Unthrottled (`--fps 0`), the format's shortest interval is requested and
//!   the clock stays virtual: when the oldest read is not complete, the clock is moved to the
//!   next frame's exact due time, which fires the driver's timer and fills it. Frames then come
//!   as fast as the driver renders and the viewer consumes them; their presentation times are
//!   virtual (the stream's QPC epoch plus the frame's time), their arrival times real.
//! - Stats: `KSPROPERTY_DROPPEDFRAMES_CURRENT` of the pin, and in allocator mode
//!   `KSPROPERTY_STREAMALLOCATOR_STATUS` of the viewer's own allocator with the frames the viewer
//!   took from it and gave back.
//! - Stop: the drops are read, the pin goes to STOP (which cancels the queued reads), every
//!   cancelled read is waited for and its frame given back, then the allocator, the pin and the
//!   filter are closed, in that order.

use std::collections::VecDeque;
use std::path::Path;
use std::time::Duration;

use avcam_avstream::VideoFormat;
use avcam_client::{Allocator, AllocatorFrame, PendingRead};
use avcam_emulation::Kernel;
use avcam_emulation::{DeviceKey, RegistryValue};
use ks::guid::KSCATEGORY_VIDEO_CAMERA;
use ks::nt::{DRIVER_OBJECT, UNICODE_STRING};
use ks::status::STATUS_SUCCESS;
use ks::NTSTATUS;

use crate::camera::{
    AllocatorStatus, Camera, CameraError, DeviceInfo, FaultCounters, Frame, FrameMemory, FramePath,
    Framing, Rate, Stream, StreamConfig, StreamStats,
};
use crate::device::{
    apply_settings, clear_faults, client_error, close_pin_and_filter, connect, read_device_info,
    set_controls_on, viewer_frame, wanted_format, StreamFilter,
};
use crate::error::ViewerError;

/// Copy mode: the stream's buffers, each in a read queued on the pin except the one whose frame
/// the viewer holds: enough that the driver always has a buffer while the viewer converts a
/// frame. (Allocator mode uses as many as the pin's framing asks for: `Frames`.)
pub const READS_IN_FLIGHT: usize = 4;

/// How long `stop` waits for a cancelled read to come back (then the read keeps its buffer).
const CANCEL_WAIT: Duration = Duration::from_secs(5);

/// Unthrottled: how long a read may take to come back after its frame was made due before the
/// virtual clock is moved on by one more frame.
const UNTHROTTLED_PATIENCE: Duration = Duration::from_millis(50);

/// The device name `list` shows.
const DEVICE_NAME: &str = "avcam virtual camera (emulation)";
/// The device name `list` shows with `--driver`.
const IMAGE_DEVICE_NAME: &str = "avcam virtual camera (emulation, driver image)";

/// The emulation's `DriverEntry` signature over avcam's.
#[ks::kernel_abi]
unsafe extern "system" fn avcam_entry(
    driver: *mut DRIVER_OBJECT,
    path: *mut UNICODE_STRING,
) -> NTSTATUS {
    // SAFETY: the emulation's loader passes its live driver object and registry path, which is
    // exactly what avcam's DriverEntry requires.
    unsafe { avcam_driver::driver_entry::DriverEntry(driver, path) }
}

/// A failed request of the backend's own.
fn request_error(request: &str, status: NTSTATUS) -> CameraError {
    CameraError::Request {
        request: request.into(),
        status: status as u32,
    }
}

/// A driver image the camera runs from instead of the built-in driver (`--driver`): a
/// cross-built avcam.sys, loaded into this process by `avcam-loader` and kept for the process's
/// lifetime (Linux x86_64 builds; elsewhere [`DriverImage::load`] refuses).
pub struct DriverImage {
    #[cfg(target_os = "linux")]
    image: avcam_loader::Image,
}

impl DriverImage {
    /// Loads the image at `path` for good; [`ViewerError::BadDriver`] (exit code 2) naming the
    /// path and the reason when it cannot be (missing, unreadable, not an image the loader can
    /// load, an import the emulation lacks).
    pub fn load(path: &Path) -> Result<&'static DriverImage, ViewerError> {
        #[cfg(target_os = "linux")]
        {
            let image =
                avcam_loader::Image::load(path).map_err(|error| ViewerError::BadDriver {
                    path: path.to_owned(),
                    reason: error.to_string(),
                })?;
            Ok(Box::leak(Box::new(DriverImage { image })))
        }
        #[cfg(not(target_os = "linux"))]
        Err(ViewerError::BadDriver {
            path: path.to_owned(),
            reason: "driver images load only in a Linux build of the viewer".into(),
        })
    }

    /// The image's `DriverEntry`.
    #[cfg(target_os = "linux")]
    fn entry(&self) -> avcam_emulation::DriverEntry {
        self.image.driver_entry()
    }

    /// The image's `DriverEntry` (never: no image loads in this build).
    #[cfg(not(target_os = "linux"))]
    fn entry(&self) -> avcam_emulation::DriverEntry {
        avcam_entry
    }
}

/// The avcam camera on the emulation: a kernel with the driver loaded (the built-in one, or a
/// [`DriverImage`]). Each request opens the filter through `KSCATEGORY_VIDEO_CAMERA` and closes
/// it when done.
pub struct ClientCamera {
    kernel: Kernel,
    name: &'static str,
}

impl ClientCamera {
    /// Boots an emulated kernel whose ks.sys creates allocators with avcam's
    /// `KsCreateDefaultAllocatorEx`, and loads avcam's built-in `DriverEntry` into it.
    pub fn open() -> Result<ClientCamera, CameraError> {
        ClientCamera::open_with(None)
    }

    /// [`ClientCamera::open`] with the driver `image` instead of the built-in one, when given. The
    /// allocator that serves creates on the pin is the built-in one either way (it plays ks.sys's
    /// part, as on every emulated kernel).
    pub fn open_with(image: Option<&'static DriverImage>) -> Result<ClientCamera, CameraError> {
        // ks.sys serves allocator creates on the pin with avcam's KsCreateDefaultAllocatorEx;
        // the clock keeps Windows' default tick.
        let kernel = Kernel::with_default_allocator(avcam_allocator::KsCreateDefaultAllocatorEx);
        let (entry, name) = match image {
            Some(image) => (image.entry(), IMAGE_DEVICE_NAME),
            None => (avcam_entry as avcam_emulation::DriverEntry, DEVICE_NAME),
        };
        let status = kernel.load_driver(entry);
        if status != STATUS_SUCCESS {
            return Err(request_error("DriverEntry", status));
        }
        Ok(ClientCamera { kernel, name })
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

impl Camera for ClientCamera {
    fn device_info(&mut self) -> Result<DeviceInfo, CameraError> {
        read_device_info(self.open_filter()?, self.name)
    }

    fn set_controls(
        &mut self,
        controls: &[(String, i64)],
        caption: Option<&str>,
    ) -> Result<(), CameraError> {
        set_controls_on(self.open_filter()?, controls, caption)
    }

    fn start(&mut self, config: &StreamConfig) -> Result<Box<dyn Stream + '_>, CameraError> {
        let wanted = wanted_format(config)?;
        // Allocator mode is a kernel-mode consumer's; copy mode an application's.
        let filter = match config.frame_path {
            FramePath::Allocator => self.open_filter()?,
            FramePath::Copy => {
                avcam_client::Camera::open_as_application(&self.kernel, &KSCATEGORY_VIDEO_CAMERA)
                    .map_err(client_error)?
            }
        };
        if config.faults.is_some() {
            // The emulated camera is the viewer's own: asking for faults turns its registry
            // switch on (on Windows the tester does, docs/viewer.md).
            self.kernel.set_device_registry_value(
                DeviceKey::Hardware,
                avcam_driver::identity::FAULT_INJECTION_VALUE,
                Some(RegistryValue::dword(1)),
            );
        }
        if let Err(error) = apply_settings(&filter, config) {
            let _ = clear_faults(Some(&filter), config.faults.is_some());
            let _ = filter.close();
            return Err(error);
        }
        let (filter, format, pin) = connect(filter, config.pin, &wanted)?;
        let mut stream = ClientStream {
            kernel: &self.kernel,
            filter: StreamFilter::new(filter, config.faults.is_some()),
            pin: Some(pin),
            allocator: None,
            frame_path: config.frame_path,
            format,
            unthrottled: config.rate == Rate::Unthrottled,
            real_time: false,
            reads: VecDeque::with_capacity(READS_IN_FLIGHT),
            held: None,
            delivered: 0,
            allocs: 0,
            frees: 0,
        };
        if let Err(error) = stream.run() {
            let _ = Box::new(stream).stop();
            return Err(error);
        }
        Ok(Box::new(stream))
    }
}

/// The buffer of the frame the viewer holds, given back to the pin at the next frame.
enum Held {
    /// Allocator mode: a frame of the viewer's allocator.
    Frame(AllocatorFrame),
    /// Copy mode: one of the stream's own buffers.
    Buffer(Vec<u8>),
}

/// A running stream of [`ClientCamera`].
pub struct ClientStream<'k> {
    kernel: &'k Kernel,
    /// The stream's filter (controls, stalls, faults).
    filter: StreamFilter<'k, Kernel>,
    pin: Option<avcam_client::Pin<'k>>,
    /// Allocator mode: the allocator the viewer created on the pin.
    allocator: Option<Allocator<'k>>,
    frame_path: FramePath,
    format: VideoFormat,
    unthrottled: bool,
    real_time: bool,
    /// Reads queued on the pin, oldest first.
    reads: VecDeque<PendingRead>,
    /// The frame the viewer holds.
    held: Option<Held>,
    delivered: u64,
    /// Allocator mode: frames taken from the allocator and given back to it.
    allocs: u64,
    frees: u64,
}

impl<'k> ClientStream<'k> {
    fn pin(&self) -> Result<&avcam_client::Pin<'k>, CameraError> {
        self.pin.as_ref().ok_or(CameraError::Backend {
            message: "the pin is closed".into(),
        })
    }

    fn allocator(&self) -> Result<&Allocator<'k>, CameraError> {
        self.allocator.as_ref().ok_or(CameraError::Backend {
            message: "the stream has no allocator".into(),
        })
    }

    /// Allocator mode: creates the allocator on the pin (still in STOP) from its framing. Then
    /// starts the clock, steps the pin to RUN and queues every read.
    fn run(&mut self) -> Result<(), CameraError> {
        let reads = match self.frame_path {
            FramePath::Allocator => {
                let allocator = self.pin()?.create_frame_allocator().map_err(client_error)?;
                let frames = allocator.framing().Frames.max(1) as usize;
                self.allocator = Some(allocator);
                frames
            }
            FramePath::Copy => READS_IN_FLIGHT,
        };
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
        let image = self.format.image_size() as usize;
        for _ in 0..reads {
            let read = match self.frame_path {
                FramePath::Allocator => self.read_into_fresh_frame()?,
                FramePath::Copy => self.pin()?.read(image),
            };
            self.reads.push_back(read);
        }
        Ok(())
    }

    /// Allocator mode: takes a frame from the allocator and queues a read into it.
    fn read_into_fresh_frame(&mut self) -> Result<PendingRead, CameraError> {
        let frame = self.allocator()?.take_frame().map_err(client_error)?;
        self.allocs += 1;
        Ok(self.pin()?.read_into_frame(frame))
    }

    /// Allocator mode: gives `frame` back to the allocator.
    fn give_back(&mut self, frame: AllocatorFrame) -> Result<(), CameraError> {
        self.allocator()?.give_back(frame).map_err(client_error)?;
        self.frees += 1;
        Ok(())
    }

    /// Gives the held frame's buffer back to the pin: a client buffer is queued again; an
    /// allocator frame is given back to the allocator and a frame taken for the next read.
    fn release_held(&mut self) -> Result<(), CameraError> {
        let read = match self.held.take() {
            None => return Ok(()),
            Some(Held::Buffer(buffer)) => self.pin()?.read_into(buffer),
            Some(Held::Frame(frame)) => {
                self.give_back(frame)?;
                self.read_into_fresh_frame()?
            }
        };
        self.reads.push_back(read);
        Ok(())
    }

    /// Unthrottled: moves the virtual clock to the driver's next timer expiry (the next frame's
    /// deadline, or the release of a frame it holds back), so each frame completes at the exact
    /// time the driver meant: frames come as fast as the driver renders and the viewer consumes
    /// them, and arrival times on the camera's clock are exact.
    fn advance_to_next_expiry(&mut self) {
        let clock = self.kernel.clock();
        let now = clock.now_100ns();
        let Some(next) = clock.next_expiry() else {
            return;
        };
        let target = next.max(now + 1);
        let ns = u64::try_from(i128::from(target - now) * 100).unwrap_or(u64::MAX);
        clock.advance(ns);
    }

    /// Waits for the oldest queued read and takes it off the queue: the frame it brought, and
    /// when it arrived on the camera's clock.
    fn complete_oldest(
        &mut self,
        timeout: Duration,
    ) -> Result<(avcam_client::Frame, i64), CameraError> {
        if self.reads.is_empty() {
            return Err(CameraError::Backend {
                message: "no read is queued".into(),
            });
        }
        let ready = if self.unthrottled {
            self.wait_unthrottled(timeout)
        } else {
            self.reads.front().is_some_and(|read| read.ready(timeout))
        };
        if !ready {
            return Err(CameraError::Timeout { waited: timeout });
        }
        let arrival = self.kernel.clock().now_100ns();
        let read = self.reads.pop_front().ok_or(CameraError::Backend {
            message: "no read is queued".into(),
        })?;
        let frame = read.wait(Duration::ZERO).map_err(client_error)?;
        Ok((frame, arrival))
    }

    /// Unthrottled: waits for the oldest read, moving the clock from one timer expiry of the
    /// driver to the next until it completes (with no timer set, it waits a little: the read
    /// may still be completing on the emulation's thread). Whether it completed within
    /// `timeout`.
    fn wait_unthrottled(&mut self, timeout: Duration) -> bool {
        let started = std::time::Instant::now();
        loop {
            if self.reads.front().is_some_and(|read| read.is_done()) {
                return true;
            }
            let left = timeout.saturating_sub(started.elapsed());
            if left.is_zero() {
                return false;
            }
            if self.kernel.clock().next_expiry().is_some() {
                // Inline, the expiry's DPC and the processing it asks for run within the
                // advance: a read the driver fills there is complete when it returns.
                self.advance_to_next_expiry();
            } else if self
                .reads
                .front()
                .is_some_and(|read| read.ready(left.min(UNTHROTTLED_PATIENCE)))
            {
                return true;
            }
        }
    }

    /// Allocator mode: `KSPROPERTY_STREAMALLOCATOR_STATUS` of the viewer's allocator, with the
    /// frames the viewer took from it and gave back. `None` in copy mode.
    fn allocator_status(&self) -> Result<Option<AllocatorStatus>, CameraError> {
        let Some(allocator) = self.allocator.as_ref() else {
            return Ok(None);
        };
        let status = allocator.status().map_err(client_error)?;
        Ok(Some(AllocatorStatus {
            framing: Framing {
                frames: status.Framing.Frames,
                frame_size: status.Framing.FrameSize,
                alignment_mask: status.Framing.FileAlignment,
                pool_type: status.Framing.PoolType,
            },
            frames_outstanding: status.AllocatedFrames,
            allocs: Some(self.allocs),
            frees: Some(self.frees),
        }))
    }

    /// The counters, with `dropped` from the pin and the allocator's status now.
    fn counters(&self, dropped: i64) -> Result<StreamStats, CameraError> {
        let allocator_mode = self.frame_path == FramePath::Allocator;
        Ok(StreamStats {
            frames_delivered: self.delivered,
            frames_dropped: u64::try_from(dropped).unwrap_or(0),
            frames_in_allocator_frames: if allocator_mode { self.delivered } else { 0 },
            frames_in_client_buffers: if allocator_mode { 0 } else { self.delivered },
            allocator: self.allocator_status()?,
        })
    }

    /// `KSPROPERTY_DROPPEDFRAMES_CURRENT.DropCount` of the pin.
    fn dropped(&self) -> Result<i64, CameraError> {
        let dropped = self.pin()?.dropped_frames().map_err(client_error)?;
        Ok(dropped.drop_count)
    }
}

impl Stream for ClientStream<'_> {
    fn next_frame(&mut self, timeout: Duration) -> Result<Frame<'_>, CameraError> {
        self.release_held()?;
        let (frame, arrival) = self.complete_oldest(timeout)?;
        self.delivered += 1;
        let (header, info) = (frame.header, frame.info);
        let used = header.DataUsed as usize;
        let held = match (self.frame_path, frame.frame) {
            (FramePath::Allocator, Some(buffer)) => Held::Frame(buffer),
            (FramePath::Copy, None) => Held::Buffer(frame.data),
            _ => {
                return Err(CameraError::Backend {
                    message: "a read came back without the buffer it was queued with".into(),
                })
            }
        };
        let (data, memory) = match self.held.insert(held) {
            Held::Frame(buffer) => {
                let allocator = self.allocator.as_ref().ok_or(CameraError::Backend {
                    message: "the stream has no allocator".into(),
                })?;
                let bytes = allocator
                    .frame_bytes(buffer, used)
                    .ok_or(CameraError::Backend {
                        message: "the read's frame is not one the allocator handed out".into(),
                    })?;
                (bytes, FrameMemory::PinAllocator)
            }
            Held::Buffer(buffer) => (&buffer[..], FrameMemory::ClientBuffer),
        };
        Ok(viewer_frame(
            &self.format,
            &header,
            &info,
            data,
            memory,
            Some(arrival),
        ))
    }

    fn stats(&mut self) -> Result<StreamStats, CameraError> {
        let dropped = self.dropped()?;
        self.counters(dropped)
    }

    fn set_control(&mut self, name: &str, value: i64) -> Result<(), CameraError> {
        self.filter.set_control(name, value)
    }

    fn stall(&mut self, ms: u32) -> Result<(), CameraError> {
        self.filter.stall(ms)
    }

    fn fault_counters(&mut self) -> Result<Option<FaultCounters>, CameraError> {
        self.filter.fault_counters()
    }

    fn end_faults(&mut self) -> Result<Option<FaultCounters>, CameraError> {
        self.filter.end_faults()
    }

    fn stop(mut self: Box<Self>) -> Result<StreamStats, CameraError> {
        // STOP resets the pin's counters: the drops are read before it.
        let dropped = self.dropped();
        let stopped = self.pin().and_then(|pin| {
            pin.set_state(ks::avstream::KSSTATE_STOP)
                .map_err(client_error)
        });
        // STOP cancels the queued reads; each is waited for, so no buffer goes while the pin may
        // still write it (a read that never comes back keeps its buffer: `PendingRead`'s drop),
        // and its allocator frame is given back.
        let mut returned = Ok(());
        for read in std::mem::take(&mut self.reads) {
            if let (_, Some(frame)) = read.cancel(CANCEL_WAIT) {
                returned = returned.and(self.give_back(frame));
            }
        }
        if let Some(Held::Frame(frame)) = self.held.take() {
            returned = returned.and(self.give_back(frame));
        }
        // Read once every frame came back: allocs and frees balance, none outstanding.
        let stats = dropped.and_then(|dropped| self.counters(dropped));
        let closed_allocator = self
            .allocator
            .take()
            .map_or(Ok(()), |allocator| allocator.close().map_err(client_error));
        let (cleared, filter) = self.filter.take();
        let closed = close_pin_and_filter(self.pin.take(), filter);
        if self.real_time {
            self.kernel.clock().stop_real_time();
            self.real_time = false;
        }
        let stats = stats?;
        stopped?;
        returned?;
        closed_allocator?;
        cleared?;
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
    use crate::camera::{FaultPlan, PinKind, PixelFormat, Rate, Size};
    use avcam_client::controls::CONTROLS;
    use std::collections::HashSet;

    #[test]
    fn the_camera_lists_its_capture_pin_and_every_range() {
        let mut camera = ClientCamera::open().unwrap();
        let info = camera.device_info().unwrap();
        assert_eq!(
            info.patterns,
            [
                "bars75",
                "bars100",
                "ramp",
                "checkerboard",
                "solid",
                "zoneplate"
            ]
        );
        let names: Vec<&str> = info.controls.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, CONTROLS.map(|c| c.name));
        let brightness = &info.controls[0];
        assert_eq!(
            (
                brightness.min,
                brightness.max,
                brightness.default,
                brightness.value
            ),
            (-10_000, 10_000, 750, 750)
        );
        assert_eq!(info.fault_injection, Some(false), "the INF installs it off");
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

    /// Moves the virtual clock off zero and off any frame grid (by 1.2345678 s), so
    /// that presentation times show their epoch; returns the time, when RUN will come (the
    /// virtual clock stands still until the stream moves it).
    fn boot_and_wait(camera: &ClientCamera) -> i64 {
        let booted = camera.kernel().clock().now_100ns();
        camera.kernel().clock().advance(1_234_567_800);
        let now = camera.kernel().clock().now_100ns();
        assert_eq!(now, booted + 12_345_678);
        now
    }

    fn unthrottled(size: Size, frame_path: FramePath) -> StreamConfig {
        StreamConfig {
            pin: 0,
            pixel_format: PixelFormat::Nv12,
            size,
            rate: Rate::Unthrottled,
            pattern: "bars".into(),
            frame_path,
            controls: Vec::new(),
            caption: None,
            faults: None,
        }
    }

    /// What an unthrottled run saw: the distinct frame addresses, the counters while streaming
    /// (after the last frame) and at stop.
    struct Run {
        addresses: HashSet<usize>,
        streaming: StreamStats,
        stopped: StreamStats,
    }

    /// Streams 20 unthrottled QVGA NV12 frames over `path`; checks every frame (its memory, its
    /// colour bars, its picture number and its time one interval after the one before, from the
    /// clock's time at RUN).
    fn unthrottled_run(path: FramePath) -> Run {
        let mut camera = ClientCamera::open().unwrap();
        let memory = match path {
            FramePath::Allocator => FrameMemory::PinAllocator,
            FramePath::Copy => FrameMemory::ClientBuffer,
        };
        let epoch = boot_and_wait(&camera);
        let rate = avcam_avstream::rate::FrameRate::per_second(1000);
        let mut stream = camera
            .start(&unthrottled(Size::new(320, 240), path))
            .unwrap();
        let mut addresses = HashSet::new();
        for n in 0..20u64 {
            let frame = stream.next_frame(Duration::from_secs(5)).unwrap();
            assert_eq!(frame.picture_number, n as i64 + 1);
            assert_eq!(frame.drop_count, 0);
            assert_eq!(frame.data.len(), 320 * 240 * 3 / 2);
            assert_eq!(frame.memory, memory);
            // The top-left pixel is the white 75% bar's luma (text starts lower).
            assert_eq!(frame.data[0], 180);
            assert_eq!(frame.presentation_time, Some(epoch + rate.time_of_frame(n)));
            addresses.insert(frame.data.as_ptr() as usize);
        }
        let streaming = stream.stats().unwrap();
        let stopped = stream.stop().unwrap();
        assert_eq!((stopped.frames_delivered, stopped.frames_dropped), (20, 0));
        Run {
            addresses,
            streaming,
            stopped,
        }
    }

    #[test]
    fn copied_frames_come_one_interval_apart_in_reused_client_buffers() {
        let run = unthrottled_run(FramePath::Copy);
        assert!(
            run.addresses.len() <= READS_IN_FLIGHT,
            "{:?}",
            run.addresses
        );
        assert_eq!(
            (
                run.stopped.frames_in_allocator_frames,
                run.stopped.frames_in_client_buffers
            ),
            (0, 20)
        );
        // A user-mode application creates no allocator.
        assert_eq!(
            (run.streaming.allocator, run.stopped.allocator),
            (None, None)
        );
    }

    #[test]
    fn allocator_frames_are_the_viewers_allocators_recycled_frames() {
        let run = unthrottled_run(FramePath::Allocator);
        let streaming = run
            .streaming
            .allocator
            .expect("the viewer's allocator answers");
        let frames = streaming.framing.frames;
        assert_eq!(frames, 4, "the pin's framing asks for four frames");
        assert_eq!(streaming.framing.frame_size as usize, 320 * 240 * 3 / 2);
        assert!(
            run.addresses.len() <= frames as usize,
            "{} addresses, {frames} frames",
            run.addresses.len()
        );
        assert_eq!(
            (
                run.stopped.frames_in_allocator_frames,
                run.stopped.frames_in_client_buffers
            ),
            (20, 0)
        );
        // While streaming every frame is out: one held by the viewer, the others queued. The
        // viewer took the four at RUN, then one more per frame after the first, giving one back.
        assert_eq!(streaming.frames_outstanding, frames);
        assert_eq!(streaming.allocs, Some(u64::from(frames) + 19));
        assert_eq!(streaming.frees, Some(19));
        // At stop every frame came back: the counts balance and the allocator holds none out.
        let stopped = run
            .stopped
            .allocator
            .expect("the allocator's status at stop");
        assert_eq!(stopped.frames_outstanding, 0);
        assert_eq!(stopped.allocs, streaming.allocs);
        assert_eq!(stopped.frees, stopped.allocs);
    }

    #[test]
    fn unthrottled_1080p_follows_the_exact_240_fps_timestamps_on_the_default_tick() {
        // 240 fps: the interval 41666 is truncated, so the clock must follow the rate itself;
        // the kernel keeps Windows' 15.625 ms tick, so the driver's timer must be precise.
        let mut camera = ClientCamera::open().unwrap();
        assert_eq!(
            camera.kernel().clock().tick(),
            avcam_emulation::timer::DEFAULT_TICK
        );
        let epoch = boot_and_wait(&camera);
        let mut stream = camera
            .start(&unthrottled(Size::new(1920, 1080), FramePath::Allocator))
            .unwrap();
        let rate = avcam_avstream::rate::FrameRate::per_second(240);
        for n in 0..8u64 {
            let frame = stream.next_frame(Duration::from_secs(5)).unwrap();
            assert_eq!(
                frame.presentation_time,
                Some(epoch + rate.time_of_frame(n)),
                "frame {n}"
            );
            assert_eq!((frame.picture_number, frame.drop_count), (n as i64 + 1, 0));
        }
        assert_eq!(stream.stop().unwrap().frames_dropped, 0);
    }

    #[test]
    fn stopping_closes_everything_the_stream_opened() {
        for path in [FramePath::Allocator, FramePath::Copy] {
            let mut camera = ClientCamera::open().unwrap();
            let mut stream = camera
                .start(&unthrottled(Size::new(320, 240), path))
                .unwrap();
            stream.next_frame(Duration::from_secs(5)).unwrap();
            stream.stop().unwrap();
            // No handle, timer, frame or pool block of the stream is left: the driver unloads
            // clean.
            assert_eq!(camera.kernel().clock().armed_timers(), 0, "{path:?}");
            camera.kernel().unload_driver();
            camera.kernel().assert_no_leaks();
        }
    }

    #[test]
    fn a_streams_controls_are_set_before_it_runs_and_its_faults_cleared_when_it_stops() {
        let mut camera = ClientCamera::open().unwrap();
        let config = StreamConfig {
            pin: 0,
            pixel_format: PixelFormat::Rgb32,
            size: Size::new(320, 240),
            rate: Rate::Unthrottled,
            pattern: "solid".into(),
            frame_path: FramePath::Copy,
            controls: vec![
                ("pattern".into(), 4),
                ("solid-colour".into(), 0xFF0000),
                ("overlays".into(), 0),
            ],
            caption: Some("hello".into()),
            faults: Some(FaultPlan {
                EmptyEvery: 2,
                ..FaultPlan::default()
            }),
        };
        let mut stream = camera.start(&config).unwrap();
        let mut empty = 0;
        for _ in 0..6 {
            let frame = stream.next_frame(Duration::from_secs(10)).unwrap();
            if frame.is_empty() {
                empty += 1;
                continue;
            }
            assert!(frame.arrival_time.is_some());
            // Bottom-up BGRX: every pixel red.
            assert!(frame.data.chunks(4).all(|p| p[..3] == [0, 0, 255]));
        }
        assert_eq!(empty, 3, "every second frame");
        let counters = stream.fault_counters().unwrap().unwrap();
        assert_eq!(counters.FramesEmpty, 3);
        stream.stop().unwrap();
        let filter = camera.open_filter().unwrap();
        assert_eq!(filter.fault_plan().unwrap(), FaultPlan::default());
        assert_eq!(filter.caption().unwrap(), "hello");
        assert!(
            filter.fault_injection_enabled().unwrap(),
            "turned on for the run"
        );
        filter.close().unwrap();
    }
}
