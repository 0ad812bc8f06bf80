//! What the controls do to the delivered picture, through KS requests only: every pattern in
//! every pixel format against its definition, the picture controls against BT.601 computed in
//! floating point here (not taken from the camera core), the flips, and a value set on one
//! filter instance reaching the pin of another at its next frame.
//!
//! The definitions checked are docs/avstream-guide.md's ("Patterns and picture controls").

mod common;

use avcam_avstream::{PixelFormat, VideoFormat};
use avcam_client::controls::control;
use avcam_client::{Camera, Frame, Pin};
use avcam_emulation::Kernel;
use common::*;

/// A decoded pixel: Y'CbCr for the YUV formats, R'G'B' for the RGB ones.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Px {
    Yuv(u8, u8, u8),
    Rgb(u8, u8, u8),
}

/// Picture pixel (x, y) (y = 0 at the top) of a frame.
fn px(format: PixelFormat, w: usize, h: usize, buf: &[u8], x: usize, y: usize) -> Px {
    match format {
        PixelFormat::Nv12 => {
            let c = w * h + (y / 2) * w + (x & !1);
            Px::Yuv(buf[y * w + x], buf[c], buf[c + 1])
        }
        PixelFormat::Yuy2 => {
            let pair = y * 2 * w + (x & !1) * 2;
            let luma = buf[pair + if x % 2 == 0 { 0 } else { 2 }];
            Px::Yuv(luma, buf[pair + 1], buf[pair + 3])
        }
        PixelFormat::Rgb24 | PixelFormat::Rgb32 => {
            let bpp = if format == PixelFormat::Rgb24 { 3 } else { 4 };
            let stride = (w * bpp).next_multiple_of(4);
            let p = (h - 1 - y) * stride + x * bpp; // bottom-up DIB
            Px::Rgb(buf[p + 2], buf[p + 1], buf[p])
        }
    }
}

/// Luma (YUV) or green (RGB).
fn luma(p: Px) -> u8 {
    match p {
        Px::Yuv(y, ..) | Px::Rgb(_, y, _) => y,
    }
}

/// The picture controls as set through KS.
#[derive(Debug, Clone, Copy)]
struct Controls {
    brightness: i32,
    contrast: i32,
    hue: i32,
    saturation: i32,
    gamma: i32,
}

const DEFAULTS: Controls = Controls {
    brightness: 750,
    contrast: 100,
    hue: 0,
    saturation: 100,
    gamma: 100,
};

/// The pixel of R'G'B' levels (0..=1) under `c`, from the controls' definitions: gamma
/// `L^(100/G)` per component; luma `E'y x C/100 + (B - 750)/10000`; `Pb`, `Pr` scaled by `S/100`
/// and rotated by `H/100` degrees; limited-range Y'CbCr clamped to 16..=235 / 16..=240, or
/// R'G'B' clamped to 0..=1.
fn expected(format: PixelFormat, (r, g, b): (f64, f64, f64), c: Controls) -> Px {
    let gamma = |l: f64| l.powf(100.0 / f64::from(c.gamma));
    let (r, g, b) = (gamma(r), gamma(g), gamma(b));
    let ey = 0.299 * r + 0.587 * g + 0.114 * b;
    let (pb, pr) = ((b - ey) / 1.772, (r - ey) / 1.402);
    let ey = ey * f64::from(c.contrast) / 100.0 + f64::from(c.brightness - 750) / 10_000.0;
    let (sin, cos) = (f64::from(c.hue) / 100.0).to_radians().sin_cos();
    let s = f64::from(c.saturation) / 100.0;
    let (pb, pr) = (s * (pb * cos - pr * sin), s * (pb * sin + pr * cos));
    match format {
        PixelFormat::Nv12 | PixelFormat::Yuy2 => Px::Yuv(
            (16.0 + 219.0 * ey).round().clamp(16.0, 235.0) as u8,
            (128.0 + 224.0 * pb).round().clamp(16.0, 240.0) as u8,
            (128.0 + 224.0 * pr).round().clamp(16.0, 240.0) as u8,
        ),
        PixelFormat::Rgb24 | PixelFormat::Rgb32 => {
            let r = ey + 1.402 * pr;
            let b = ey + 1.772 * pb;
            let g = (ey - 0.299 * r - 0.114 * b) / 0.587;
            let byte = |v: f64| (255.0 * v.clamp(0.0, 1.0)).round() as u8;
            Px::Rgb(byte(r), byte(g), byte(b))
        }
    }
}

