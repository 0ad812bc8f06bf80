//! The stream side of the AVStream emulation, driven through the test minidriver
//! (`support/avstream_driver.rs`): IOCTL_KS_READ_STREAM probed as `KsProbeStreamIrp` does, user-
//! and kernel-mode requestors, reads in every state, when Process runs, `DataUsed`, stream
//! pointers (clones, locks, cancellation) and the leading edge.

#[path = "support/avstream_driver.rs"]
mod driver;

use std::ptr::null_mut;

use avcam_emulation::{AsyncIo, Bug, File, Kernel};
use avcam_kernel::{
    KsPinAttemptProcessing, KsPinGetLeadingEdgeStreamPointer, KsStreamPointerAdvance,
    KsStreamPointerAdvanceOffsets, KsStreamPointerClone, KsStreamPointerDelete,
    KsStreamPointerUnlock,
};
use driver::*;
use ks::avstream::*;
use ks::ks::IOCTL_KS_READ_STREAM;
use ks::nt::{KernelMode, UserMode, IRP, IRP_BUFFERED_IO, IRP_INPUT_OPERATION};
use ks::status::*;
use ks::video::{KSDATAFORMAT_SUBTYPE_NV12, KSSTREAM_HEADER, KSSTREAM_HEADER_OPTIONSF_TIMEVALID};
use zerocopy::FromBytes;

/// sizeof(KSSTREAM_HEADER) on x64.
const HEADER: usize = std::mem::size_of::<KSSTREAM_HEADER>();

fn new_pin(kernel: &Kernel, filter: File) -> (File, *mut KSPIN) {
    let pin = kernel
        .create_pin(filter, &connect(0, KSDATAFORMAT_SUBTYPE_NV12))
        .expect("pin");
    let ks_pin = ks_pin(kernel, pin);
    (pin, ks_pin)
}

fn finish(kernel: &Kernel, files: &[File]) {
    for &file in files {
        assert_eq!(kernel.close(file), STATUS_SUCCESS);
    }
    kernel.assert_no_leaks();
}

/// The status of a read the emulation answers at once.
fn refused(kernel: &Kernel, pin: File, headers: &[u8]) -> NTSTATUS {
    match kernel.read_stream(pin, headers) {
        AsyncIo::Done(done) => done.result.status,
        AsyncIo::Pending(pending) => {
            panic!("queued, expected a refusal: {:?}", pending.poll())
        }
    }
}

use ks::NTSTATUS;

/// A live IRP's `SystemBuffer`, `UserBuffer`, `Flags` and `RequestorMode`.
fn buffers_of(irp: *mut IRP) -> (usize, usize, u32, i8) {
    // SAFETY: the caller's PendingIrp keeps the IRP alive; read only.
    let system = unsafe { (*irp).SystemBuffer } as usize;
    // SAFETY: the same live IRP.
    let user = unsafe { (*irp).UserBuffer } as usize;
    // SAFETY: the same live IRP.
    let flags = unsafe { (*irp).Flags };
    // SAFETY: the same live IRP.
    let mode = unsafe { (*irp).RequestorMode };
    (system, user, flags, mode)
}

/// The `OffsetOut.Data` of a stream pointer, as an address.
///
/// # Safety
/// `pointer` must be a live stream pointer of the emulation.
unsafe fn data_of(pointer: *mut KSSTREAM_POINTER) -> usize {
    // SAFETY: the caller's guarantee.
    unsafe { (*pointer).OffsetOut.Data as usize }
}

/// The first header of a completed read's output.
fn header_of(output: &[u8]) -> KSSTREAM_HEADER {
    KSSTREAM_HEADER::read_from_prefix(output).unwrap().0
}

/// Runs `body` on the pin's leading edge (locked), entered.
fn with_leading<T>(
    kernel: &Kernel,
    pin: *mut KSPIN,
    body: impl FnOnce(*mut KSSTREAM_POINTER) -> T,
) -> T {
    let _entered = kernel.enter();
    // SAFETY: a live pin.
    let leading = unsafe { KsPinGetLeadingEdgeStreamPointer(pin, KSSTREAM_POINTER_STATE_LOCKED) };
    body(leading)
}

