//! Test double: a camera that renders frames itself, for the viewer's tests only.
//!
//! It is NOT a backend of the viewer (the binary never uses it): it stands in for the camera's
//! KS client library so the viewer's commands can be tested before that library exists. Frames
//! carry 75% colour bars (seven equal bars, BT.601 limited-range YUV or the matching RGB) over
//! the top three quarters and a moving grey box below, rows padded to a stride larger than the
//! row, RGB stored bottom-up. Pacing is real time at the configured rate (none when
//! unthrottled), or a virtual clock the test moves ([`FakeCamera::clock`], e.g. with a
//! [`SlowSink`]); drops and failures happen only when asked for, never because of timing.

#![allow(dead_code)]

use std::io::BufRead;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use avcam_viewer::camera::{
    AllocatorStatus, Camera, CameraError, DeviceInfo, FormatInfo, Frame, FrameMemory, FramePath,
    Framing, PinInfo, PinKind, PixelFormat, Rate, Size, Stream, StreamConfig, StreamStats,
    UNITS_PER_SECOND,
};

/// The 75% bars in BT.601 limited-range Y, U, V: white, yellow, cyan, green, magenta, red, blue.
pub const BARS_YUV: [(u8, u8, u8); 7] = [
    (180, 128, 128),
    (162, 44, 142),
    (131, 156, 44),
    (112, 72, 58),
    (84, 184, 198),
    (65, 100, 212),
    (35, 212, 114),
];

/// The same bars in RGB (75% of 255 = 191).
pub const BARS_RGB: [(u8, u8, u8); 7] = [
    (191, 191, 191),
    (191, 191, 0),
    (0, 191, 191),
    (0, 191, 0),
    (191, 0, 191),
    (191, 0, 0),
    (0, 0, 191),
];

/// Sizes the double offers in every format.
pub const SIZES: [Size; 3] = [
    Size::new(320, 240),
    Size::new(640, 480),
    Size::new(1280, 720),
];

/// Padding bytes after each row.
pub const ROW_PADDING: usize = 16;

/// What happened to the double, for assertions.
#[derive(Debug, Default)]
pub struct Log {
    /// Streams started, with their configs.
    pub starts: Vec<StreamConfig>,
    /// Streams stopped.
    pub stops: u32,
    /// Frames delivered over all streams.
    pub frames: u64,
}

/// Faults to inject.
#[derive(Clone, Copy, Debug, Default)]
pub struct Faults {
    /// Skip one picture number after every N delivered frames (a drop the camera reports).
    pub drop_every: Option<u64>,
    /// Fail `next_frame` once N frames were delivered.
    pub fail_after: Option<u64>,
    /// Report a stride smaller than the row (a broken backend).
    pub bad_stride: bool,
}

/// The test camera.
#[derive(Clone, Debug)]
pub struct FakeCamera {
    /// Shared log.
    pub log: Arc<Mutex<Log>>,
    /// Faults.
    pub faults: Faults,
    /// A virtual clock in 100 ns units, instead of real time (paced rates only): `next_frame`
    /// delivers the latest frame due at the clock's time, counting the ones it skipped as
    /// dropped, or moves the clock to the next frame's due time if none is due yet. Whoever
    /// holds the clock decides how slow the consumer is.
    pub clock: Option<Arc<AtomicU64>>,
    /// Sets the flag once this many frames were delivered (a signal arriving mid-stream).
    pub stop_after: Option<(u64, Arc<AtomicBool>)>,
}

impl FakeCamera {
    /// A camera with no faults.
    pub fn new() -> Self {
        FakeCamera {
            log: Arc::default(),
            faults: Faults::default(),
            clock: None,
            stop_after: None,
        }
    }

    /// With faults.
    pub fn with_faults(faults: Faults) -> Self {
        FakeCamera {
            faults,
            ..FakeCamera::new()
        }
    }
}

/// The rates offered: 1..=1000 fps up to 640x480, 1..=120 fps at 1280x720.
fn format_info(pixel_format: PixelFormat, size: Size) -> FormatInfo {
    let highest = if size.width > 640 { 120 } else { 1000 };
    FormatInfo {
        pixel_format,
        size,
        min_interval: UNITS_PER_SECOND / highest,
        max_interval: UNITS_PER_SECOND,
    }
}

