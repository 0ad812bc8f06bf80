//! Pattern synthesis speed, next to the memory bound measured in the same run.
//!
//! For 1080p and 4K, every pixel format and a set of pattern/overlay configurations, prints the
//! median frames/s of `Synthesizer::render` on one thread and of banded rendering on every
//! core, and the same frame buffer's bounds: `fill` (memset) and, on x86_64, a fill with
//! non-temporal stores. Ratios are synthesis / bound from this run only.
//!
//! Run: `cargo bench -p avcam-avstream --bench synthesis` (add `-- --quick` for shorter samples,
//! `-- 1080` or `-- 4k` for one size).

use std::cell::RefCell;
use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use avcam_avstream::synth::colour::Colour;
use avcam_avstream::synth::{FrameBand, FrameInfo, Overlays, Pattern, SynthConfig, Synthesizer};
use avcam_avstream::{FrameSize, PixelFormat, VideoFormat};

/// Samples per figure; the median is printed.
const SAMPLES: usize = 7;

/// One sample: frames/s of `frame` run for about `sample` (after `frame` was warmed up).
fn sample_rate(sample: Duration, n: &mut u64, mut frame: impl FnMut(u64)) -> f64 {
    let start = Instant::now();
    let mut frames = 0u64;
    while start.elapsed() < sample {
        for _ in 0..4 {
            frame(*n);
            *n += 1;
        }
        frames += 4;
    }
    frames as f64 / start.elapsed().as_secs_f64()
}

fn median(mut v: [f64; SAMPLES]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[SAMPLES / 2]
}

/// Medians of two measurements taken in alternation (A, B, A, B, ...), so that a noisy
/// neighbour slows both alike and their ratio stays meaningful.
fn interleaved(mut a: impl FnMut() -> f64, mut b: impl FnMut() -> f64) -> (f64, f64) {
    let (mut ra, mut rb) = ([0f64; SAMPLES], [0f64; SAMPLES]);
    a();
    b();
    for i in 0..SAMPLES {
        ra[i] = a();
        rb[i] = b();
    }
    (median(ra), median(rb))
}

/// Fills `buf` with non-temporal 16-byte stores (x86_64), the fastest way to write memory that
/// is not read back soon; falls back to `fill` elsewhere.
fn fill_non_temporal(buf: &mut [u8], value: u8) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{__m128i, _mm_set1_epi8, _mm_sfence, _mm_stream_si128};
        // SAFETY: u8 has no invalid bit patterns and __m128i is plain data, so viewing the
        // aligned middle of the buffer as __m128i values is sound (align_to's contract).
        let (head, middle, tail) = unsafe { buf.align_to_mut::<__m128i>() };
        head.fill(value);
        tail.fill(value);
        // SAFETY: SSE2 is part of the x86_64 baseline, so the intrinsic's feature is present.
        let v = unsafe { _mm_set1_epi8(value as i8) };
        for slot in middle {
            // SAFETY: `slot` is a valid, 16-byte aligned, exclusively borrowed __m128i; SSE2 is
            // part of the x86_64 baseline.
            unsafe { _mm_stream_si128(slot, v) };
        }
        // SAFETY: SSE is part of the x86_64 baseline; the fence orders the streaming stores.
        unsafe { _mm_sfence() };
    }
    #[cfg(not(target_arch = "x86_64"))]
    buf.fill(value);
}