#[test]
fn headers_are_probed_as_ks_probe_stream_irp_does() {
    let (kernel, filter) = loaded();
    let (pin, ks_pin) = new_pin(&kernel, filter);
    pin_state(ks_pin).mode = Mode::Hold;
    let mut buffer = vec![0u8; 64];
    let data = buffer.as_mut_ptr() as u64;
    // No StreamHeaderSize: at least a KSSTREAM_HEADER, a multiple of 8, tiling the buffer.
    assert_eq!(
        refused(&kernel, pin, &[]),
        STATUS_INVALID_BUFFER_SIZE,
        "empty"
    );
    let small = header_sized(HEADER, data, 64);
    let mut too_small = small.clone();
    too_small[..4].copy_from_slice(&48u32.to_le_bytes());
    assert_eq!(
        refused(&kernel, pin, &too_small),
        STATUS_INVALID_BUFFER_SIZE
    );
    assert_eq!(
        refused(&kernel, pin, &header_sized(60, data, 64)),
        STATUS_INVALID_BUFFER_SIZE,
        "not a multiple of 8"
    );
    let mut truncated = small.clone();
    truncated.extend_from_slice(&[0u8; 20]);
    assert_eq!(
        refused(&kernel, pin, &truncated),
        STATUS_INVALID_BUFFER_SIZE
    );
    let mut overlong = small.clone();
    overlong[..4].copy_from_slice(&64u32.to_le_bytes());
    assert_eq!(
        refused(&kernel, pin, &overlong),
        STATUS_INVALID_BUFFER_SIZE,
        "Size past the end of the buffer"
    );
    let mut used = small.clone();
    used[36..40].copy_from_slice(&1u32.to_le_bytes());
    assert_eq!(
        refused(&kernel, pin, &used),
        STATUS_INVALID_BUFFER_SIZE,
        "DataUsed"
    );
    let mut flagged = small.clone();
    flagged[48..52].copy_from_slice(&KSSTREAM_HEADER_OPTIONSF_TIMEVALID.to_le_bytes());
    assert_eq!(
        refused(&kernel, pin, &flagged),
        STATUS_INVALID_PARAMETER,
        "OptionsFlags"
    );
    // A 64-byte header and two headers tiling the buffer are fine.
    let wide = kernel
        .read_stream(pin, &header_sized(64, data, 64))
        .expect_pending();
    let mut two = header_sized(HEADER, data, 32);
    two.extend_from_slice(&header_sized(HEADER, data + 32, 32));
    let pair = kernel.read_stream(pin, &two).expect_pending();
    // With a StreamHeaderSize (set in the pin's Create, as avshws does): that size, or a bare
    // KSSTREAM_HEADER (AVStream makes no guarantee the extended size is honoured).
    // SAFETY: the minidriver's field of its live pin; no request is in flight on it now.
    unsafe { (*ks_pin).StreamHeaderSize = 128 };
    let extended = kernel
        .read_stream(pin, &header_sized(128, data, 64))
        .expect_pending();
    let bare = kernel
        .read_stream(pin, &header_sized(HEADER, data, 64))
        .expect_pending();
    assert_eq!(
        refused(&kernel, pin, &header_sized(64, data, 64)),
        STATUS_INVALID_BUFFER_SIZE,
        "neither StreamHeaderSize nor a KSSTREAM_HEADER"
    );
    assert_eq!(set_state(&kernel, pin, KSSTATE_ACQUIRE), STATUS_SUCCESS);
    assert_eq!(set_state(&kernel, pin, KSSTATE_STOP), STATUS_SUCCESS);
    for read in [wide, pair, extended, bare] {
        assert_eq!(read.poll().unwrap().status, STATUS_CANCELLED);
    }
    finish(&kernel, &[pin, filter]);
}