impl Camera for FakeCamera {
    fn device_info(&mut self) -> Result<DeviceInfo, CameraError> {
        let formats = PixelFormat::ALL
            .iter()
            .flat_map(|&format| SIZES.iter().map(move |&size| format_info(format, size)))
            .collect();
        Ok(DeviceInfo {
            name: "fake camera (test double)".into(),
            pins: vec![
                PinInfo {
                    id: 0,
                    name: "Capture".into(),
                    kind: PinKind::Capture,
                    formats,
                },
                PinInfo {
                    id: 1,
                    name: "Still".into(),
                    kind: PinKind::Still,
                    formats: vec![format_info(PixelFormat::Rgb24, Size::new(640, 480))],
                },
            ],
            patterns: vec!["bars".into(), "black".into()],
            controls: Vec::new(),
            fault_injection: None,
        })
    }

    fn start(&mut self, config: &StreamConfig) -> Result<Box<dyn Stream + '_>, CameraError> {
        self.log.lock().unwrap().starts.push(config.clone());
        let mut stream = FakeStream::new(config.clone(), self.faults, self.log.clone());
        stream.clock = self.clock.clone();
        stream.stop_after = self.stop_after.clone();
        Ok(Box::new(stream))
    }
}

/// A running fake stream.
pub struct FakeStream {
    config: StreamConfig,
    faults: Faults,
    log: Arc<Mutex<Log>>,
    stride: usize,
    /// The "allocator frame" the camera renders into.
    frame: Vec<u8>,
    /// The client's buffer for `--copy`.
    copy: Vec<u8>,
    start: Instant,
    interval: Option<u64>,
    delivered: u64,
    picture_number: i64,
    dropped: i64,
    outstanding: bool,
    allocs: u64,
    frees: u64,
    box_left: Option<usize>,
    clock: Option<Arc<AtomicU64>>,
    stop_after: Option<(u64, Arc<AtomicBool>)>,
}

impl FakeStream {
    fn new(config: StreamConfig, faults: Faults, log: Arc<Mutex<Log>>) -> Self {
        let (width, height) = (config.size.width as usize, config.size.height as usize);
        let format = config.pixel_format;
        let stride = format.row_bytes(width) + ROW_PADDING;
        let mut frame = vec![0u8; stride * format.stored_rows(height)];
        if config.pattern == "bars" {
            render_bars(&mut frame, format, width, height, stride);
        } else {
            render_black(&mut frame, format, width, height, stride);
        }
        let interval = match config.rate {
            Rate::Fps(fps) => Some(UNITS_PER_SECOND / u64::from(fps)),
            Rate::Unthrottled => None,
        };
        FakeStream {
            config,
            faults,
            log,
            stride,
            copy: vec![0; frame.len()],
            frame,
            start: Instant::now(),
            interval,
            delivered: 0,
            picture_number: 0,
            dropped: 0,
            outstanding: false,
            allocs: 0,
            frees: 0,
            box_left: None,
            clock: None,
            stop_after: None,
        }
    }

    fn release(&mut self) {
        if self.outstanding {
            self.outstanding = false;
            self.frees += 1;
        }
    }

    fn current_stats(&self) -> StreamStats {
        let allocator_mode = self.config.frame_path == FramePath::Allocator;
        StreamStats {
            frames_delivered: self.delivered,
            frames_dropped: self.dropped as u64,
            frames_in_allocator_frames: if allocator_mode { self.delivered } else { 0 },
            frames_in_client_buffers: if allocator_mode { 0 } else { self.delivered },
            // Only a consumer in allocator mode has an allocator.
            allocator: allocator_mode.then_some(AllocatorStatus {
                framing: Framing {
                    frames: 4,
                    frame_size: self.frame.len() as u32,
                    alignment_mask: 15,
                    pool_type: 512,
                },
                frames_outstanding: u32::from(self.outstanding),
                allocs: Some(self.allocs),
                frees: Some(self.frees),
            }),
        }
    }
}

