//! `view`: live frames in a window (winit + softbuffer), scaled to the window with the picture's
//! aspect ratio, and a title line with the measured fps, dropped frames and the allocator status.
//!
//! The event loop pulls frames between window events (`about_to_wait`, waiting at most 20 ms so
//! the window stays responsive), converts each into a `0RGB` buffer and asks for a redraw; the
//! redraw scales that buffer into the window surface and presents it. Esc, Q or closing the
//! window stops the stream and exits; P switches to the next pattern, H and V toggle the
//! horizontal and vertical flips (the camera's controls, set while it streams). A frame that
//! comes empty leaves the last picture on screen. `--frames N` exits after N frames were shown, and
//! `--screenshot FILE.png` first saves what the window shows, read back from the window system
//! (X11 `GetImage` through softbuffer's `fetch`; where that is unsupported, the buffer that was
//! presented, with a note on stderr).
//!
//! winit allows one event loop per process; `run` creates it, so it can be called once.

use std::num::NonZeroU32;
use std::rc::Rc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use winit::application::ApplicationHandler;
use winit::dpi::PhysicalSize;
use winit::event::{ElementState, KeyEvent, WindowEvent};
use winit::event_loop::{ActiveEventLoop, ControlFlow, EventLoop};
use winit::keyboard::{Key, NamedKey};
use winit::window::{Window, WindowId};

use crate::atomic::AtomicFile;
use crate::camera::{Camera, CameraError, Rate, Stream, StreamStats};
use crate::cli::{StreamArgs, ViewArgs};
use crate::convert::{to_xrgb, xrgb_to_rgb8, Picture, Scaler};
use crate::error::ViewerError;
use crate::interrupt;
use crate::output::Plan;
use crate::settings::{resolve, Resolved};
use crate::snapshot::write_png_into;
use crate::{open, Context, DisplayEnv, OpenCamera};

/// Longest wait for a frame inside one event-loop turn.
const POLL_WAIT: Duration = Duration::from_millis(20);
/// How often the title line is refreshed.
const TITLE_EVERY: Duration = Duration::from_millis(500);
/// Largest initial window (the picture is scaled down to fit, keeping its aspect ratio).
const MAX_INITIAL: (u32, u32) = (1280, 720);
/// Extra frames to try reading the window back if the first attempt fails (window not yet mapped).
const SCREENSHOT_RETRIES: u32 = 30;

/// Fails with [`ViewerError::NoDisplay`] when, on X11/Wayland systems, neither `DISPLAY` nor
/// `WAYLAND_DISPLAY` is set.
pub fn check_display(display: &DisplayEnv) -> Result<(), ViewerError> {
    let needs_variables = cfg!(all(
        unix,
        not(any(
            target_os = "macos",
            target_os = "ios",
            target_os = "android"
        ))
    ));
    if needs_variables && display.x11.is_none() && display.wayland.is_none() {
        return Err(ViewerError::NoDisplay {
            reason: "DISPLAY and WAYLAND_DISPLAY are not set".into(),
        });
    }
    Ok(())
}

/// Frames per second over windows of at least one second, from times passed in.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RateMeter {
    window_start: Option<Duration>,
    frames: u32,
    rate: f64,
}

impl RateMeter {
    /// Counts a frame shown at `now` (time since any fixed origin); returns the latest rate.
    pub fn tick(&mut self, now: Duration) -> f64 {
        let start = *self.window_start.get_or_insert(now);
        self.frames += 1;
        let elapsed = now.saturating_sub(start);
        if elapsed >= Duration::from_secs(1) {
            // Frames after the first one of the window, over the time they took.
            self.rate = f64::from(self.frames - 1) / elapsed.as_secs_f64();
            self.window_start = Some(now);
            self.frames = 1;
        }
        self.rate
    }

    /// The latest rate (0 until a full second was seen).
    pub fn rate(&self) -> f64 {
        self.rate
    }
}