#[test]
fn reads_are_queued_in_every_state_and_reaching_stop_cancels_them() {
    let (kernel, filter) = loaded();
    let (pin, ks_pin) = new_pin(&kernel, filter);
    let mut a = vec![0u8; 16];
    let mut b = vec![0u8; 16];
    // STOP: queued, not refused; Process does not run below RUN (PROCESS_IN_RUN_STATE_ONLY).
    let first = kernel
        .read_stream(pin, &header_for(&mut a))
        .expect_pending();
    set_state(&kernel, pin, KSSTATE_ACQUIRE);
    let second = kernel
        .read_stream(pin, &header_for(&mut b))
        .expect_pending();
    assert!(first.poll().is_none() && second.poll().is_none());
    assert_eq!(pin_state(ks_pin).processed, 0);
    // Back to STOP: the reset that comes with every stop cancels them.
    set_state(&kernel, pin, KSSTATE_STOP);
    assert_eq!(first.poll().unwrap().status, STATUS_CANCELLED);
    assert_eq!(second.poll().unwrap().status, STATUS_CANCELLED);
    // Queued in STOP, filled once the pin reaches RUN.
    let third = kernel
        .read_stream(pin, &header_for(&mut a))
        .expect_pending();
    set_state(&kernel, pin, KSSTATE_RUN);
    let done = third.poll().expect("filled on reaching RUN");
    assert_eq!(done.status, STATUS_SUCCESS);
    assert_eq!(done.information, HEADER);
    assert_eq!(header_of(&third.output().unwrap()).DataUsed, 16);
    assert_eq!(&a[..16], &[0xAB; 16]);
    drop((first, second, third));
    finish(&kernel, &[pin, filter]);
}

#[test]
fn a_user_mode_read_is_captured_and_copied_back_with_the_callers_data() {
    let (kernel, kernel_filter) = loaded();
    let filter = user_filter(&kernel);
    let (pin, ks_pin) = new_pin(&kernel, filter);
    assert_eq!(
        kernel.requestor_mode(pin),
        Some(UserMode),
        "inherited from the filter"
    );
    pin_state(ks_pin).mode = Mode::Hold;
    set_state(&kernel, pin, KSSTATE_RUN);
    let mut buffer = vec![0u8; 64];
    let caller_data = buffer.as_mut_ptr() as u64;
    let read = kernel
        .read_stream(pin, &header_for(&mut buffer))
        .expect_pending();
    let (system, user, flags, mode) = buffers_of(read.irp());
    assert_eq!(mode, UserMode);
    assert_ne!(system, user, "the headers were captured");
    assert_eq!(
        flags & (IRP_BUFFERED_IO | IRP_INPUT_OPERATION),
        IRP_BUFFERED_IO | IRP_INPUT_OPERATION
    );
    with_leading(&kernel, ks_pin, |leading| {
        assert!(!leading.is_null());
        // SAFETY: the locked leading edge of a live pin.
        let header = unsafe { (*leading).StreamHeader };
        // SAFETY: the same locked leading edge.
        let offset = unsafe { (*leading).OffsetOut };
        assert_eq!(header as usize, system, "the minidriver sees the copy");
        assert_eq!(
            offset.Data as u64, caller_data,
            "the locked pages, at the same address"
        );
        assert_eq!((offset.Count, offset.Remaining), (64, 64));
        // The minidriver fills it and, wrongly, points the copy's Data at kernel memory.
        // SAFETY: Data has 64 writable bytes; the header is the live copy.
        unsafe { std::ptr::write_bytes(offset.Data, 0x5A, 64) };
        // SAFETY: the captured header, live while its read is queued.
        unsafe { (*header.cast::<KSSTREAM_HEADER>()).DataUsed = 64 };
        // SAFETY: the same captured header.
        unsafe { (*header.cast::<KSSTREAM_HEADER>()).Data = KERNEL_ADDRESS };
        kernel.expect_bugs();
        // SAFETY: the locked leading edge.
        unsafe { KsStreamPointerAdvanceOffsets(leading, 0, 64, 1) };
    });
    let done = read.poll().expect("completed");
    assert_eq!(done.status, STATUS_SUCCESS);
    let seen = header_of(&read.output().unwrap());
    assert_eq!(
        seen.Data, caller_data,
        "the caller's Data, never a kernel address"
    );
    assert_eq!(seen.DataUsed, 64, "the rest of the copy came back");
    assert_eq!(buffer, vec![0x5A; 64]);
    assert_eq!(
        kernel.take_bugs(),
        [Bug::UserHeaderDataChanged {
            original: caller_data,
            written: KERNEL_ADDRESS
        }]
    );
    drop(read);
    finish(&kernel, &[pin, filter, kernel_filter]);
}

