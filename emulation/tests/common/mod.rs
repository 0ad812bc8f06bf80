//! A small KS object for the emulation's tests, written as driver code against `avcam-kernel`:
//! the "echo" object. Its create handler allocates a context from the pool whose first field is
//! the KSOBJECT_HEADER, and its IOCTLs (METHOD_NEITHER, custom codes) echo, observe, pend, cancel,
//! signal events, or misbehave on purpose so the tests can check that the emulation notices.
#![allow(dead_code)]

use std::cell::RefCell;
use std::ffi::c_void;
use std::ptr::null_mut;
use std::sync::atomic::{AtomicBool, Ordering};

use avcam_kernel::irp::{
    complete, create_item, current_stack_location, device_io_control, file_object, is_cancelled,
    mark_pending, set_cancel_routine,
};
use avcam_kernel::sync::SpinLock;
use avcam_kernel::{
    event_object_type, ExAllocatePool2, ExFreePoolWithTag, IoReleaseCancelSpinLock,
    KeAcquireSpinLockRaiseToDpc, KeSetEvent, KsAllocateObjectHeader, KsDispatchQuerySecurity,
    KsDispatchSetSecurity, KsFreeObjectHeader, ObReferenceObjectByHandle, ObfDereferenceObject,
};
use ks::ks::{KSDISPATCH_TABLE, KSOBJECT_CREATE_ITEM, KSOBJECT_HEADER};
use ks::nt::{
    ctl_code, KernelMode, DEVICE_OBJECT, EVENT_MODIFY_STATE, FILE_OBJECT, IRP, KSPIN_LOCK,
    METHOD_NEITHER, POOL_FLAG_NON_PAGED,
};
use ks::status::*;
use ks::NTSTATUS;

/// The pool tag of echo contexts.
pub const ECHO_TAG: u32 = u32::from_le_bytes(*b"Echo");

const fn code(function: u32) -> u32 {
    ctl_code(0x8000, function, METHOD_NEITHER, 0)
}

/// Copies the input to the output; Information = bytes copied.
pub const ECHO: u32 = code(0x800);
/// Records what the IRP looked like ([`observed`]).
pub const OBSERVE: u32 = code(0x801);
/// Pends the IRP with a cancel routine.
pub const PEND: u32 = code(0x802);
/// Pends the IRP without a cancel routine.
pub const PEND_NO_CANCEL: u32 = code(0x803);
/// Completes every queued IRP with STATUS_SUCCESS; Information = how many.
pub const COMPLETE_QUEUED: u32 = code(0x804);
/// Input: a HANDLE to an event; references it, signals it, dereferences it.
pub const SIGNAL_HANDLE: u32 = code(0x805);
/// Input: a HANDLE; references it and never dereferences it (a leak).
pub const KEEP_REFERENCE: u32 = code(0x806);
/// Makes close leave queued IRPs pending (a bug).
pub const ABANDON_ON_CLOSE: u32 = code(0x807);
/// Output: the create item KsQueryObjectCreateItem reports for this object's header.
pub const QUERY_CREATE_ITEM: u32 = code(0x808);

/// Completes the IRP twice.
pub const BUG_COMPLETE_TWICE: u32 = code(0x810);
/// Completes the IRP, then returns STATUS_PENDING without IoMarkIrpPending.
pub const BUG_PENDING_NOT_MARKED: u32 = code(0x811);
/// Returns STATUS_SUCCESS without completing.
pub const BUG_RETURN_WITHOUT_COMPLETING: u32 = code(0x812);
/// Completes with STATUS_SUCCESS, returns STATUS_INVALID_PARAMETER.
pub const BUG_STATUS_MISMATCH: u32 = code(0x813);
/// Completes with IoStatus.Status = STATUS_PENDING.
pub const BUG_COMPLETE_WITH_PENDING: u32 = code(0x814);
/// Completes with a cancel routine still set.
pub const BUG_COMPLETE_WITH_CANCEL_ROUTINE: u32 = code(0x815);
/// Marks the IRP pending, completes it, returns STATUS_SUCCESS.
pub const BUG_MARKED_BUT_RETURNED: u32 = code(0x816);
/// Acquires a spin lock and returns without releasing it.
pub const BUG_LEAVE_LOCK_HELD: u32 = code(0x817);
/// Pends with a cancel routine that never releases the cancel spin lock.
pub const BUG_PEND_BAD_CANCEL: u32 = code(0x818);
/// Frees the object header twice (at the second, KsFreeObjectHeader sees an unknown header).
pub const BUG_FREE_HEADER_TWICE: u32 = code(0x819);