impl Stream for FakeStream {
    fn next_frame(&mut self, _timeout: Duration) -> Result<Frame<'_>, CameraError> {
        self.release();
        if self.faults.fail_after.is_some_and(|n| self.delivered >= n) {
            return Err(CameraError::Request {
                request: "IOCTL_KS_READ_STREAM (injected fault)".into(),
                status: 0xC000_0185, // STATUS_IO_DEVICE_ERROR
            });
        }
        if let Some(every) = self.faults.drop_every {
            if self.delivered > 0 && self.delivered % every == 0 {
                self.picture_number += 1;
                self.dropped += 1;
            }
        }
        let presentation = match (self.interval, &self.clock) {
            (Some(interval), Some(clock)) => {
                let due = clock.load(Ordering::SeqCst) / interval;
                let next = self.picture_number as u64;
                if due > next {
                    self.dropped += (due - next) as i64;
                    self.picture_number = due as i64;
                } else {
                    // Not due yet: the consumer waits until it is.
                    clock.fetch_max(next * interval, Ordering::SeqCst);
                }
                self.picture_number * interval as i64
            }
            (Some(interval), None) => {
                let due = Duration::from_nanos(self.picture_number as u64 * interval * 100);
                if let Some(wait) = due.checked_sub(self.start.elapsed()) {
                    std::thread::sleep(wait);
                }
                self.picture_number * interval as i64
            }
            (None, _) => (self.start.elapsed().as_nanos() / 100) as i64,
        };
        // The moving element: a grey box in the bottom quarter, one step per frame.
        draw_box(self);
        self.allocs += 1;
        self.outstanding = true;
        self.delivered += 1;
        self.log.lock().unwrap().frames += 1;
        if let Some((after, flag)) = &self.stop_after {
            if self.delivered >= *after {
                flag.store(true, Ordering::SeqCst);
            }
        }
        let picture_number = self.picture_number;
        self.picture_number += 1;
        let (data, memory) = match self.config.frame_path {
            FramePath::Allocator => (&self.frame[..], FrameMemory::PinAllocator),
            FramePath::Copy => {
                self.copy.copy_from_slice(&self.frame);
                (&self.copy[..], FrameMemory::ClientBuffer)
            }
        };
        Ok(Frame {
            pixel_format: self.config.pixel_format,
            width: self.config.size.width,
            height: self.config.size.height,
            stride: if self.faults.bad_stride {
                1
            } else {
                self.stride
            },
            bottom_up: self.config.pixel_format.is_rgb(),
            data,
            presentation_time: Some(presentation),
            duration: self.interval.map(|i| i as i64),
            picture_number,
            drop_count: self.dropped,
            memory,
            arrival_time: None,
            discontinuity: false,
        })
    }

    fn stats(&mut self) -> Result<StreamStats, CameraError> {
        Ok(self.current_stats())
    }

    fn stop(mut self: Box<Self>) -> Result<StreamStats, CameraError> {
        self.release();
        self.log.lock().unwrap().stops += 1;
        Ok(self.current_stats())
    }
}

/// Where and how pixels are written into a frame.
struct Canvas<'a> {
    frame: &'a mut [u8],
    format: PixelFormat,
    height: usize,
    stride: usize,
}

