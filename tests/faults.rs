//! Fault injection through KS requests only (`PROPSETID_AVCAM_FAULTS`), on the virtual clock:
//! refused while the device's registry switch is off; with it on, every fault the plan asks for
//! is injected into the delivered frames exactly as the plan says, and the counters the driver
//! answers equal what the client observed, frame for frame.
//!
//! The clock moves from one timer expiry to the next (`ClockControl::next_expiry`), so each
//! read's arrival time is the instant the driver completed it.

mod common;

use std::collections::VecDeque;

use avcam_avstream::PixelFormat;
use avcam_client::{Camera, Frame, PendingRead, Pin};
use avcam_emulation::{DeviceKey, Kernel, RegistryValue};
use common::*;
use ks::avcam::{AVCAM_FAULT_COUNTERS, AVCAM_FAULT_FAIL, AVCAM_FAULT_PLAN};
use ks::nt::REG_SZ;
use ks::status::{
    STATUS_ACCESS_DENIED, STATUS_INSUFFICIENT_RESOURCES, STATUS_INVALID_PARAMETER,
    STATUS_NO_MEMORY, STATUS_SUCCESS, STATUS_UNSUCCESSFUL,
};
use ks::video::{KSSTREAM_HEADER_OPTIONSF_DATADISCONTINUITY, KSSTREAM_HEADER_OPTIONSF_TIMEVALID};

/// 30 fps in 100 ns units (the QVGA format's `AvgTimePerFrame`).
const INTERVAL: i64 = 333_333;

/// Sets the device's `FaultInjection` registry value (`None` deletes it).
fn switch(kernel: &Kernel, value: Option<RegistryValue>) {
    kernel.set_device_registry_value(DeviceKey::Hardware, "FaultInjection", value);
}

/// A kernel with avcam loaded and fault injection allowed.
fn injecting_kernel() -> Kernel {
    let kernel = kernel();
    switch(&kernel, Some(RegistryValue::dword(1)));
    kernel
}

/// One frame as the client saw it, and when it arrived (interrupt time).
struct Arrival {
    at: i64,
    frame: Frame,
}

impl Arrival {
    /// `KS_FRAME_INFO.PictureNumber`: the count of frames due, this one included (1 for the
    /// first).
    fn picture(&self) -> i64 {
        self.frame.info.PictureNumber
    }

    /// The frame's index in the stream (0 for the first), from its picture number.
    fn index(&self) -> i64 {
        self.picture() - 1
    }

    fn time(&self) -> i64 {
        self.frame.header.PresentationTime.Time
    }
}

/// A running QVGA pin with `DEPTH` reads always queued.
struct Capture<'k> {
    kernel: &'k Kernel,
    pin: Pin<'k>,
    bytes: usize,
    queue: VecDeque<PendingRead>,
}

const DEPTH: usize = 4;

impl<'k> Capture<'k> {
    fn new(kernel: &'k Kernel, camera: &Camera<'k>) -> Capture<'k> {
        let video = qvga(PixelFormat::Nv12);
        let pin = running_pin(camera, &video);
        let bytes = video.image_size() as usize;
        let queue = (0..DEPTH).map(|_| pin.read(bytes)).collect();
        Capture {
            kernel,
            pin,
            bytes,
            queue,
        }
    }

    /// Moves the clock from expiry to expiry until `count` more frames arrived.
    fn frames(&mut self, count: usize) -> Vec<Arrival> {
        let mut arrivals = Vec::with_capacity(count);
        let mut steps = 0;
        while arrivals.len() < count {
            while arrivals.len() < count && self.queue.front().is_some_and(|r| r.is_done()) {
                let read = self.queue.pop_front().unwrap();
                let at = self.kernel.clock().now_100ns();
                arrivals.push(Arrival {
                    at,
                    frame: read.wait(WAIT).expect("a frame"),
                });
                self.queue.push_back(self.pin.read(self.bytes));
            }
            if arrivals.len() == count {
                break;
            }
            let now = self.kernel.clock().now_100ns();
            let next = self
                .kernel
                .clock()
                .next_expiry()
                .expect("the frame timer is set");
            advance_to(self.kernel, next.max(now + 1));
            steps += 1;
            assert!(steps < 100 * count + 100, "frames stopped coming");
        }
        arrivals
    }

    fn close(self) {
        drop(self.queue);
        self.pin.close().unwrap();
    }
}