/// Whether every component of `a` is within `tolerance` of `b`'s.
fn near(a: Px, b: Px, tolerance: i32) -> bool {
    let parts = |p: Px| match p {
        Px::Yuv(x, y, z) | Px::Rgb(x, y, z) => [x, y, z].map(i32::from),
    };
    std::mem::discriminant(&a) == std::mem::discriminant(&b)
        && parts(a)
            .iter()
            .zip(parts(b))
            .all(|(x, y)| (x - y).abs() <= tolerance)
}

/// The bars at `level` (0.75 or 1).
fn bar(i: usize, level: f64) -> (f64, f64, f64) {
    let (r, g, b) = BARS[i];
    (r * level, g * level, b * level)
}

/// The centre column of bar `i` of a `w`-wide picture.
fn bar_x(i: usize, w: usize) -> usize {
    (2 * i + 1) * w / 14
}

/// A running pin of `camera` in `format` (QVGA, 30 fps) and the frames it delivers.
struct Stream<'k> {
    kernel: &'k Kernel,
    pin: Pin<'k>,
    video: VideoFormat,
}

impl<'k> Stream<'k> {
    fn new(kernel: &'k Kernel, camera: &Camera<'k>, format: PixelFormat) -> Stream<'k> {
        let video = qvga(format);
        let pin = running_pin(camera, &video);
        Stream { kernel, pin, video }
    }

    /// The next frame: one read, the virtual clock moved on until it completes.
    fn frame(&self) -> Frame {
        let read = self.pin.read(self.video.image_size() as usize);
        for _ in 0..10 {
            if read.is_done() {
                break;
            }
            advance_to(self.kernel, self.kernel.clock().now_100ns() + 100_000);
        }
        let frame = read.wait(WAIT).expect("a frame");
        assert_eq!(frame.data.len(), self.video.image_size() as usize);
        frame
    }

    fn size(&self) -> (usize, usize) {
        let size = self.video.size();
        (size.width as usize, size.height as usize)
    }

    fn px(&self, frame: &Frame, x: usize, y: usize) -> Px {
        let (w, h) = self.size();
        px(self.video.pixel_format(), w, h, &frame.data, x, y)
    }
}

/// Sets the control called `name` through KS.
fn set(camera: &Camera<'_>, name: &str, value: i64) {
    let control = control(name).expect("a control");
    camera.set_control(control, value).expect("in range");
}

/// Runs `test` with an application's filter and a pin of it streaming `format`, then closes
/// both, unloads the driver and checks that nothing leaked.
fn with_stream(format: PixelFormat, test: impl FnOnce(&Camera<'_>, &Stream<'_>)) {
    let kernel = kernel();
    let camera = user_camera(&kernel);
    let stream = Stream::new(&kernel, &camera, format);
    test(&camera, &stream);
    stream.pin.close().unwrap();
    camera.close().unwrap();
    kernel.unload_driver();
    kernel.assert_no_leaks();
}

#[test]
fn a_control_set_on_one_filter_reaches_the_pin_of_another_at_its_next_frame() {
    let kernel = kernel();
    let app = user_camera(&kernel);
    let other = camera(&kernel);
    let stream = Stream::new(&kernel, &app, PixelFormat::Rgb32);
    let before = stream.frame();
    let (w, h) = stream.size();
    assert_eq!(
        stream.px(&before, bar_x(0, w), h / 2),
        Px::Rgb(191, 191, 191)
    );
    set(&other, "pattern", 4); // solid
    set(&other, "solid-colour", 0xFF0000);
    set(&other, "overlays", 0);
    assert_eq!(app.control(control("pattern").unwrap()).unwrap(), 4);
    let after = stream.frame();
    for (x, y) in [(0, 0), (w / 2, h / 2), (w - 1, h - 1), (17, 200)] {
        assert_eq!(stream.px(&after, x, y), Px::Rgb(255, 0, 0), "({x}, {y})");
    }
    stream.pin.close().unwrap();
    other.close().unwrap();
    app.close().unwrap();
    kernel.unload_driver();
    kernel.assert_no_leaks();
}

