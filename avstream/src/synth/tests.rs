//! The synthesizer's unit tests: its helpers' exact values (bit operations, band splits,
//! scratch layout, rebuilds, noise seeding) that the picture tests in tests/synthesis.rs do not
//! reach.

use super::*;
use crate::pixel::FrameSize;
use std::format;
use std::vec;
use std::vec::Vec;

fn synth(
    format: PixelFormat,
    size: FrameSize,
    config: SynthConfig,
) -> (Synthesizer<Vec<u8>>, Vec<u8>) {
    let f = VideoFormat::new(format, size, 333_333).unwrap();
    let scratch = vec![0u8; Synthesizer::<Vec<u8>>::scratch_len(&f)];
    let s = Synthesizer::new(&f, config, scratch).unwrap();
    (s, vec![0u8; f.image_size() as usize])
}

#[test]
fn too_little_scratch_or_frame_is_refused() {
    let f = VideoFormat::new(PixelFormat::Yuy2, FrameSize::QVGA, 333_333).unwrap();
    let needed = Synthesizer::<Vec<u8>>::scratch_len(&f);
    let err = Synthesizer::new(&f, SynthConfig::default(), vec![0u8; needed - 1]).err();
    assert_eq!(
        err,
        Some(Error::BufferTooSmall {
            len: needed - 1,
            needed
        })
    );
    let (s, _) = synth(PixelFormat::Yuy2, FrameSize::QVGA, SynthConfig::default());
    let mut short = vec![0u8; 1000];
    assert!(s.render(&FrameInfo::default(), &mut short).is_err());
}

#[test]
fn band_rendering_equals_whole_frame_rendering() {
    let flipped = SynthConfig {
        pattern: Pattern::ZonePlate,
        flip: Flip {
            horizontal: true,
            vertical: true,
        },
        caption: Caption::new(b"two cameras").unwrap(),
        ..SynthConfig::default()
    };
    for (format, config) in PixelFormat::ALL
        .into_iter()
        .flat_map(|f| [(f, SynthConfig::default()), (f, flipped)])
    {
        let (s, mut whole) = synth(format, FrameSize::VGA, config);
        let frame = FrameInfo {
            picture_number: 77,
            stream_time: 25_666_641,
            drop_count: 3,
        };
        s.render(&frame, &mut whole).unwrap();
        for count in [2, 3, 7, 480] {
            let mut banded = vec![0xAAu8; whole.len()];
            let mut covered = 0;
            for mut band in s.bands(&mut banded, count).unwrap() {
                covered += band.rows().len();
                s.render_band(&frame, &mut band).unwrap();
            }
            assert_eq!(covered, 480);
            assert!(banded == whole, "{format:?} in {count} bands");
        }
    }
}

#[test]
fn every_byte_is_written() {
    for format in PixelFormat::ALL {
        for pattern in Pattern::ALL {
            let config = SynthConfig {
                pattern,
                overlays: Overlays::NONE,
                seed: 1,
                ..SynthConfig::default()
            };
            let (s, mut a) = synth(format, FrameSize::QVGA, config);
            let mut b = vec![0xFFu8; a.len()];
            s.render(&FrameInfo::default(), &mut a).unwrap();
            s.render(&FrameInfo::default(), &mut b).unwrap();
            assert!(
                a == b,
                "{format:?} {pattern:?}: a byte depends on the old contents"
            );
        }
    }
}

