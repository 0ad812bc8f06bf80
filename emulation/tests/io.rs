//! The I/O manager: IRP construction, METHOD_NEITHER buffers, completion, pending requests,
//! cancellation, and the dispatch bugs the emulation detects.

mod common;

use std::time::Duration;

use avcam_emulation::{AsyncIo, Bug, CreateItem, File, Kernel};
use common::*;
use ks::nt::{irp_mj, KernelMode, UserMode, IO_TYPE_IRP};
use ks::status::*;

const LONG: Duration = Duration::from_secs(60);

fn echo(kernel: &Kernel) -> (File, File) {
    let parent = kernel.create_parent(&[CreateItem::new("Echo", echo_create)]);
    let file = kernel.create(parent, &utf16("Echo")).expect("echo created");
    (parent, file)
}

fn finish(kernel: &Kernel, parent: File, file: File) {
    assert_eq!(kernel.close(file), STATUS_SUCCESS);
    assert_eq!(kernel.close(parent), STATUS_SUCCESS);
    kernel.assert_no_leaks();
    kernel.check();
}

#[test]
fn a_synchronous_ioctl_copies_the_output_back() {
    let kernel = Kernel::new();
    let (parent, file) = echo(&kernel);
    let mut output = [0u8; 8];
    let result = kernel.ioctl(file, ECHO, b"hello", &mut output);
    assert_eq!(result.status, STATUS_SUCCESS);
    assert_eq!(result.information, 5);
    assert_eq!(&output, b"hello\0\0\0");
    finish(&kernel, parent, file);
}

#[test]
fn a_user_mode_parent_makes_user_mode_files_whose_irps_say_so() {
    let kernel = Kernel::new();
    let parent = kernel.create_parent_user(&[CreateItem::new("Echo", echo_create)]);
    let file = kernel.create(parent, &utf16("Echo")).expect("echo created");
    assert_eq!(kernel.requestor_mode(parent), Some(UserMode));
    assert_eq!(kernel.requestor_mode(file), Some(UserMode), "inherited");
    kernel.ioctl(file, OBSERVE, &[1], &mut [0u8; 1]);
    assert_eq!(observed().unwrap().requestor_mode, UserMode);
    finish(&kernel, parent, file);
    assert_eq!(kernel.requestor_mode(file), None, "closed");
}

#[test]
fn ioctls_are_method_neither_kernel_mode_irps_on_the_file_object() {
    let kernel = Kernel::new();
    let (parent, file) = echo(&kernel);
    let mut output = [0u8; 3];
    kernel.ioctl(file, OBSERVE, &[0xAB, 2], &mut output);
    let seen = observed().expect("the driver saw the request");
    assert!(!seen.input.is_null());
    assert_eq!(seen.input_len, 2);
    assert_eq!(
        seen.first_input_byte,
        Some(0xAB),
        "Type3InputBuffer holds the input"
    );
    assert!(!seen.output.is_null());
    assert_eq!(seen.output_len, 3);
    assert_eq!(seen.code, OBSERVE);
    assert_eq!(seen.requestor_mode, KernelMode);
    assert_eq!(seen.file, kernel.file_object(file));
    assert_eq!(seen.stack_device, kernel.device_object());
    assert_eq!(seen.device, kernel.device_object());
    assert_eq!((seen.stack_count, seen.irp_type), (1, IO_TYPE_IRP));
    // Empty buffers are NULL, as DeviceIoControl with no buffers gives them.
    kernel.ioctl(file, OBSERVE, &[], &mut []);
    let seen = observed().expect("the driver saw the request");
    assert!(seen.input.is_null() && seen.output.is_null());
    assert_eq!((seen.input_len, seen.output_len), (0, 0));
    finish(&kernel, parent, file);
}

