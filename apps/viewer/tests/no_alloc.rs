//! Writing and converting frames allocates nothing once the buffers have grown: a counting
//! global allocator watches this thread while 640x480 frames of every format go through the
//! window conversion, the scaler, the Y4M writer and the raw writer.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use avcam_viewer::camera::{Frame, FrameMemory, PixelFormat, Size};
use avcam_viewer::convert::{to_rgb8, to_xrgb, Picture, Scaler};
use avcam_viewer::y4m::{write_raw_frame, Y4mWriter};

/// Counts allocations made by threads that switched counting on.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: every call is forwarded unchanged to the system allocator, which upholds the
// GlobalAlloc contract; the counter has no effect on the memory returned.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller's layout obligations pass through to System.alloc.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: `pointer` came from `alloc` above with this layout, i.e. from System.
        unsafe { System.dealloc(pointer, layout) }
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: `pointer` came from System with `layout`; the caller guarantees `new_size`.
        unsafe { System.realloc(pointer, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by this thread while `body` runs.
fn allocations_in(body: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    COUNTING.with(|c| c.set(true));
    body();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.load(Ordering::Relaxed) - before
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
        };
        let mut y4m = Y4mWriter::new(std::io::sink(), format, size, 30).unwrap();
        let mut raw = std::io::sink();
        let (mut xrgb, mut rgb, mut window) = (Vec::new(), Vec::new(), vec![0u32; 320 * 240]);
        let mut scaler = Scaler::new();
        let mut one_frame = || {
            let picture = Picture::new(&frame).unwrap();
            to_xrgb(&picture, &mut xrgb);
            scaler.scale(&xrgb, 640, 480, &mut window, 320, 240);
            to_rgb8(&picture, &mut xrgb, &mut rgb);
            y4m.write_frame(&picture).unwrap();
            write_raw_frame(&mut raw, &picture).unwrap();
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
        assert_eq!(y4m.frames(), 11);
    }
}
