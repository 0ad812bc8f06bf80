//! Rendered frames checked by an independent decoder: pixel positions come from the format
//! definitions (NV12, YUY2, bottom-up RGB24/RGB32), expected colours from the BT.601 equations
//! evaluated here in floating point, not from the generator's tables.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use avcam_avstream::synth::font::FONT;
use avcam_avstream::synth::{
    Adjust, Caption, Flip, FrameInfo, OverlayGeometry, Overlays, Pattern, SynthConfig, Synthesizer,
};
use avcam_avstream::{FrameSize, PixelFormat, VideoFormat};

/// Counts allocations per thread (tests run in parallel), to prove rendering does none.
struct Counting;
thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards every call unchanged to the system allocator, which upholds GlobalAlloc.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: the caller's layout contract is passed through to System.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A decoded pixel: Y'CbCr for YUV formats, RGB for RGB formats.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Px {
    Yuv(u8, u8, u8),
    Rgb(u8, u8, u8),
}

/// Reads pixel (x, y) of the picture (y = 0 at the top) from a frame buffer.
fn read(format: PixelFormat, w: usize, h: usize, buf: &[u8], x: usize, y: usize) -> Px {
    match format {
        PixelFormat::Nv12 => {
            let luma = buf[y * w + x];
            let c = w * h + (y / 2) * w + (x & !1);
            Px::Yuv(luma, buf[c], buf[c + 1])
        }
        PixelFormat::Yuy2 => {
            let pair = y * 2 * w + (x & !1) * 2;
            let luma = buf[pair + if x % 2 == 0 { 0 } else { 2 }];
            Px::Yuv(luma, buf[pair + 1], buf[pair + 3])
        }
        PixelFormat::Rgb24 | PixelFormat::Rgb32 => {
            let bpp = if format == PixelFormat::Rgb24 { 3 } else { 4 };
            let stride = (w * bpp + 3) & !3;
            let row = h - 1 - y; // bottom-up
            let p = row * stride + x * bpp;
            Px::Rgb(buf[p + 2], buf[p + 1], buf[p])
        }
    }
}

fn luma_or_green(px: Px) -> u8 {
    match px {
        Px::Yuv(y, ..) | Px::Rgb(_, y, _) => y,
    }
}

/// The expected pixel of R'G'B' levels (0..=1), from BT.601 in floating point.
fn expected(format: PixelFormat, r: f64, g: f64, b: f64) -> Px {
    let ey = 0.299 * r + 0.587 * g + 0.114 * b;
    let y = 16.0 + 219.0 * ey;
    let cb = 128.0 + 224.0 * 0.5 * (b - ey) / (1.0 - 0.114);
    let cr = 128.0 + 224.0 * 0.5 * (r - ey) / (1.0 - 0.299);
    match format {
        PixelFormat::Nv12 | PixelFormat::Yuy2 => {
            Px::Yuv(y.round() as u8, cb.round() as u8, cr.round() as u8)
        }
        _ => Px::Rgb(
            (255.0 * r).round() as u8,
            (255.0 * g).round() as u8,
            (255.0 * b).round() as u8,
        ),
    }
}

const BAR_LEVELS: [(f64, f64, f64); 7] = [
    (0.75, 0.75, 0.75),
    (0.75, 0.75, 0.0),
    (0.0, 0.75, 0.75),
    (0.0, 0.75, 0.0),
    (0.75, 0.0, 0.75),
    (0.75, 0.0, 0.0),
    (0.0, 0.0, 0.75),
];

struct Rig {
    format: PixelFormat,
    w: usize,
    h: usize,
    synth: Synthesizer<Vec<u8>>,
    buf: Vec<u8>,
}

impl Rig {
    fn new(format: PixelFormat, size: FrameSize, config: SynthConfig) -> Rig {
        let f = VideoFormat::new(format, size, 333_333).unwrap();
        let scratch = vec![0u8; Synthesizer::<Vec<u8>>::scratch_len(&f)];
        let synth = Synthesizer::new(&f, config, scratch).unwrap();
        Rig {
            format,
            w: size.width as usize,
            h: size.height as usize,
            synth,
            buf: vec![0; f.image_size() as usize],
        }
    }

