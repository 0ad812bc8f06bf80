//! `--backend windows` (Windows builds only): an installed avcam device, spoken to through the
//! KS client library over real handles ([`avcam_client::windows::WindowsKs`]).
//!
//! - Finding it: the first `KSCATEGORY_VIDEO_CAMERA` interface whose device lists avcam's
//!   hardware ID (`Root\avcam`). None: [`CameraError::NotInstalled`], which the viewer reports
//!   on one line and exits with [`crate::EXIT_NO_CAMERA`].
//! - `device_info`, the pin's creation and the stream's controls and faults are the functions
//!   the emulated backend uses too ([`crate::device`]), generic over the transport: the same
//!   requests, the same bytes.
//! - Frames always lie in the viewer's own buffers ([`FrameMemory::ClientBuffer`]; the backend
//!   implies `--copy`): the viewer is a user-mode process, and an allocator's frames on the pin
//!   are kernel memory it may not hold. [`READS_IN_FLIGHT`] reads stay queued, each into a
//!   buffer of the stream's, reused.
//! - The device paces itself (its own clock): `--fps 0` only asks for the format's shortest
//!   interval.
//! - Controls and faults are the device's: what a run sets stays set after it (a fault plan
//!   is cleared when the stream stops); fault injection needs the device's `FaultInjection`
//!   registry value (docs/viewer.md).
//!
//! Only ever run under wine, where no device is present.

use std::collections::VecDeque;
use std::time::Duration;

use avcam_avstream::VideoFormat;
use avcam_client::windows::WindowsKs;
use avcam_client::{ClientError, PendingRead};
use ks::guid::KSCATEGORY_VIDEO_CAMERA;

use crate::camera::{
    Camera, CameraError, DeviceInfo, FaultCounters, Frame, FrameMemory, Stream, StreamConfig,
    StreamStats,
};
use crate::device::{
    apply_settings, clear_faults, client_error, close_pin_and_filter, connect, read_device_info,
    set_controls_on, viewer_frame, wanted_format, StreamFilter,
};

/// Reads kept queued on the pin while streaming.
pub const READS_IN_FLIGHT: usize = 4;

/// How long `stop` waits for each cancelled read.
const CANCEL_WAIT: Duration = Duration::from_secs(5);

/// The device name `list` shows.
const DEVICE_NAME: &str = "avcam Virtual Camera (KS handles)";

/// The avcam device as Windows exposes it.
pub struct WindowsCamera {
    ks: WindowsKs,
}

/// The client's "no interface" as the viewer's "not installed"; other errors as usual.
fn open_error(error: ClientError) -> CameraError {
    match error {
        ClientError::NoDevice(category) => CameraError::NotInstalled {
            reason: format!(
                "no KSCATEGORY_VIDEO_CAMERA interface {} of a device with hardware ID {} is present",
                avcam_client::win32::registry_form(&category),
                avcam_driver::identity::HARDWARE_ID
            ),
        },
        other => client_error(other),
    }
}

impl WindowsCamera {
    /// Finds the device (and checks its filter opens).
    pub fn open() -> Result<WindowsCamera, CameraError> {
        let camera = WindowsCamera {
            ks: WindowsKs::new(avcam_driver::identity::HARDWARE_ID),
        };
        camera.open_filter()?.close().map_err(client_error)?;
        Ok(camera)
    }

    fn open_filter(&self) -> Result<avcam_client::Camera<'_, WindowsKs>, CameraError> {
        avcam_client::Camera::open(&self.ks, &KSCATEGORY_VIDEO_CAMERA).map_err(open_error)
    }
}

impl Camera for WindowsCamera {
    fn device_info(&mut self) -> Result<DeviceInfo, CameraError> {
        read_device_info(self.open_filter()?, DEVICE_NAME)
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
        let filter = self.open_filter()?;
        if let Err(error) = apply_settings(&filter, config) {
            let _ = clear_faults(Some(&filter), config.faults.is_some());
            let _ = filter.close();
            return Err(error);
        }
        let (filter, format, pin) = connect(filter, config.pin, &wanted)?;
        let mut stream = WindowsStream {
            filter: StreamFilter::new(filter, config.faults.is_some()),
            pin: Some(pin),
            format,
            queued: VecDeque::with_capacity(READS_IN_FLIGHT),
            held: None,
            delivered: 0,
        };
        if let Err(error) = stream.run() {
            let _ = Box::new(stream).stop();
            return Err(error);
        }
        Ok(Box::new(stream))
    }
}

