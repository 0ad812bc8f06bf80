//! The frame path: how a due frame reaches the buffer at the pin's leading edge.
//!
//! 1. PAUSE -> RUN (`start`) starts the pin's `avstream::FrameClock` at the current time and
//!    arms the frame timer for the first deadline; RUN -> PAUSE (`stop`) stops the clock and
//!    cancels the timer. Times are `KeQueryPerformanceCounter` converted to 100 ns units
//!    ([`now_100ns`]), so every presentation time shares the QPC epoch (as avscamera stamps).
//! 2. The timer is a high-resolution `EX_TIMER` (`ExAllocateTimer(.., EX_TIMER_HIGH_RESOLUTION)`,
//!    Windows 8.1+): a default-resolution timer expires only on the system clock tick (about
//!    15 ms by default), one frame per tick at 240 fps and above; a high-resolution one expires
//!    at its due time, up to about a millisecond late. Its callback ([`frame_timer`], at
//!    DISPATCH_LEVEL, possibly on two processors at once) asks ks.sys for processing
//!    (`KsPinAttemptProcessing(pin, TRUE)`: Process needs the processing mutex, a PASSIVE_LEVEL
//!    work item) and re-arms the timer, under the stream lock and only while the clock runs,
//!    for the clock's next **absolute** deadline, so timer latency never accumulates into drift.
//! 3. [`pin_process`] (ks.sys calls it only in RUN: `KSPIN_FLAG_PROCESS_IN_RUN_STATE_ONLY`)
//!    takes the leading edge once and loops on the status of each advance: for each buffer it
//!    asks the core what to do (`avstream::deliver::StreamState::plan`, from the buffer's
//!    `OffsetOut` and the client's `KS_FRAME_INFO.lSurfacePitch`), then
//!    - renders the due frame straight into `OffsetOut.Data` (no intermediate frame, no copy;
//!      with streaming stores when the consumer's recent buffers outgrow the cache together),
//!      sets `DataUsed` itself, stamps the `KSSTREAM_HEADER` (PresentationTime = the frame's
//!      deadline, Duration, TIMEVALID | DURATIONVALID | SPLICEPOINT) and the `KS_FRAME_INFO`
//!      after it when the header's `Size` covers one (PictureNumber, DropCount, flags; the
//!      client's `lSurfacePitch` kept), and advances the stream pointer's offsets by the bytes
//!      written, ejecting the frame: `DataUsed` equals `Count - Remaining` of the pointer, the
//!      value ks.sys would write if it set `DataUsed` itself (docs/ks-fidelity.md);
//!    - or completes the buffer empty at once (no buffer: a header with `Data` NULL, as avshws
//!      skips; too small; a pitch it cannot honour);
//!    - or, with nothing due, unlocks the leading edge and returns STATUS_PENDING: the timer's
//!      next `KsPinAttemptProcessing` resumes processing.
//!
//!    Advancing past the last queued buffer returns STATUS_DEVICE_NOT_READY: processing ends
//!    until a buffer arrives in the empty queue (ks.sys calls Process again then).
//! 4. A frame that falls due while no buffer is queued is never rendered: it is a dropped frame
//!    (`dropped = due - delivered`), visible in the next frame's `DropCount` and in
//!    `KSPROPERTY_DROPPEDFRAMES_CURRENT`. A pass that runs late still fills queued buffers with
//!    every frame due within the clock's catch-up window, each with its own deadline.
//!
//! 5. Before each buffer Process compares the device's settings generation
//!    ([`crate::device_state`]) with the one it applies: when a control or the fault plan
//!    changed, the synthesizer takes the new controls (templates rebuilt when the picture
//!    changes) and the stream the new plan, so a change reaches every pin at its next frame.
//!    Faults are applied by `StreamState::plan` (drops skipped, a delayed frame held back and
//!    the timer armed for its release, an empty frame stamped with `DataUsed` 0 and not
//!    rendered) and what was injected is added to the device's counters after each buffer.
//!
//! Nothing here allocates: the synthesizer's templates are built once at STOP -> ACQUIRE, and
//! the buffers are the consumer's.

use core::ffi::c_void;

use ks::avstream::{KSPIN, KSSTREAM_POINTER, KSSTREAM_POINTER_STATE_LOCKED};
use ks::nt::EX_TIMER;
use ks::status::{STATUS_DEVICE_NOT_READY, STATUS_PENDING, STATUS_SUCCESS};
use ks::video::{KSSTREAM_HEADER, KS_FRAME_INFO};
use ks::NTSTATUS;