    fn render(&mut self, frame: FrameInfo) -> &[u8] {
        self.synth.render(&frame, &mut self.buf).unwrap();
        &self.buf
    }

    fn px(&self, x: usize, y: usize) -> Px {
        read(self.format, self.w, self.h, &self.buf, x, y)
    }

    fn geo(&self) -> OverlayGeometry {
        *self.synth.geometry()
    }
}

fn frame(n: u64) -> FrameInfo {
    FrameInfo {
        picture_number: n,
        stream_time: 41_000_000,
        drop_count: 2,
    }
}

#[test]
fn bars_have_the_bt601_values_in_every_format_and_size() {
    for format in PixelFormat::ALL {
        for size in FrameSize::ALL {
            let mut rig = Rig::new(format, size, SynthConfig::default());
            rig.render(frame(10));
            let y = rig.h / 2;
            for (i, (r, g, b)) in BAR_LEVELS.iter().enumerate() {
                // Sample each bar across its inner part, not just at its centre.
                let left = i * rig.w / 7 + 2;
                let right = (i + 1) * rig.w / 7 - 2;
                for x in [left, (left + right) / 2, right] {
                    assert_eq!(
                        rig.px(x, y),
                        expected(format, *r, *g, *b),
                        "{format:?} {size:?} bar {i} x={x}"
                    );
                }
            }
            // The top part is bars all the way up to 2/3 of the height.
            assert_eq!(
                rig.px(rig.w - 3, 0),
                expected(format, 0.0, 0.0, 0.75),
                "{format:?} top row"
            );
            assert_eq!(
                rig.px(rig.w - 3, rig.h * 2 / 3 - 2),
                expected(format, 0.0, 0.0, 0.75)
            );
        }
    }
}

#[test]
fn bars_match_the_published_75_percent_table() {
    // EIA-189-A 75% bars in 8-bit BT.601 (white..blue).
    let y = [180, 162, 131, 112, 84, 65, 35];
    let cb = [128, 44, 156, 72, 184, 100, 212];
    let cr = [128, 142, 44, 58, 198, 212, 114];
    let mut rig = Rig::new(PixelFormat::Yuy2, FrameSize::VGA, SynthConfig::default());
    rig.render(frame(0));
    for i in 0..7 {
        assert_eq!(
            rig.px((2 * i + 1) * 640 / 14, 240),
            Px::Yuv(y[i], cb[i], cr[i]),
            "bar {i}"
        );
    }
    let mut rig = Rig::new(PixelFormat::Rgb24, FrameSize::VGA, SynthConfig::default());
    rig.render(frame(0));
    assert_eq!(rig.px(640 / 14, 240), Px::Rgb(191, 191, 191));
    assert_eq!(rig.px(3 * 640 / 14, 240), Px::Rgb(191, 191, 0));
}

#[test]
fn castellations_sit_under_the_bars() {
    let under = [
        (0.0, 0.0, 0.75),
        (0.0, 0.0, 0.0),
        (0.75, 0.0, 0.75),
        (0.0, 0.0, 0.0),
        (0.0, 0.75, 0.75),
        (0.0, 0.0, 0.0),
        (0.75, 0.75, 0.75),
    ];
    for format in PixelFormat::ALL {
        let mut rig = Rig::new(format, FrameSize::HD720, SynthConfig::default());
        rig.render(frame(0));
        let g = rig.geo();
        let y = (g.bars_end + g.castellations_end) / 2;
        for (i, (r, gr, b)) in under.iter().enumerate() {
            assert_eq!(
                rig.px((2 * i + 1) * rig.w / 14, y),
                expected(format, *r, *gr, *b),
                "{format:?} {i}"
            );
        }
    }
}