/// A running stream of [`WindowsCamera`].
pub struct WindowsStream<'k> {
    /// The stream's filter (controls, stalls, faults).
    filter: StreamFilter<'k, WindowsKs>,
    pin: Option<avcam_client::Pin<'k, WindowsKs>>,
    format: VideoFormat,
    /// Reads queued, oldest first.
    queued: VecDeque<PendingRead<WindowsKs>>,
    /// The frame the viewer holds (its buffer is queued again at the next `next_frame`).
    held: Option<avcam_client::Frame>,
    delivered: u64,
}

impl WindowsStream<'_> {
    fn pin(&self) -> Result<&avcam_client::Pin<'_, WindowsKs>, CameraError> {
        self.pin.as_ref().ok_or(CameraError::Backend {
            message: "the pin is closed".into(),
        })
    }

    /// Steps the pin to RUN and queues every read.
    fn run(&mut self) -> Result<(), CameraError> {
        for state in [
            ks::avstream::KSSTATE_ACQUIRE,
            ks::avstream::KSSTATE_PAUSE,
            ks::avstream::KSSTATE_RUN,
        ] {
            self.pin()?.set_state(state).map_err(client_error)?;
        }
        let image = self.format.image_size() as usize;
        for _ in 0..READS_IN_FLIGHT {
            let read = self.pin()?.read(image);
            self.queued.push_back(read);
        }
        Ok(())
    }
}

impl Stream for WindowsStream<'_> {
    fn next_frame(&mut self, timeout: Duration) -> Result<Frame<'_>, CameraError> {
        if let Some(held) = self.held.take() {
            let read = self.pin()?.read_into(held.data);
            self.queued.push_back(read);
        }
        let ready = self
            .queued
            .front()
            .ok_or(CameraError::Backend {
                message: "no read is queued".into(),
            })?
            .ready(timeout);
        if !ready {
            return Err(CameraError::Timeout { waited: timeout });
        }
        let read = self.queued.pop_front().ok_or(CameraError::Backend {
            message: "no read is queued".into(),
        })?;
        let frame = read.wait(Duration::ZERO).map_err(client_error)?;
        self.delivered += 1;
        let held = self.held.insert(frame);
        Ok(viewer_frame(
            &self.format,
            &held.header,
            &held.info,
            &held.data,
            FrameMemory::ClientBuffer,
            // The device's clock is its QPC; the viewer does not read it.
            None,
        ))
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

    fn stats(&mut self) -> Result<StreamStats, CameraError> {
        let dropped = self.pin()?.dropped_frames().map_err(client_error)?;
        Ok(StreamStats {
            frames_delivered: self.delivered,
            frames_dropped: u64::try_from(dropped.drop_count).unwrap_or(0),
            frames_in_allocator_frames: 0,
            frames_in_client_buffers: self.delivered,
            // No allocator: the reads bring the viewer's own buffers.
            allocator: None,
        })
    }

    fn stop(mut self: Box<Self>) -> Result<StreamStats, CameraError> {
        let stats = self.stats();
        let stopped = self.pin().and_then(|pin| {
            pin.set_state(ks::avstream::KSSTATE_STOP)
                .map_err(client_error)
        });
        // STOP cancels the queued reads; each is waited for before its buffer is freed.
        for read in std::mem::take(&mut self.queued) {
            let _ = read.cancel(CANCEL_WAIT);
        }
        let (cleared, filter) = self.filter.take();
        let closed = close_pin_and_filter(self.pin.take(), filter);
        let stats = stats?;
        stopped?;
        cleared?;
        closed?;
        Ok(stats)
    }
}
