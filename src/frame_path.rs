//! The frame path: how a due frame reaches the client.
//!
//! 1. PAUSE -> RUN (`start`) starts the pin's `avstream::FrameClock` at the current
//!    interrupt time and arms the frame timer; RUN -> PAUSE (`stop`) stops the clock and
//!    cancels the timer.
//! 2. The timer's DPC ([`frame_timer_dpc`]) asks ks.sys for processing
//!    (`KsPinAttemptProcessing(pin, TRUE)`: DPCs run at DISPATCH_LEVEL, Process needs the
//!    processing mutex), then re-arms the timer for the clock's next **absolute** deadline, so
//!    timer latency never accumulates into drift.
//! 3. [`pin_process`] (ks.sys calls it only in RUN, KSPIN_FLAG_PROCESS_IN_RUN_STATE_ONLY, and
//!    only with a client buffer queued) takes a frame from the pin's own pool
//!    ([`crate::frame_pool`], our `KsCreateDefaultAllocatorEx`), takes the due frame from the
//!    clock (`FrameClock::take_frame`: the newest due frame not yet delivered), renders it with
//!    the pin's `avstream::synth::Synthesizer` into the pool frame, copies it into the
//!    leading-edge stream pointer's buffer (the client's own buffer from IOCTL_KS_READ_STREAM),
//!    frees the pool frame, stamps the `KSSTREAM_HEADER`
//!    (PresentationTime, Duration, TIMEVALID | DURATIONVALID) and the `KS_FRAME_INFO` that
//!    follows it (PictureNumber, DropCount), and advances the stream pointer, which completes
//!    the read.
//! 4. A frame that falls due while no buffer is queued is never rendered: it is a dropped frame
//!    (`dropped = due - delivered`, as the clock counts them), visible in the next frame's
//!    `DropCount` and in `KSPROPERTY_DROPPEDFRAMES_CURRENT`.
//!
//! 5. Shared mode (no copy): a client header with no buffer (`Data` NULL, `FrameExtent` 0) is
//!    lent the pool frame itself: `Data` = the frame's address, `FrameExtent` = the pool's frame
//!    size, `DataUsed` = `biSizeImage`. **Lease window**: with K =
//!    [`LEASE_WINDOW`](crate::frame_pool::LEASE_WINDOW) (the pool's frame count - 1), a lent
//!    frame stays lent and its bytes unchanged until K more frames have been lent after it;
//!    lending the K-th later frame ends its lease (the pin frees it) and the next frame rendered
//!    may overwrite it. A lease also ends early if the pool would otherwise run dry (oldest
//!    first; it cannot happen with shared reads only, since K frames lent leave one free), and
//!    every lease ends at ACQUIRE -> STOP. So a client may hold up to K frames at once, e.g. keep
//!    K reads queued and release a frame before re-queueing its read. The pool's frames are
//!    recycled by our allocator. This is the design for kernel-mode peers and for the emulation,
//!    where client and driver share an address space; a user-mode client on Windows needs the
//!    copy mode.
//!
//! Nothing here allocates: the synthesizer's templates and the frame pool are built once at
//! STOP -> ACQUIRE, and pool frames are recycled by the allocator.

use ks::avstream::{KSPIN, KSSTREAM_POINTER_STATE_LOCKED};
use ks::nt::KDPC;
use ks::status::{STATUS_PENDING, STATUS_SUCCESS};
use ks::video::{KSSTREAM_HEADER, KS_FRAME_INFO};
use ks::NTSTATUS;

use avcam_kernel::{
    KeCancelTimer, KeQueryPerformanceCounter, KeSetTimerEx, KsPinAttemptProcessing,
    KsPinGetLeadingEdgeStreamPointer, KsStreamPointerAdvance, KsStreamPointerAdvanceOffsets,
    KsStreamPointerUnlock,
};
use avstream::clock::{FRAME_INFO_SIZE, STREAM_HEADER_SIZE};
use avstream::synth::FrameInfo;
use avstream::FrameStamp;

use crate::capture_pin::{context, CapturePin};

/// 100 ns units per second.
const HNS_PER_SECOND: i128 = 10_000_000;