#[test]
fn the_driver_major_functions_go_to_ks_dispatch_irp() {
    let kernel = Kernel::new();
    let driver = kernel.driver_object();
    // SAFETY: the driver object lives as long as the kernel; read only.
    let major = unsafe { (*driver).MajorFunction };
    let ks_dispatch = avcam_emulation::services::KsDispatchIrp as *const () as usize;
    for slot in [
        irp_mj::CREATE,
        irp_mj::CLOSE,
        irp_mj::DEVICE_CONTROL,
        irp_mj::QUERY_SECURITY,
    ] {
        assert_eq!(
            major[usize::from(slot)].map(|f| f as usize),
            Some(ks_dispatch)
        );
    }
    assert!(major[usize::from(irp_mj::PNP)].is_some_and(|f| f as usize != ks_dispatch));
    // SAFETY: as above.
    assert_eq!(unsafe { (*kernel.device_object()).DriverObject }, driver);
}

#[test]
fn a_pended_irp_completes_later_with_its_output_and_pending_returned() {
    let kernel = Kernel::new();
    let (parent, file) = echo(&kernel);
    let pending = kernel.ioctl_async(file, PEND, &[], 4).expect_pending();
    assert_eq!(pending.poll(), None);
    assert_eq!(pending.output(), None);
    let result = kernel.ioctl(file, COMPLETE_QUEUED, &[], &mut []);
    assert_eq!((result.status, result.information), (STATUS_SUCCESS, 1));
    let done = pending.wait(LONG).expect("completed");
    assert_eq!((done.status, done.information), (STATUS_SUCCESS, 1));
    assert_eq!(pending.output(), Some(vec![0; 4]));
    let irp = pending.irp();
    // SAFETY: the PendingIrp keeps the IRP alive; it is completed, so nobody writes it.
    let completed = unsafe { &*irp };
    assert_eq!(
        completed.PendingReturned, 1,
        "IoMarkIrpPending shows as PendingReturned"
    );
    // SAFETY: UserIosb points into the IRP's own block, alive with it.
    let user_iosb = unsafe { *completed.UserIosb };
    assert_eq!(
        user_iosb.Status, STATUS_SUCCESS,
        "the status reached UserIosb"
    );
    assert_eq!(user_iosb.Information, 1);
    drop(pending);
    finish(&kernel, parent, file);
}

#[test]
fn a_pended_irp_can_be_completed_from_another_thread() {
    let kernel = Kernel::new();
    let (parent, file) = echo(&kernel);
    let pending = kernel.ioctl_async(file, PEND, &[], 0).expect_pending();
    let completer = {
        let kernel = kernel.clone();
        std::thread::spawn(move || kernel.ioctl(file, COMPLETE_QUEUED, &[], &mut []))
    };
    assert_eq!(pending.wait(LONG).map(|r| r.status), Some(STATUS_SUCCESS));
    assert_eq!(completer.join().unwrap().information, 1);
    drop(pending);
    finish(&kernel, parent, file);
}

#[test]
fn cancel_calls_the_cancel_routine_with_the_cancel_lock_held() {
    let kernel = Kernel::new();
    let (parent, file) = echo(&kernel);
    let pending = kernel.ioctl_async(file, PEND, &[], 0).expect_pending();
    assert!(pending.cancel(), "a cancel routine was set");
    assert_eq!(pending.poll().map(|r| r.status), Some(STATUS_CANCELLED));
    // SAFETY: the PendingIrp keeps the completed IRP alive.
    assert_eq!(unsafe { (*pending.irp()).Cancel }, 1);
    assert!(!pending.cancel(), "a completed IRP cannot be cancelled");
    drop(pending);
    finish(&kernel, parent, file);
}

#[test]
fn cancel_without_a_routine_only_sets_the_flag() {
    let kernel = Kernel::new();
    let (parent, file) = echo(&kernel);
    let pending = kernel
        .ioctl_async(file, PEND_NO_CANCEL, &[], 0)
        .expect_pending();
    assert!(!pending.cancel());
    assert_eq!(pending.poll(), None);
    // SAFETY: the PendingIrp keeps the IRP alive; Cancel is a byte the driver only reads.
    assert_eq!(unsafe { (*pending.irp()).Cancel }, 1);
    // Only the driver can finish it now.
    let result = kernel.ioctl(file, COMPLETE_QUEUED, &[], &mut []);
    assert_eq!(result.information, 1);
    assert_eq!(pending.poll().map(|r| r.status), Some(STATUS_SUCCESS));
    drop(pending);
    finish(&kernel, parent, file);
}