/// The window title: stream, measured fps, drops and allocator status.
pub fn title(resolved: &Resolved, fps: f64, dropped: u64, stats: Option<&StreamStats>) -> String {
    let config = &resolved.config;
    let rate = match config.rate {
        Rate::Fps(fps) => format!("{fps}"),
        Rate::Unthrottled => "max".into(),
    };
    let allocator = match stats.and_then(|s| s.allocator) {
        Some(a) => format!(
            "allocator {}x{} B, {} out",
            a.framing.frames, a.framing.frame_size, a.frames_outstanding
        ),
        None => "allocator n/a".into(),
    };
    format!(
        "avcam-viewer - {} {}@{} {} {} | {fps:.1} fps | dropped {dropped} | {allocator}",
        config.pixel_format,
        config.size,
        rate,
        config.frame_path.name(),
        config.pattern
    )
}

/// The initial window size: the picture's, scaled down to fit [`MAX_INITIAL`].
fn initial_size(width: u32, height: u32) -> PhysicalSize<u32> {
    let [_, _, fit_width, fit_height] = crate::convert::fit(
        width as usize,
        height as usize,
        (MAX_INITIAL.0.min(width)) as usize,
        (MAX_INITIAL.1.min(height)) as usize,
    );
    PhysicalSize::new(fit_width.max(1) as u32, fit_height.max(1) as u32)
}

/// The window, its surface and what it shows.
struct Screen {
    window: Rc<Window>,
    surface: softbuffer::Surface<Rc<Window>, Rc<Window>>,
    size: (u32, u32),
}

/// The event-loop state.
struct ViewerApp<'c> {
    camera: Option<&'c mut dyn Camera>,
    stream: Option<Box<dyn Stream + 'c>>,
    resolved: Resolved,
    frames_to_show: Option<u64>,
    screenshot: Option<AtomicFile>,
    screenshot_tries: u32,
    screenshot_note: Option<&'static str>,
    screen: Option<Screen>,
    picture: Vec<u32>,
    picture_size: (usize, usize),
    has_picture: bool,
    presented: Vec<u32>,
    scaler: Scaler,
    started: Instant,
    last_frame: Instant,
    next_title: Duration,
    meter: RateMeter,
    frames_shown: u64,
    drop_count: i64,
    stats: Option<StreamStats>,
    error: Option<ViewerError>,
    /// Set by a signal: stop as an error ([`ViewerError::Interrupted`]).
    stop: &'c AtomicBool,
    /// What the keys may change.
    keys: Keys,
}

/// The controls the keys change, as the camera had them at the start.
#[derive(Clone, Copy, Debug, Default)]
struct Keys {
    /// `p` cycles the patterns.
    pattern: bool,
    /// `h` and `v` toggle the flips.
    flips: bool,
    hflip: bool,
    vflip: bool,
}

impl Keys {
    /// From the camera's controls and the values the stream sets.
    fn new(info: &crate::camera::DeviceInfo, resolved: &Resolved) -> Keys {
        let value = |name: &str| {
            resolved
                .config
                .controls
                .iter()
                .rev()
                .find(|(n, _)| n == name)
                .map(|(_, v)| *v)
                .or_else(|| {
                    info.controls
                        .iter()
                        .find(|c| c.name == name)
                        .map(|c| c.value)
                })
        };
        Keys {
            pattern: value("pattern").is_some(),
            flips: value("hflip").is_some() && value("vflip").is_some(),
            hflip: value("hflip") == Some(1),
            vflip: value("vflip") == Some(1),
        }
    }
}