#[test]
fn a_user_mode_read_that_fails_leaves_the_callers_headers_alone() {
    let (kernel, kernel_filter) = loaded();
    let filter = user_filter(&kernel);
    let (pin, ks_pin) = new_pin(&kernel, filter);
    pin_state(ks_pin).mode = Mode::Hold;
    let mut buffer = vec![0u8; 16];
    let headers = header_for(&mut buffer);
    let read = kernel.read_stream(pin, &headers).expect_pending();
    with_leading(&kernel, ks_pin, |leading| {
        // SAFETY: the locked leading edge of a live pin.
        let header = unsafe { (*leading).StreamHeader }.cast::<KSSTREAM_HEADER>();
        // SAFETY: its header is the live captured copy.
        unsafe { (*header).DataUsed = 16 };
        // SAFETY: the locked leading edge.
        unsafe { KsStreamPointerUnlock(leading, 0) };
    });
    assert!(read.cancel());
    assert_eq!(read.poll().unwrap().status, STATUS_CANCELLED);
    assert_eq!(
        read.output().unwrap(),
        headers,
        "an error status copies nothing back"
    );
    drop(read);
    finish(&kernel, &[pin, filter, kernel_filter]);
}

#[test]
fn a_kernel_mode_read_is_used_in_place() {
    let (kernel, filter) = loaded();
    let (pin, ks_pin) = new_pin(&kernel, filter);
    assert_eq!(kernel.requestor_mode(pin), Some(KernelMode));
    pin_state(ks_pin).mode = Mode::Hold;
    set_state(&kernel, pin, KSSTATE_RUN);
    let mut buffer = vec![0u8; 16];
    let read = kernel
        .read_stream(pin, &header_for(&mut buffer))
        .expect_pending();
    let (system, user, flags, _) = buffers_of(read.irp());
    assert_eq!(system, user);
    assert_eq!(flags & IRP_BUFFERED_IO, 0);
    with_leading(&kernel, ks_pin, |leading| {
        // SAFETY: the locked leading edge of a live pin.
        assert_eq!(unsafe { (*leading).StreamHeader } as usize, user);
        // SAFETY: the locked leading edge, on a frame.
        unsafe { KsStreamPointerAdvance(leading) };
    });
    assert_eq!(read.poll().unwrap().status, STATUS_SUCCESS);
    drop(read);
    finish(&kernel, &[pin, filter]);
}

#[test]
fn a_user_mode_caller_cannot_hand_in_kernel_memory() {
    let (kernel, kernel_filter) = loaded();
    let filter = user_filter(&kernel);
    // One pin instance at a time: the user-mode pin first, then a kernel-mode one.
    let (pin, _) = new_pin(&kernel, filter);
    let block = {
        let _entered = kernel.enter();
        // SAFETY: any arguments are fine for the pool.
        unsafe {
            avcam_kernel::ExAllocatePool2(
                ks::nt::POOL_FLAG_NON_PAGED,
                4096,
                u32::from_le_bytes(*b"Test"),
            )
        }
    } as u64;
    for (data, extent) in [
        (block, 4096),
        (block + 100, 16),
        (block - 8, 16),
        (KERNEL_ADDRESS, 16),
        (u64::MAX - 8, 16),
    ] {
        assert_eq!(
            refused(&kernel, pin, &header_sized(HEADER, data, extent)),
            STATUS_ACCESS_VIOLATION,
            "{data:#x} + {extent}"
        );
    }
    // The caller's own memory is fine.
    let mut buffer = vec![0u8; 16];
    let fine = kernel
        .read_stream(pin, &header_for(&mut buffer))
        .expect_pending();
    set_state(&kernel, pin, KSSTATE_ACQUIRE);
    set_state(&kernel, pin, KSSTATE_STOP);
    assert_eq!(fine.poll().unwrap().status, STATUS_CANCELLED);
    drop(fine);
    assert_eq!(kernel.close(pin), STATUS_SUCCESS);
    // A kernel-mode caller may: its pool frames are the allocator mode's.
    let (pin, ks_pin) = new_pin(&kernel, kernel_filter);
    pin_state(ks_pin).mode = Mode::Hold;
    let pooled = kernel
        .read_stream(pin, &header_sized(HEADER, block, 4096))
        .expect_pending();
    set_state(&kernel, pin, KSSTATE_ACQUIRE);
    set_state(&kernel, pin, KSSTATE_STOP);
    assert_eq!(pooled.poll().unwrap().status, STATUS_CANCELLED);
    drop(pooled);
    {
        let _entered = kernel.enter();
        // SAFETY: the block allocated above, freed once.
        unsafe { avcam_kernel::ExFreePoolWithTag(block as *mut _, u32::from_le_bytes(*b"Test")) };
    }
    finish(&kernel, &[pin, filter, kernel_filter]);
}