/// Whether the echo object's context (freed by its IRP_MJ_CLOSE) is still in the pool.
fn echo_alive(kernel: &Kernel) -> bool {
    kernel
        .pool()
        .outstanding()
        .iter()
        .any(|block| block.tag == avcam_emulation::Tag(ECHO_TAG))
}

#[test]
fn closing_the_handle_sends_cleanup_at_once_and_close_when_the_last_irp_completes() {
    let kernel = Kernel::new();
    let (parent, file) = echo(&kernel);
    let object = kernel.file_object(file);
    let pending = kernel.ioctl_async(file, PEND, &[], 0).expect_pending();
    assert_eq!(kernel.close(file), STATUS_SUCCESS);
    // The handle is gone: later use and a second close fail cleanly.
    assert_eq!(
        kernel.ioctl(file, ECHO, b"x", &mut [0u8; 1]).status,
        STATUS_INVALID_HANDLE
    );
    assert_eq!(kernel.close(file), STATUS_INVALID_HANDLE);
    assert!(kernel.file_object(file).is_null());
    // The object is not: the IRP in flight holds a reference, so no IRP_MJ_CLOSE yet.
    assert!(
        echo_alive(&kernel),
        "IRP_MJ_CLOSE waited for the IRP in flight"
    );
    assert_eq!(pending.poll(), None, "the request in flight is untouched");
    // SAFETY: the file object lives while the IRP references it.
    assert_eq!(unsafe { (*object).Type }, ks::nt::IO_TYPE_FILE);
    // Cancelling it (the client's CancelIoEx) completes it; the CLOSE follows.
    assert!(pending.cancel());
    assert_eq!(pending.poll().map(|r| r.status), Some(STATUS_CANCELLED));
    assert!(
        !echo_alive(&kernel),
        "IRP_MJ_CLOSE came with the last reference"
    );
    drop(pending);
    assert_eq!(kernel.close(parent), STATUS_SUCCESS);
    kernel.assert_no_leaks();
}

#[test]
fn a_close_with_no_irp_in_flight_is_immediate() {
    let kernel = Kernel::new();
    let (parent, file) = echo(&kernel);
    assert!(echo_alive(&kernel));
    assert_eq!(kernel.close(file), STATUS_SUCCESS);
    assert!(!echo_alive(&kernel));
    finish_parent(&kernel, parent);
}

fn finish_parent(kernel: &Kernel, parent: File) {
    assert_eq!(kernel.close(parent), STATUS_SUCCESS);
    kernel.assert_no_leaks();
}

#[test]
fn cleanup_reaches_ks_as_an_invalid_device_request() {
    // KSDISPATCH_TABLE has no cleanup entry, and ReactOS's KsDispatchIrp answers IRP_MJ_CLEANUP
    // with KsDispatchInvalidDeviceRequest: the driver's only chance to act is its CLOSE.
    let kernel = Kernel::new();
    let (parent, file) = echo(&kernel);
    let driver = kernel.driver_object();
    // SAFETY: the driver object lives as long as the kernel; read only.
    let cleanup = unsafe { (*driver).MajorFunction }[usize::from(irp_mj::CLEANUP)];
    let ks_dispatch = avcam_emulation::services::KsDispatchIrp as *const () as usize;
    assert_ne!(
        cleanup.map(|f| f as *const () as usize),
        Some(ks_dispatch),
        "KsSetMajorFunctionHandler does not take IRP_MJ_CLEANUP"
    );
    let pending = kernel.ioctl_async(file, PEND, &[], 0).expect_pending();
    kernel.close(file);
    assert_eq!(
        pending.poll(),
        None,
        "the cleanup did not cancel the queued IRP (ks.sys has no cleanup handler)"
    );
    assert!(pending.cancel());
    drop(pending);
    finish_parent(&kernel, parent);
}