/// The echo object's context: FsContext points here, the header first (the KS convention).
#[repr(C)]
struct Echo {
    header: KSOBJECT_HEADER,
    /// Queued IRPs, and whether each was queued with a cancel routine.
    queue: SpinLock<Vec<(usize, bool)>>,
    abandon_on_close: AtomicBool,
    stray_lock: KSPIN_LOCK,
}

/// The echo object's dispatch table.
pub static ECHO_TABLE: KSDISPATCH_TABLE = KSDISPATCH_TABLE {
    DeviceIoControl: Some(echo_ioctl),
    Read: None,
    Write: None,
    Flush: None,
    Close: Some(echo_close),
    QuerySecurity: Some(KsDispatchQuerySecurity),
    SetSecurity: Some(KsDispatchSetSecurity),
    FastDeviceIoControl: None,
    FastRead: None,
    FastWrite: None,
};

/// What an [`OBSERVE`] request looked like.
#[derive(Debug, Clone, Copy)]
pub struct Observation {
    pub input: *mut c_void,
    pub input_len: u32,
    pub first_input_byte: Option<u8>,
    pub output: *mut c_void,
    pub output_len: u32,
    pub code: u32,
    pub requestor_mode: i8,
    pub file: *mut FILE_OBJECT,
    pub stack_device: *mut DEVICE_OBJECT,
    pub device: *mut DEVICE_OBJECT,
    pub stack_count: i8,
    pub irp_type: i16,
}

thread_local! {
    static OBSERVED: RefCell<Option<Observation>> = const { RefCell::new(None) };
    static CREATED: RefCell<Option<CreateObservation>> = const { RefCell::new(None) };
}

/// The last [`OBSERVE`] request seen on this thread (dispatch is synchronous).
pub fn observed() -> Option<Observation> {
    OBSERVED.with(|o| o.borrow_mut().take())
}

/// What a create looked like to an observing create handler.
#[derive(Debug, Clone)]
pub struct CreateObservation {
    /// The ObjectClass of the item in KSCREATE_ITEM_IRP_STORAGE.
    pub item_class: String,
    /// The item pointer.
    pub item: *mut KSOBJECT_CREATE_ITEM,
    /// FileName.Length.
    pub name_length: u16,
    /// FileName's bytes (Length of them).
    pub name_bytes: Vec<u8>,
    /// Whether RelatedFileObject was set.
    pub has_parent: bool,
}

/// The last create an observing handler saw on this thread.
pub fn created() -> Option<CreateObservation> {
    CREATED.with(|o| o.borrow_mut().take())
}

/// The status [`observe_create`] fails creates with, so a test knows the handler ran.
pub const OBSERVED_CREATE_STATUS: NTSTATUS = STATUS_DEVICE_NOT_READY;

/// A create handler that records the request and fails it with [`OBSERVED_CREATE_STATUS`].
///
/// # Safety
/// Called by ks.sys with a live IRP_MJ_CREATE.
#[ks::kernel_abi]
pub unsafe extern "system" fn observe_create(
    _device: *mut DEVICE_OBJECT,
    irp: *mut IRP,
) -> NTSTATUS {
    // SAFETY: the dispatch routine owns the live IRP.
    let item = unsafe { create_item(irp) };
    // SAFETY: as above.
    let file = unsafe { file_object(irp) };
    // SAFETY: the file object of a create is live.
    let name = unsafe { (*file).FileName };
    // SAFETY: as above.
    let has_parent = !unsafe { (*file).RelatedFileObject }.is_null();
    // SAFETY: FileName.Buffer holds Length bytes.
    let name_bytes =
        unsafe { std::slice::from_raw_parts(name.Buffer.cast::<u8>(), usize::from(name.Length)) }
            .to_vec();
    // SAFETY: ks.sys stored a live create item.
    let class = unsafe { (*item).ObjectClass };
    // SAFETY: the item's ObjectClass holds Length bytes of UTF-16.
    let units = unsafe { std::slice::from_raw_parts(class.Buffer, usize::from(class.Length) / 2) };
    let observation = CreateObservation {
        item_class: String::from_utf16_lossy(units),
        item,
        name_length: name.Length,
        name_bytes,
        has_parent,
    };
    CREATED.with(|o| *o.borrow_mut() = Some(observation));
    // SAFETY: completed once, here.
    unsafe { complete(irp, OBSERVED_CREATE_STATUS, 0) };
    OBSERVED_CREATE_STATUS
}