#[test]
fn a_header_without_a_buffer_has_an_empty_offset() {
    let (kernel, filter) = loaded();
    let (pin, ks_pin) = new_pin(&kernel, filter);
    pin_state(ks_pin).mode = Mode::Hold;
    set_state(&kernel, pin, KSSTATE_RUN);
    let mut buffer = vec![0u8; 16];
    let mut headers = header_sized(HEADER, 0, 100);
    headers.extend_from_slice(&header_sized(HEADER, buffer.as_mut_ptr() as u64, 0));
    let read = kernel.read_stream(pin, &headers).expect_pending();
    for _ in 0..2 {
        with_leading(&kernel, ks_pin, |leading| {
            // SAFETY: the locked leading edge of a live pin.
            let offset = unsafe { (*leading).OffsetOut };
            assert!(offset.Data.is_null());
            assert_eq!((offset.Count, offset.Remaining), (0, 0));
            // SAFETY: the locked leading edge, on a frame.
            unsafe { KsStreamPointerAdvance(leading) };
        });
    }
    assert_eq!(read.poll().unwrap().status, STATUS_SUCCESS);
    drop(read);
    finish(&kernel, &[pin, filter]);
}

#[test]
fn data_used_must_match_the_offsets_advanced() {
    for (mode, expected) in [
        (
            Mode::AdvanceWithoutDataUsed,
            vec![Bug::DataUsedMismatch {
                data_used: 0,
                advanced: 16,
            }],
        ),
        (
            Mode::DataUsedWithoutAdvance,
            vec![Bug::DataUsedMismatch {
                data_used: 16,
                advanced: 0,
            }],
        ),
        (Mode::FillThroughHeader, vec![]),
        (Mode::OnePerCall, vec![]),
    ] {
        let (kernel, filter) = loaded();
        let (pin, ks_pin) = new_pin(&kernel, filter);
        pin_state(ks_pin).mode = mode;
        set_state(&kernel, pin, KSSTATE_RUN);
        kernel.expect_bugs();
        let mut buffer = vec![0u8; 16];
        let read = kernel
            .read_stream(pin, &header_for(&mut buffer))
            .expect_pending();
        assert_eq!(read.poll().unwrap().status, STATUS_SUCCESS, "{mode:?}");
        assert_eq!(kernel.take_bugs(), expected, "{mode:?}");
        let used = header_of(&read.output().unwrap()).DataUsed;
        let wanted = if mode == Mode::AdvanceWithoutDataUsed {
            0
        } else {
            16
        };
        assert_eq!(
            used, wanted,
            "the emulation never writes DataUsed ({mode:?})"
        );
        drop(read);
        finish(&kernel, &[pin, filter]);
    }
}

#[test]
fn process_runs_when_data_arrives_in_an_empty_queue_not_on_every_arrival() {
    let (kernel, filter) = loaded();
    let (pin, ks_pin) = new_pin(&kernel, filter);
    pin_state(ks_pin).mode = Mode::Hold;
    set_state(&kernel, pin, KSSTATE_RUN);
    let mut buffers = vec![vec![0u8; 16]; 3];
    let mut reads = Vec::new();
    for (index, buffer) in buffers.iter_mut().enumerate() {
        reads.push(
            kernel
                .read_stream(pin, &header_for(buffer))
                .expect_pending(),
        );
        assert_eq!(
            pin_state(ks_pin).processed,
            1,
            "only the arrival into the empty queue (read {index})"
        );
    }
    {
        let _entered = kernel.enter();
        // SAFETY: a live pin.
        unsafe { KsPinAttemptProcessing(ks_pin, 0) };
    }
    assert_eq!(pin_state(ks_pin).processed, 2, "KsPinAttemptProcessing");
    set_state(&kernel, pin, KSSTATE_STOP);
    drop(reads);
    finish(&kernel, &[pin, filter]);
}