#[test]
fn reconfiguring_rebuilds_only_for_what_the_templates_hold() {
    let (mut s, mut a) = synth(PixelFormat::Nv12, FrameSize::QVGA, SynthConfig::default());
    let base = *s.config();
    assert!(!s.reconfigure(SynthConfig {
        overlays: Overlays::NONE,
        seed: 9,
        caption: Caption::new(b"x").unwrap(),
        ..base
    }));
    assert!(s.reconfigure(SynthConfig {
        adjust: Adjust {
            gamma: 220,
            ..Adjust::IDENTITY
        },
        ..base
    }));
    assert!(s.reconfigure(base), "back to the defaults");
    // The same picture as a synthesizer that never changed.
    let (t, mut b) = synth(PixelFormat::Nv12, FrameSize::QVGA, base);
    s.render(&FrameInfo::default(), &mut a).unwrap();
    t.render(&FrameInfo::default(), &mut b).unwrap();
    assert!(a == b);
    assert!(Caption::new(&[b'a'; 32]).is_none() && Caption::new(&[b'~'; 31]).is_some());
    assert!(Caption::new(b"tab\t").is_none() && Caption::new("é".as_bytes()).is_none());
    assert_eq!(Overlays::from_bits(0x40), None);
    assert_eq!(Pattern::from_value(5), Some(Pattern::ZonePlate));
    assert_eq!(Pattern::from_value(6), None);
}

#[test]
fn overlay_masks_combine_bit_by_bit() {
    let text = Overlays::FRAME_COUNTER.with(Overlays::TIME);
    assert_eq!(text.bits(), 0x03);
    assert_eq!(Overlays::CAPTION.bits(), 0x20);
    assert_eq!(Overlays::from_bits(0x3F), Some(Overlays::ALL));
    assert_eq!(Overlays::from_bits(0x05).map(Overlays::bits), Some(0x05));
    assert_eq!(Overlays::from_bits(0), Some(Overlays::NONE));
    assert_eq!(
        Overlays::from_bits(0x41),
        None,
        "one known bit, one unknown"
    );
    assert_eq!(Overlays::from_bits(0x8000_0000), None);
    // `with` is a union, also of overlapping masks.
    assert_eq!(text.with(Overlays::TIME), text);
    assert_eq!(text.with(Overlays::NOISE).bits(), 0x13);
    // `without` takes away exactly the other mask's bits.
    assert_eq!(Overlays::ALL.without(text).bits(), 0x3C);
    assert_eq!(text.without(Overlays::NOISE), text);
    assert_eq!(text.without(Overlays::TIME), Overlays::FRAME_COUNTER);
    assert!(text.contains(Overlays::TIME) && !text.contains(Overlays::ALL));
}

#[test]
fn a_frame_stamp_gives_the_overlays_its_numbers() {
    let stamp = crate::clock::FrameStamp {
        index: 40,
        picture_number: 41,
        drop_count: 3,
        stream_time: 13_666_666,
        duration: 333_333,
        deadline: 99_000_000,
        discontinuity: true,
    };
    assert_eq!(
        FrameInfo::from(&stamp),
        FrameInfo {
            picture_number: 41,
            stream_time: 13_666_666,
            drop_count: 3,
        }
    );
}

#[test]
fn put_pixel_writes_each_format_s_byte_order() {
    let c = Colour {
        y: 81,
        cb: 90,
        cr: 240,
        r: 255,
        g: 1,
        b: 2,
    };
    let mut row = [0u8; 16];
    put_pixel(PixelFormat::Nv12, &mut row, 3, c);
    assert_eq!(row[..5], [0, 0, 0, 81, 0]);
    let mut row = [0u8; 16];
    put_pixel(PixelFormat::Yuy2, &mut row, 2, c);
    put_pixel(PixelFormat::Yuy2, &mut row, 3, c);
    assert_eq!(row[4..8], [81, 90, 81, 240], "Y0 Cb Y1 Cr");
    let mut row = [0u8; 16];
    put_pixel(PixelFormat::Rgb24, &mut row, 1, c);
    assert_eq!(row[..7], [0, 0, 0, 2, 1, 255, 0], "B G R");
    let mut row = [0u8; 16];
    put_pixel(PixelFormat::Rgb32, &mut row, 1, c);
    assert_eq!(row[..9], [0, 0, 0, 0, 2, 1, 255, 0xFF, 0], "B G R X");
}