impl ViewerApp<'_> {
    /// Records the first error and ends the loop.
    fn fail(&mut self, event_loop: &ActiveEventLoop, error: ViewerError) {
        self.error.get_or_insert(error);
        event_loop.exit();
    }

    /// Pulls at most one frame and converts it; asks for a redraw if one came.
    fn pull_frame(&mut self) -> Result<(), ViewerError> {
        let Some(stream) = self.stream.as_mut() else {
            return Ok(());
        };
        let wait = self
            .resolved
            .nominal_interval()
            .map_or(POLL_WAIT, |i| Duration::from_nanos(i * 100).min(POLL_WAIT));
        match stream.next_frame(wait) {
            Ok(frame) if frame.is_empty() => {
                // No picture in it: the last one stays on screen.
                self.drop_count = frame.drop_count;
                self.last_frame = Instant::now();
                Ok(())
            }
            Ok(frame) => {
                let picture = Picture::new(&frame)?;
                to_xrgb(&picture, &mut self.picture);
                self.picture_size = (picture.width(), picture.height());
                self.has_picture = true;
                self.drop_count = frame.drop_count;
                self.last_frame = Instant::now();
                if let Some(screen) = &self.screen {
                    screen.window.request_redraw();
                }
                Ok(())
            }
            Err(CameraError::Timeout { .. })
                if self.last_frame.elapsed() < self.resolved.frame_timeout() =>
            {
                Ok(())
            }
            Err(source) => Err(ViewerError::Camera {
                during: "waiting for a frame",
                source,
            }),
        }
    }

    /// A key: `p` the next pattern, `h` and `v` toggle the flips (when the camera has those
    /// controls; the title shows the pattern at its next refresh).
    fn key(&mut self, key: &str) -> Result<(), ViewerError> {
        let Some(stream) = self.stream.as_mut() else {
            return Ok(());
        };
        let (name, value) = match key {
            "p" if self.keys.pattern => {
                let patterns = &avcam_client::controls::PATTERNS;
                let now = patterns
                    .iter()
                    .position(|(n, _)| *n == self.resolved.config.pattern)
                    .unwrap_or(patterns.len() - 1);
                let (next, value) = patterns[(now + 1) % patterns.len()];
                self.resolved.config.pattern = next.into();
                ("pattern", i64::from(value))
            }
            "h" if self.keys.flips => {
                self.keys.hflip = !self.keys.hflip;
                ("hflip", i64::from(self.keys.hflip))
            }
            "v" if self.keys.flips => {
                self.keys.vflip = !self.keys.vflip;
                ("vflip", i64::from(self.keys.vflip))
            }
            _ => return Ok(()),
        };
        self.next_title = Duration::ZERO;
        stream
            .set_control(name, value)
            .map_err(|source| ViewerError::Camera {
                during: "setting a control",
                source,
            })
    }

    /// Refreshes the title line every [`TITLE_EVERY`].
    fn update_title(&mut self) -> Result<(), ViewerError> {
        let now = self.started.elapsed();
        if now < self.next_title {
            return Ok(());
        }
        self.next_title = now + TITLE_EVERY;
        if let Some(stream) = self.stream.as_mut() {
            self.stats = Some(stream.stats().map_err(|source| ViewerError::Camera {
                during: "querying the stream's counters",
                source,
            })?);
        }
        let dropped = self
            .stats
            .map_or(0, |s| s.frames_dropped)
            .max(u64::try_from(self.drop_count).unwrap_or(0));
        if let Some(screen) = &self.screen {
            screen.window.set_title(&title(
                &self.resolved,
                self.meter.rate(),
                dropped,
                self.stats.as_ref(),
            ));
        }
        Ok(())
    }

    /// Scales the latest picture into the window and presents it.
    fn redraw(&mut self) -> Result<(), ViewerError> {
        let Some(screen) = self.screen.as_mut() else {
            return Ok(());
        };
        let size = screen.window.inner_size();
        let (Some(width), Some(height)) =
            (NonZeroU32::new(size.width), NonZeroU32::new(size.height))
        else {
            return Ok(());
        };
        let window_error = |e: softbuffer::SoftBufferError| ViewerError::Window {
            reason: e.to_string(),
        };
        if screen.size != (size.width, size.height) {
            screen.surface.resize(width, height).map_err(window_error)?;
            screen.size = (size.width, size.height);
        }
        let mut buffer = screen.surface.buffer_mut().map_err(window_error)?;
        let (dst_width, dst_height) = (size.width as usize, size.height as usize);
        if self.has_picture {
            let (src_width, src_height) = self.picture_size;
            self.scaler.scale(
                &self.picture,
                src_width,
                src_height,
                &mut buffer,
                dst_width,
                dst_height,
            );
        } else {
            buffer.fill(0);
        }
        if self.screenshot.is_some() {
            self.presented.clear();
            self.presented.extend_from_slice(&buffer);
        }
        buffer.present().map_err(window_error)?;
        if self.has_picture {
            self.frames_shown += 1;
            self.meter.tick(self.started.elapsed());
        }
        Ok(())
    }

    /// After a redraw: whether `--frames N` is reached, taking the screenshot first.
    fn done_after_redraw(&mut self) -> Result<bool, ViewerError> {
        let Some(limit) = self.frames_to_show else {
            return Ok(false);
        };
        if self.frames_shown < limit {
            return Ok(false);
        }
        let (Some(file), Some(screen)) = (self.screenshot.as_mut(), self.screen.as_mut()) else {
            return Ok(true);
        };
        let (width, height) = screen.size;
        let pixels = match screen.surface.fetch() {
            Ok(pixels) => pixels,
            Err(_) if self.screenshot_tries < SCREENSHOT_RETRIES => {
                // Not mapped yet, perhaps: try again after the next frame.
                self.screenshot_tries += 1;
                return Ok(false);
            }
            Err(_) => {
                self.screenshot_note =
                    Some("the window could not be read back; saved the presented buffer instead");
                std::mem::take(&mut self.presented)
            }
        };
        let mut rgb = Vec::new();
        xrgb_to_rgb8(&pixels, &mut rgb);
        write_png_into(file, width, height, &rgb)?;
        Ok(true)
    }
}

