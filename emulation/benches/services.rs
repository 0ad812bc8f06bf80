//! What the emulation costs: pool, spin lock, event and IRP round trips per second.
//!
//! `cargo bench -p avcam-emulation`: prints one line per figure. The driver under test is the
//! echo object of the integration tests. Figures are for comparing runs on one machine; they
//! bound how fast anything built on the emulation can go.

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use avcam_emulation::{CreateItem, Kernel};
use avcam_kernel::sync::SpinLock;
use avcam_kernel::{
    ExAllocatePool2, ExFreePoolWithTag, KeAcquireSpinLockRaiseToDpc, KeReleaseSpinLock,
};
use common::*;
use ks::nt::POOL_FLAG_NON_PAGED;

const RUN: Duration = Duration::from_millis(500);

/// Calls `step` in batches until RUN has passed; returns steps per second.
fn rate(mut step: impl FnMut()) -> f64 {
    const BATCH: u64 = 256;
    let start = Instant::now();
    let mut done = 0u64;
    while start.elapsed() < RUN {
        for _ in 0..BATCH {
            step();
        }
        done += BATCH;
    }
    done as f64 / start.elapsed().as_secs_f64()
}

fn report(what: &str, per_second: f64) {
    println!(
        "{what:<52} {:>12.0} /s  ({:>7.1} ns each)",
        per_second,
        1e9 / per_second
    );
}

fn main() {
    let kernel = Kernel::new();
    let _entered = kernel.enter();
    let tag = u32::from_le_bytes(*b"Bnch");

    for size in [64usize, 4096, 65536] {
        report(
            &format!("ExAllocatePool2 + ExFreePoolWithTag, {size} bytes"),
            rate(|| {
                // SAFETY: any arguments are fine for the pool.
                let block = unsafe { ExAllocatePool2(POOL_FLAG_NON_PAGED, size, tag) };
                // SAFETY: `block` came from ExAllocatePool2 with this tag.
                unsafe { ExFreePoolWithTag(black_box(block), tag) };
            }),
        );
    }

    let word = AtomicUsize::new(0);
    report(
        "KeAcquireSpinLockRaiseToDpc + KeReleaseSpinLock",
        rate(|| {
            // SAFETY: `word` is a live, aligned lock word.
            let old = unsafe { KeAcquireSpinLockRaiseToDpc(word.as_ptr()) };
            // SAFETY: held by this thread.
            unsafe { KeReleaseSpinLock(word.as_ptr(), old) };
        }),
    );

    let shared = Arc::new(SpinLock::new(0u64));
    let contender = {
        let shared = shared.clone();
        let stop = Instant::now() + RUN + Duration::from_millis(100);
        kernel.spawn(move || {
            while Instant::now() < stop {
                *shared.lock() += 1;
            }
        })
    };
    report(
        "SpinLock<u64>::lock, contended by one other thread",
        rate(|| *shared.lock() += 1),
    );
    contender.join().unwrap();

    let parent = kernel.create_parent(&[CreateItem::new("Echo", echo_create)]);
    let file = kernel.create(parent, &utf16("Echo")).unwrap();
    let mut output = [0u8; 24];
    report(
        "IOCTL round trip (24-byte echo, synchronous)",
        rate(|| {
            kernel.ioctl(file, ECHO, &[7; 24], &mut output);
        }),
    );
    report(
        "IOCTL pended, then completed by a second IOCTL",
        rate(|| {
            let pending = kernel.ioctl_async(file, PEND, &[], 0).expect_pending();
            kernel.ioctl(file, COMPLETE_QUEUED, &[], &mut []);
            black_box(pending.poll());
        }),
    );
    report(
        "create + close of a KS object (header, context)",
        rate(|| {
            let child = kernel.create(parent, &utf16("Echo")).unwrap();
            kernel.close(child);
        }),
    );
    kernel.close(file);
    kernel.close(parent);
    kernel.assert_no_leaks();
    kernel.check();
}