impl Canvas<'_> {
    /// Writes pixel `x` of top-down row `y`: `yuv` for YUV formats, `rgb` for RGB ones
    /// (stored bottom-up). YUV chroma is written by the even pixel (and even row for NV12).
    fn put(&mut self, x: usize, y: usize, yuv: (u8, u8, u8), rgb: (u8, u8, u8)) {
        let stored = if self.format.is_rgb() {
            self.height - 1 - y
        } else {
            y
        };
        let row = stored * self.stride;
        let frame = &mut *self.frame;
        match self.format {
            PixelFormat::Nv12 => {
                frame[row + x] = yuv.0;
                if x % 2 == 0 && y % 2 == 0 {
                    let chroma = (self.height + y / 2) * self.stride + x;
                    frame[chroma] = yuv.1;
                    frame[chroma + 1] = yuv.2;
                }
            }
            PixelFormat::Yuy2 => {
                let pair = row + (x / 2) * 4;
                frame[pair + (x % 2) * 2] = yuv.0;
                if x % 2 == 0 {
                    frame[pair + 1] = yuv.1;
                    frame[pair + 3] = yuv.2;
                }
            }
            PixelFormat::Rgb24 => {
                frame[row + 3 * x..row + 3 * x + 3].copy_from_slice(&[rgb.2, rgb.1, rgb.0])
            }
            PixelFormat::Rgb32 => {
                frame[row + 4 * x..row + 4 * x + 4].copy_from_slice(&[rgb.2, rgb.1, rgb.0, 0xFF])
            }
        }
    }

    /// Fills a rectangle.
    fn fill(
        &mut self,
        x: std::ops::Range<usize>,
        y: std::ops::Range<usize>,
        yuv: (u8, u8, u8),
        rgb: (u8, u8, u8),
    ) {
        for row in y {
            for column in x.clone() {
                self.put(column, row, yuv, rgb);
            }
        }
    }
}

/// Black (Y 16, U V 128; RGB 0).
const BLACK: ((u8, u8, u8), (u8, u8, u8)) = ((16, 128, 128), (0, 0, 0));
/// The moving box's grey.
const GREY: ((u8, u8, u8), (u8, u8, u8)) = ((126, 128, 128), (128, 128, 128));

/// 75% bars over the top three quarters, black below.
fn render_bars(frame: &mut [u8], format: PixelFormat, width: usize, height: usize, stride: usize) {
    let mut canvas = Canvas {
        frame,
        format,
        height,
        stride,
    };
    canvas.fill(0..width, 0..height, BLACK.0, BLACK.1);
    for bar in 0..7 {
        let columns = bar * width / 7..(bar + 1) * width / 7;
        canvas.fill(columns, 0..height * 3 / 4, BARS_YUV[bar], BARS_RGB[bar]);
    }
}

/// Black everywhere.
fn render_black(frame: &mut [u8], format: PixelFormat, width: usize, height: usize, stride: usize) {
    Canvas {
        frame,
        format,
        height,
        stride,
    }
    .fill(0..width, 0..height, BLACK.0, BLACK.1);
}

/// The moving box: 16x16 grey in the bottom quarter, 8 pixels further right each frame.
fn draw_box(stream: &mut FakeStream) {
    let (width, height) = (
        stream.config.size.width as usize,
        stream.config.size.height as usize,
    );
    let (top, side) = ((height * 13 / 16) & !1, 16.min(width).min(height / 8) & !1);
    let mut canvas = Canvas {
        frame: &mut stream.frame,
        format: stream.config.pixel_format,
        height,
        stride: stream.stride,
    };
    if let Some(left) = stream.box_left {
        canvas.fill(left..left + side, top..top + side, BLACK.0, BLACK.1);
    }
    let left = ((8 * stream.picture_number as usize) % (width - side + 1)) & !1;
    canvas.fill(left..left + side, top..top + side, GREY.0, GREY.1);
    stream.box_left = Some(left);
}

/// Captured output of an in-process run.
pub struct Outcome {
    /// Exit code.
    pub code: i32,
    /// Bytes written to stdout.
    pub stdout: Vec<u8>,
    /// Text written to stderr.
    pub stderr: String,
}

/// Runs the viewer in-process with `camera` and no display.
pub fn run_with(camera: &FakeCamera, args: &[&str]) -> Outcome {
    run_with_display(camera, args, avcam_viewer::DisplayEnv::default())
}

/// Runs the viewer in-process with `camera` and the given display variables.
pub fn run_with_display(
    camera: &FakeCamera,
    args: &[&str],
    display: avcam_viewer::DisplayEnv,
) -> Outcome {
    let mut stdout = Vec::new();
    let stop = camera.stop_after.as_ref().map_or_else(
        || Arc::new(AtomicBool::new(false)),
        |(_, flag)| flag.clone(),
    );
    let mut outcome = run_into(camera, args, display, &mut stdout, &stop);
    outcome.stdout = stdout;
    outcome
}