#[test]
fn rgb_is_stored_bottom_up() {
    for format in [PixelFormat::Rgb24, PixelFormat::Rgb32] {
        let mut rig = Rig::new(format, FrameSize::QVGA, SynthConfig::default());
        let stride = if format == PixelFormat::Rgb24 {
            960
        } else {
            1280
        };
        let bpp = stride / 320;
        let buf = rig.render(frame(0)).to_vec();
        // The first row in memory is the bottom (black band) of the picture, the last row the
        // top (bars): blue at the right end of the last memory row.
        let first = &buf[160 * bpp..160 * bpp + 3];
        assert_eq!(
            first,
            &[0, 0, 0],
            "{format:?}: memory row 0 must be the black bottom band"
        );
        let last = (240 - 1) * stride + 318 * bpp;
        assert_eq!(
            &buf[last..last + 3],
            &[191, 0, 0],
            "{format:?}: B G R of the blue bar"
        );
        if format == PixelFormat::Rgb32 {
            assert_eq!(buf[last + 3], 0xFF);
        }
    }
}

#[test]
fn the_ramp_rises_left_to_right() {
    for format in PixelFormat::ALL {
        let mut rig = Rig::new(format, FrameSize::VGA, SynthConfig::default());
        rig.render(frame(0));
        let g = rig.geo();
        let y = (g.castellations_end + g.ramp_end) / 2;
        let values: Vec<u8> = (0..rig.w).map(|x| luma_or_green(rig.px(x, y))).collect();
        assert!(values.windows(2).all(|p| p[0] <= p[1]), "{format:?}");
        let (lo, hi) = if matches!(format, PixelFormat::Nv12 | PixelFormat::Yuy2) {
            (16, 235)
        } else {
            (0, 255)
        };
        assert_eq!((values[0], values[rig.w - 1]), (lo, hi), "{format:?}");
    }
}

/// The square's left edge in picture row `y`, found by scanning for white.
fn find_square(rig: &Rig, y: usize) -> Option<usize> {
    let white = |px: Px| matches!(px, Px::Yuv(235, 128, 128) | Px::Rgb(255, 255, 255));
    (0..rig.geo().noise_left).find(|&x| white(rig.px(x, y)))
}

#[test]
fn the_square_moves_from_frame_to_frame() {
    for format in PixelFormat::ALL {
        let mut rig = Rig::new(format, FrameSize::HD1080, SynthConfig::default());
        let g = rig.geo();
        let y = g.box_top + g.box_size / 2;
        let mut last = None;
        for n in 40..45 {
            rig.render(frame(n));
            let x = find_square(&rig, y).expect("square visible");
            assert_eq!(x, g.box_left(n), "{format:?} frame {n}");
            if let Some(prev) = last {
                assert_eq!(x, prev + g.box_speed, "{format:?}: moves one step a frame");
            }
            // Full size, white, with black either side.
            assert!(
                find_square(&rig, g.box_top).is_some()
                    && find_square(&rig, g.box_top + g.box_size - 1).is_some()
            );
            assert_eq!(find_square(&rig, g.box_top - 1), None);
            assert_ne!(luma_or_green(rig.px(x + g.box_size, y)), 235);
            last = Some(x);
        }
    }
}

/// Reads the overlay text back through the font, sampling the centre of each font pixel.
fn read_text(rig: &Rig) -> Vec<String> {
    let g = rig.geo();
    (0..3)
        .map(|line| {
            (0..g.text_columns)
                .map(|col| {
                    let mut cell = [0u8; 8];
                    for (row, bits) in cell.iter_mut().enumerate() {
                        for bit in 0..8 {
                            let x = g.text_left + col * g.cell + bit * g.scale + g.scale / 2;
                            let y = g.text_top + line * g.cell + row * g.scale + g.scale / 2;
                            if luma_or_green(rig.px(x, y)) > 128 {
                                *bits |= 0x80 >> bit;
                            }
                        }
                    }
                    (b' '..0x7F)
                        .find(|&c| FONT[usize::from(c)] == cell)
                        .map_or('?', char::from)
                })
                .collect()
        })
        .collect()
}