/// The indices missing before the last arrival (frames due and never delivered).
fn missing(arrivals: &[Arrival]) -> Vec<i64> {
    let last = arrivals.last().map_or(0, Arrival::index);
    (0..last)
        .filter(|n| !arrivals.iter().any(|a| a.index() == *n))
        .collect()
}

/// Every counter zero but those named.
fn zero() -> AVCAM_FAULT_COUNTERS {
    AVCAM_FAULT_COUNTERS::default()
}

#[test]
fn fault_injection_is_refused_while_the_registry_switch_is_off() {
    let kernel = kernel();
    let camera = camera(&kernel);
    let plan = AVCAM_FAULT_PLAN {
        Seed: 1,
        DropBasisPoints: 5000,
        ..Default::default()
    };
    let fail = AVCAM_FAULT_FAIL {
        PinCreate: STATUS_INSUFFICIENT_RESOURCES,
        ..Default::default()
    };
    let refused = |camera: &Camera<'_>| {
        assert!(!camera.fault_injection_enabled().unwrap());
        let status = |r: avcam_client::Result<()>| r.unwrap_err().status();
        assert_eq!(
            status(camera.set_fault_plan(&plan)),
            Some(STATUS_ACCESS_DENIED)
        );
        assert_eq!(status(camera.set_stall(100)), Some(STATUS_ACCESS_DENIED));
        assert_eq!(
            status(camera.set_fail_next(&fail)),
            Some(STATUS_ACCESS_DENIED)
        );
        assert_eq!(camera.stall().unwrap(), 0);
        assert_eq!(camera.fail_next().unwrap(), AVCAM_FAULT_FAIL::default());
    };
    // No value (the INF's default is 0), 0, 2, and a string "1": all off.
    refused(&camera);
    assert_eq!(camera.fault_plan().unwrap(), AVCAM_FAULT_PLAN::default());
    for value in [
        RegistryValue::dword(0),
        RegistryValue::dword(2),
        RegistryValue {
            kind: REG_SZ,
            data: "1\0".encode_utf16().flat_map(u16::to_le_bytes).collect(),
        },
    ] {
        switch(&kernel, Some(value));
        refused(&camera);
    }
    // Nothing is injected: every due frame arrives.
    let mut capture = Capture::new(&kernel, &camera);
    let arrivals = capture.frames(30);
    assert!(missing(&arrivals).is_empty());
    assert_eq!(camera.fault_counters().unwrap(), zero());
    // On: accepted at once (read at each SET, no restart).
    switch(&kernel, Some(RegistryValue::dword(1)));
    assert!(camera.fault_injection_enabled().unwrap());
    camera.set_fault_plan(&plan).unwrap();
    assert_eq!(camera.fault_plan().unwrap(), plan);
    // Off again: refused at once, but switching injection off is always allowed.
    switch(&kernel, Some(RegistryValue::dword(0)));
    refused(&camera);
    camera.set_fault_plan(&AVCAM_FAULT_PLAN::default()).unwrap();
    camera.set_stall(0).unwrap();
    camera.set_fail_next(&AVCAM_FAULT_FAIL::default()).unwrap();
    assert_eq!(camera.fault_plan().unwrap(), AVCAM_FAULT_PLAN::default());
    capture.close();
    camera.close().unwrap();
    kernel.unload_driver();
    kernel.assert_no_leaks();
}