#[test]
fn a_dead_client_has_its_irps_cancelled_then_its_handles_closed_newest_first() {
    let kernel = Kernel::new();
    let (parent, file) = echo(&kernel);
    let second = kernel
        .create(parent, &utf16("Echo"))
        .expect("a second echo");
    let a = kernel.ioctl_async(file, PEND, &[], 0).expect_pending();
    let b = kernel.ioctl_async(second, PEND, &[], 0).expect_pending();
    kernel.kill_client();
    assert_eq!(a.poll().map(|r| r.status), Some(STATUS_CANCELLED));
    assert_eq!(b.poll().map(|r| r.status), Some(STATUS_CANCELLED));
    assert_eq!(kernel.open_files(), 0, "every handle closed");
    assert!(!echo_alive(&kernel), "both echo objects got their CLOSE");
    assert_eq!(kernel.close(parent), STATUS_INVALID_HANDLE);
    drop((a, b));
    kernel.assert_no_leaks();
}

#[test]
fn an_irp_the_driver_never_completes_keeps_its_file_object_from_closing() {
    let kernel = Kernel::new();
    let (_parent, file) = echo(&kernel);
    let stuck = kernel
        .ioctl_async(file, PEND_NO_CANCEL, &[], 0)
        .expect_pending();
    kernel.kill_client();
    assert_eq!(
        stuck.poll(),
        None,
        "no cancel routine: the cancel only set the flag"
    );
    assert!(
        echo_alive(&kernel),
        "no IRP_MJ_CLOSE while the IRP holds its reference"
    );
    let report =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| kernel.assert_no_leaks()));
    let message = *report.unwrap_err().downcast::<String>().unwrap();
    assert!(message.contains("IRP_MJ_CLOSE never sent"), "{message}");
}

#[test]
fn a_request_completed_before_returning_is_done_not_pending() {
    let kernel = Kernel::new();
    let (parent, file) = echo(&kernel);
    match kernel.ioctl_async(file, ECHO, b"ab", 2) {
        AsyncIo::Done(done) => {
            assert_eq!(done.result.status, STATUS_SUCCESS);
            assert_eq!(done.output, b"ab");
        }
        AsyncIo::Pending(_) => panic!("ECHO completes at once"),
    }
    finish(&kernel, parent, file);
}

/// Runs `code` on an echo object expecting bugs; returns them, checking that closing the object
/// afterwards finds nothing more.
fn bugs_of(code: u32) -> Vec<Bug> {
    let (bugs, at_close) = bugs_and_close_bugs_of(code);
    assert_eq!(at_close, []);
    bugs
}

/// Runs `code` on an echo object expecting bugs; returns them and those found closing it.
fn bugs_and_close_bugs_of(code: u32) -> (Vec<Bug>, Vec<Bug>) {
    let kernel = Kernel::new();
    kernel.expect_bugs();
    let (parent, file) = echo(&kernel);
    kernel.ioctl(file, code, &[], &mut []);
    let bugs = kernel.take_bugs();
    kernel.close(file);
    kernel.close(parent);
    (bugs, kernel.take_bugs())
}

#[test]
fn completing_twice_is_detected() {
    let bugs = bugs_of(BUG_COMPLETE_TWICE);
    assert!(
        matches!(bugs.as_slice(), [Bug::IrpCompletedTwice { .. }]),
        "{bugs:?}"
    );
}

#[test]
fn returning_pending_without_marking_is_detected() {
    let bugs = bugs_of(BUG_PENDING_NOT_MARKED);
    assert_eq!(
        bugs,
        [Bug::PendingNotMarked {
            major: irp_mj::DEVICE_CONTROL
        }]
    );
}

#[test]
fn returning_without_completing_is_detected() {
    let (bugs, at_close) = bugs_and_close_bugs_of(BUG_RETURN_WITHOUT_COMPLETING);
    let expected = Bug::ReturnedWithoutCompleting {
        major: irp_mj::DEVICE_CONTROL,
        status: STATUS_SUCCESS,
    };
    assert_eq!(bugs, [expected]);
    // The IRP was never completed: its reference keeps the file object from its CLOSE (Windows
    // does the same; the leak report names it), which is no further bug.
    assert_eq!(at_close, []);
}