impl ApplicationHandler for ViewerApp<'_> {
    fn resumed(&mut self, event_loop: &ActiveEventLoop) {
        if self.screen.is_some() {
            return;
        }
        let config = &self.resolved.config;
        let attributes = Window::default_attributes()
            .with_title(title(&self.resolved, 0.0, 0, None))
            .with_inner_size(initial_size(config.size.width, config.size.height));
        let screen = event_loop
            .create_window(attributes)
            .map_err(|e| e.to_string())
            .and_then(|window| {
                let window = Rc::new(window);
                let context =
                    softbuffer::Context::new(window.clone()).map_err(|e| e.to_string())?;
                let surface = softbuffer::Surface::new(&context, window.clone())
                    .map_err(|e| e.to_string())?;
                Ok(Screen {
                    window,
                    surface,
                    size: (0, 0),
                })
            });
        match screen {
            Ok(screen) => self.screen = Some(screen),
            Err(reason) => return self.fail(event_loop, ViewerError::NoDisplay { reason }),
        }
        if let Some(camera) = self.camera.take() {
            match camera.start(&self.resolved.config) {
                Ok(stream) => {
                    self.stream = Some(stream);
                    self.last_frame = Instant::now();
                }
                Err(source) => {
                    return self.fail(
                        event_loop,
                        ViewerError::Camera {
                            during: "starting the stream",
                            source,
                        },
                    )
                }
            }
        }
        event_loop.set_control_flow(ControlFlow::Poll);
    }

    fn window_event(&mut self, event_loop: &ActiveEventLoop, _id: WindowId, event: WindowEvent) {
        match event {
            WindowEvent::CloseRequested => event_loop.exit(),
            WindowEvent::KeyboardInput {
                event:
                    KeyEvent {
                        logical_key,
                        state: ElementState::Pressed,
                        ..
                    },
                ..
            } => {
                let quit = match &logical_key {
                    Key::Named(NamedKey::Escape) => true,
                    Key::Character(text) => text.eq_ignore_ascii_case("q"),
                    _ => false,
                };
                if quit {
                    event_loop.exit();
                } else if let Key::Character(text) = &logical_key {
                    if let Err(error) = self.key(&text.to_ascii_lowercase()) {
                        self.fail(event_loop, error);
                    }
                }
            }
            WindowEvent::Resized(_) => {
                if let Some(screen) = &self.screen {
                    screen.window.request_redraw();
                }
            }
            WindowEvent::RedrawRequested => {
                let result = self.redraw().and_then(|()| self.done_after_redraw());
                match result {
                    Ok(true) => event_loop.exit(),
                    Ok(false) => {}
                    Err(error) => self.fail(event_loop, error),
                }
            }
            _ => {}
        }
    }

    fn about_to_wait(&mut self, event_loop: &ActiveEventLoop) {
        if event_loop.exiting() {
            return;
        }
        if interrupt::requested(self.stop) {
            let progress = format!("after {} frames shown", self.frames_shown);
            return self.fail(event_loop, ViewerError::Interrupted { progress });
        }
        if let Err(error) = self.pull_frame().and_then(|()| self.update_title()) {
            self.fail(event_loop, error);
        }
    }
}