#[test]
fn every_pattern_is_drawn_as_defined_in_every_pixel_format() {
    for format in PixelFormat::ALL {
        with_stream(format, |camera, stream| {
            let (w, h) = stream.size();
            set(camera, "overlays", 0);
            let grey = |l: f64| expected(format, (l, l, l), DEFAULTS);
            // 75% bars (the default) and 100% bars: the bar centres across the middle row.
            for (pattern, level) in [(0, 0.75), (1, 1.0)] {
                set(camera, "pattern", pattern);
                let frame = stream.frame();
                for i in 0..7 {
                    let want = expected(format, bar(i, level), DEFAULTS);
                    let got = stream.px(&frame, bar_x(i, w), h / 2);
                    assert_eq!(got, want, "{format:?} pattern {pattern} bar {i}");
                }
            }
            // The ramp: grey x / (w - 1) (in thousandths) on every row.
            set(camera, "pattern", 2);
            let frame = stream.frame();
            for y in [0, h / 2, h - 1] {
                for x in [0, w / 3, w / 2, w - 1] {
                    let l = (x * 1000 / (w - 1)) as f64 / 1000.0;
                    let got = stream.px(&frame, x, y);
                    assert!(near(got, grey(l), 1), "{format:?} ramp ({x}, {y}): {got:?}");
                }
            }
            // The checkerboard: squares of 16 x scale (QVGA: scale 1), white where the square's
            // column and row differ in parity, black at the top left.
            set(camera, "pattern", 3);
            let frame = stream.frame();
            for (x, y) in [
                (0, 0),
                (8, 8),
                (24, 8),
                (8, 24),
                (24, 24),
                (w - 1, h - 1),
                (100, 50),
            ] {
                let white = (x / 16 + y / 16) % 2 == 1;
                let want = grey(if white { 1.0 } else { 0.0 });
                assert_eq!(
                    stream.px(&frame, x, y),
                    want,
                    "{format:?} checker ({x}, {y})"
                );
            }
            // A solid colour everywhere.
            set(camera, "pattern", 4);
            set(camera, "solid-colour", 0x3366CC);
            let frame = stream.frame();
            let want = expected(format, (0.2, 0.4, 0.8), DEFAULTS);
            for (x, y) in [(0, 0), (w / 2, h / 2), (w - 1, h - 1), (5, 230)] {
                let got = stream.px(&frame, x, y);
                assert!(near(got, want, 1), "{format:?} solid ({x}, {y}): {got:?}");
            }
            // The zone plate: rings of phase (in 1/256 cycle) r^2 x 128 / w + 4 per picture number
            // about the centre, grey 127.5 + 127.5 cos; one phase step of slack for rounding; the
            // rings move from frame to frame.
            set(camera, "pattern", 5);
            let mut last: Option<Vec<u8>> = None;
            for _ in 0..2 {
                let frame = stream.frame();
                let n = frame.info.PictureNumber as f64;
                for (x, y) in [(0, 0), (w / 2, h / 2), (200, 150), (w - 1, 17), (61, 228)] {
                    let (dx, dy) = (x as f64 - (w / 2) as f64, y as f64 - (h / 2) as f64);
                    let phase = (dx * dx + dy * dy) * 128.0 / w as f64 + 4.0 * n;
                    let ring = |p: f64| {
                        let p = p.floor().rem_euclid(256.0);
                        (127.5 + 127.5 * (2.0 * std::f64::consts::PI * p / 256.0).cos()).round()
                            / 255.0
                    };
                    let got = stream.px(&frame, x, y);
                    let close = [-1.0, 0.0, 1.0]
                        .iter()
                        .any(|d| near(got, grey(ring(phase + d)), 1));
                    assert!(close, "{format:?} zone plate {n} ({x}, {y}): {got:?}");
                }
                assert_ne!(
                    last.as_ref(),
                    Some(&frame.data),
                    "{format:?}: the rings move"
                );
                last = Some(frame.data);
            }
        });
    }
}

#[test]
fn picture_controls_follow_their_definitions_in_every_pixel_format() {
    let cases = [
        Controls {
            brightness: 1750,
            ..DEFAULTS
        },
        Controls {
            brightness: -2000,
            ..DEFAULTS
        },
        Controls {
            contrast: 150,
            ..DEFAULTS
        },
        Controls {
            contrast: 40,
            ..DEFAULTS
        },
        Controls {
            hue: 9000,
            ..DEFAULTS
        },
        Controls {
            hue: -12_345,
            ..DEFAULTS
        },
        Controls {
            saturation: 0,
            ..DEFAULTS
        },
        Controls {
            saturation: 250,
            ..DEFAULTS
        },
        Controls {
            gamma: 220,
            ..DEFAULTS
        },
        Controls {
            gamma: 45,
            ..DEFAULTS
        },
        Controls {
            brightness: 300,
            contrast: 120,
            hue: 4500,
            saturation: 80,
            gamma: 180,
        },
        DEFAULTS,
    ];
    for format in PixelFormat::ALL {
        with_stream(format, |camera, stream| {
            let (w, h) = stream.size();
            set(camera, "overlays", 0);
            for c in cases {
                set(camera, "brightness", c.brightness.into());
                set(camera, "contrast", c.contrast.into());
                set(camera, "hue", c.hue.into());
                set(camera, "saturation", c.saturation.into());
                set(camera, "gamma", c.gamma.into());
                set(camera, "pattern", 0);
                let frame = stream.frame();
                for i in 0..7 {
                    let want = expected(format, bar(i, 0.75), c);
                    let got = stream.px(&frame, bar_x(i, w), h / 2);
                    assert!(
                        near(got, want, 1),
                        "{format:?} {c:?} bar {i}: {got:?} vs {want:?}"
                    );
                }
                set(camera, "pattern", 2);
                let frame = stream.frame();
                for x in [0, 37, w / 2, w - 1] {
                    let l = (x * 1000 / (w - 1)) as f64 / 1000.0;
                    let want = expected(format, (l, l, l), c);
                    let got = stream.px(&frame, x, h / 3);
                    assert!(
                        near(got, want, 1),
                        "{format:?} {c:?} ramp {x}: {got:?} vs {want:?}"
                    );
                }
            }
        });
    }
}