use avcam_kernel::{
    ExCancelTimer, ExSetTimer, KeQueryPerformanceCounter, KsPinAttemptProcessing,
    KsPinGetLeadingEdgeStreamPointer, KsStreamPointerAdvance, KsStreamPointerAdvanceOffsets,
    KsStreamPointerUnlock,
};
use avstream::clock::{FRAME_INFO_SIZE, STREAM_HEADER_SIZE};
use avstream::deliver::{Delivery, OutputBuffer, StreamState};
use avstream::synth::FrameInfo;
use avstream::FrameStamp;

use crate::device_state::Snapshot;
use crate::pin::{context, CapturePin, Renderer};

/// 100 ns units per second.
const HNS_PER_SECOND: i128 = 10_000_000;

/// `KeQueryPerformanceCounter` in 100 ns units (ks.h's `KSCONVERT_PERFORMANCE_TIME`, computed in
/// 128 bits so no frequency overflows it).
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

/// Arms the pin's timer for `deadline` (100 ns, [`now_100ns`] time) as a relative due time
/// (a high-resolution timer requires one), at least 100 ns so a deadline already passed fires
/// at once. Called with the pin's stream lock held.
fn arm(pin: &CapturePin, deadline: i64, now: i64) {
    let timer = pin.timer.get();
    if timer.is_null() {
        return;
    }
    let relative = deadline.saturating_sub(now).max(1);
    // SAFETY: the pin's live timer (allocated at create, deleted at close after the last
    // callback); ExSetTimer is callable at IRQL <= DISPATCH_LEVEL, under a spin lock.
    unsafe { ExSetTimer(timer, -relative, 0, core::ptr::null_mut()) };
}

/// PAUSE -> RUN: the first frame is due now.
pub(crate) fn start(pin: &CapturePin) {
    let now = now_100ns();
    let mut stream = pin.stream.lock();
    stream.clock.start(now);
    if let Some(deadline) = stream.clock.next_deadline(now - 1) {
        arm(pin, deadline, now);
    }
}

/// RUN -> PAUSE: freezes the frame count and cancels the timer. A callback already running on
/// another processor finds the clock stopped under the lock and does not re-arm.
pub(crate) fn stop(pin: &CapturePin) {
    let now = now_100ns();
    pin.stream.lock().clock.stop(now);
    let timer = pin.timer.get();
    if !timer.is_null() {
        // SAFETY: the pin's live timer; cancelling an idle timer is harmless.
        unsafe { ExCancelTimer(timer, core::ptr::null_mut()) };
    }
}

/// The frame timer's callback (`EXT_CALLBACK`, DISPATCH_LEVEL): request processing, then re-arm
/// for the next absolute deadline while the clock runs.
///
/// # Safety
/// The `EX_TIMER` contract; `context` is the pin's [`CapturePin`] (set at create), live because
/// close deletes the timer, waiting for a running callback, before freeing it.
#[ks::kernel_abi]
pub unsafe extern "system" fn frame_timer(_timer: *mut EX_TIMER, context: *mut c_void) {
    // SAFETY: the timer's context is the live CapturePin (function contract).
    let pin = unsafe { &*context.cast::<CapturePin>() };
    // SAFETY: a live KSPIN; asynchronous processing is what DISPATCH_LEVEL callers must ask for.
    unsafe { KsPinAttemptProcessing(pin.pin, 1) };
    let now = now_100ns();
    rearm(pin, &pin.stream.lock(), now);
}

/// Arms the timer for the stream's next wakeup after `now` (the next deadline, or a held-back
/// frame's release if earlier) while the clock runs. Called with the stream lock held.
fn rearm(pin: &CapturePin, stream: &StreamState, now: i64) {
    if stream.clock.is_running() {
        if let Some(wakeup) = stream.next_wakeup(now) {
            arm(pin, wakeup, now);
        }
    }
}

/// Takes on the device's fault plan and a stall handed over with it.
pub(crate) fn apply_faults(pin: &CapturePin, snapshot: &Snapshot) {
    let mut stream = pin.stream.lock();
    stream.set_faults(snapshot.faults);
    if snapshot.stall_ms != 0 {
        stream.request_stall(snapshot.stall_ms);
    }
}

/// Adds what the pin injected since the last call to the device's counters.
pub(crate) fn flush_injected(pin: &CapturePin) {
    let injected = pin.stream.lock().take_injected();
    if let Some(device) = pin.device() {
        device.count(&injected);
    }
}