/// Builds the event loop (any thread, so tests can run it), mapping failure to "no display".
fn event_loop() -> Result<EventLoop<()>, ViewerError> {
    let mut builder = EventLoop::builder();
    #[cfg(all(
        unix,
        not(any(target_os = "macos", target_os = "ios", target_os = "android"))
    ))]
    {
        use winit::platform::x11::EventLoopBuilderExtX11;
        builder.with_any_thread(true);
    }
    #[cfg(windows)]
    {
        use winit::platform::windows::EventLoopBuilderExtWindows;
        builder.with_any_thread(true);
    }
    builder.build().map_err(|e| ViewerError::NoDisplay {
        reason: without_source_location(&e.to_string()),
    })
}

/// winit's OS errors start with the source location that raised them
/// ("os error at .../linux/mod.rs:788: Failed to open connection to X server"): keep the message.
fn without_source_location(message: &str) -> String {
    let rest = message
        .strip_prefix("os error at ")
        .and_then(|located| located.find(".rs:").map(|at| &located[at + 4..]))
        .and_then(|after| after.split_once(": ").map(|(_, text)| text));
    rest.unwrap_or(message).to_string()
}

/// Runs `view`.
pub fn run(
    stream_args: &StreamArgs,
    args: &ViewArgs,
    open_camera: &mut OpenCamera<'_>,
    context: &mut Context<'_>,
) -> Result<(), ViewerError> {
    if args.frames == Some(0) {
        return Err(ViewerError::NotPositive {
            option: "--frames",
            value: "0".into(),
        });
    }
    if let Some(path) = &args.screenshot {
        Plan::new().file("--screenshot", path, "png")?;
    }
    let screenshot = args
        .screenshot
        .as_ref()
        .map(|path| AtomicFile::create("--screenshot", path))
        .transpose()?;
    check_display(&context.display)?;
    let (mut camera, info) = open(open_camera)?;
    let resolved = resolve(stream_args, &info, false)?;
    let keys = Keys::new(&info, &resolved);
    let event_loop = event_loop()?;

    let mut app = ViewerApp {
        camera: Some(camera.as_mut()),
        stream: None,
        resolved,
        frames_to_show: args.frames,
        screenshot,
        screenshot_tries: 0,
        screenshot_note: None,
        screen: None,
        picture: Vec::new(),
        picture_size: (0, 0),
        has_picture: false,
        presented: Vec::new(),
        scaler: Scaler::new(),
        started: Instant::now(),
        last_frame: Instant::now(),
        next_title: Duration::ZERO,
        meter: RateMeter::default(),
        frames_shown: 0,
        drop_count: 0,
        stats: None,
        error: None,
        stop: context.stop,
        keys,
    };
    let loop_result = event_loop.run_app(&mut app);
    // Close the window before stopping the stream, then report the first error.
    drop(app.screen.take());
    let stopped = app.stream.take().map(|stream| stream.stop());
    if let Some(error) = app.error.take() {
        return Err(error);
    }
    loop_result.map_err(|e| ViewerError::Window {
        reason: e.to_string(),
    })?;
    let final_stats = stopped.transpose().map_err(|source| ViewerError::Camera {
        during: "stopping the stream",
        source,
    })?;
    if let Some(note) = app.screenshot_note {
        let _ = writeln!(context.stderr, "avcam-viewer: note: {note}");
    }
    if let Some(file) = app.screenshot.take() {
        if app
            .frames_to_show
            .is_some_and(|limit| app.frames_shown >= limit)
        {
            let target = file.target().display().to_string();
            file.commit()?;
            let _ = writeln!(
                context.stderr,
                "screenshot after {} frames saved to {target}",
                app.frames_shown
            );
        }
    }
    if let Some(stats) = final_stats {
        let _ = writeln!(
            context.stderr,
            "shown {} frames; camera delivered {}, dropped {}",
            app.frames_shown, stats.frames_delivered, stats.frames_dropped
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::camera::{FormatInfo, FramePath, PixelFormat, Size, StreamConfig};

    #[test]
    fn no_display_variables_means_no_window() {
        let error = check_display(&DisplayEnv::default());
        if cfg!(all(unix, not(target_os = "macos"))) {
            let error = error.unwrap_err();
            assert_eq!(error.exit_code(), crate::error::EXIT_USAGE);
            assert!(error.to_string().contains("record"), "{error}");
        }
        let x11 = DisplayEnv {
            x11: Some(":0".into()),
            wayland: None,
        };
        assert!(check_display(&x11).is_ok());
    }

    #[test]
    fn winit_source_locations_are_dropped_from_messages() {
        assert_eq!(
            without_source_location(
                "os error at /x/winit-0.30.13/src/platform_impl/linux/mod.rs:788: Failed to open connection to X server"
            ),
            "Failed to open connection to X server"
        );
        assert_eq!(
            without_source_location("the event loop was exited"),
            "the event loop was exited"
        );
    }

    #[test]
    fn the_rate_meter_counts_frames_over_whole_seconds() {
        let mut meter = RateMeter::default();
        for n in 0..30u64 {
            meter.tick(Duration::from_millis(n * 33));
        }
        assert_eq!(meter.rate(), 0.0, "no full second yet");
        // Frame 31 at 1.0 s closes the window: 30 intervals in 1 s.
        assert_eq!(meter.tick(Duration::from_millis(1000)), 30.0);
        assert_eq!(
            meter.tick(Duration::from_millis(1500)),
            30.0,
            "held until the next second"
        );
        assert_eq!(meter.tick(Duration::from_millis(2000)), 2.0);
    }

    #[test]
    fn the_title_shows_rate_drops_and_allocator() {
        let resolved = Resolved {
            config: StreamConfig {
                pin: 0,
                pixel_format: PixelFormat::Nv12,
                size: Size::new(640, 480),
                rate: Rate::Fps(30),
                pattern: "bars".into(),
                frame_path: FramePath::Allocator,
                controls: Vec::new(),
                caption: None,
                faults: None,
            },
            format: FormatInfo {
                pixel_format: PixelFormat::Nv12,
                size: Size::new(640, 480),
                min_interval: 10_000,
                max_interval: 10_000_000,
            },
        };
        let stats = StreamStats {
            allocator: Some(crate::camera::AllocatorStatus {
                framing: crate::camera::Framing {
                    frames: 4,
                    frame_size: 460_800,
                    alignment_mask: 15,
                    pool_type: 512,
                },
                frames_outstanding: 1,
                allocs: None,
                frees: None,
            }),
            ..StreamStats::default()
        };
        assert_eq!(
            title(&resolved, 29.96, 2, Some(&stats)),
            "avcam-viewer - nv12 640x480@30 allocator bars | 30.0 fps | dropped 2 | allocator 4x460800 B, 1 out"
        );
        assert!(title(&resolved, 0.0, 0, None).ends_with("allocator n/a"));
    }

    #[test]
    fn initial_windows_fit_720p() {
        assert_eq!(initial_size(320, 240), PhysicalSize::new(320, 240));
        assert_eq!(initial_size(1920, 1080), PhysicalSize::new(1280, 720));
        assert_eq!(initial_size(3840, 2160), PhysicalSize::new(1280, 720));
        assert_eq!(initial_size(640, 480), PhysicalSize::new(640, 480));
    }
}