#[test]
fn the_arrival_flags_choose_when_process_runs() {
    for (flags, after_three, after_attempt) in [
        (KSPIN_FLAG_INITIATE_PROCESSING_ON_EVERY_ARRIVAL, 3, 4),
        (KSPIN_FLAG_DO_NOT_INITIATE_PROCESSING, 0, 1),
    ] {
        let (kernel, filter) = loaded_with(flags);
        let (pin, ks_pin) = new_pin(&kernel, filter);
        pin_state(ks_pin).mode = Mode::Hold;
        set_state(&kernel, pin, KSSTATE_RUN);
        let mut buffers = vec![vec![0u8; 16]; 3];
        let reads: Vec<_> = buffers
            .iter_mut()
            .map(|b| kernel.read_stream(pin, &header_for(b)).expect_pending())
            .collect();
        assert_eq!(pin_state(ks_pin).processed, after_three, "{flags:#x}");
        {
            let _entered = kernel.enter();
            // SAFETY: a live pin.
            unsafe { KsPinAttemptProcessing(ks_pin, 0) };
        }
        assert_eq!(pin_state(ks_pin).processed, after_attempt, "{flags:#x}");
        set_state(&kernel, pin, KSSTATE_STOP);
        drop(reads);
        finish(&kernel, &[pin, filter]);
    }
}

#[test]
fn reaching_the_minimum_processing_state_with_frames_queued_processes_them() {
    // No KSPIN_FLAG_PROCESS_IN_RUN_STATE_ONLY: the minimum processing state is PAUSE.
    let (kernel, filter) = loaded_with(0);
    let (pin, ks_pin) = new_pin(&kernel, filter);
    pin_state(ks_pin).mode = Mode::Hold;
    let mut buffer = vec![0u8; 16];
    let read = kernel
        .read_stream(pin, &header_for(&mut buffer))
        .expect_pending();
    assert_eq!(pin_state(ks_pin).processed, 0, "not below PAUSE");
    set_state(&kernel, pin, KSSTATE_ACQUIRE);
    assert_eq!(pin_state(ks_pin).processed, 0);
    set_state(&kernel, pin, KSSTATE_PAUSE);
    assert_eq!(
        pin_state(ks_pin).processed,
        1,
        "into PAUSE with a frame queued"
    );
    set_state(&kernel, pin, KSSTATE_RUN);
    assert_eq!(
        pin_state(ks_pin).processed,
        1,
        "RUN is no transition into the minimum"
    );
    set_state(&kernel, pin, KSSTATE_PAUSE);
    set_state(&kernel, pin, KSSTATE_RUN);
    assert_eq!(pin_state(ks_pin).processed, 1);
    // Into PAUSE again from below, with nothing queued: no Process.
    set_state(&kernel, pin, KSSTATE_STOP);
    assert_eq!(read.poll().unwrap().status, STATUS_CANCELLED);
    set_state(&kernel, pin, KSSTATE_PAUSE);
    assert_eq!(pin_state(ks_pin).processed, 1, "no frames, no Process");
    drop(read);
    finish(&kernel, &[pin, filter]);
}

#[test]
fn success_calls_process_again_while_it_makes_progress() {
    let (kernel, filter) = loaded();
    let (pin, ks_pin) = new_pin(&kernel, filter);
    pin_state(ks_pin).mode = Mode::OneThenSucceed;
    let mut buffers = vec![vec![0u8; 16]; 3];
    let reads: Vec<_> = buffers
        .iter_mut()
        .map(|b| kernel.read_stream(pin, &header_for(b)).expect_pending())
        .collect();
    set_state(&kernel, pin, KSSTATE_RUN);
    assert_eq!(
        pin_state(ks_pin).processed,
        3,
        "one call per frame, until no frame is left"
    );
    assert!(reads.iter().all(|r| r.poll().is_some()));
    drop(reads);
    finish(&kernel, &[pin, filter]);
}

#[test]
fn success_without_progress_is_a_bug_not_a_loop() {
    let (kernel, filter) = loaded();
    let (pin, ks_pin) = new_pin(&kernel, filter);
    pin_state(ks_pin).mode = Mode::SucceedIdle;
    set_state(&kernel, pin, KSSTATE_RUN);
    kernel.expect_bugs();
    let mut buffer = vec![0u8; 16];
    let read = kernel
        .read_stream(pin, &header_for(&mut buffer))
        .expect_pending();
    assert_eq!(
        pin_state(ks_pin).processed,
        1,
        "called once, not again and again"
    );
    assert_eq!(
        kernel.take_bugs(),
        [Bug::ProcessWithoutProgress {
            pin: ks_pin as usize
        }]
    );
    set_state(&kernel, pin, KSSTATE_STOP);
    assert_eq!(read.poll().unwrap().status, STATUS_CANCELLED);
    drop(read);
    finish(&kernel, &[pin, filter]);
}

