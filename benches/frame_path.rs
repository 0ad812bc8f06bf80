//! The whole frame path through the emulation against bare synthesis, in one process.
//!
//! Per format and size: frames/s delivered through the pin (timer callback, work item,
//! `Process`, synthesis straight into the buffer at the leading edge, read completion) in
//! - copy mode: a user-mode application's read into one buffer it reuses for every frame
//!   (headers captured and copied back, the buffer probed), and
//! - allocator mode: a kernel-mode consumer's reads into the frames of the allocator it created
//!   on the pin (the pin's framing: [`FRAMES`] frames), cycled as a ring and given back,
//!
//! on the emulation's virtual clock (as fast as the host can go), and in the same process the
//! same synthesizer rendering into one reused buffer (ordinary stores, `SynthConfig::default()`:
//! the fastest into cache-resident memory), into a ring of [`FRAMES`] buffers with the stores the
//! pin chooses for such a ring (`avstream::deliver::outgrows_cache`: streaming when it outgrows
//! the cache),
//! and the memset bound of one buffer. The ratios the issue asks for: copy mode against synthesis
//! into one buffer (`cp/syn1`), allocator mode against synthesis into the same-sized ring
//! (`al/synN`). Each figure is the median of `--rounds` rounds taken in alternation, so a noisy
//! neighbour slows every figure alike; the pin's start-up (create, ACQUIRE, allocator, first
//! frames) is outside the timed frames.
//!
//! With a driver image (`--image target/driver/avcam.sys`, or `AVCAM_DRIVER_IMAGE`), the pin
//! figures are taken twice per round, from the Linux build and from the cross-built image loaded
//! by avcam-loader (the order alternating from round to round), and printed side by side with
//! their ratio (`img/lin`): the same source, another compiler (Debian's rustc 1.96 against
//! rustup's 1.95), another target's code generation (x86_64-pc-windows-msvc, LTO, one codegen
//! unit, panic=abort) and the Windows x64 calling convention at every boundary call.
//!
//! `cargo bench -p avcam --bench frame_path -- [--frames N] [--rounds R]
//!  [--format nv12|yuy2|rgb32|rgb24|all] [--size 1080p|4k|all] [--image FILE]`
//! (defaults: 600 frames, 3 rounds, NV12 and YUY2, 1080p and 4K, no image).

use std::collections::VecDeque;
use std::hint::black_box;
use std::time::{Duration, Instant};

use avcam::framing::FRAMES;
use avcam_avstream::deliver::outgrows_cache;
use avcam_avstream::synth::{FrameInfo, SynthConfig, Synthesizer};
use avcam_avstream::{FrameSize, PixelFormat, VideoFormat};
use avcam_client::{Allocator, AllocatorFrame, Camera, Pin};
use avcam_emulation::{DriverEntry, Kernel};
use avcam_loader::Image;
use ks::guid::KSCATEGORY_VIDEO_CAMERA;
use ks::nt::{DRIVER_OBJECT, UNICODE_STRING};
use ks::NTSTATUS;
use zerocopy::IntoBytes;

/// Frames delivered before the timed ones (pin start-up, first touch of every frame).
const WARM_UP_FRAMES: u64 = 2 * FRAMES as u64;

/// How long a frame the clock made due may take (generous; a stuck pin fails the bench).
const WAIT: Duration = Duration::from_secs(10);

/// The Linux build's DriverEntry.
#[ks::kernel_abi]
unsafe extern "system" fn entry(driver: *mut DRIVER_OBJECT, path: *mut UNICODE_STRING) -> NTSTATUS {
    // SAFETY: the emulation's loader passes its driver object and registry path.
    unsafe { avcam::driver_entry::DriverEntry(driver, path) }
}

/// The consumers of the bench.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// A user-mode application reading into one buffer it reuses.
    Copy,
    /// A kernel-mode consumer reading into its allocator's frames.
    Allocator,
}

/// Where the next frame goes.
enum Target<'k> {
    /// The application's one buffer.
    Buffer(Vec<u8>),
    /// The consumer's allocator and its frames, oldest first.
    Frames(Allocator<'k>, VecDeque<AllocatorFrame>),
}

/// One frame through the pin: queue a read into the target, make the frame due, wait for it;
/// returns a byte of the delivered frame.
fn read_one(kernel: &Kernel, pin: &Pin<'_>, target: &mut Target<'_>, interval_ns: u64) -> u8 {
    let read = match target {
        Target::Buffer(buffer) => pin.read_into(std::mem::take(buffer)),
        Target::Frames(_, frames) => pin.read_into_frame(frames.pop_front().expect("a frame")),
    };
    kernel.clock().advance(interval_ns);
    let frame = read.wait(WAIT).expect("a frame");
    assert!(frame.header.DataUsed > 0, "a whole frame");
    match target {
        Target::Buffer(buffer) => {
            let byte = frame.data[0];
            *buffer = frame.data;
            byte
        }
        Target::Frames(allocator, frames) => {
            let held = frame.frame.expect("the allocator frame");
            let byte = allocator.frame_bytes(&held, 1).expect("our frame")[0];
            frames.push_back(held);
            byte
        }
    }
}