#[test]
fn returning_another_status_than_completed_is_detected() {
    let bugs = bugs_of(BUG_STATUS_MISMATCH);
    assert_eq!(
        bugs,
        [Bug::StatusMismatch {
            major: irp_mj::DEVICE_CONTROL,
            returned: STATUS_INVALID_PARAMETER,
            completed: STATUS_SUCCESS
        }]
    );
}

#[test]
fn completing_with_status_pending_is_detected() {
    let bugs = bugs_of(BUG_COMPLETE_WITH_PENDING);
    assert!(
        bugs.iter()
            .any(|b| matches!(b, Bug::IrpCompletedWithPending { .. })),
        "{bugs:?}"
    );
}

#[test]
fn completing_with_a_cancel_routine_set_is_detected() {
    let bugs = bugs_of(BUG_COMPLETE_WITH_CANCEL_ROUTINE);
    assert!(
        matches!(bugs.as_slice(), [Bug::IrpCompletedWithCancelRoutine { .. }]),
        "{bugs:?}"
    );
}

#[test]
fn marking_pending_then_returning_success_is_detected() {
    let bugs = bugs_of(BUG_MARKED_BUT_RETURNED);
    assert_eq!(
        bugs,
        [Bug::MarkedPendingButReturned {
            major: irp_mj::DEVICE_CONTROL,
            status: STATUS_SUCCESS
        }]
    );
}

#[test]
fn a_dispatch_routine_leaving_a_spin_lock_held_is_detected() {
    let bugs = bugs_of(BUG_LEAVE_LOCK_HELD);
    assert!(
        matches!(
            bugs.as_slice(),
            [
                Bug::IrpCompletedHoldingSpinLock { .. },
                Bug::IrqlNotRestored {
                    context: "a dispatch routine",
                    irql: 2
                }
            ]
        ),
        "it completed its IRP holding the lock, then returned holding it: {bugs:?}"
    );
}

#[test]
fn a_cancel_routine_keeping_the_cancel_lock_is_detected() {
    let kernel = Kernel::new();
    kernel.expect_bugs();
    let (parent, file) = echo(&kernel);
    let pending = kernel
        .ioctl_async(file, BUG_PEND_BAD_CANCEL, &[], 0)
        .expect_pending();
    assert!(pending.cancel());
    let irp = pending.irp() as usize;
    assert_eq!(
        kernel.take_bugs(),
        [
            Bug::IrpCompletedHoldingSpinLock { irp },
            Bug::CancelLockNotReleased
        ],
        "it completed the IRP holding the cancel spin lock, then kept the lock"
    );
    drop(pending);
    kernel.close(file);
    kernel.close(parent);
    kernel.assert_no_leaks();
}

#[test]
#[should_panic(expected = "completed twice")]
fn without_expect_bugs_the_client_call_panics() {
    let kernel = Kernel::new();
    let (_parent, file) = echo(&kernel);
    kernel.ioctl(file, BUG_COMPLETE_TWICE, &[], &mut []);
}

#[test]
fn completing_something_that_is_not_an_irp_is_detected() {
    let kernel = Kernel::new();
    kernel.expect_bugs();
    let _entered = kernel.enter();
    let mut not_an_irp = [0u64; 32];
    let address = not_an_irp.as_mut_ptr() as usize;
    // SAFETY: the emulation looks the pointer up before touching it.
    unsafe { avcam_kernel::IofCompleteRequest(not_an_irp.as_mut_ptr().cast(), 0) };
    assert_eq!(kernel.take_bugs(), [Bug::IrpUnknown { irp: address }]);
}