#[test]
fn the_flips_mirror_and_turn_the_picture_in_every_pixel_format() {
    for format in PixelFormat::ALL {
        with_stream(format, |camera, stream| {
            let (w, h) = stream.size();
            set(camera, "overlays", 0);
            let upright = stream.frame();
            // Mirrored: the blue bar first.
            set(camera, "hflip", 1);
            let mirrored = stream.frame();
            for i in 0..7 {
                let want = expected(format, bar(6 - i, 0.75), DEFAULTS);
                assert_eq!(
                    stream.px(&mirrored, bar_x(i, w), h / 2),
                    want,
                    "{format:?} mirrored bar {i}"
                );
            }
            // Upside down: row y is the upright picture's row h - 1 - y.
            set(camera, "hflip", 0);
            set(camera, "vflip", 1);
            let turned = stream.frame();
            for y in (0..h).step_by(7) {
                for x in (0..w).step_by(13) {
                    assert_eq!(
                        luma(stream.px(&turned, x, y)),
                        luma(stream.px(&upright, x, h - 1 - y)),
                        "{format:?} turned ({x}, {y})"
                    );
                }
            }
            // Both: rotated half a turn.
            set(camera, "hflip", 1);
            let rotated = stream.frame();
            for i in 0..7 {
                let want = expected(format, bar(6 - i, 0.75), DEFAULTS);
                assert_eq!(
                    stream.px(&rotated, bar_x(i, w), h / 2),
                    want,
                    "{format:?} rotated bar {i}"
                );
            }
            assert_eq!(camera.video_control_mode().unwrap(), 3);
        });
    }
}

#[test]
fn brightness_lifts_mean_luma_by_its_definition_and_saturation_0_leaves_no_colour() {
    for format in PixelFormat::ALL {
        with_stream(format, |camera, stream| {
            let (w, h) = stream.size();
            set(camera, "overlays", 0);
            // The mean luma (YUV) or green (RGB) over the bars' band.
            let mean = |frame: &Frame| {
                let rows = h / 8..h / 2;
                let total: u64 = rows
                    .clone()
                    .flat_map(|y| (0..w).map(move |x| (x, y)))
                    .map(|(x, y)| u64::from(luma(stream.px(frame, x, y))))
                    .sum();
                total as f64 / (rows.len() * w) as f64
            };
            let before = mean(&stream.frame());
            // +2000 (20 IRE): +0.2 of the luma range: 219 x 0.2 codes of Y, 255 x 0.2 of G (no
            // bar clips: 0.75 + 0.2 < 1).
            set(camera, "brightness", 750 + 2000);
            let after = mean(&stream.frame());
            let rgb = matches!(format, PixelFormat::Rgb24 | PixelFormat::Rgb32);
            let want = if rgb { 51.0 } else { 43.8 };
            assert!(
                (after - before - want).abs() < 0.6,
                "{format:?}: {before} -> {after}"
            );
            set(camera, "brightness", 750);
            set(camera, "saturation", 0);
            let grey = stream.frame();
            for y in (0..h).step_by(5) {
                for x in (0..w).step_by(3) {
                    match stream.px(&grey, x, y) {
                        Px::Yuv(_, cb, cr) => {
                            assert_eq!((cb, cr), (128, 128), "{format:?} ({x}, {y})")
                        }
                        Px::Rgb(r, g, b) => assert!(r == g && g == b, "{format:?} ({x}, {y})"),
                    }
                }
            }
        });
    }
}