/// The echo object's context, from an IRP on its file object.
///
/// # Safety
/// `irp` must be a live IRP on an echo file object.
unsafe fn echo_of(irp: *mut IRP) -> *mut Echo {
    // SAFETY: the caller guarantees a live IRP.
    let file = unsafe { file_object(irp) };
    // SAFETY: the file object of a live IRP is live; FsContext is the Echo.
    unsafe { (*file).FsContext }.cast()
}

/// Creates an echo object.
///
/// # Safety
/// Called by ks.sys with a live IRP_MJ_CREATE.
#[ks::kernel_abi]
pub unsafe extern "system" fn echo_create(_device: *mut DEVICE_OBJECT, irp: *mut IRP) -> NTSTATUS {
    // SAFETY: any arguments are fine for the pool.
    let memory =
        unsafe { ExAllocatePool2(POOL_FLAG_NON_PAGED, std::mem::size_of::<Echo>(), ECHO_TAG) }
            .cast::<Echo>();
    if memory.is_null() {
        // SAFETY: the dispatch routine owns the live IRP; completed once.
        unsafe { complete(irp, STATUS_INSUFFICIENT_RESOURCES, 0) };
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    let mut header: KSOBJECT_HEADER = null_mut();
    // SAFETY: the table is static; no create items; the IRP is live.
    let status = unsafe { KsAllocateObjectHeader(&mut header, 0, null_mut(), irp, &ECHO_TABLE) };
    if !nt_success(status) {
        // SAFETY: `memory` came from ExAllocatePool2 with this tag.
        unsafe { ExFreePoolWithTag(memory.cast(), ECHO_TAG) };
        // SAFETY: completed once.
        unsafe { complete(irp, status, 0) };
        return status;
    }
    let echo = Echo {
        header,
        queue: SpinLock::new(Vec::new()),
        abandon_on_close: AtomicBool::new(false),
        stray_lock: 0,
    };
    // SAFETY: `memory` is a fresh pool block of Echo's size, 16-byte aligned.
    unsafe { memory.write(echo) };
    // SAFETY: the IRP is live.
    let file = unsafe { file_object(irp) };
    // SAFETY: the file object of the create is live and ours to fill in.
    unsafe { (*file).FsContext = memory.cast() };
    // SAFETY: completed once.
    unsafe { complete(irp, STATUS_SUCCESS, 0) };
    STATUS_SUCCESS
}

/// Removes `irp` from its Echo's queue; returns whether it was there.
///
/// # Safety
/// `irp` must be a live IRP on an echo file object.
unsafe fn dequeue(irp: *mut IRP) -> bool {
    // SAFETY: the caller guarantees a live IRP on an echo file object.
    let echo = unsafe { echo_of(irp) };
    // SAFETY: the Echo lives while its file object is open.
    let mut queue = unsafe { &(*echo).queue }.lock();
    match queue.iter().position(|&(p, _)| p == irp as usize) {
        Some(i) => {
            queue.swap_remove(i);
            true
        }
        None => false,
    }
}

/// Cancels a queued IRP (the standard cancel-spin-lock pattern).
#[ks::kernel_abi]
unsafe extern "system" fn echo_cancel(_device: *mut DEVICE_OBJECT, irp: *mut IRP) {
    // SAFETY: the I/O manager calls us with a live IRP whose CancelIrql is set.
    let irql = unsafe { (*irp).CancelIrql };
    // SAFETY: called with the cancel lock held.
    unsafe { IoReleaseCancelSpinLock(irql) };
    // SAFETY: the IRP is live until completed, which only whoever removes it from the queue does.
    if unsafe { dequeue(irp) } {
        // SAFETY: removed from the queue, so this is the one completion.
        unsafe { complete(irp, STATUS_CANCELLED, 0) };
    }
}

/// A cancel routine that completes the IRP but keeps the cancel spin lock (a bug).
#[ks::kernel_abi]
unsafe extern "system" fn bad_cancel(_device: *mut DEVICE_OBJECT, irp: *mut IRP) {
    // SAFETY: the IRP is live until completed.
    if unsafe { dequeue(irp) } {
        // SAFETY: removed from the queue, so this is the one completion.
        unsafe { complete(irp, STATUS_CANCELLED, 0) };
    }
}

/// Queues `irp` (marked pending) with `cancel` as its cancel routine.
///
/// # Safety
/// `irp` must be a live IRP on an echo file object, owned by the caller.
#[ks::kernel_abi]
unsafe fn queue(
    irp: *mut IRP,
    cancel: Option<unsafe extern "system" fn(*mut DEVICE_OBJECT, *mut IRP)>,
) -> NTSTATUS {
    // SAFETY: the caller owns the live IRP.
    unsafe { mark_pending(irp) };
    // SAFETY: as above.
    let echo = unsafe { echo_of(irp) };
    // SAFETY: the Echo lives while its file object is open.
    let mut queue = unsafe { &(*echo).queue }.lock();
    queue.push((irp as usize, cancel.is_some()));
    // SAFETY: the IRP is live and queued.
    unsafe { set_cancel_routine(irp, cancel) };
    // SAFETY: as above.
    if cancel.is_some() && unsafe { is_cancelled(irp) } {
        // SAFETY: as above.
        if unsafe { set_cancel_routine(irp, None) }.is_some() {
            queue.pop();
            drop(queue);
            // SAFETY: taken back from the queue before any cancel routine ran.
            unsafe { complete(irp, STATUS_CANCELLED, 0) };
        }
    }
    STATUS_PENDING
}

/// Takes every queued IRP whose cancel routine could be cleared; an IRP queued with a routine
/// that is already gone is being cancelled, and its cancel routine completes it.
///
/// # Safety
/// `echo` must be a live Echo.
unsafe fn take_queued(echo: *mut Echo) -> Vec<*mut IRP> {
    // SAFETY: the caller guarantees a live Echo.
    let mut queue = unsafe { &(*echo).queue }.lock();
    let mut taken = Vec::new();
    queue.retain(|&(p, had_routine)| {
        let irp = p as *mut IRP;
        // SAFETY: queued IRPs are live until completed.
        let cleared = unsafe { set_cancel_routine(irp, None) }.is_some();
        if had_routine && !cleared {
            true
        } else {
            taken.push(irp);
            false
        }
    });
    taken
}

/// Reads a HANDLE from the input buffer.
///
/// # Safety
/// `irp` must be a live device-control IRP.
unsafe fn input_handle(irp: *mut IRP) -> Option<*mut c_void> {
    // SAFETY: the caller guarantees a live device-control IRP.
    let parameters = unsafe { device_io_control(irp) };
    if (parameters.InputBufferLength as usize) < std::mem::size_of::<usize>() {
        return None;
    }
    // SAFETY: the input buffer holds at least 8 bytes (unaligned read: METHOD_NEITHER buffers may
    // be unaligned).
    Some(unsafe { parameters.Type3InputBuffer.cast::<usize>().read_unaligned() } as *mut c_void)
}

/// The echo object's IOCTLs.
#[ks::kernel_abi]
unsafe extern "system" fn echo_ioctl(device: *mut DEVICE_OBJECT, irp: *mut IRP) -> NTSTATUS {
    // SAFETY: ks.sys hands over a live device-control IRP.
    let parameters = unsafe { device_io_control(irp) };
    // SAFETY: as above.
    let echo = unsafe { echo_of(irp) };
    let finish = |status: NTSTATUS, information: usize| {
        // SAFETY: completed once, by the branch that calls this.
        unsafe { complete(irp, status, information) };
        status
    };
    match parameters.IoControlCode {
        ECHO => {
            let n = parameters
                .InputBufferLength
                .min(parameters.OutputBufferLength) as usize;
            if n > 0 {
                // SAFETY: the IRP is live.
                let output = unsafe { (*irp).UserBuffer };
                let input = parameters.Type3InputBuffer.cast::<u8>();
                // SAFETY: METHOD_NEITHER: the buffers hold their lengths; they do not overlap.
                unsafe { std::ptr::copy_nonoverlapping(input, output.cast::<u8>(), n) };
            }
            finish(STATUS_SUCCESS, n)
        }
        OBSERVE => {
            // SAFETY: the IRP is live.
            let stack = unsafe { current_stack_location(irp) };
            let first_input_byte = if parameters.InputBufferLength > 0 {
                // SAFETY: the input buffer holds InputBufferLength bytes.
                Some(unsafe { parameters.Type3InputBuffer.cast::<u8>().read() })
            } else {
                None
            };
            // SAFETY: the IRP is live and ours; nothing else writes it during this read.
            let irp_now = unsafe { &*irp };
            // SAFETY: the stack location of a live IRP is live; as above.
            let stack_now = unsafe { &*stack };
            let (output, requestor_mode, stack_count, irp_type) = (
                irp_now.UserBuffer,
                irp_now.RequestorMode,
                irp_now.StackCount,
                irp_now.Type,
            );
            let (file, stack_device) = (stack_now.FileObject, stack_now.DeviceObject);
            let observation = Observation {
                input: parameters.Type3InputBuffer,
                input_len: parameters.InputBufferLength,
                first_input_byte,
                output,
                output_len: parameters.OutputBufferLength,
                code: parameters.IoControlCode,
                requestor_mode,
                file,
                stack_device,
                device,
                stack_count,
                irp_type,
            };
            OBSERVED.with(|o| *o.borrow_mut() = Some(observation));
            finish(STATUS_SUCCESS, 0)
        }
        // SAFETY: the IRP is live and ours.
        PEND => unsafe { queue(irp, Some(echo_cancel)) },
        // SAFETY: as above.
        PEND_NO_CANCEL => unsafe { queue(irp, None) },
        // SAFETY: as above.
        BUG_PEND_BAD_CANCEL => unsafe { queue(irp, Some(bad_cancel)) },
        COMPLETE_QUEUED => {
            // SAFETY: the Echo lives while its file object is open.
            let taken = unsafe { take_queued(echo) };
            for &queued in &taken {
                // SAFETY: taken from the queue with its cancel routine cleared: ours to complete.
                unsafe { complete(queued, STATUS_SUCCESS, 1) };
            }
            finish(STATUS_SUCCESS, taken.len())
        }
        SIGNAL_HANDLE | KEEP_REFERENCE => {
            // SAFETY: the IRP is live.
            let Some(handle) = (unsafe { input_handle(irp) }) else {
                return finish(STATUS_INVALID_PARAMETER, 0);
            };
            let mut object = null_mut();
            // SAFETY: `object` is writable; no handle information asked for.
            let status = unsafe {
                ObReferenceObjectByHandle(
                    handle,
                    EVENT_MODIFY_STATE,
                    event_object_type(),
                    KernelMode,
                    &mut object,
                    null_mut(),
                )
            };
            if !nt_success(status) {
                return finish(status, 0);
            }
            if parameters.IoControlCode == SIGNAL_HANDLE {
                // SAFETY: a referenced event object is a live KEVENT.
                unsafe { KeSetEvent(object.cast(), 0, 0) };
                // SAFETY: dropping the reference taken above.
                unsafe { ObfDereferenceObject(object) };
            }
            finish(STATUS_SUCCESS, 0)
        }
        ABANDON_ON_CLOSE => {
            // SAFETY: the Echo lives while its file object is open.
            unsafe { &(*echo).abandon_on_close }.store(true, Ordering::Relaxed);
            finish(STATUS_SUCCESS, 0)
        }
        QUERY_CREATE_ITEM => {
            // SAFETY: the Echo lives while its file object is open.
            let header = unsafe { (*echo).header };
            // SAFETY: a live header.
            let item = unsafe { avcam_kernel::KsQueryObjectCreateItem(header) };
            if (parameters.OutputBufferLength as usize) < std::mem::size_of::<usize>() {
                return finish(STATUS_BUFFER_TOO_SMALL, std::mem::size_of::<usize>());
            }
            // SAFETY: the IRP is live.
            let output = unsafe { (*irp).UserBuffer };
            // SAFETY: the output buffer holds at least 8 bytes.
            unsafe { output.cast::<usize>().write_unaligned(item as usize) };
            finish(STATUS_SUCCESS, std::mem::size_of::<usize>())
        }
        BUG_COMPLETE_TWICE => {
            finish(STATUS_SUCCESS, 0);
            finish(STATUS_SUCCESS, 0)
        }
        BUG_PENDING_NOT_MARKED => {
            finish(STATUS_SUCCESS, 0);
            STATUS_PENDING
        }
        BUG_RETURN_WITHOUT_COMPLETING => STATUS_SUCCESS,
        BUG_STATUS_MISMATCH => {
            finish(STATUS_SUCCESS, 0);
            STATUS_INVALID_PARAMETER
        }
        BUG_COMPLETE_WITH_PENDING => {
            finish(STATUS_PENDING, 0);
            STATUS_PENDING
        }
        BUG_COMPLETE_WITH_CANCEL_ROUTINE => {
            // SAFETY: the IRP is live and ours.
            unsafe { set_cancel_routine(irp, Some(echo_cancel)) };
            finish(STATUS_SUCCESS, 0)
        }
        BUG_MARKED_BUT_RETURNED => {
            // SAFETY: the IRP is live and ours.
            unsafe { mark_pending(irp) };
            finish(STATUS_SUCCESS, 0)
        }
        BUG_LEAVE_LOCK_HELD => {
            let word: *mut KSPIN_LOCK = echo
                .cast::<u8>()
                .wrapping_add(std::mem::offset_of!(Echo, stray_lock))
                .cast();
            // SAFETY: the Echo's lock word is live while its file object is open.
            unsafe { KeAcquireSpinLockRaiseToDpc(word) };
            finish(STATUS_SUCCESS, 0)
        }
        BUG_FREE_HEADER_TWICE => {
            // SAFETY: the Echo lives while its file object is open.
            let header = unsafe { (*echo).header };
            // SAFETY: a live header; the second call is the bug under test.
            unsafe { KsFreeObjectHeader(header) };
            // SAFETY: as above.
            unsafe { KsFreeObjectHeader(header) };
            // Allocate a fresh one so close still works.
            let mut fresh: KSOBJECT_HEADER = null_mut();
            // SAFETY: the table is static; no IRP to take a create item from.
            unsafe { KsAllocateObjectHeader(&mut fresh, 0, null_mut(), null_mut(), &ECHO_TABLE) };
            // SAFETY: the Echo lives while its file object is open.
            unsafe { (*echo).header = fresh };
            finish(STATUS_SUCCESS, 0)
        }
        _ => finish(STATUS_INVALID_DEVICE_REQUEST, 0),
    }
}

/// Closes an echo object: cancels queued IRPs (unless told to abandon them), frees everything.
#[ks::kernel_abi]
unsafe extern "system" fn echo_close(_device: *mut DEVICE_OBJECT, irp: *mut IRP) -> NTSTATUS {
    // SAFETY: ks.sys hands over a live IRP_MJ_CLOSE.
    let echo = unsafe { echo_of(irp) };
    // SAFETY: the Echo lives until freed below.
    if !unsafe { &(*echo).abandon_on_close }.load(Ordering::Relaxed) {
        // SAFETY: as above.
        for queued in unsafe { take_queued(echo) } {
            // SAFETY: taken from the queue with its cancel routine cleared.
            unsafe { complete(queued, STATUS_CANCELLED, 0) };
        }
    }
    // SAFETY: the Echo is live.
    let header = unsafe { (*echo).header };
    // SAFETY: the header was allocated at create.
    unsafe { KsFreeObjectHeader(header) };
    // SAFETY: the Echo was written at create and is dropped once, here.
    unsafe { std::ptr::drop_in_place(echo) };
    // SAFETY: the block came from ExAllocatePool2 with this tag.
    unsafe { ExFreePoolWithTag(echo.cast(), ECHO_TAG) };
    // SAFETY: the IRP is live.
    let file = unsafe { file_object(irp) };
    // SAFETY: the file object is live; its context is gone.
    unsafe { (*file).FsContext = null_mut() };
    // SAFETY: completed once.
    unsafe { complete(irp, STATUS_SUCCESS, 0) };
    STATUS_SUCCESS
}

/// UTF-16 units of `text`.
pub fn utf16(text: &str) -> Vec<u16> {
    text.encode_utf16().collect()
}