/// Frames/s through the pin of the driver `driver`: `frames` reads after [`WARM_UP_FRAMES`]
/// untimed ones.
fn pin_rate(format: &VideoFormat, frames: u64, mode: Mode, driver: DriverEntry) -> f64 {
    let kernel = Kernel::with_default_allocator(avcam_allocator::KsCreateDefaultAllocatorEx);
    assert_eq!(kernel.load_driver(driver), 0);
    let camera = match mode {
        Mode::Copy => Camera::open_as_application(&kernel, &KSCATEGORY_VIDEO_CAMERA),
        Mode::Allocator => Camera::open(&kernel, &KSCATEGORY_VIDEO_CAMERA),
    }
    .unwrap();
    let bytes = camera.intersect(0, format.to_ks().as_bytes()).unwrap();
    let pin = camera.create_pin(0, &bytes).unwrap();
    pin.set_state(3).unwrap();
    let mut target = match mode {
        Mode::Copy => Target::Buffer(vec![0u8; format.image_size() as usize]),
        Mode::Allocator => {
            let allocator = pin.create_frame_allocator().unwrap();
            let taken = (0..allocator.framing().Frames)
                .map(|_| allocator.take_frame().unwrap())
                .collect();
            Target::Frames(allocator, taken)
        }
    };
    let interval_ns = u64::try_from(format.rate().interval_hns()).unwrap() * 100 + 100;
    let mut sum = 0u64;
    for _ in 0..WARM_UP_FRAMES {
        sum += u64::from(read_one(&kernel, &pin, &mut target, interval_ns));
    }
    let start = Instant::now();
    for _ in 0..frames {
        sum += u64::from(read_one(&kernel, &pin, &mut target, interval_ns));
    }
    let rate = frames as f64 / start.elapsed().as_secs_f64();
    black_box(sum);
    pin.set_state(0).unwrap();
    if let Target::Frames(allocator, taken) = target {
        for frame in taken {
            allocator.give_back(frame).unwrap();
        }
        allocator.close().unwrap();
    }
    pin.close().unwrap();
    camera.close().unwrap();
    kernel.unload_driver();
    rate
}

/// Frames/s of the pin's synthesizer rendering into `buffers` in turn (after one untimed frame
/// into each).
fn synthesis_rate(
    format: &VideoFormat,
    config: SynthConfig,
    buffers: &mut [Vec<u8>],
    frames: u64,
) -> f64 {
    let scratch = vec![0u8; Synthesizer::<Vec<u8>>::scratch_len(format)];
    let synth = Synthesizer::new(format, config, scratch).unwrap();
    let info = |n: u64| FrameInfo {
        picture_number: n,
        stream_time: n as i64 * 333_333,
        drop_count: 0,
    };
    for buffer in buffers.iter_mut() {
        synth.render(&info(0), buffer).unwrap();
    }
    let count = buffers.len();
    let start = Instant::now();
    for n in 0..frames {
        let buffer = &mut buffers[n as usize % count];
        synth.render(&info(n), buffer).unwrap();
        black_box(buffer[n as usize % buffer.len()]);
    }
    frames as f64 / start.elapsed().as_secs_f64()
}