#[test]
fn counter_timestamp_and_drops_are_burnt_in() {
    for format in PixelFormat::ALL {
        for size in [FrameSize::QVGA, FrameSize::HD1080, FrameSize::UHD] {
            let mut rig = Rig::new(format, size, SynthConfig::default());
            rig.render(FrameInfo {
                picture_number: 123,
                stream_time: 41_000_000,
                drop_count: 2,
            });
            let text = read_text(&rig);
            assert_eq!(
                text,
                ["FRAME 0000000123", "T 00:00:04.100  ", "DROP 00000000002"],
                "{format:?} {size:?}"
            );
            rig.render(FrameInfo {
                picture_number: 124,
                stream_time: 41_333_333,
                drop_count: 2,
            });
            assert_eq!(read_text(&rig)[0], "FRAME 0000000124");
            assert_eq!(read_text(&rig)[1], "T 00:00:04.133  ");
        }
    }
}

#[test]
fn noise_changes_between_frames_and_the_bars_do_not() {
    for format in PixelFormat::ALL {
        let mut rig = Rig::new(format, FrameSize::VGA, SynthConfig::default());
        let g = rig.geo();
        let patch = |rig: &Rig| -> Vec<Px> {
            (g.ramp_end..rig.h)
                .flat_map(|y| (g.noise_left..rig.w).map(move |x| (x, y)))
                .map(|(x, y)| rig.px(x, y))
                .collect()
        };
        let bars = |rig: &Rig| -> Vec<Px> {
            (g.bars_end - 20..g.bars_end)
                .flat_map(|y| (0..rig.w).map(move |x| (x, y)))
                .map(|(x, y)| rig.px(x, y))
                .collect()
        };
        rig.render(frame(5));
        let (noise5, bars5) = (patch(&rig), bars(&rig));
        rig.render(frame(6));
        let (noise6, bars6) = (patch(&rig), bars(&rig));
        assert_eq!(bars5, bars6, "{format:?}");
        let changed = noise5.iter().zip(&noise6).filter(|(a, b)| a != b).count();
        assert!(
            changed > noise5.len() * 9 / 10,
            "{format:?}: {changed} of {} changed",
            noise5.len()
        );
        // Deterministic: the same frame renders the same noise.
        rig.render(frame(5));
        assert_eq!(patch(&rig), noise5);
        // Grey, and legal limited range for YUV.
        for px in noise6 {
            match px {
                Px::Yuv(y, cb, cr) => {
                    assert!((16..=235).contains(&y) && cb == 128 && cr == 128, "{px:?}")
                }
                Px::Rgb(r, g, b) => assert!(r == g && g == b),
            }
        }
    }
}

#[test]
fn other_patterns_render_what_they_say() {
    for format in PixelFormat::ALL {
        let config = SynthConfig {
            pattern: Pattern::Checkerboard,
            overlays: Overlays::NONE,
            seed: 0,
            ..SynthConfig::default()
        };
        let mut rig = Rig::new(format, FrameSize::VGA, config);
        rig.render(frame(0));
        let c = rig.geo().checker;
        let black = luma_or_green(rig.px(c / 2, c / 2));
        let white = luma_or_green(rig.px(c + c / 2, c / 2));
        assert!(black < white, "{format:?}");
        assert_eq!(
            luma_or_green(rig.px(c / 2, c + c / 2)),
            white,
            "{format:?} rows alternate"
        );
        // 0xBF00BF: 75% magenta in 8 bits.
        rig.synth.reconfigure(SynthConfig {
            pattern: Pattern::Solid,
            solid: 0x00BF_00BF,
            ..config
        });
        rig.render(frame(0));
        for (x, y) in [(0, 0), (639, 479), (320, 240)] {
            assert_eq!(
                rig.px(x, y),
                expected(format, 191.0 / 255.0, 0.0, 191.0 / 255.0),
                "{format:?} solid"
            );
        }
    }
}

#[test]
fn rendering_allocates_nothing() {
    let mut rigs: Vec<Rig> = PixelFormat::ALL
        .iter()
        .map(|f| Rig::new(*f, FrameSize::HD720, SynthConfig::default()))
        .collect();
    let before = ALLOCATIONS.with(Cell::get);
    for rig in &mut rigs {
        for n in 0..20 {
            rig.synth.render(&frame(n), &mut rig.buf).unwrap();
        }
    }
    assert_eq!(ALLOCATIONS.with(Cell::get), before);
}