#[test]
fn a_plan_out_of_its_bounds_is_refused_even_with_the_switch_on() {
    let kernel = injecting_kernel();
    let camera = camera(&kernel);
    let base = AVCAM_FAULT_PLAN::default();
    for bad in [
        AVCAM_FAULT_PLAN {
            DropBasisPoints: 10_001,
            ..base
        },
        AVCAM_FAULT_PLAN {
            BurstLength: 3,
            ..base
        },
        AVCAM_FAULT_PLAN {
            BurstLength: 5,
            BurstPeriod: 4,
            ..base
        },
        AVCAM_FAULT_PLAN {
            DelayMicroseconds: 1_000_001,
            ..base
        },
        AVCAM_FAULT_PLAN {
            SpikeMicroseconds: 10,
            ..base
        },
        AVCAM_FAULT_PLAN {
            Reserved: 1,
            ..base
        },
    ] {
        let refused = camera.set_fault_plan(&bad).unwrap_err();
        assert_eq!(refused.status(), Some(STATUS_INVALID_PARAMETER), "{bad:?}");
        assert_eq!(camera.fault_plan().unwrap(), base);
    }
    let refused = camera.set_stall(10_001).unwrap_err();
    assert_eq!(refused.status(), Some(STATUS_INVALID_PARAMETER));
    let not_an_error = AVCAM_FAULT_FAIL {
        StateChange: STATUS_SUCCESS + 1,
        ..Default::default()
    };
    let refused = camera.set_fail_next(&not_an_error).unwrap_err();
    assert_eq!(refused.status(), Some(STATUS_INVALID_PARAMETER));
    camera.close().unwrap();
    kernel.unload_driver();
    kernel.assert_no_leaks();
}

/// Runs `frames` frames with `plan` on a fresh kernel: the arrivals and the counters.
fn run(plan: &AVCAM_FAULT_PLAN, frames: usize) -> (Vec<Arrival>, AVCAM_FAULT_COUNTERS) {
    let kernel = injecting_kernel();
    let camera = camera(&kernel);
    camera.set_fault_plan(plan).unwrap();
    let mut capture = Capture::new(&kernel, &camera);
    let arrivals = capture.frames(frames);
    let counters = camera.fault_counters().unwrap();
    capture.close();
    camera.close().unwrap();
    kernel.unload_driver();
    kernel.assert_no_leaks();
    (arrivals, counters)
}

#[test]
fn drops_and_bursts_are_counted_exactly_and_repeat_with_the_seed() {
    let plan = AVCAM_FAULT_PLAN {
        Seed: 7,
        DropBasisPoints: 1500,
        BurstLength: 3,
        BurstPeriod: 25,
        ..Default::default()
    };
    let (arrivals, counters) = run(&plan, 300);
    let gone = missing(&arrivals);
    // Every frame due is delivered or counted dropped, and the frames say so too.
    assert_eq!(
        gone.len() as u64,
        counters.FramesDropped + counters.FramesBurstDropped
    );
    for a in &arrivals {
        let before = gone.iter().filter(|&&n| n < a.index()).count() as i64;
        assert_eq!(a.frame.info.DropCount, before, "frame {}", a.index());
    }
    // The bursts: exactly the frames n with n mod 25 < 3.
    let last = arrivals.last().unwrap().index();
    let bursts: Vec<i64> = (0..last).filter(|n| n % 25 < 3).collect();
    assert!(bursts.iter().all(|n| gone.contains(n)));
    assert_eq!(counters.FramesBurstDropped, bursts.len() as u64);
    // The random share: 15% of the frames left, give or take.
    let share = counters.FramesDropped as f64 / (last as f64 - bursts.len() as f64);
    assert!((0.08..0.22).contains(&share), "{share}");
    let others = AVCAM_FAULT_COUNTERS {
        FramesDropped: 0,
        FramesBurstDropped: 0,
        ..counters
    };
    assert_eq!(others, zero());
    // The same seed drops the same frames; another seed others.
    let (again, _) = run(&plan, 300);
    assert_eq!(missing(&again), gone);
    let (other, _) = run(&AVCAM_FAULT_PLAN { Seed: 8, ..plan }, 300);
    assert_ne!(missing(&other), gone);
}