#[test]
fn the_scratch_holds_the_templates_and_nothing_more() {
    for (format, chroma) in [(PixelFormat::Nv12, true), (PixelFormat::Rgb32, false)] {
        let f = VideoFormat::new(format, FrameSize::VGA, 333_333).unwrap();
        let l = f.layout();
        let g = OverlayGeometry::new(640, 480);
        let bpp = format.plane0_bytes_per_pixel();
        // Seven background rows (and their chroma rows), the square's row (and its chroma
        // pairs) and the font's 256 runs of one cell.
        let expected = 7 * (l.stride + l.chroma_stride)
            + g.box_size * bpp
            + if chroma { g.box_size } else { 0 }
            + 256 * g.cell * bpp;
        assert_eq!(
            Synthesizer::<Vec<u8>>::scratch_len(&f),
            expected,
            "{format:?}"
        );
    }
}

#[test]
fn streaming_stores_are_chosen_per_render_not_by_reconfigure() {
    let (mut s, _) = synth(PixelFormat::Yuy2, FrameSize::QVGA, SynthConfig::default());
    s.set_streaming_stores(true);
    assert!(s.config().streaming_stores);
    let asked = SynthConfig {
        streaming_stores: false,
        seed: 7,
        ..*s.config()
    };
    assert!(!s.reconfigure(asked));
    assert!(s.config().streaming_stores, "reconfigure keeps the choice");
    assert_eq!(s.config().seed, 7);
    s.set_streaming_stores(false);
    assert!(!s.config().streaming_stores);
}

#[test]
fn each_background_setting_alone_rebuilds_the_templates() {
    let solid = SynthConfig {
        pattern: Pattern::Solid,
        overlays: Overlays::NONE,
        ..SynthConfig::default()
    };
    let changes = [
        SynthConfig {
            pattern: Pattern::Ramp,
            ..solid
        },
        SynthConfig {
            solid: 0x0012_3456,
            ..solid
        },
        SynthConfig {
            adjust: Adjust {
                brightness: 40,
                ..Adjust::IDENTITY
            },
            ..solid
        },
        SynthConfig {
            flip: Flip {
                horizontal: false,
                vertical: true,
            },
            pattern: Pattern::Ramp,
            ..solid
        },
    ];
    for change in changes {
        let (mut s, mut a) = synth(PixelFormat::Rgb24, FrameSize::QVGA, solid);
        if change.flip.vertical {
            // The flip alone: from the same pattern.
            assert!(s.reconfigure(SynthConfig {
                flip: Flip::default(),
                ..change
            }));
        }
        assert!(s.reconfigure(change), "{change:?}");
        let (t, mut b) = synth(PixelFormat::Rgb24, FrameSize::QVGA, change);
        s.render(&FrameInfo::default(), &mut a).unwrap();
        t.render(&FrameInfo::default(), &mut b).unwrap();
        assert!(a == b, "{change:?}: not the picture of a fresh synthesizer");
    }
}

#[test]
fn the_checkerboard_has_one_band_per_row_of_squares() {
    for size in [FrameSize::QVGA, FrameSize::VGA, FrameSize::HD1080] {
        for vertical in [false, true] {
            let config = SynthConfig {
                pattern: Pattern::Checkerboard,
                flip: Flip {
                    horizontal: false,
                    vertical,
                },
                ..SynthConfig::default()
            };
            let (s, _) = synth(PixelFormat::Nv12, size, config);
            let (height, checker) = (s.height, s.geo.checker);
            let bands = &s.bands[..s.band_count];
            assert_eq!(bands.len(), height.div_ceil(checker), "{size:?}");
            assert_eq!(bands.last().map(|b| b.end), Some(height));
            let mut start = 0;
            for (i, band) in bands.iter().enumerate() {
                let rows = band.end - start;
                // Whole squares, but for a part row at the bottom (at the top, flipped).
                let part = if vertical {
                    i == 0
                } else {
                    i + 1 == bands.len()
                };
                assert!(
                    rows == checker || (part && rows > 0 && rows < checker),
                    "{size:?} flipped {vertical}: band {i} has {rows} rows"
                );
                assert_ne!(
                    band.template,
                    bands.get(i + 1).map_or(usize::MAX, |b| b.template),
                    "neighbouring bands alternate"
                );
                start = band.end;
            }
        }
    }
}