#[test]
fn a_client_pitch_moves_each_row_and_leaves_the_padding_alone() {
    let size = FrameSize {
        width: 320,
        height: 240,
    };
    let frame = FrameInfo {
        picture_number: 17,
        stream_time: 5_000_000,
        drop_count: 2,
    };
    for format in PixelFormat::ALL {
        let f = VideoFormat::new(format, size, 333_333).unwrap();
        let layout = f.layout();
        let mut scratch = vec![0u8; Synthesizer::<Vec<u8>>::scratch_len(&f)];
        let synth = Synthesizer::new(&f, SynthConfig::default(), &mut scratch[..]).unwrap();
        let mut natural = vec![0u8; layout.image_size];
        synth.render(&frame, &mut natural).unwrap();
        let pitch = layout.stride + 72;
        let rows = layout.plane0_size / layout.stride + layout.chroma_rows;
        assert_eq!(synth.frame_bytes(pitch), Ok(pitch * rows), "{format:?}");
        let mut pitched = vec![0xA5u8; pitch * rows];
        synth
            .render_with_pitch(&frame, &mut pitched, pitch)
            .unwrap();
        // Row r of the natural frame (luma, then NV12's chroma rows) is row r of the pitched one.
        for (r, (want, got)) in natural
            .chunks_exact(layout.stride)
            .zip(pitched.chunks_exact(pitch))
            .enumerate()
        {
            assert_eq!(want, &got[..layout.stride], "{format:?} row {r}");
            assert!(
                got[layout.stride..].iter().all(|&b| b == 0xA5),
                "{format:?} row {r}: padding written"
            );
        }
        // Too short a pitch, too small a buffer: refused, nothing written.
        let mut small = vec![0xA5u8; pitch * rows - 1];
        assert!(synth.render_with_pitch(&frame, &mut small, pitch).is_err());
        assert!(small.iter().all(|&b| b == 0xA5));
        assert!(synth
            .render_with_pitch(&frame, &mut pitched, layout.stride - 1)
            .is_err());
    }
}

/// The pixel of R'G'B' levels (0..=1) under the picture controls `a`, from their definitions in
/// floating point: gamma `L^(100/G)`; luma gain `C/100`, then `(B - 750)/10000` added; `Pb`, `Pr`
/// scaled by `S/100` and rotated by `H/100` degrees; limited-range YCbCr clamped to 16..=235 /
/// 16..=240, R'G'B' clamped to 0..=1.
fn adjusted(format: PixelFormat, levels: (f64, f64, f64), a: Adjust) -> Px {
    let gamma = |l: f64| l.powf(100.0 / f64::from(a.gamma));
    let (r, g, b) = (gamma(levels.0), gamma(levels.1), gamma(levels.2));
    let ey = 0.299 * r + 0.587 * g + 0.114 * b;
    let (pb, pr) = ((b - ey) / 1.772, (r - ey) / 1.402);
    let ey = ey * f64::from(a.contrast) / 100.0 + f64::from(a.brightness - 750) / 10_000.0;
    let (sin, cos) = (f64::from(a.hue) / 100.0).to_radians().sin_cos();
    let s = f64::from(a.saturation) / 100.0;
    let (pb, pr) = (s * (pb * cos - pr * sin), s * (pb * sin + pr * cos));
    match format {
        PixelFormat::Nv12 | PixelFormat::Yuy2 => Px::Yuv(
            (16.0 + 219.0 * ey).round().clamp(16.0, 235.0) as u8,
            (128.0 + 224.0 * pb).round().clamp(16.0, 240.0) as u8,
            (128.0 + 224.0 * pr).round().clamp(16.0, 240.0) as u8,
        ),
        _ => {
            let r = ey + 1.402 * pr;
            let b = ey + 1.772 * pb;
            let g = (ey - 0.299 * r - 0.114 * b) / 0.587;
            let byte = |v: f64| (255.0 * v.clamp(0.0, 1.0)).round() as u8;
            Px::Rgb(byte(r), byte(g), byte(b))
        }
    }
}