/// Applies the device's settings if they changed since the renderer last looked: the controls
/// (templates rebuilt when the picture changes) and the fault plan.
fn sync(pin: &CapturePin, renderer: &mut Renderer) {
    let Some(device) = pin.device() else {
        return;
    };
    let Some(snapshot) = device.snapshot_if_changed(renderer.seen) else {
        return;
    };
    renderer.seen = snapshot.generation;
    renderer.synth.reconfigure(snapshot.controls.synth_config());
    apply_faults(pin, &snapshot);
}

/// What the leading edge offers: `OffsetOut` and, when the header's `Size` covers a
/// `KS_FRAME_INFO`, the client's surface pitch.
///
/// # Safety
/// `leading` is the pin's locked leading edge.
unsafe fn offer(leading: *mut KSSTREAM_POINTER) -> OutputBuffer {
    // SAFETY: a locked stream pointer's OffsetOut describes its frame's buffer.
    let out = unsafe { (*leading).OffsetOut };
    // SAFETY: a locked stream pointer has its stream header (maybe unaligned).
    let header = unsafe { (*leading).StreamHeader }.cast::<KSSTREAM_HEADER>();
    OutputBuffer {
        present: !out.Data.is_null(),
        remaining: out.Remaining,
        // SAFETY: the header of a locked pointer, `Size` bytes.
        surface_pitch: unsafe { frame_info(header) }.map_or(0, |info| {
            // SAFETY: frame_info checked that `Size` covers the KS_FRAME_INFO.
            unsafe { info.read_unaligned() }.lSurfacePitch()
        }),
    }
}

/// The `KS_FRAME_INFO` after `header`, if its `Size` covers one ("AVStream makes no guarantee"
/// that a pin gets the `StreamHeaderSize` it asked for: avshws's capture pin).
///
/// # Safety
/// `header` points to a `KSSTREAM_HEADER` of `Size` bytes (maybe unaligned).
unsafe fn frame_info(header: *mut KSSTREAM_HEADER) -> Option<*mut KS_FRAME_INFO> {
    // SAFETY: the caller's guarantee.
    let size = unsafe { header.read_unaligned() }.Size;
    (size >= STREAM_HEADER_SIZE + FRAME_INFO_SIZE).then(|| {
        header
            .cast::<u8>()
            .wrapping_add(STREAM_HEADER_SIZE as usize)
            .cast::<KS_FRAME_INFO>()
    })
}

/// Writes a delivered frame into its headers: `DataUsed`, the stamp's timing fields, and the
/// stamp's `KS_FRAME_INFO` fields when the header is long enough; `Size`, `Data` and
/// `FrameExtent` stay as they were.
///
/// # Safety
/// `header` points to a writable `KSSTREAM_HEADER` of `Size` bytes (maybe unaligned).
unsafe fn stamp_header(header: *mut KSSTREAM_HEADER, stamp: &FrameStamp, data_used: u32) {
    // SAFETY: the caller's guarantee.
    let mut value = unsafe { header.read_unaligned() };
    value.DataUsed = data_used;
    stamp.fill_header(&mut value);
    // SAFETY: the caller's guarantee.
    unsafe { header.write_unaligned(value) };
    // SAFETY: the caller's guarantee.
    if let Some(info) = unsafe { frame_info(header) } {
        // SAFETY: frame_info checked that `Size` covers the KS_FRAME_INFO.
        let mut value = unsafe { info.read_unaligned() };
        stamp.fill_frame_info(&mut value);
        // SAFETY: as for the read just above.
        unsafe { info.write_unaligned(value) };
    }
}

/// Completes the leading edge's buffer empty: `DataUsed` 0, nothing else written, and the
/// pointer advanced to the next frame (its status).
///
/// # Safety
/// `leading` is the pin's locked leading edge.
unsafe fn complete_empty(leading: *mut KSSTREAM_POINTER) -> NTSTATUS {
    // SAFETY: a locked stream pointer has its stream header (maybe unaligned).
    let header = unsafe { (*leading).StreamHeader }.cast::<KSSTREAM_HEADER>();
    // SAFETY: the header of a locked pointer, `Size` >= sizeof(KSSTREAM_HEADER) bytes.
    let mut value = unsafe { header.read_unaligned() };
    value.DataUsed = 0;
    // SAFETY: as for the read just above.
    unsafe { header.write_unaligned(value) };
    // SAFETY: the locked leading edge; nothing was written, so no offset moves.
    unsafe { KsStreamPointerAdvance(leading) }
}