#[test]
fn each_frame_completes_late_by_its_delay_jitter_and_spike_and_keeps_its_time() {
    let plan = AVCAM_FAULT_PLAN {
        Seed: 3,
        DelayMicroseconds: 4_000,
        JitterMicroseconds: 3_000,
        SpikeMicroseconds: 20_000,
        SpikeEvery: 10,
        ..Default::default()
    };
    let (arrivals, counters) = run(&plan, 60);
    let mut total_us = 0;
    let mut delays = Vec::new();
    for (k, a) in arrivals.iter().enumerate() {
        assert_eq!(a.index(), k as i64, "nothing dropped");
        // Presentation times stay on the frame grid (QPC-based: within 100 ns of it).
        if k > 0 {
            let step = a.time() - arrivals[k - 1].time();
            assert!((INTERVAL - 1..=INTERVAL + 2).contains(&step), "{step}");
        }
        let late = a.at - a.time();
        let us = (late + 5).div_euclid(10);
        let spike = if (k + 1) % 10 == 0 { 20_000 } else { 0 };
        assert!(
            (4_000 + spike..=7_000 + spike).contains(&us),
            "frame {k}: {us} us late"
        );
        total_us += us as u64;
        delays.push(us - spike);
    }
    assert_eq!(counters.FramesDelayed, arrivals.len() as u64);
    assert_eq!(counters.DelayMicroseconds, total_us);
    let (lo, hi) = (delays.iter().min().unwrap(), delays.iter().max().unwrap());
    assert!(*lo < 4_500 && *hi > 6_500, "jitter spread {lo}..{hi}");
    let others = AVCAM_FAULT_COUNTERS {
        FramesDelayed: 0,
        DelayMicroseconds: 0,
        ..counters
    };
    assert_eq!(others, zero());
}

#[test]
fn a_stall_drops_every_frame_due_within_it_once() {
    let kernel = injecting_kernel();
    let camera = camera(&kernel);
    let mut capture = Capture::new(&kernel, &camera);
    let first = capture.frames(5);
    camera.set_stall(50).unwrap();
    assert_eq!(camera.stall().unwrap(), 50, "not started yet");
    let mut arrivals = capture.frames(10);
    assert_eq!(camera.stall().unwrap(), 0, "taken by the pin");
    let mut all = first;
    all.append(&mut arrivals);
    // 50 ms at 30 fps: the frame due first and the next one.
    let gone = missing(&all);
    assert_eq!(gone.len(), 2, "{gone:?}");
    assert_eq!(gone[1], gone[0] + 1);
    let counters = camera.fault_counters().unwrap();
    assert_eq!(
        counters,
        AVCAM_FAULT_COUNTERS {
            FramesStallDropped: 2,
            Stalls: 1,
            ..zero()
        }
    );
    assert_eq!(all.last().unwrap().frame.info.DropCount, 2);
    capture.close();
    camera.close().unwrap();
    kernel.unload_driver();
    kernel.assert_no_leaks();
}

#[test]
fn empty_and_discontinuity_frames_come_every_nth() {
    let plan = AVCAM_FAULT_PLAN {
        EmptyEvery: 4,
        DiscontinuityEvery: 5,
        ..Default::default()
    };
    let (arrivals, counters) = run(&plan, 40);
    let frame_bytes = qvga(PixelFormat::Nv12).image_size();
    for (n, a) in arrivals.iter().enumerate() {
        assert_eq!(a.index(), n as i64);
        let empty = (n + 1) % 4 == 0;
        let want = if empty { 0 } else { frame_bytes };
        assert_eq!(a.frame.header.DataUsed, want, "frame {n}");
        let flagged = a.frame.header.OptionsFlags & KSSTREAM_HEADER_OPTIONSF_DATADISCONTINUITY != 0;
        assert_eq!(flagged, (n + 1) % 5 == 0, "frame {n}");
        let timed = a.frame.header.OptionsFlags & KSSTREAM_HEADER_OPTIONSF_TIMEVALID != 0;
        assert!(timed, "frame {n}: stamped even when empty");
        // On the frame grid (QPC-based: within 100 ns of it).
        let grid = n as i64 * 1_000_000 / 3;
        assert!((a.time() - grid).abs() <= 1, "frame {n}: {}", a.time());
    }
    assert_eq!(
        counters,
        AVCAM_FAULT_COUNTERS {
            FramesEmpty: 10,
            FramesDiscontinuity: 8,
            ..zero()
        }
    );
}