/// Frames/s of memset of one buffer (the store bound).
fn memset_rate(buffer: &mut [u8], frames: u64) -> f64 {
    buffer.fill(1);
    let start = Instant::now();
    for n in 0..frames {
        buffer.fill(n as u8);
        black_box(&mut *buffer);
    }
    frames as f64 / start.elapsed().as_secs_f64()
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

struct Options {
    frames: u64,
    rounds: usize,
    formats: Vec<PixelFormat>,
    sizes: Vec<FrameSize>,
    image: Option<std::path::PathBuf>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        frames: 600,
        rounds: 3,
        formats: vec![PixelFormat::Nv12, PixelFormat::Yuy2],
        sizes: vec![FrameSize::HD1080, FrameSize::UHD],
        image: std::env::var_os(avcam_loader::IMAGE_ENV)
            .filter(|p| !p.is_empty())
            .map(Into::into),
    };
    let mut args = args.iter().filter(|a| *a != "--bench");
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--frames" => options.frames = value()?.parse().map_err(|e| format!("{e}"))?,
            "--rounds" => options.rounds = value()?.parse().map_err(|e| format!("{e}"))?,
            "--image" => options.image = Some(value()?.into()),
            "--format" => {
                options.formats = match value()?.to_ascii_lowercase().as_str() {
                    "nv12" => vec![PixelFormat::Nv12],
                    "yuy2" => vec![PixelFormat::Yuy2],
                    "rgb32" => vec![PixelFormat::Rgb32],
                    "rgb24" => vec![PixelFormat::Rgb24],
                    "all" => PixelFormat::ALL.to_vec(),
                    other => return Err(format!("unknown format {other}")),
                }
            }
            "--size" => {
                options.sizes = match value()?.to_ascii_lowercase().as_str() {
                    "1080p" => vec![FrameSize::HD1080],
                    "4k" => vec![FrameSize::UHD],
                    "all" => vec![FrameSize::HD1080, FrameSize::UHD],
                    other => return Err(format!("unknown size {other}")),
                }
            }
            // A bare number is the frame count (the bench's older interface).
            other => {
                options.frames = other
                    .parse()
                    .map_err(|_| format!("unknown argument {other}"))?
            }
        }
    }
    options.rounds = options.rounds.max(1);
    Ok(options)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = parse(&args).unwrap_or_else(|error| {
        eprintln!("frame_path: {error}");
        std::process::exit(2);
    });
    let image = options.image.as_ref().map(|path| {
        Image::load(path).unwrap_or_else(|error| {
            eprintln!("frame_path: --image {}: {error}", path.display());
            std::process::exit(2);
        })
    });
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "frame path through the emulation: {} timed frames after {WARM_UP_FRAMES} warm-up, median of {} rounds; ring = {FRAMES} buffers; load {}",
        options.frames,
        options.rounds,
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
    if let Some(image) = &image {
        println!(
            "driver image {} (img columns; Linux build: copy, alloc), the two alternating first from round to round",
            image.path().display()
        );
    }
    print!(
        "{:<6} {:<10} {:>8} {:>9} {:>8} {:>9} {:>9}",
        "format", "size", "memset", "synth 1", "synth N", "copy", "alloc"
    );
    if image.is_some() {
        print!(
            " {:>9} {:>9} {:>8} {:>8}",
            "copy img", "alloc img", "cp i/l", "al i/l"
        );
    }
    println!(" {:>8} {:>8} {:>8}", "cp/syn1", "al/synN", "syn1/ms");
    for &pixel in &options.formats {
        for &size in &options.sizes {
            let format = VideoFormat::new(pixel, size, 333_333).unwrap();
            let image_size = format.image_size() as usize;
            let mut one = vec![vec![0u8; image_size]];
            let mut ring: Vec<Vec<u8>> = (0..FRAMES).map(|_| vec![0u8; image_size]).collect();
            let mut figures: [Vec<f64>; 7] = Default::default();
            for round in 0..options.rounds {
                figures[0].push(memset_rate(&mut one[0], options.frames));
                // One reused buffer: ordinary stores, the fastest into cache-resident memory.
                figures[1].push(synthesis_rate(
                    &format,
                    SynthConfig::default(),
                    &mut one,
                    options.frames,
                ));
                // A ring of the allocator's frame count: what the pin renders in allocator mode
                // (streaming stores when the ring outgrows the cache).
                figures[2].push(synthesis_rate(
                    &format,
                    SynthConfig {
                        streaming_stores: outgrows_cache(FRAMES as usize, image_size),
                        ..SynthConfig::default()
                    },
                    &mut ring,
                    options.frames,
                ));
                // The Linux build and the image, the first of the two alternating per round.
                let mut drivers: Vec<(usize, DriverEntry)> = vec![(3, entry)];
                if let Some(image) = &image {
                    drivers.push((5, image.driver_entry()));
                    if round % 2 == 1 {
                        drivers.reverse();
                    }
                }
                for (column, driver) in drivers {
                    figures[column].push(pin_rate(&format, options.frames, Mode::Copy, driver));
                    figures[column + 1].push(pin_rate(
                        &format,
                        options.frames,
                        Mode::Allocator,
                        driver,
                    ));
                }
            }
            let [memset, synth_one, synth_ring, copy, allocator, image_copy, image_allocator] =
                figures.map(|mut v| if v.is_empty() { 0.0 } else { median(&mut v) });
            print!(
                "{:<6} {:<10} {memset:>8.0} {synth_one:>9.0} {synth_ring:>8.0} {copy:>9.0} {allocator:>9.0}",
                format!("{pixel:?}"),
                format!("{}x{}", size.width, size.height),
            );
            if image.is_some() {
                print!(
                    " {image_copy:>9.0} {image_allocator:>9.0} {:>8.2} {:>8.2}",
                    image_copy / copy,
                    image_allocator / allocator
                );
            }
            println!(
                " {:>8.2} {:>8.2} {:>8.2}",
                copy / synth_one,
                allocator / synth_ring,
                synth_one / memset,
            );
        }
    }
}