#[test]
fn advancing_a_clone_moves_it_to_the_next_frame() {
    let (kernel, filter) = loaded();
    let (pin, ks_pin) = new_pin(&kernel, filter);
    pin_state(ks_pin).mode = Mode::Hold;
    set_state(&kernel, pin, KSSTATE_RUN);
    let mut a = vec![0u8; 16];
    let mut b = vec![0u8; 16];
    let first = kernel
        .read_stream(pin, &header_for(&mut a))
        .expect_pending();
    let second = kernel
        .read_stream(pin, &header_for(&mut b))
        .expect_pending();
    with_leading(&kernel, ks_pin, |leading| {
        let mut clone = null_mut();
        // SAFETY: the locked leading edge; `clone` is writable.
        let status = unsafe { KsStreamPointerClone(leading, None, 0, &mut clone) };
        assert_eq!(status, STATUS_SUCCESS);
        // SAFETY: the live clone.
        let data = unsafe { data_of(clone) };
        assert_eq!(data, a.as_ptr() as usize);
        // SAFETY: the live clone (locked, as its source).
        assert_eq!(unsafe { KsStreamPointerAdvance(clone) }, STATUS_SUCCESS);
        // SAFETY: the live clone, moved, not deleted.
        let data = unsafe { data_of(clone) };
        assert_eq!(data, b.as_ptr() as usize);
        // SAFETY: the live clone (still locked).
        let status = unsafe { KsStreamPointerAdvance(clone) };
        assert_eq!(status, STATUS_DEVICE_NOT_READY, "past the last frame");
        // SAFETY: the clone still exists, holding nothing.
        assert!(unsafe { (*clone).StreamHeader }.is_null());
        // SAFETY: the live clone, deleted once (no bug: it was never deleted by an advance).
        unsafe { KsStreamPointerDelete(clone) };
        // The leading edge was not moved by any of it.
        // SAFETY: the locked leading edge.
        let data = unsafe { data_of(leading) };
        assert_eq!(data, a.as_ptr() as usize);
        // SAFETY: the locked leading edge.
        unsafe { KsStreamPointerUnlock(leading, 0) };
    });
    assert!(first.poll().is_none() && second.poll().is_none());
    set_state(&kernel, pin, KSSTATE_STOP);
    drop((first, second));
    finish(&kernel, &[pin, filter]);
}

#[test]
fn a_clones_cancel_callback_runs_when_its_read_is_cancelled() {
    let (kernel, filter) = loaded();
    let (pin, ks_pin) = new_pin(&kernel, filter);
    pin_state(ks_pin).mode = Mode::Clone;
    set_state(&kernel, pin, KSSTATE_RUN);
    let mut buffer = vec![0u8; 16];
    let read = kernel
        .read_stream(pin, &header_for(&mut buffer))
        .expect_pending();
    assert!(
        !pin_state(ks_pin).clone.is_null(),
        "Process cloned the frame"
    );
    assert!(read.cancel());
    assert!(
        CLONES_CANCELLED
            .lock()
            .unwrap()
            .contains(&(ks_pin as usize)),
        "the clone's callback ran"
    );
    assert!(pin_state(ks_pin).clone.is_null(), "and deleted the clone");
    assert_eq!(read.poll().unwrap().status, STATUS_CANCELLED);
    drop(read);
    finish(&kernel, &[pin, filter]);
}

#[test]
fn a_locked_leading_edge_protects_its_frame_from_cancellation() {
    let (kernel, filter) = loaded();
    let (pin, ks_pin) = new_pin(&kernel, filter);
    pin_state(ks_pin).mode = Mode::Hold;
    set_state(&kernel, pin, KSSTATE_RUN);
    let mut buffer = vec![0u8; 16];
    let read = kernel
        .read_stream(pin, &header_for(&mut buffer))
        .expect_pending();
    let leading = with_leading(&kernel, ks_pin, |leading| leading);
    assert!(read.cancel(), "the cancel routine ran");
    assert!(
        read.poll().is_none(),
        "a locked pointer's frame cannot be cancelled"
    );
    {
        let _entered = kernel.enter();
        // SAFETY: the leading edge locked above.
        unsafe { KsStreamPointerUnlock(leading, 0) };
    }
    assert_eq!(
        read.poll().unwrap().status,
        STATUS_CANCELLED,
        "once unlocked"
    );
    drop(read);
    finish(&kernel, &[pin, filter]);
}

