//! The driver with its timer callbacks on other processors (the emulation's opt-in concurrency
//! mode: DPCs and EX_TIMER callbacks on two processor threads, Process in a work item on a
//! worker thread): stopping the clock while a callback runs never leaves the timer armed, and a
//! pin closed in RUN frees everything however its callbacks interleave.

mod common;

use std::time::Duration;

use avcam_avstream::{FrameSize, PixelFormat, VideoFormat};
use common::*;
use ks::avstream::{KSSTATE_PAUSE, KSSTATE_RUN, KSSTATE_STOP};

/// A kernel whose DPCs and timer callbacks run on two processor threads, avcam loaded.
fn concurrent_kernel() -> avcam_emulation::Kernel {
    let kernel = bare_kernel();
    kernel.clock().run_dpcs_concurrently(2);
    load(&kernel);
    kernel
}

/// Waits (real time, bounded, never asserted on) until every DPC, callback and work item
/// queued or running has finished.
fn settle(kernel: &avcam_emulation::Kernel) {
    kernel.clock().settle(Duration::from_secs(60));
}

#[test]
fn pausing_while_callbacks_run_on_other_processors_never_leaves_the_timer_armed() {
    let kernel = concurrent_kernel();
    // A re-arm from a callback waits 2 ms on its processor first: a pause lands while the
    // callback is between its decision to re-arm and the re-arm (a driver that re-armed
    // outside its lock, after the pause cancelled the timer, would leave it armed).
    kernel
        .clock()
        .delay_timer_sets_in_dpcs(Duration::from_millis(2));
    let camera = camera(&kernel);
    // 1000 fps: the timer callback runs every millisecond.
    let format = VideoFormat::new(PixelFormat::Nv12, FrameSize::QVGA, 10_000).unwrap();
    let pin = camera.create_pin(0, &negotiate(&camera, &format)).unwrap();
    pin.set_state(KSSTATE_PAUSE).unwrap();
    let image = format.image_size() as usize;
    for round in 0..40u64 {
        pin.set_state(KSSTATE_RUN).unwrap();
        let reads: Vec<_> = (0..2).map(|_| pin.read(image)).collect();
        assert_eq!(
            kernel.clock().armed_timers(),
            1,
            "round {round}: armed in RUN"
        );
        // Make a few frames due; the callbacks run on the processors meanwhile.
        kernel.clock().advance(1_000_000 + round % 7 * 100_000);
        pin.set_state(KSSTATE_PAUSE).unwrap();
        settle(&kernel);
        assert_eq!(
            kernel.clock().armed_timers(),
            0,
            "round {round}: a callback re-armed the timer after the pause"
        );
        for read in reads {
            let _ = read.cancel(Duration::from_secs(10));
        }
    }
    pin.set_state(KSSTATE_STOP).unwrap();
    pin.close().unwrap();
    camera.close().unwrap();
    kernel.unload_driver();
    kernel.assert_no_leaks();
}

#[test]
fn a_client_dying_in_run_with_callbacks_in_flight_leaves_nothing_behind() {
    for _ in 0..20 {
        let kernel = concurrent_kernel();
        let camera = camera(&kernel);
        let format = VideoFormat::new(PixelFormat::Yuy2, FrameSize::QVGA, 10_000).unwrap();
        let pin = running_pin(&camera, &format);
        let reads: Vec<_> = (0..3)
            .map(|_| pin.read(format.image_size() as usize))
            .collect();
        kernel.clock().advance(2_500_000);
        // The process dies with its pin in RUN: reads cancelled, handles closed; the pin's
        // Close deletes its timer (waiting for a callback on another processor) and frees all.
        kernel.kill_client();
        for read in reads {
            let _ = read.cancel(Duration::from_secs(10));
        }
        settle(&kernel);
        assert_eq!(kernel.clock().armed_timers(), 0);
        kernel.unload_driver();
        kernel.assert_no_leaks();
    }
}