/// Runs the viewer in-process with `camera`, writing stdout into `stdout` (the outcome's own
/// `stdout` stays empty), with `stop` as the signal flag.
pub fn run_into(
    camera: &FakeCamera,
    args: &[&str],
    display: avcam_viewer::DisplayEnv,
    stdout: &mut dyn std::io::Write,
    stop: &AtomicBool,
) -> Outcome {
    let mut stderr = Vec::new();
    let camera = camera.clone();
    let mut open = move || -> Result<Box<dyn Camera>, CameraError> { Ok(Box::new(camera.clone())) };
    let code = {
        let mut context = avcam_viewer::Context {
            stdout,
            stderr: &mut stderr,
            stderr_is_terminal: false,
            display,
            stop,
        };
        avcam_viewer::run(
            std::iter::once("avcam-viewer").chain(args.iter().copied()),
            &mut open,
            &mut context,
        )
    };
    Outcome {
        code,
        stdout: Vec::new(),
        stderr: String::from_utf8(stderr).unwrap(),
    }
}

/// A consumer that takes virtual time to write: every `frame_bytes` bytes written move `clock`
/// on by `cost` (100 ns units). What it was given is in `bytes`.
pub struct SlowSink {
    /// Everything written.
    pub bytes: Vec<u8>,
    clock: Arc<AtomicU64>,
    frame_bytes: usize,
    cost: u64,
    /// Bytes written since the clock last moved.
    pending: usize,
}

impl SlowSink {
    /// A sink costing `cost` x 100 ns per `frame_bytes` bytes on `clock`.
    pub fn new(clock: Arc<AtomicU64>, frame_bytes: usize, cost: u64) -> Self {
        SlowSink {
            bytes: Vec::new(),
            clock,
            frame_bytes,
            cost,
            pending: 0,
        }
    }
}

impl std::io::Write for SlowSink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.bytes.extend_from_slice(bytes);
        self.pending += bytes.len();
        while self.pending >= self.frame_bytes {
            self.pending -= self.frame_bytes;
            self.clock.fetch_add(self.cost, Ordering::SeqCst);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The picture number a frame of the double shows, read from the moving box's position in its
/// top-down luma plane (`width` x `height`, one byte per pixel; picture numbers below 38).
pub fn picture_shown(luma: &[u8], width: usize, height: usize) -> i64 {
    let top = (height * 13 / 16) & !1;
    let row = &luma[top * width..(top + 1) * width];
    let left = row
        .iter()
        .position(|&y| y == GREY.0 .0)
        .expect("the moving box is on its row");
    (left / 8) as i64
}

/// A fresh, empty scratch directory under the system temp dir.
pub fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("avcam-viewer-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The names in `dir`, sorted (hidden temporary files included).
pub fn entries(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// An Xvfb server this test started; killed on drop.
pub struct Xvfb(std::process::Child);

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The X display for a window test: `$DISPLAY` if set, else a new Xvfb (its server is returned,
/// to be dropped at the end), else `None` after printing a note (the test then skips).
pub fn x_display() -> Option<(Option<Xvfb>, String)> {
    match std::env::var("DISPLAY").ok().filter(|d| !d.is_empty()) {
        Some(display) => Some((None, display)),
        None => match start_xvfb() {
            Some((server, display)) => Some((Some(server), display)),
            None => {
                println!("note: skipped: no DISPLAY and no Xvfb (apt-get install xvfb)");
                None
            }
        },
    }
}

/// Starts Xvfb (for the window tests) on a free display number (it reports the number on the `-displayfd` pipe).
pub fn start_xvfb() -> Option<(Xvfb, String)> {
    let mut child = std::process::Command::new("Xvfb")
        .args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            "1024x768x24",
            "-nolisten",
            "tcp",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take()?)
        .read_line(&mut line)
        .ok()?;
    let server = Xvfb(child);
    let number: u32 = line.trim().parse().ok()?;
    Some((server, format!(":{number}")))
}