#[test]
fn a_frame_splits_into_about_count_bands_of_even_rows() {
    for size in [FrameSize::QVGA, FrameSize::VGA, FrameSize::HD1080] {
        let (s, mut buf) = synth(PixelFormat::Nv12, size, SynthConfig::default());
        let height = s.height;
        for count in [1, 2, 3, 5, 7, 9, 13, 64, 10_000] {
            let wanted = count.min(height / 2);
            // Bounded, so that an iterator that never ends fails here instead of hanging.
            let rows: Vec<Range<usize>> = s
                .bands(&mut buf, count)
                .unwrap()
                .map(|b| b.rows())
                .take(wanted + 1)
                .collect();
            assert!(
                rows.len() <= wanted && 2 * rows.len() >= wanted,
                "{size:?} in {count}: {} bands",
                rows.len()
            );
            let first = rows[0].len();
            assert!(first >= 2 && first % 2 == 0, "{size:?} in {count}: {first}");
            for (i, r) in rows.iter().enumerate() {
                let expected_start = i * first;
                assert_eq!(r.start, expected_start, "{size:?} in {count}: band {i}");
                if i + 1 < rows.len() {
                    assert_eq!(r.len(), first, "{size:?} in {count}: band {i}");
                } else {
                    assert!(r.end == height && !r.is_empty() && r.len() <= first);
                }
            }
        }
    }
}

#[test]
fn bands_say_where_they_are_when_debugged() {
    let (s, mut buf) = synth(PixelFormat::Nv12, FrameSize::QVGA, SynthConfig::default());
    let mut bands = s.bands(&mut buf, 2).unwrap();
    assert_eq!(
        format!("{bands:?}"),
        "FrameBands { next_row: 0, rows_per_band: 120 }"
    );
    let band = bands.next().unwrap();
    assert_eq!(
        format!("{band:?}"),
        "FrameBand { rows: 0..120, plane0_len: 38400, chroma_len: 19200 }"
    );
}

#[test]
fn each_noise_row_comes_from_its_documented_seed() {
    use overlay::{noise_row, NOISE_PICTURE_MIX, NOISE_ROW_MIX};
    use rand::SeedableRng;
    for format in [PixelFormat::Nv12, PixelFormat::Yuy2, PixelFormat::Rgb32] {
        let config = SynthConfig {
            overlays: Overlays::NOISE,
            seed: 0x1234_5678_9ABC,
            ..SynthConfig::default()
        };
        let (s, mut buf) = synth(format, FrameSize::VGA, config);
        let n = 41u64;
        let frame = FrameInfo {
            picture_number: n,
            ..FrameInfo::default()
        };
        s.render(&frame, &mut buf).unwrap();
        let (bpp, stride, left) = (s.bpp, s.layout.stride, s.geo.noise_left);
        for y in [s.geo.ramp_end, s.geo.ramp_end + 1, s.height - 1] {
            let seed = config.seed
                ^ n.wrapping_mul(NOISE_PICTURE_MIX)
                ^ (y as u64).wrapping_mul(NOISE_ROW_MIX);
            let mut expected = vec![0u8; (s.width - left) * bpp];
            noise_row(
                format,
                &mut rand::rngs::SmallRng::seed_from_u64(seed),
                &mut expected,
            );
            let m = s.picture_row(y);
            let row = &buf[m * stride + left * bpp..m * stride + s.width * bpp];
            assert!(row == &expected[..], "{format:?} row {y}");
        }
    }
}