/// Whether two pixels differ by at most `tolerance` in every component.
fn near(a: Px, b: Px, tolerance: i32) -> bool {
    let parts = |p: Px| match p {
        Px::Yuv(x, y, z) | Px::Rgb(x, y, z) => [x, y, z].map(i32::from),
    };
    let same_kind = matches!(
        (a, b),
        (Px::Yuv(..), Px::Yuv(..)) | (Px::Rgb(..), Px::Rgb(..))
    );
    same_kind
        && parts(a)
            .iter()
            .zip(parts(b))
            .all(|(x, y)| (x - y).abs() <= tolerance)
}

/// Picture-control settings worth checking: each control alone at a telling value, and mixed.
fn adjust_cases() -> Vec<Adjust> {
    let a = Adjust::IDENTITY;
    vec![
        Adjust {
            brightness: 1750,
            ..a
        },
        Adjust {
            brightness: -2000,
            ..a
        },
        Adjust { contrast: 150, ..a },
        Adjust { contrast: 40, ..a },
        Adjust { hue: 9000, ..a },
        Adjust { hue: -12_345, ..a },
        Adjust { saturation: 0, ..a },
        Adjust {
            saturation: 250,
            ..a
        },
        Adjust { gamma: 220, ..a },
        Adjust { gamma: 45, ..a },
        Adjust {
            brightness: 300,
            contrast: 120,
            hue: 4500,
            saturation: 80,
            gamma: 180,
        },
    ]
}

#[test]
fn picture_controls_follow_their_definitions_in_every_format() {
    let ramp_levels = |x: usize, w: usize| (x * 1000 / (w - 1)) as f64 / 1000.0;
    for format in PixelFormat::ALL {
        for adjust in adjust_cases() {
            let config = SynthConfig {
                adjust,
                overlays: Overlays::NONE,
                ..SynthConfig::default()
            };
            let mut rig = Rig::new(format, FrameSize::VGA, config);
            rig.render(frame(3));
            let g = rig.geo();
            for (i, (r, gr, b)) in BAR_LEVELS.iter().enumerate() {
                let x = (2 * i + 1) * rig.w / 14;
                let want = adjusted(format, (*r, *gr, *b), adjust);
                let got = rig.px(x, rig.h / 2);
                assert!(
                    near(got, want, 1),
                    "{format:?} {adjust:?} bar {i}: {got:?} vs {want:?}"
                );
            }
            let y = (g.castellations_end + g.ramp_end) / 2;
            for x in [0, 101, 333, 639] {
                let l = ramp_levels(x, rig.w);
                let want = adjusted(format, (l, l, l), adjust);
                let got = rig.px(x, y);
                assert!(
                    near(got, want, 1),
                    "{format:?} {adjust:?} ramp x={x}: {got:?} vs {want:?}"
                );
            }
        }
    }
}

/// The mean of luma (YUV) or green (RGB) over the middle of the bars, below the text.
fn mean_bars(rig: &Rig) -> f64 {
    let g = rig.geo();
    let rows = g.bars_end / 2..g.bars_end - 2;
    let count = rows.len() * rig.w;
    let sum: u64 = rows
        .flat_map(|y| (0..rig.w).map(move |x| (x, y)))
        .map(|(x, y)| u64::from(luma_or_green(rig.px(x, y))))
        .sum();
    sum as f64 / count as f64
}

#[test]
fn brightness_raises_mean_luma_by_the_expected_amount_and_leaves_chroma_alone() {
    for format in PixelFormat::ALL {
        let mut plain = Rig::new(format, FrameSize::QVGA, SynthConfig::default());
        plain.render(frame(0));
        let brighter = SynthConfig {
            adjust: Adjust {
                brightness: 750 + 1000,
                ..Adjust::IDENTITY
            },
            ..SynthConfig::default()
        };
        let mut rig = Rig::new(format, FrameSize::QVGA, brighter);
        rig.render(frame(0));
        // +10 IRE of a 100 IRE range: 21.9 luma codes, or 25.5 of 255 in each RGB channel.
        let step = match format {
            PixelFormat::Nv12 | PixelFormat::Yuy2 => 21.9,
            _ => 25.5,
        };
        let rise = mean_bars(&rig) - mean_bars(&plain);
        assert!((rise - step).abs() <= 0.5, "{format:?}: {rise}");
        if let (Px::Yuv(_, cb, cr), Px::Yuv(_, cb0, cr0)) =
            (rig.px(200, rig.h / 2), plain.px(200, plain.h / 2))
        {
            assert_eq!((cb, cr), (cb0, cr0), "brightness is luma only");
        }
    }
}