#[test]
fn times_and_picture_numbers_are_offset_and_wrap_as_planned() {
    let plan = AVCAM_FAULT_PLAN {
        TimeOffset: 1_000_000_000,
        TimeWrap: 5_000_000,
        PictureOffset: 1000,
        PictureWrap: 1024,
        ..Default::default()
    };
    let (arrivals, counters) = run(&plan, 40);
    let mut time_wraps = 0;
    for (n, a) in arrivals.iter().enumerate() {
        // Picture numbers count from 1.
        assert_eq!(a.picture(), (n as i64 + 1 + 1000) % 1024, "frame {n}");
        assert!((0..5_000_000).contains(&a.time()));
        if n > 0 {
            let step = a.time() - arrivals[n - 1].time();
            if step < 0 {
                time_wraps += 1;
                assert!((INTERVAL - 5_000_000 - 1..=INTERVAL - 5_000_000 + 2).contains(&step));
            } else {
                assert!((INTERVAL - 1..=INTERVAL + 2).contains(&step), "{step}");
            }
        }
        assert_eq!(a.frame.info.DropCount, 0);
    }
    assert!(
        time_wraps >= 2,
        "40 frames span 1.3 s: two wraps of 0.5 s at least"
    );
    assert_eq!(
        counters,
        AVCAM_FAULT_COUNTERS {
            FramesTimeShifted: 40,
            TimeWraps: time_wraps,
            FramesPictureShifted: 40,
            PictureWraps: 1,
            ..zero()
        }
    );
}

#[test]
fn the_next_pin_create_state_change_and_allocator_create_fail_once_with_their_status() {
    let kernel = injecting_kernel();
    let camera = camera(&kernel);
    let fail = AVCAM_FAULT_FAIL {
        PinCreate: STATUS_INSUFFICIENT_RESOURCES,
        StateChange: STATUS_UNSUCCESSFUL,
        AllocatorCreate: STATUS_NO_MEMORY,
        Reserved: 0,
    };
    camera.set_fail_next(&fail).unwrap();
    assert_eq!(camera.fail_next().unwrap(), fail);
    let format = negotiate(&camera, &qvga(PixelFormat::Yuy2));
    let refused = camera.create_pin(0, &format).err().unwrap();
    assert_eq!(refused.status(), Some(STATUS_INSUFFICIENT_RESOURCES));
    let pin = camera.create_pin(0, &format).unwrap();
    let refused = pin.set_state(1).unwrap_err();
    assert_eq!(refused.status(), Some(STATUS_UNSUCCESSFUL));
    assert_eq!(pin.state().unwrap(), 0, "still in STOP");
    pin.set_state(1).unwrap();
    let refused = pin.create_frame_allocator().err().unwrap();
    assert_eq!(refused.status(), Some(STATUS_NO_MEMORY));
    let allocator = pin.create_frame_allocator().unwrap();
    assert_eq!(camera.fail_next().unwrap(), AVCAM_FAULT_FAIL::default());
    assert_eq!(
        camera.fault_counters().unwrap(),
        AVCAM_FAULT_COUNTERS {
            FailedPinCreates: 1,
            FailedStateChanges: 1,
            FailedAllocatorCreates: 1,
            ..zero()
        }
    );
    allocator.close().unwrap();
    pin.close().unwrap();
    camera.close().unwrap();
    kernel.unload_driver();
    kernel.assert_no_leaks();
}