#[test]
fn nv12_text_cells_have_neutral_chroma_over_the_bars() {
    let config = SynthConfig {
        overlays: Overlays::FRAME_COUNTER
            .with(Overlays::TIME)
            .with(Overlays::DROP_COUNT),
        ..SynthConfig::default()
    };
    let (s, mut buf) = synth(PixelFormat::Nv12, FrameSize::VGA, config);
    s.render(&FrameInfo::default(), &mut buf).unwrap();
    let g = s.geo;
    let (stride, height) = (s.layout.stride, s.height);
    let chroma = &buf[stride * height..];
    let (x0, x1) = (g.text_left, g.text_left + g.text_columns * g.cell);
    for y in (g.text_top..g.text_top + 3 * g.cell).step_by(2) {
        let row = &chroma[y / 2 * stride..y / 2 * stride + s.width];
        assert!(
            row[x0..x1].iter().all(|&c| c == 128),
            "chroma row {}: {:?}",
            y / 2,
            &row[x0..x1]
        );
        // The bars go on right of the text: chroma that is not neutral.
        assert!(row[x1..x1 + 2] != [128, 128], "row {}", y / 2);
    }
}

#[test]
fn a_band_that_does_not_fit_the_format_is_refused() {
    let (s, mut buf) = synth(PixelFormat::Nv12, FrameSize::QVGA, SynthConfig::default());
    let stride = s.layout.stride;
    let frame = FrameInfo::default();
    let (plane0, chroma) = buf.split_at_mut(stride * 240);
    // Rows 0..4: four plane-0 rows and two chroma rows; each case breaks one thing: what,
    // rows, plane-0 bytes, chroma bytes, pitch, chroma pitch.
    type Case = (&'static str, Range<usize>, usize, usize, usize, usize);
    let cases: [Case; 6] = [
        (
            "plane 0 one byte short",
            0..4,
            4 * stride - 1,
            2 * stride,
            stride,
            stride,
        ),
        (
            "chroma one row short",
            0..4,
            4 * stride,
            stride,
            stride,
            stride,
        ),
        (
            "rows past the picture",
            238..242,
            4 * stride,
            2 * stride,
            stride,
            stride,
        ),
        (
            "a pitch under a row",
            0..4,
            4 * (stride - 2),
            2 * (stride - 2),
            stride - 2,
            stride - 2,
        ),
        ("no chroma plane for NV12", 0..4, 4 * stride, 0, stride, 0),
        (
            "the good band",
            0..4,
            4 * stride,
            2 * stride,
            stride,
            stride,
        ),
    ];
    for (what, rows, len, chroma_len, pitch, chroma_pitch) in cases {
        let mut band = FrameBand {
            rows,
            plane0: &mut plane0[..len],
            chroma: &mut chroma[..chroma_len],
            stride: pitch,
            chroma_stride: chroma_pitch,
        };
        let result = s.render_band(&frame, &mut band);
        assert_eq!(
            result.is_ok(),
            what == "the good band",
            "{what}: {result:?}"
        );
    }
    // RGB has no chroma plane: a band with one is refused.
    let (s, mut buf) = synth(PixelFormat::Rgb24, FrameSize::QVGA, SynthConfig::default());
    let stride = s.layout.stride;
    let (plane0, chroma) = buf.split_at_mut(4 * stride);
    let mut band = FrameBand {
        rows: 0..4,
        plane0,
        chroma: &mut chroma[..2 * stride],
        stride,
        chroma_stride: stride,
    };
    assert!(s.render_band(&frame, &mut band).is_err());
}

#[test]
fn streaming_stores_render_the_same_frame() {
    for format in PixelFormat::ALL {
        for pattern in [Pattern::Bars75, Pattern::Checkerboard, Pattern::ZonePlate] {
            let ordinary = SynthConfig {
                pattern,
                ..SynthConfig::default()
            };
            let streaming = SynthConfig {
                streaming_stores: true,
                ..ordinary
            };
            let (s, mut a) = synth(format, FrameSize::QVGA, ordinary);
            let (t, _) = synth(format, FrameSize::QVGA, streaming);
            let mut b = vec![0x5Au8; a.len()];
            let info = FrameInfo {
                picture_number: 41,
                stream_time: 13_666_666,
                drop_count: 2,
            };
            s.render(&info, &mut a).unwrap();
            t.render(&info, &mut b).unwrap();
            assert!(a == b, "{format:?} {pattern:?}: streaming stores differ");
        }
    }
}
