//! Writing and converting frames allocates nothing once the buffers have grown: a counting
//! global allocator watches this thread while 640x480 frames of every format go through the
//! window conversion, the scaler, the Y4M writer and the raw writers (repeats included), and
//! while the stress statistics take frame after frame.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use avcam_viewer::camera::{Frame, FrameMemory, PixelFormat, Size};
use avcam_viewer::convert::{to_rgb8, to_xrgb, Picture, Scaler};
use avcam_viewer::stats::{FrameSample, StressRecorder};
use avcam_viewer::y4m::{write_raw_frame, RawWriter, Y4mWriter};

/// Counts allocations made by threads that switched counting on.
struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    /// Per thread, so that tests running side by side do not count each other's allocations.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

/// Counts one allocation if this thread is counting.
fn count() {
    if COUNTING.with(Cell::get) {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator, which upholds the
// GlobalAlloc contract; the counter has no effect on the memory returned.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's layout obligations pass through to System.alloc.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: `pointer` came from `alloc` above with this layout, i.e. from System.
        unsafe { System.dealloc(pointer, layout) }
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: `pointer` came from System with `layout`; the caller guarantees `new_size`.
        unsafe { System.realloc(pointer, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by this thread while `body` runs.
fn allocations_in(body: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    COUNTING.with(|c| c.set(true));
    body();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn converting_and_writing_frames_allocates_nothing_per_frame() {
    let size = Size::new(640, 480);
    for format in PixelFormat::ALL {
        let stride = format.row_bytes(640) + 64;
        let data: Vec<u8> = (0..stride * format.stored_rows(480))
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let frame = Frame {
            pixel_format: format,
            width: 640,
            height: 480,
            stride,
            bottom_up: format.is_rgb(),
            data: &data,
            presentation_time: Some(0),
            duration: Some(333_333),
            picture_number: 0,
            drop_count: 0,
            memory: FrameMemory::PinAllocator,
            arrival_time: None,
            discontinuity: false,
        };
        let mut y4m = Y4mWriter::new(std::io::sink(), format, size, 30).unwrap();
        let mut raw = std::io::sink();
        let mut repeating = RawWriter::new(std::io::sink());
        let (mut xrgb, mut rgb, mut window) = (Vec::new(), Vec::new(), vec![0u32; 320 * 240]);
        let mut scaler = Scaler::new();
        let mut one_frame = || {
            let picture = Picture::new(&frame).unwrap();
            to_xrgb(&picture, &mut xrgb);
            scaler.scale(&xrgb, 640, 480, &mut window, 320, 240);
            to_rgb8(&picture, &mut xrgb, &mut rgb);
            y4m.write_frame(&picture).unwrap();
            y4m.repeat_last().unwrap();
            write_raw_frame(&mut raw, &picture).unwrap();
            repeating.write_frame(&picture).unwrap();
            repeating.repeat_last().unwrap();
        };
        // The first frame grows the buffers.
        assert!(
            allocations_in(&mut one_frame) > 0,
            "{format}: the first frame sizes the buffers"
        );
        let steady = allocations_in(|| {
            for _ in 0..10 {
                one_frame();
            }
        });
        assert_eq!(steady, 0, "{format}: allocations over 10 frames");
        assert_eq!(y4m.frames(), 22);
    }
}

#[test]
fn the_stress_statistics_allocate_nothing_per_frame() {
    // 1000 fps with up to 1 ms of arrival jitter: the first 10,000 frames reach every bucket
    // the run will use; the next 200,000 allocate nothing (a kept sample would).
    let sample = |frame: u64| FrameSample {
        presentation_time: Some((frame * 10_000) as i64),
        arrival_ns: frame * 1_000_000 + (frame * 7919 % 1000) * 1000,
        picture_number: frame as i64,
        drop_count: 0,
        memory: FrameMemory::PinAllocator,
        empty: false,
    };
    let mut recorder = StressRecorder::new(Some(10_000));
    for frame in 0..10_000 {
        recorder.record(sample(frame));
    }
    let steady = allocations_in(|| {
        for frame in 10_000..210_000 {
            recorder.record(sample(frame));
        }
    });
    assert_eq!(steady, 0, "allocations over 200,000 frames");
    assert_eq!(recorder.frames(), 210_000);
}