#[test]
fn saturation_zero_leaves_no_colour_anywhere() {
    for format in PixelFormat::ALL {
        for pattern in [Pattern::Bars75, Pattern::Bars100, Pattern::Solid] {
            let config = SynthConfig {
                pattern,
                solid: 0x00FF_2040,
                adjust: Adjust {
                    saturation: 0,
                    ..Adjust::IDENTITY
                },
                ..SynthConfig::default()
            };
            let mut rig = Rig::new(format, FrameSize::QVGA, config);
            rig.render(frame(0));
            for y in 0..rig.h {
                for x in 0..rig.w {
                    match rig.px(x, y) {
                        Px::Yuv(_, cb, cr) => {
                            assert_eq!((cb, cr), (128, 128), "{format:?} {pattern:?} ({x}, {y})")
                        }
                        Px::Rgb(r, g, b) => assert!(r == g && g == b, "{format:?} ({x}, {y})"),
                    }
                }
            }
        }
    }
}

#[test]
fn flips_mirror_the_picture_in_every_format() {
    for format in PixelFormat::ALL {
        for pattern in [Pattern::Bars75, Pattern::Checkerboard, Pattern::ZonePlate] {
            let plain = SynthConfig {
                pattern,
                overlays: Overlays::NONE,
                ..SynthConfig::default()
            };
            let mut base = Rig::new(format, FrameSize::QVGA, plain);
            base.render(frame(7));
            for (horizontal, vertical) in [(true, false), (false, true), (true, true)] {
                let flip = Flip {
                    horizontal,
                    vertical,
                };
                let mut rig = Rig::new(format, FrameSize::QVGA, SynthConfig { flip, ..plain });
                rig.render(frame(7));
                for y in 0..rig.h {
                    for x in 0..rig.w {
                        let sx = if horizontal { rig.w - 1 - x } else { x };
                        let sy = if vertical { rig.h - 1 - y } else { y };
                        assert_eq!(
                            rig.px(x, y),
                            base.px(sx, sy),
                            "{format:?} {pattern:?} {flip:?} ({x}, {y})"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn horizontal_flip_puts_the_blue_bar_first() {
    for format in PixelFormat::ALL {
        let config = SynthConfig {
            flip: Flip {
                horizontal: true,
                vertical: false,
            },
            ..SynthConfig::default()
        };
        let mut rig = Rig::new(format, FrameSize::VGA, config);
        rig.render(frame(0));
        for (i, (r, g, b)) in BAR_LEVELS.iter().rev().enumerate() {
            assert_eq!(
                rig.px((2 * i + 1) * rig.w / 14, rig.h / 2),
                expected(format, *r, *g, *b),
                "{format:?} bar {i} from the left"
            );
        }
    }
}

#[test]
fn overlays_stay_readable_when_flipped_and_the_caption_shows() {
    for format in PixelFormat::ALL {
        for size in [FrameSize::QVGA, FrameSize::HD720] {
            let config = SynthConfig {
                flip: Flip {
                    horizontal: true,
                    vertical: true,
                },
                caption: Caption::new(b"camera B: left door").unwrap(),
                ..SynthConfig::default()
            };
            let mut rig = Rig::new(format, size, config);
            rig.render(FrameInfo {
                picture_number: 4567,
                stream_time: 10_000_000,
                drop_count: 1,
            });
            let text = read_lines(&rig, 4, rig.geo().caption_columns);
            assert_eq!(&text[0][..16], "FRAME 0000004567", "{format:?} {size:?}");
            assert_eq!(&text[2][..16], "DROP 00000000001");
            assert!(text[3].starts_with("camera B: left door"), "{:?}", text[3]);
            // Only the lines asked for: the time line alone.
            rig.synth.reconfigure(SynthConfig {
                overlays: Overlays::TIME,
                ..config
            });
            rig.render(frame(0));
            let text = read_lines(&rig, 4, 16);
            assert_eq!(text[1], "T 00:00:04.100  ");
            assert!(text[0].trim().is_empty() || !text[0].starts_with("FRAME"));
            assert!(!text[3].starts_with("camera"));
        }
    }
}

#[test]
fn every_pattern_renders_its_definition_in_every_format() {
    for format in PixelFormat::ALL {
        let base = SynthConfig {
            overlays: Overlays::NONE,
            ..SynthConfig::default()
        };
        // 100% bars.
        let mut rig = Rig::new(
            format,
            FrameSize::VGA,
            SynthConfig {
                pattern: Pattern::Bars100,
                ..base
            },
        );
        rig.render(frame(0));
        for (i, (r, g, b)) in BAR_LEVELS.iter().enumerate() {
            let full = |v: f64| if v > 0.0 { 1.0 } else { 0.0 };
            assert_eq!(
                rig.px((2 * i + 1) * rig.w / 14, rig.h / 2),
                expected(format, full(*r), full(*g), full(*b)),
                "{format:?} 100% bar {i}"
            );
        }
        // The full-height ramp.
        let mut rig = Rig::new(
            format,
            FrameSize::VGA,
            SynthConfig {
                pattern: Pattern::Ramp,
                ..base
            },
        );
        rig.render(frame(0));
        for (x, y) in [(0, 0), (320, 100), (639, 479)] {
            let l = (x * 1000 / 639) as f64 / 1000.0;
            assert!(
                near(rig.px(x, y), expected(format, l, l, l), 1),
                "{format:?} ramp"
            );
        }
        // The zone plate, against rings computed here: phase (in 1/256 cycle) r^2 x 128 / side
        // + 4 per frame, grey 127.5 + 127.5 cos; one phase step of slack for the rounding.
        let mut rig = Rig::new(
            format,
            FrameSize::VGA,
            SynthConfig {
                pattern: Pattern::ZonePlate,
                ..base
            },
        );
        for n in [0u64, 1, 50] {
            rig.render(frame(n));
            for (x, y) in [(0, 0), (320, 240), (400, 300), (639, 17), (123, 456)] {
                let (dx, dy) = (x as f64 - 320.0, y as f64 - 240.0);
                let phase = (dx * dx + dy * dy) * 128.0 / 640.0 + 4.0 * n as f64;
                let grey = |p: f64| {
                    let p = p.floor().rem_euclid(256.0);
                    (127.5 + 127.5 * (2.0 * std::f64::consts::PI * p / 256.0).cos()).round() / 255.0
                };
                let got = rig.px(x, y);
                let close = [-1.0, 0.0, 1.0].iter().any(|d| {
                    let l = grey(phase + d);
                    near(got, expected(format, l, l, l), 1)
                });
                assert!(close, "{format:?} zone plate frame {n} ({x}, {y}): {got:?}");
            }
        }
        let before = rig.render(frame(10)).to_vec();
        assert_ne!(
            rig.render(frame(11)),
            &before[..],
            "{format:?}: the rings move"
        );
    }
}

/// Reads `lines` text lines of `columns` cells back through the font.
fn read_lines(rig: &Rig, lines: usize, columns: usize) -> Vec<String> {
    let g = rig.geo();
    (0..lines)
        .map(|line| {
            (0..columns)
                .map(|col| {
                    let mut cell = [0u8; 8];
                    for (row, bits) in cell.iter_mut().enumerate() {
                        for bit in 0..8 {
                            let x = g.text_left + col * g.cell + bit * g.scale + g.scale / 2;
                            let y = g.text_top + line * g.cell + row * g.scale + g.scale / 2;
                            if luma_or_green(rig.px(x, y)) > 128 {
                                *bits |= 0x80 >> bit;
                            }
                        }
                    }
                    (b' '..0x7F)
                        .find(|&c| FONT[usize::from(c)] == cell)
                        .map_or('?', char::from)
                })
                .collect()
        })
        .collect()
}
