//! Pattern synthesis speed, next to the memory bound measured in the same run.
//!
//! For 1080p and 4K, every pixel format and a set of pattern/overlay configurations, prints the
//! median frames/s of `Synthesizer::render` on one thread and of banded rendering on every
//! core, and the same frame buffer's bounds: `fill` (memset) and, on x86_64, a fill with
//! non-temporal stores. Ratios are synthesis / bound from this run only. A last table sets the
//! default bars against the same bars with every picture control moved, in alternation.
//!
//! Run: `cargo bench -p avcam-avstream --bench synthesis` (add `-- --quick` for shorter samples,
//! `-- 1080` or `-- 4k` for one size, `-- --controls` for the picture-controls table alone).
//!
//! Peer mode (used by `scripts/bench-vs-peers.sh`): `-- --frames N --size 1080p|4k --format
//! nv12|yuy2 [--json]` renders exactly N frames of one format and size per figure and round
//! (bars + moving box + text, and bars only; one thread and banded on every core) and times N
//! memsets and N memcpys of the same frame; three rounds in alternation, the median kept, so the
//! figures compare with a peer asked for the same N frames.
//! Every frame is folded into a checksum that is printed, so no frame can be optimised away.

use std::cell::RefCell;
use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use avcam_avstream::synth::{
    Adjust, Caption, Flip, FrameBand, FrameInfo, Overlays, Pattern, SynthConfig, Synthesizer,
};
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
                        stream_time: n as i64 * 166_666,
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
    if args.iter().any(|a| a == "--frames") {
        peer::run(&args);
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let sample = Duration::from_millis(if quick { 40 } else { 120 });
    let controls_only = args.iter().any(|a| a == "--controls");
    let sizes: Vec<FrameSize> = match args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(String::as_str)
    {
        Some("1080") => vec![FrameSize::HD1080],
        Some("4k") | Some("4K") => vec![FrameSize::UHD],
        _ => vec![FrameSize::HD1080, FrameSize::UHD],
    };
    if controls_only {
        controls_section(&sizes, sample);
        return;
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let text_and_box = Overlays::FRAME_COUNTER
        .with(Overlays::TIME)
        .with(Overlays::DROP_COUNT)
        .with(Overlays::MOVING_BOX);
    let configs: [(&str, Pattern, Overlays); 7] = [
        ("bars+box+text", Pattern::Bars75, text_and_box),
        ("bars+box+text+noise", Pattern::Bars75, Overlays::ALL),
        ("bars (bare)", Pattern::Bars75, Overlays::NONE),
        ("ramp+all", Pattern::Ramp, Overlays::ALL),
        ("checker+all", Pattern::Checkerboard, Overlays::ALL),
        ("solid+all", Pattern::Solid, Overlays::ALL),
        ("zoneplate+all", Pattern::ZonePlate, Overlays::ALL),
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
    for &size in &sizes {
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
                    ..SynthConfig::default()
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
                                stream_time: i as i64 * 166_666,
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
    controls_section(&sizes, sample);
}

/// The picture controls' cost: the default bars against the same bars with every control away
/// from its default (brightness, contrast, hue, saturation, gamma, both flips, a caption), one
/// thread, measured in alternation in the same run. The controls live in the row templates, so
/// the two should render at the same speed (issue 12 asks for within 5 %).
fn controls_section(sizes: &[FrameSize], sample: Duration) {
    println!();
    println!(
        "picture controls on the bars (bars+all), one thread, frames per second of its CPU \
         time: {PAIRS} pairs of short samples (defaults, then non-default), ratio = median of \
         the pairs' ratios [quartiles]:"
    );
    println!(
        "{:<6} {:<5} {:>12} {:>14} {:>8} {:>16}",
        "size", "fmt", "defaults", "non-default", "ratio", "[q1, q3]"
    );
    let changed = SynthConfig {
        adjust: Adjust {
            brightness: 1750,
            contrast: 130,
            hue: 3000,
            saturation: 150,
            gamma: 220,
        },
        flip: Flip {
            horizontal: true,
            vertical: true,
        },
        caption: Caption::new(b"bench: every control moved").expect("a valid caption"),
        ..SynthConfig::default()
    };
    for &size in sizes {
        let label = if size == FrameSize::UHD {
            "4K"
        } else {
            "1080p"
        };
        for format in PixelFormat::ALL {
            let video = VideoFormat::new(format, size, 333_333).expect("offered format");
            let make = |config: SynthConfig| {
                let scratch = vec![0u8; Synthesizer::<Vec<u8>>::scratch_len(&video)];
                Synthesizer::new(&video, config, scratch).expect("scratch is large enough")
            };
            let (plain, adjusted) = (make(SynthConfig::default()), make(changed));
            let buf = RefCell::new(vec![0u8; video.image_size() as usize]);
            let render = |synth: &Synthesizer<Vec<u8>>, i: u64| {
                let frame = FrameInfo {
                    picture_number: i,
                    stream_time: i as i64 * 166_666,
                    drop_count: 0,
                };
                synth.render(&frame, &mut buf.borrow_mut()).unwrap();
            };
            let (mut n, mut m) = (0, 0);
            let short_sample = sample / 8;
            let pairs = paired(
                || cpu_rate(short_sample, &mut n, |i| render(&plain, i)),
                || cpu_rate(short_sample, &mut m, |i| render(&adjusted, i)),
            );
            println!(
                "{label:<6} {:<5} {:>12.0} {:>14.0} {:>8.3} {:>16}",
                short(format),
                pairs.a,
                pairs.b,
                pairs.ratio,
                format!("[{:.3}, {:.3}]", pairs.q1, pairs.q3)
            );
        }
    }
}

/// The calling thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`): time the thread ran, whatever
/// else the machine runs meanwhile. Elsewhere than on Unix, the wall clock.
fn thread_time() -> Duration {
    #[cfg(unix)]
    {
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: a valid clock id and a writable timespec.
        if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) } == 0 {
            return Duration::new(now.tv_sec as u64, now.tv_nsec as u32);
        }
    }
    thread_local!(static ORIGIN: Instant = Instant::now());
    ORIGIN.with(Instant::elapsed)
}

/// Frames/s of `frame` over about `sample` of this thread's CPU time ([`thread_time`]).
fn cpu_rate(sample: Duration, n: &mut u64, mut frame: impl FnMut(u64)) -> f64 {
    let start = thread_time();
    let mut frames = 0u64;
    while thread_time() - start < sample {
        for _ in 0..4 {
            frame(*n);
            *n += 1;
        }
        frames += 4;
    }
    frames as f64 / (thread_time() - start).as_secs_f64()
}

/// Pairs of samples [`paired`] takes.
const PAIRS: usize = 61;

/// What [`paired`] measured.
struct Paired {
    /// Median rate of A.
    a: f64,
    /// Median rate of B.
    b: f64,
    /// Median of the pairs' B / A.
    ratio: f64,
    /// Its quartiles.
    q1: f64,
    q3: f64,
}

/// [`PAIRS`] pairs of samples, A then B right after it: each pair's ratio B / A sees the same
/// neighbours (on a loaded machine the load drifts slower than a pair lasts), and the median of
/// the ratios ignores the pairs a burst of load hit unevenly.
fn paired(mut a: impl FnMut() -> f64, mut b: impl FnMut() -> f64) -> Paired {
    a();
    b();
    let (mut ra, mut rb, mut ratios) = ([0f64; PAIRS], [0f64; PAIRS], [0f64; PAIRS]);
    for i in 0..PAIRS {
        ra[i] = a();
        rb[i] = b();
        ratios[i] = rb[i] / ra[i];
    }
    let sorted = |mut v: [f64; PAIRS]| {
        v.sort_by(f64::total_cmp);
        v
    };
    let (ra, rb, ratios) = (sorted(ra), sorted(rb), sorted(ratios));
    Paired {
        a: ra[PAIRS / 2],
        b: rb[PAIRS / 2],
        ratio: ratios[PAIRS / 2],
        q1: ratios[PAIRS / 4],
        q3: ratios[3 * PAIRS / 4],
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

/// Fixed-frame-count figures for the comparison with FFmpeg and GStreamer.
mod peer {
    use super::*;

    /// Rounds of every figure, taken in alternation; the median round is reported.
    const ROUNDS: usize = 3;

    /// Bytes sampled per frame for the checksum, spread over the whole frame.
    const CHECKSUM_PROBES: usize = 64;

    /// The options of peer mode.
    struct Options {
        frames: u64,
        size: FrameSize,
        size_label: &'static str,
        format: PixelFormat,
        json: bool,
    }

    fn value<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
        let at = args.iter().position(|a| a == name)?;
        args.get(at + 1).map(String::as_str)
    }

    fn parse(args: &[String]) -> Result<Options, String> {
        let frames = value(args, "--frames")
            .ok_or("--frames needs a value")?
            .parse::<u64>()
            .map_err(|e| format!("--frames: {e}"))?;
        if frames == 0 {
            return Err("--frames must be at least 1".into());
        }
        let (size, size_label) = match value(args, "--size").unwrap_or("1080p") {
            "1080p" | "1080" => (FrameSize::HD1080, "1080p"),
            "4k" | "4K" => (FrameSize::UHD, "4k"),
            other => return Err(format!("--size {other}: expected 1080p or 4k")),
        };
        let format = match value(args, "--format").unwrap_or("nv12") {
            "nv12" | "NV12" => PixelFormat::Nv12,
            "yuy2" | "YUY2" => PixelFormat::Yuy2,
            other => return Err(format!("--format {other}: expected nv12 or yuy2")),
        };
        Ok(Options {
            frames,
            size,
            size_label,
            format,
            json: args.iter().any(|a| a == "--json"),
        })
    }

    /// Folds bytes sampled across the frame (their positions move with `n`) into `sum`, so
    /// every rendered frame is read back and the renders cannot be elided.
    fn fold(sum: u64, buf: &[u8], n: u64) -> u64 {
        let step = buf.len() / CHECKSUM_PROBES;
        let offset = (n as usize).wrapping_mul(7919) % step.max(1);
        let mut sum = sum;
        for probe in 0..CHECKSUM_PROBES {
            let byte = buf[(offset + probe * step).min(buf.len() - 1)];
            // FNV-1a step: every probed byte of every frame changes the sum.
            sum = (sum ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        black_box(sum)
    }

    fn frame_info(n: u64) -> FrameInfo {
        FrameInfo {
            picture_number: n,
            stream_time: n as i64 * 333_333,
            drop_count: 0,
        }
    }

    /// One figure: frames/s on one thread and on every core, and the checksum of the frames.
    struct Figure {
        name: &'static str,
        single: f64,
        all: f64,
        checksum: u64,
    }

    /// Runs `frames` calls of `frame` on one thread; returns (frames/s, checksum).
    fn timed(frames: u64, buf: &mut [u8], mut frame: impl FnMut(u64, &mut [u8])) -> (f64, u64) {
        frame(0, buf); // warm-up: page faults and caches, not counted
        let mut sum = 0;
        let start = Instant::now();
        for n in 0..frames {
            frame(n, buf);
            sum = fold(sum, buf, n);
        }
        (frames as f64 / start.elapsed().as_secs_f64(), sum)
    }

    /// Runs `frames` frames with each of `threads` threads doing its share of every frame,
    /// meeting at a barrier per frame; returns frames/s.
    fn timed_parts<P: Send>(
        frames: u64,
        parts: &mut [P],
        work: impl Fn(u64, &mut P) + Sync,
    ) -> f64 {
        let barrier = Barrier::new(parts.len());
        let start = Instant::now();
        std::thread::scope(|scope| {
            for part in parts.iter_mut() {
                let (barrier, work) = (&barrier, &work);
                scope.spawn(move || {
                    for n in 0..frames {
                        barrier.wait();
                        work(n, part);
                    }
                });
            }
        });
        frames as f64 / start.elapsed().as_secs_f64()
    }

    pub(super) fn run(args: &[String]) {
        let options = match parse(args) {
            Ok(options) => options,
            Err(message) => {
                eprintln!("synthesis bench: {message}");
                std::process::exit(2);
            }
        };
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let frames = options.frames;
        let video =
            VideoFormat::new(options.format, options.size, 333_333).expect("offered format");
        let len = video.image_size() as usize;
        let mut buf = vec![0u8; len];
        let source: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        let share = len.div_ceil(threads);
        let text_and_box = Overlays::FRAME_COUNTER
            .with(Overlays::TIME)
            .with(Overlays::DROP_COUNT)
            .with(Overlays::MOVING_BOX);
        let synths = [
            ("avcam bars+box+text", text_and_box),
            ("avcam bars", Overlays::NONE),
        ]
        .map(|(name, overlays)| {
            let config = SynthConfig {
                pattern: Pattern::Bars75,
                overlays,
                seed: 1,
                ..SynthConfig::default()
            };
            let scratch = vec![0u8; Synthesizer::<Vec<u8>>::scratch_len(&video)];
            let synth = Synthesizer::new(&video, config, scratch).expect("scratch is large enough");
            (name, synth)
        });
        let names = [synths[0].0, synths[1].0, "memset bound", "memcpy bound"];
        // samples[figure] = (single-thread frames/s, all-core frames/s) per round.
        let mut samples: [Vec<(f64, f64)>; 4] = Default::default();
        let mut checksums = [0u64; 4];

        // Rounds in alternation (A, B, C, D, A, B, ...): a noisy neighbour slows every figure
        // alike and the medians keep their ratios.
        for _ in 0..ROUNDS {
            for (i, (_, synth)) in synths.iter().enumerate() {
                let (single, checksum) = timed(frames, &mut buf, |n, buf| {
                    synth
                        .render(&frame_info(n), buf)
                        .expect("buffer fits the format")
                });
                let all = {
                    let mut bands: Vec<FrameBand<'_>> = synth
                        .bands(&mut buf, threads)
                        .expect("buffer fits")
                        .collect();
                    timed_parts(frames, &mut bands, |n, band| {
                        synth
                            .render_band(&frame_info(n), band)
                            .expect("band of this format");
                        black_box(&mut *band);
                    })
                };
                // The banded frames must equal the single-thread ones: check the last frame.
                let banded_last = fold(0, &buf, frames - 1);
                synth
                    .render(&frame_info(frames - 1), &mut buf)
                    .expect("buffer fits");
                assert_eq!(
                    banded_last,
                    fold(0, &buf, frames - 1),
                    "banded != single render"
                );
                samples[i].push((single, all));
                checksums[i] = checksum;
            }

            let (single, checksum) = timed(frames, &mut buf, |n, buf| {
                buf.fill(n as u8);
                black_box(buf);
            });
            let all = {
                let mut parts: Vec<&mut [u8]> = buf.chunks_mut(share).collect();
                timed_parts(frames, &mut parts, |n, part| {
                    part.fill(n as u8);
                    black_box(&mut **part);
                })
            };
            samples[2].push((single, all));
            checksums[2] = checksum;

            let (single, checksum) = timed(frames, &mut buf, |n, buf| {
                buf.copy_from_slice(black_box(&source));
                buf[(n as usize) % len] ^= 1;
                black_box(buf);
            });
            let all = {
                let mut parts: Vec<(&mut [u8], &[u8])> =
                    buf.chunks_mut(share).zip(source.chunks(share)).collect();
                timed_parts(frames, &mut parts, |_, (dst, src)| {
                    dst.copy_from_slice(black_box(src));
                    black_box(&mut **dst);
                })
            };
            samples[3].push((single, all));
            checksums[3] = checksum;
        }
        let median_of = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let figures: Vec<Figure> = (0..4)
            .map(|i| Figure {
                name: names[i],
                single: median_of(samples[i].iter().map(|s| s.0).collect()),
                all: median_of(samples[i].iter().map(|s| s.1).collect()),
                checksum: checksums[i],
            })
            .collect();

        let format = short(options.format);
        if options.json {
            let entries: Vec<String> = figures
                .iter()
                .map(|f| {
                    format!(
                        "{{\"name\":\"{}\",\"single_fps\":{:.1},\"all_fps\":{:.1},\"checksum\":\"{:016x}\"}}",
                        f.name, f.single, f.all, f.checksum
                    )
                })
                .collect();
            println!(
                "{{\"size\":\"{}\",\"format\":\"{format}\",\"frames\":{frames},\"frame_bytes\":{len},\"threads\":{threads},\"figures\":[{}]}}",
                options.size_label,
                entries.join(",")
            );
        } else {
            println!(
                "{} {format}, {frames} frames of {len} bytes, {threads} core(s)",
                options.size_label
            );
            for f in &figures {
                println!(
                    "{:<22} {:>10.0} frames/s  x{threads} {:>10.0} frames/s  checksum {:016x}",
                    f.name, f.single, f.all, f.checksum
                );
            }
        }
    }
}