/// One sample of `frames` frames rendered on one thread per band of the same buffer, the
/// threads meeting at a barrier per frame; returns frames/s.
fn banded_sample(synth: &Synthesizer<Vec<u8>>, bands: &mut [FrameBand<'_>], frames: u64) -> f64 {
    let barrier = Barrier::new(bands.len());
    let start = Instant::now();
    std::thread::scope(|scope| {
        for band in bands.iter_mut() {
            let barrier = &barrier;
            scope.spawn(move || {
                for n in 0..frames {
                    barrier.wait();
                    let frame = FrameInfo {
                        picture_number: n,
                        presentation_time: n as i64 * 166_666,
                        drop_count: 0,
                    };
                    synth.render_band(&frame, band).unwrap();
                }
            });
        }
    });
    frames as f64 / start.elapsed().as_secs_f64()
}

/// One sample of the memset bound on all cores: each thread fills its part per frame.
fn fill_banded_sample(parts: &mut [&mut [u8]], frames: u64) -> f64 {
    let barrier = Barrier::new(parts.len());
    let start = Instant::now();
    std::thread::scope(|scope| {
        for part in parts.iter_mut() {
            let barrier = &barrier;
            scope.spawn(move || {
                for n in 0..frames {
                    barrier.wait();
                    part.fill(n as u8);
                    black_box(&mut **part);
                }
            });
        }
    });
    frames as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let sample = Duration::from_millis(if quick { 40 } else { 120 });
    let sizes: Vec<FrameSize> = match args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(String::as_str)
    {
        Some("1080") => vec![FrameSize::HD1080],
        Some("4k") | Some("4K") => vec![FrameSize::UHD],
        _ => vec![FrameSize::HD1080, FrameSize::UHD],
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let configs: [(&str, Pattern, Overlays); 6] = [
        (
            "bars+box+text",
            Pattern::Bars,
            Overlays {
                moving_box: true,
                text: true,
                noise: false,
            },
        ),
        ("bars+box+text+noise", Pattern::Bars, Overlays::ALL),
        ("bars (bare)", Pattern::Bars, Overlays::NONE),
        ("ramp+all", Pattern::Ramp, Overlays::ALL),
        ("checker+all", Pattern::Checkerboard, Overlays::ALL),
        (
            "solid+all",
            Pattern::Solid(Colour::grey(500)),
            Overlays::ALL,
        ),
    ];

    println!(
        "avcam pattern synthesis, {threads} core(s), median of {SAMPLES} samples of {} ms",
        sample.as_millis()
    );
    println!(
        "{:<6} {:<5} {:<22} {:>10} {:>8} {:>8} {:>12} {:>8}",
        "size",
        "fmt",
        "pattern",
        "frames/s",
        "/memset",
        "/nt",
        &format!("frames/s x{threads}"),
        "/memset"
    );
    for size in sizes {
        let label = if size == FrameSize::UHD {
            "4K"
        } else {
            "1080p"
        };
        for format in PixelFormat::ALL {
            let video = VideoFormat::new(format, size, 333_333).expect("offered format");
            let buf = RefCell::new(vec![0u8; video.image_size() as usize]);
            let len = buf.borrow().len();
            let (mut n, mut m) = (0, 0);
            let (memset, nt) = interleaved(
                || sample_rate(sample, &mut n, |i| fill_and_keep(&mut buf.borrow_mut(), i)),
                || {
                    sample_rate(sample, &mut m, |i| {
                        fill_non_temporal(black_box(&mut buf.borrow_mut()), i as u8)
                    })
                },
            );
            let gbs = |fps: f64| fps * len as f64 / 1e9;
            println!(
                "{label:<6} {:<5} {:<22} {memset:>10.0} {:>8} {:>8} {:>12} {:>8}   {:.2} MiB/frame: memset {:.1} GB/s, non-temporal {nt:.0} fps = {:.1} GB/s",
                short(format), "memset (bound)", "", "", "", "",
                len as f64 / (1024.0 * 1024.0), gbs(memset), gbs(nt)
            );
            for (name, pattern, overlays) in configs {
                let config = SynthConfig {
                    pattern,
                    overlays,
                    seed: 1,
                };
                let scratch = vec![0u8; Synthesizer::<Vec<u8>>::scratch_len(&video)];
                let synth =
                    Synthesizer::new(&video, config, scratch).expect("scratch is large enough");
                // Single thread: synthesis and memset of the same buffer, alternating.
                let (mut n, mut m) = (0, 0);
                let (bound, single) = interleaved(
                    || sample_rate(sample, &mut m, |i| fill_and_keep(&mut buf.borrow_mut(), i)),
                    || {
                        sample_rate(sample, &mut n, |i| {
                            let frame = FrameInfo {
                                picture_number: i,
                                presentation_time: i as i64 * 166_666,
                                drop_count: 0,
                            };
                            synth.render(&frame, &mut buf.borrow_mut()).unwrap();
                        })
                    },
                );
                // All cores: bands on threads against memset on threads, alternating.
                let frames = ((single * sample.as_secs_f64()) as u64 * threads as u64).max(8);
                let share = len.div_ceil(threads);
                let (bound_all, banded) = interleaved(
                    || {
                        let mut buf = buf.borrow_mut();
                        let mut parts: Vec<&mut [u8]> = buf.chunks_mut(share).collect();
                        fill_banded_sample(&mut parts, frames)
                    },
                    || {
                        let mut buf = buf.borrow_mut();
                        let mut bands: Vec<FrameBand<'_>> =
                            synth.bands(&mut buf, threads).unwrap().collect();
                        banded_sample(&synth, &mut bands, frames)
                    },
                );
                println!(
                    "{label:<6} {:<5} {name:<22} {single:>10.0} {:>8.2} {:>8.2} {banded:>12.0} {:>8.2}   (memset {bound:.0}, x{threads} {bound_all:.0})",
                    short(format),
                    single / bound,
                    single / nt,
                    banded / bound_all,
                );
            }
        }
    }
}

/// One memset of the frame (`fill`), kept from being optimised away.
fn fill_and_keep(buf: &mut [u8], n: u64) {
    buf.fill(n as u8);
    black_box(buf);
}

fn short(format: PixelFormat) -> &'static str {
    match format {
        PixelFormat::Nv12 => "NV12",
        PixelFormat::Yuy2 => "YUY2",
        PixelFormat::Rgb24 => "RGB24",
        PixelFormat::Rgb32 => "RGB32",
    }
}