#[test]
fn the_leading_edge_is_re_aimed_after_a_cancel() {
    let (kernel, filter) = loaded();
    let (pin, ks_pin) = new_pin(&kernel, filter);
    pin_state(ks_pin).mode = Mode::Hold;
    set_state(&kernel, pin, KSSTATE_RUN);
    let mut a = vec![0u8; 16];
    let mut b = vec![0u8; 32];
    let first = kernel
        .read_stream(pin, &header_for(&mut a))
        .expect_pending();
    let second = kernel
        .read_stream(pin, &header_for(&mut b))
        .expect_pending();
    let leading = with_leading(&kernel, ks_pin, |leading| {
        // SAFETY: the locked leading edge.
        unsafe { KsStreamPointerUnlock(leading, 0) };
        leading
    });
    // SAFETY: the pin's leading edge lives with the pin.
    let data = unsafe { data_of(leading) };
    assert_eq!(data, a.as_ptr() as usize);
    assert!(first.cancel());
    assert_eq!(first.poll().unwrap().status, STATUS_CANCELLED);
    // SAFETY: the pin's leading edge lives with the pin.
    let offset = unsafe { (*leading).OffsetOut };
    assert_eq!(
        offset.Data as usize,
        b.as_ptr() as usize,
        "on the next read's frame"
    );
    assert_eq!((offset.Count, offset.Remaining), (32, 32));
    assert!(second.cancel());
    // SAFETY: the pin's leading edge lives with the pin.
    assert!(unsafe { (*leading).StreamHeader }.is_null(), "nothing left");
    drop((first, second));
    finish(&kernel, &[pin, filter]);
}

#[test]
fn a_read_already_cancelled_when_queued_is_cancelled_at_once() {
    let (kernel, filter) = loaded();
    let (pin, ks_pin) = new_pin(&kernel, filter);
    set_state(&kernel, pin, KSSTATE_RUN);
    let mut buffer = vec![0u8; 16];
    let read = kernel
        .ioctl_async_cancelled_early(pin, IOCTL_KS_READ_STREAM, &header_for(&mut buffer))
        .expect_pending();
    assert_eq!(read.poll().unwrap().status, STATUS_CANCELLED);
    assert_eq!(pin_state(ks_pin).processed, 0, "never offered to Process");
    assert_eq!(buffer, vec![0; 16]);
    drop(read);
    finish(&kernel, &[pin, filter]);
}

#[test]
fn advancing_the_offsets_of_an_unlocked_pointer_does_nothing() {
    let (kernel, filter) = loaded();
    let (pin, ks_pin) = new_pin(&kernel, filter);
    pin_state(ks_pin).mode = Mode::Hold;
    set_state(&kernel, pin, KSSTATE_RUN);
    let mut buffer = vec![0u8; 16];
    let read = kernel
        .read_stream(pin, &header_for(&mut buffer))
        .expect_pending();
    {
        let _entered = kernel.enter();
        // SAFETY: a live pin with a frame queued.
        let leading =
            unsafe { KsPinGetLeadingEdgeStreamPointer(ks_pin, KSSTREAM_POINTER_STATE_UNLOCKED) };
        assert!(!leading.is_null());
        // SAFETY: the (unlocked) leading edge.
        let status = unsafe { KsStreamPointerAdvanceOffsets(leading, 0, 16, 1) };
        assert_eq!(
            status, STATUS_DEVICE_NOT_READY,
            "the pointer was unlocked at call time"
        );
        // SAFETY: the leading edge of a live pin.
        let offset = unsafe { (*leading).OffsetOut };
        assert_eq!((offset.Count, offset.Remaining), (16, 16), "unmoved");
        // SAFETY: the (unlocked) leading edge of a live pin, on a frame.
        assert_eq!(unsafe { KsStreamPointerAdvance(leading) }, STATUS_SUCCESS);
    }
    assert_eq!(read.poll().unwrap().status, STATUS_SUCCESS);
    drop(read);
    finish(&kernel, &[pin, filter]);
}