/// Interrupt time now in 100 ns units, from `KeQueryPerformanceCounter` (its frequency is
/// whatever the platform says; 10 MHz on the emulation).
pub fn now_100ns() -> i64 {
    let mut frequency = 0i64;
    // SAFETY: `frequency` is a writable LARGE_INTEGER; callable at any IRQL.
    let counter = unsafe { KeQueryPerformanceCounter(&mut frequency) };
    if frequency <= 0 {
        return counter;
    }
    let hns = i128::from(counter) * HNS_PER_SECOND / i128::from(frequency);
    i64::try_from(hns).unwrap_or(i64::MAX)
}

/// Arms the pin's timer for `deadline` (interrupt time, 100 ns), as a relative due time from
/// `now` (at least 100 ns, so a deadline already passed fires at once).
fn arm(pin: &CapturePin, deadline: i64, now: i64) {
    let relative = deadline.saturating_sub(now).max(1);
    // SAFETY: the timer and DPC were initialised at create and live in the pin's context, which
    // outlives every arming (close cancels the timer first).
    unsafe { KeSetTimerEx(pin.timer.get(), -relative, 0, pin.dpc.get()) };
}

/// PAUSE -> RUN: the first frame is due now.
pub(crate) fn start(pin: &CapturePin) {
    let now = now_100ns();
    let deadline = {
        let mut stream = pin.stream.lock();
        stream.clock.start(now);
        stream.clock.next_deadline(now - 1)
    };
    if let Some(deadline) = deadline {
        arm(pin, deadline, now);
    }
}

/// RUN -> PAUSE: freezes the frame count and cancels the timer.
pub(crate) fn stop(pin: &CapturePin) {
    let now = now_100ns();
    pin.stream.lock().clock.stop(now);
    // SAFETY: initialised at create; cancelling an idle timer is harmless.
    unsafe { KeCancelTimer(pin.timer.get()) };
}

/// The frame timer's DPC: request processing, re-arm for the next absolute deadline.
///
/// # Safety
/// The kernel's DPC contract; `context` is the pin's [`CapturePin`] (set at create), live
/// because close cancels the timer before freeing it.
pub unsafe extern "system" fn frame_timer_dpc(
    _dpc: *mut KDPC,
    context: *mut core::ffi::c_void,
    _argument1: *mut core::ffi::c_void,
    _argument2: *mut core::ffi::c_void,
) {
    // SAFETY: the DPC's context is the live CapturePin (function contract).
    let pin = unsafe { &*context.cast::<CapturePin>() };
    // SAFETY: a live KSPIN; asynchronous processing is what DISPATCH_LEVEL callers must ask for.
    unsafe { KsPinAttemptProcessing(pin.pin, 1) };
    let now = now_100ns();
    let next = pin.stream.lock().clock.next_deadline(now);
    if let Some(deadline) = next {
        arm(pin, deadline, now);
    }
}

/// Writes the stamp into the stream header and, when the header is big enough, the
/// `KS_FRAME_INFO` after it; `Size` is left as the client set it.
///
/// # Safety
/// `header` points to a writable `KSSTREAM_HEADER` of `Size` bytes (maybe unaligned).
unsafe fn stamp_header(header: *mut KSSTREAM_HEADER, stamp: &FrameStamp) {
    // SAFETY: the caller's guarantee.
    let mut value = unsafe { header.read_unaligned() };
    let size = value.Size;
    stamp.fill_header(&mut value);
    value.Size = size;
    // SAFETY: as above.
    unsafe { header.write_unaligned(value) };
    if size >= STREAM_HEADER_SIZE + FRAME_INFO_SIZE {
        let info = header
            .cast::<u8>()
            .wrapping_add(STREAM_HEADER_SIZE as usize);
        // SAFETY: the header's Size covers the KS_FRAME_INFO after it.
        unsafe {
            info.cast::<KS_FRAME_INFO>()
                .write_unaligned(stamp.frame_info())
        };
    }
}

