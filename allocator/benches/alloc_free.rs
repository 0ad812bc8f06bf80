//! Alloc+free pairs per second: through the function table (AllocateFrame/FreeFrame, the path a
//! kernel-mode pin uses per frame), through the IOCTL path (IOCTL_KS_METHOD ALLOC and FREE sent
//! with KsSynchronousIoControlDevice, a whole IRP each), and, in the same run, `Box<[u8]>`
//! allocation and drop of a frame of the same size (zeroed, as the pool hands out frames, and
//! uninitialised). All through the emulation, so the spin lock and IRP costs are the emulation's.
//!
//! Run: `cargo bench -p avcam-allocator --bench alloc_free` (release profile).

#[path = "../tests/common/mod.rs"]
mod common;

use std::ffi::c_void;
use std::hint::black_box;
use std::time::{Duration, Instant};

use avcam_allocator::frames::{index_len, FrameBook, Slot};
use common::{framing, identifier, Fixture};
use ks::guid::KSMETHODSETID_StreamAllocator;
use ks::ks::{
    file_alignment, IOCTL_KS_METHOD, KSMETHOD_STREAMALLOCATOR_ALLOC, KSMETHOD_STREAMALLOCATOR_FREE,
    KSMETHOD_TYPE_READ, KSMETHOD_TYPE_WRITE,
};
use ks::status::STATUS_SUCCESS;

const SIZES: [(&str, u32); 3] = [
    ("4 KiB", 4096),
    ("64 KiB", 65_536),
    ("1080p NV12", 3_110_400),
];
const RUN_TIME: Duration = Duration::from_millis(150);
const RUNS: usize = 5;

/// Runs `pair` in batches for RUN_TIME, RUNS times; returns the median pairs per second (the
/// machine is shared: the median of short runs is steadier than one long run).
fn measure(mut pair: impl FnMut()) -> f64 {
    for _ in 0..1000 {
        pair();
    }
    let mut rates: Vec<f64> = (0..RUNS)
        .map(|_| {
            let mut pairs = 0u64;
            let mut batch = 256u64;
            let start = Instant::now();
            loop {
                for _ in 0..batch {
                    pair();
                }
                pairs += batch;
                let elapsed = start.elapsed();
                if elapsed >= RUN_TIME {
                    return pairs as f64 / elapsed.as_secs_f64();
                }
                batch = batch.saturating_mul(2).min(1 << 20);
            }
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    rates[RUNS / 2]
}

fn print(label: &str, size: &str, per_second: f64) {
    println!(
        "{label:<34} {size:>11}: {:>12.0} pairs/s  ({:>8.1} ns/pair)",
        per_second,
        1e9 / per_second
    );
}

fn main() {
    println!("avcam-allocator: alloc+free pairs per second (one thread, median of {RUNS} runs)");
    {
        // The floor of the function-table path: its two critical sections, nothing else.
        let fixture = Fixture::new();
        let lock = avcam_kernel::sync::SpinLock::new(0u64);
        let _entered = fixture.kernel.enter();
        let per_second = measure(|| {
            *lock.lock() += 1;
            *lock.lock() -= 1;
        });
        print("2 x SpinLock lock+unlock (floor)", "-", per_second);
        drop(_entered);
        fixture.finish();

        // The core's share: the frame book alone, no lock, no call through the table.
        let slots: Vec<Slot> = (1..=4usize).map(|i| Slot::new(i << 16, i << 16)).collect();
        let mut book = FrameBook::new(slots, vec![0u32; index_len(4)], 0xFFF)
            .map_err(|(e, _)| e)
            .unwrap();
        let per_second = measure(|| {
            let frame = book.allocate().unwrap();
            book.free(black_box(frame)).unwrap();
        });
        print("FrameBook allocate+free (core only)", "-", per_second);
    }
    for (size_name, frame_size) in SIZES {
        let fixture = Fixture::new();
        let file = fixture
            .create(&framing(4, frame_size, file_alignment::B64))
            .unwrap();
        let (allocate, free) = fixture.function_table(file);
        let object = fixture.kernel.file_object(file);
        let per_second = {
            let _entered = fixture.kernel.enter();
            measure(|| {
                let mut frame: *mut c_void = std::ptr::null_mut();
                // SAFETY: the live allocator's file object; `frame` is writable.
                let status = unsafe { allocate(object, &mut frame) };
                debug_assert_eq!(status, STATUS_SUCCESS);
                // SAFETY: as above; the frame is outstanding.
                unsafe { free(object, black_box(frame)) };
            })
        };
        print("function table (AllocateFrame/Free)", size_name, per_second);

        let mut alloc_input = identifier(
            KSMETHODSETID_StreamAllocator,
            KSMETHOD_STREAMALLOCATOR_ALLOC,
            KSMETHOD_TYPE_WRITE,
        );
        let mut free_input = identifier(
            KSMETHODSETID_StreamAllocator,
            KSMETHOD_STREAMALLOCATOR_FREE,
            KSMETHOD_TYPE_READ,
        );
        let per_second = measure(|| {
            let mut data = [0u8; 8];
            let (status, _) =
                fixture.kernel_ioctl(file, IOCTL_KS_METHOD, &mut alloc_input, &mut data);
            debug_assert_eq!(status, STATUS_SUCCESS);
            let (status, _) =
                fixture.kernel_ioctl(file, IOCTL_KS_METHOD, &mut free_input, &mut data);
            debug_assert_eq!(status, STATUS_SUCCESS);
        });
        print("IOCTL_KS_METHOD ALLOC + FREE", size_name, per_second);
        fixture.kernel.close(file);
        fixture.finish();

        let size = frame_size as usize;
        let per_second = measure(|| drop(black_box(vec![0u8; size].into_boxed_slice())));
        print("Box<[u8]> zeroed alloc + drop", size_name, per_second);
        let per_second = measure(|| drop(black_box(Box::<[u8]>::new_uninit_slice(size))));
        print("Box<[u8]> uninit alloc + drop", size_name, per_second);
    }
}