/// `PFNKSPINPROCESS`: fills the queued buffers with the due frames (see the module docs).
///
/// # Safety
/// ks.sys's contract: a live KSPIN set up by create, its processing mutex held, PASSIVE_LEVEL.
#[ks::kernel_abi]
pub unsafe extern "system" fn pin_process(pin: *mut KSPIN) -> NTSTATUS {
    // SAFETY: ks.sys's contract.
    let Some(capture) = (unsafe { context(pin) }) else {
        return STATUS_SUCCESS;
    };
    // SAFETY: the processing mutex is held (Process contract): the renderer's discipline, so
    // this is its only reference.
    let Some(renderer) = (unsafe { &mut *capture.renderer.get() }).as_mut() else {
        return STATUS_PENDING;
    };
    let layout = capture.format.layout();
    // SAFETY: a live pin under its processing mutex.
    let leading = unsafe { KsPinGetLeadingEdgeStreamPointer(pin, KSSTREAM_POINTER_STATE_LOCKED) };
    if leading.is_null() {
        return STATUS_SUCCESS;
    }
    loop {
        sync(capture, renderer);
        // SAFETY: the locked leading edge.
        let offer = unsafe { offer(leading) };
        let now = now_100ns();
        let decision = {
            let mut stream = capture.stream.lock();
            let decision = stream.plan(&layout, offer, now);
            if decision == Delivery::Wait {
                // A frame held back may be released before the next deadline.
                rearm(capture, &stream, now);
            }
            decision
        };
        flush_injected(capture);
        let status = match decision {
            Delivery::Wait => {
                // SAFETY: the locked leading edge, kept for the next wakeup.
                unsafe { KsStreamPointerUnlock(leading, 0) };
                return STATUS_PENDING;
            }
            // SAFETY: the locked leading edge.
            Delivery::Empty(_) => unsafe { complete_empty(leading) },
            Delivery::Render {
                stamp,
                data_used: 0,
                ..
            } => {
                // An injected empty frame: stamped, nothing rendered, DataUsed 0.
                // SAFETY: a locked stream pointer has its stream header (maybe unaligned).
                let header = unsafe { (*leading).StreamHeader }.cast::<KSSTREAM_HEADER>();
                // SAFETY: the header of a locked pointer, `Size` bytes.
                unsafe { stamp_header(header, &stamp, 0) };
                // SAFETY: the locked leading edge; nothing written, so no offset moves.
                unsafe { KsStreamPointerAdvance(leading) }
            }
            Delivery::Render {
                stamp,
                pitch,
                data_used,
            } => {
                // SAFETY: the locked leading edge's OffsetOut, read (copied) out of it.
                let data = unsafe { (*leading).OffsetOut }.Data;
                // SAFETY: a locked pointer's OffsetOut.Data has `Remaining` >= data_used
                // writable bytes (plan checked), the consumer's buffer, ours until the advance.
                let buffer = unsafe { core::slice::from_raw_parts_mut(data, data_used as usize) };
                let streaming = renderer
                    .stores
                    .streaming_for(data as usize, data_used as usize);
                renderer.synth.set_streaming_stores(streaming);
                // `plan` sized the buffer with the same layout, so rendering cannot fail; if it
                // did, nothing was written and the buffer goes back empty.
                if renderer
                    .synth
                    .render_with_pitch(&FrameInfo::from(&stamp), buffer, pitch)
                    .is_err()
                {
                    // SAFETY: the locked leading edge.
                    unsafe { complete_empty(leading) }
                } else {
                    // SAFETY: a locked stream pointer has its stream header (maybe unaligned).
                    let header = unsafe { (*leading).StreamHeader }.cast::<KSSTREAM_HEADER>();
                    // SAFETY: the header of a locked pointer, `Size` bytes.
                    unsafe { stamp_header(header, &stamp, data_used) };
                    // SAFETY: the locked leading edge; data_used <= Remaining; eject the frame.
                    unsafe { KsStreamPointerAdvanceOffsets(leading, 0, data_used, 1) }
                }
            }
        };
        match status {
            STATUS_SUCCESS => continue,
            // Ran off the end of the queue: the next buffer into the empty queue restarts us.
            STATUS_DEVICE_NOT_READY => return STATUS_SUCCESS,
            other => return other,
        }
    }
}