/// `PFNKSPINPROCESS`: deliver the due frame (if any) into each queued client buffer.
///
/// # Safety
/// ks.sys's contract: a live KSPIN set up by create, processing mutex held.
pub unsafe extern "system" fn pin_process(pin: *mut KSPIN) -> NTSTATUS {
    // SAFETY: ks.sys's contract.
    let Some(capture) = (unsafe { context(pin) }) else {
        return STATUS_SUCCESS;
    };
    // SAFETY: the processing mutex is held (Process contract): the resources' discipline.
    let Some(streaming) = (unsafe { &mut *capture.streaming.get() }).as_mut() else {
        return STATUS_PENDING;
    };
    let image_size = capture.format.image_size();
    loop {
        // SAFETY: a live pin under its processing mutex.
        let leading =
            unsafe { KsPinGetLeadingEdgeStreamPointer(pin, KSSTREAM_POINTER_STATE_LOCKED) };
        if leading.is_null() {
            return STATUS_SUCCESS;
        }
        let now = now_100ns();
        // A frame from our allocator first; with the pool dry, the oldest lease ends early.
        // With nothing lent either, the due frame stays due (and is dropped if the next one
        // falls due meanwhile).
        let mut allocated = streaming.pool.allocate();
        while allocated.is_none() {
            let Some(oldest) = streaming.lent.end_oldest() else {
                break;
            };
            // SAFETY: lent by this routine; its lease ends here (the documented contract).
            unsafe { streaming.pool.free(oldest) };
            allocated = streaming.pool.allocate();
        }
        let Some(frame) = allocated else {
            // SAFETY: the locked leading edge.
            unsafe { KsStreamPointerUnlock(leading, 0) };
            return STATUS_PENDING;
        };
        let taken = capture.stream.lock().clock.take_frame(now);
        let Some(stamp) = taken else {
            // Nothing due: keep the buffer for the next deadline.
            // SAFETY: allocated just above, not used.
            unsafe { streaming.pool.free(frame) };
            // SAFETY: the locked leading edge.
            unsafe { KsStreamPointerUnlock(leading, 0) };
            return STATUS_PENDING;
        };
        streaming.frames_allocated += 1;
        streaming.last_frame = frame as usize;
        // SAFETY: the pool's frames are `frame_size` = image_size bytes, ours until freed.
        let rendered = unsafe { core::slice::from_raw_parts_mut(frame, image_size as usize) };
        let ok = streaming
            .synth
            .render(&FrameInfo::from(&stamp), rendered)
            .is_ok();
        // SAFETY: the locked leading edge's OffsetOut describes the client's buffer.
        let out = unsafe { (*leading).OffsetOut };
        // SAFETY: the locked leading edge has its stream header.
        let header = unsafe { (*leading).StreamHeader }.cast::<KSSTREAM_HEADER>();
        if out.Data.is_null() && out.Count == 0 {
            // Shared mode: the client's header brought no buffer; lend it the pool frame.
            if let Some(ended) = streaming.lent.lend(frame) {
                // SAFETY: lent by this routine LEASE_WINDOW frames ago: its lease ends now.
                unsafe { streaming.pool.free(ended) };
            }
            let used = if ok { image_size } else { 0 };
            // SAFETY: ks.sys's stream header for this frame (maybe unaligned).
            let mut value = unsafe { header.read_unaligned() };
            value.Data = frame as u64;
            value.FrameExtent = streaming.pool.frame_size();
            value.DataUsed = used;
            // SAFETY: as above.
            unsafe { header.write_unaligned(value) };
            // SAFETY: as above, `Size` bytes.
            unsafe { stamp_header(header, &stamp) };
            capture.stream.lock().delivered_bytes += u64::from(used);
            // SAFETY: the locked leading edge; a whole-frame advance keeps DataUsed as written.
            unsafe { KsStreamPointerAdvance(leading) };
            continue;
        }
        let used = if ok && out.Remaining >= image_size && !out.Data.is_null() {
            // SAFETY: `Data` has `Remaining` writable bytes, the client's locked buffer.
            let buffer = unsafe { core::slice::from_raw_parts_mut(out.Data, image_size as usize) };
            buffer.copy_from_slice(rendered);
            image_size
        } else {
            // A buffer too small for a frame: delivered empty (DataUsed 0), still stamped.
            0
        };
        // SAFETY: allocated above; `rendered` is not used past this point.
        unsafe { streaming.pool.free(frame) };
        // SAFETY: ks.sys's stream header for this frame, `Size` bytes.
        unsafe { stamp_header(header, &stamp) };
        capture.stream.lock().delivered_bytes += u64::from(used);
        // SAFETY: the locked leading edge; `used` <= Remaining; eject the frame.
        unsafe { KsStreamPointerAdvanceOffsets(leading, 0, used, 1) };
    }
}