#[test]
fn client_calls_work_from_spawned_and_plain_threads() {
    let kernel = Kernel::new();
    let (parent, file) = echo(&kernel);
    let workers: Vec<_> = (0..4u8)
        .map(|i| {
            let kernel = kernel.clone();
            std::thread::spawn(move || {
                let mut output = [0u8; 1];
                for _ in 0..50 {
                    kernel.ioctl(file, ECHO, &[i], &mut output);
                    assert_eq!(output, [i]);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    finish(&kernel, parent, file);
}

/// The IRP the DPC test object pended, and the IRQL its Close ran at (0xFF: not yet).
static DPC_PENDED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static DPC_CLOSE_IRQL: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0xFF);

/// A test object whose device controls pend until a DPC completes them, and whose Close records
/// its IRQL.
static DPC_TABLE: ks::ks::KSDISPATCH_TABLE = ks::ks::KSDISPATCH_TABLE {
    DeviceIoControl: Some(pend_for_dpc),
    Read: None,
    Write: None,
    Flush: None,
    Close: Some(close_recording_irql),
    QuerySecurity: None,
    SetSecurity: None,
    FastDeviceIoControl: None,
    FastRead: None,
    FastWrite: None,
};

#[ks::kernel_abi]
unsafe extern "system" fn pend_for_dpc(
    _device: *mut ks::nt::DEVICE_OBJECT,
    irp: *mut ks::nt::IRP,
) -> ks::NTSTATUS {
    // SAFETY: the dispatch routine owns the live IRP; it pends it for the DPC.
    unsafe { avcam_kernel::irp::mark_pending(irp) };
    DPC_PENDED.store(irp as usize, std::sync::atomic::Ordering::SeqCst);
    STATUS_PENDING
}

#[ks::kernel_abi]
unsafe extern "system" fn close_recording_irql(
    _device: *mut ks::nt::DEVICE_OBJECT,
    irp: *mut ks::nt::IRP,
) -> ks::NTSTATUS {
    DPC_CLOSE_IRQL.store(
        avcam_emulation::current_irql(),
        std::sync::atomic::Ordering::SeqCst,
    );
    // SAFETY: the close dispatch owns the live IRP; completed once.
    unsafe { avcam_kernel::irp::complete(irp, STATUS_SUCCESS, 0) };
    STATUS_SUCCESS
}

#[ks::kernel_abi]
unsafe extern "system" fn complete_pended(
    _dpc: *mut ks::nt::KDPC,
    _context: *mut std::ffi::c_void,
    _a: *mut std::ffi::c_void,
    _b: *mut std::ffi::c_void,
) {
    let irp = DPC_PENDED.swap(0, std::sync::atomic::Ordering::SeqCst) as *mut ks::nt::IRP;
    // SAFETY: the IRP pend_for_dpc kept, completed once, here, at DISPATCH_LEVEL.
    unsafe { avcam_kernel::irp::complete(irp, STATUS_SUCCESS, 0) };
}

#[test]
fn a_close_whose_last_irp_completes_in_a_dpc_comes_back_at_passive_level() {
    let kernel = Kernel::new();
    let object = kernel.create_parent_with_table(&[], &DPC_TABLE);
    let pending = kernel.ioctl_async(object, ECHO, &[], 0).expect_pending();
    assert_eq!(kernel.close(object), STATUS_SUCCESS);
    assert_eq!(
        DPC_CLOSE_IRQL.load(std::sync::atomic::Ordering::SeqCst),
        0xFF,
        "no CLOSE while the IRP is in flight"
    );
    let mut timer = Box::new(ks::nt::KTIMER { Opaque: [0; 8] });
    let mut dpc = Box::new(ks::nt::KDPC { Opaque: [0; 8] });
    {
        let _entered = kernel.enter();
        // SAFETY: live boxes that outlive the one-shot timer (it fires below).
        unsafe {
            avcam_kernel::KeInitializeDpc(&mut *dpc, Some(complete_pended), std::ptr::null_mut())
        };
        // SAFETY: a live box that outlives the one-shot timer (it fires below).
        unsafe { avcam_kernel::KeInitializeTimerEx(&mut *timer, ks::nt::NotificationTimer) };
        // SAFETY: the timer and DPC initialised above, live until it has fired: due in 1 ms, once.
        unsafe { avcam_kernel::KeSetTimerEx(&mut *timer, -10_000, 0, &mut *dpc) };
    }
    // Due 1 ms after the last tick: it expires at the next one, within one default tick.
    kernel.clock().advance(2 * 15_625_000);
    assert_eq!(pending.poll().map(|r| r.status), Some(STATUS_SUCCESS));
    assert_eq!(
        DPC_CLOSE_IRQL.load(std::sync::atomic::Ordering::SeqCst),
        ks::nt::PASSIVE_LEVEL,
        "the CLOSE the DPC's completion decided ran at PASSIVE_LEVEL, after the DPC"
    );
    drop(pending);
    kernel.assert_no_leaks();
}

/// Closes recorded by the recording parent (its FILE_OBJECT addresses).
static PARENT_CLOSES: std::sync::Mutex<Vec<usize>> = std::sync::Mutex::new(Vec::new());

/// A parent whose creates go through its items and whose Close records its file object.
static RECORDING_TABLE: ks::ks::KSDISPATCH_TABLE = ks::ks::KSDISPATCH_TABLE {
    DeviceIoControl: None,
    Read: None,
    Write: None,
    Flush: None,
    Close: Some(record_parent_close),
    QuerySecurity: None,
    SetSecurity: None,
    FastDeviceIoControl: None,
    FastRead: None,
    FastWrite: None,
};

#[ks::kernel_abi]
unsafe extern "system" fn record_parent_close(
    _device: *mut ks::nt::DEVICE_OBJECT,
    irp: *mut ks::nt::IRP,
) -> ks::NTSTATUS {
    // SAFETY: the close dispatch owns the live IRP.
    let file = unsafe { avcam_kernel::irp::file_object(irp) };
    PARENT_CLOSES.lock().unwrap().push(file as usize);
    // SAFETY: completed once.
    unsafe { avcam_kernel::irp::complete(irp, STATUS_SUCCESS, 0) };
    STATUS_SUCCESS
}

#[test]
fn a_relative_open_takes_no_lasting_reference_on_its_parent() {
    let kernel = Kernel::new();
    let parent =
        kernel.create_parent_with_table(&[CreateItem::new("Echo", echo_create)], &RECORDING_TABLE);
    let parent_object = kernel.file_object(parent) as usize;
    let child = kernel.create(parent, &utf16("Echo")).expect("echo created");
    // SAFETY: the child's file object is live while its handle is open.
    let related = unsafe { (*kernel.file_object(child)).RelatedFileObject } as usize;
    assert_eq!(
        related, parent_object,
        "RelatedFileObject during and after create"
    );
    assert_eq!(kernel.close(parent), STATUS_SUCCESS);
    assert!(
        PARENT_CLOSES.lock().unwrap().contains(&parent_object),
        "the parent's IRP_MJ_CLOSE came while its child is open"
    );
    assert_eq!(
        kernel.ioctl(child, ECHO, b"k", &mut [0u8; 1]).status,
        STATUS_SUCCESS
    );
    assert_eq!(kernel.close(child), STATUS_SUCCESS);
    kernel.assert_no_leaks();
}

#[test]
fn ks_synchronous_io_control_device_irps_carry_the_mode_asked_for() {
    let kernel = Kernel::new();
    let (parent, file) = echo(&kernel);
    for mode in [KernelMode, UserMode] {
        let _entered = kernel.enter();
        let mut returned = 0u32;
        // SAFETY: the file object is live; no buffers; `returned` is writable.
        let status = unsafe {
            avcam_kernel::KsSynchronousIoControlDevice(
                kernel.file_object(file),
                mode,
                OBSERVE,
                std::ptr::null_mut(),
                0,
                std::ptr::null_mut(),
                0,
                &mut returned,
            )
        };
        assert_eq!(status, STATUS_SUCCESS);
        assert_eq!(observed().unwrap().requestor_mode, mode);
    }
    finish(&kernel, parent, file);
}
