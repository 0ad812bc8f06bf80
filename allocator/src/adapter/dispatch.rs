//! The allocator's `KSDISPATCH_TABLE` and function table: IRPs and direct calls in, core calls,
//! IRPs out. Every IRP is completed exactly once, through `finish` or a completion loop here,
//! always with `avcam_kernel::irp::complete`.
//!
//! - IRP_MJ_DEVICE_CONTROL: IOCTL_KS_PROPERTY / METHOD / ENABLE_EVENT / DISABLE_EVENT, parsed by
//!   [`crate::requests`]. The buffers are METHOD_NEITHER: `Type3InputBuffer` and `UserBuffer`,
//!   unprobed. A request whose `RequestorMode` is UserMode is refused with
//!   STATUS_INVALID_DEVICE_REQUEST: probing user buffers needs structured exception handling
//!   around every access, which Rust does not have, and kernel allocators serve kernel-mode
//!   connections only ("AVStream Allocators"). Input bytes are copied before they are parsed;
//!   output buffers are written only while the IRP is still owned here. An ALLOC finding every
//!   frame outstanding is marked pending, queued with a cancel routine and completed, in arrival
//!   order, by the FREEs that bring frames back; the frame pointer is written then, so an ALLOC
//!   data buffer must be non-paged (a FREE may come at DISPATCH_LEVEL through the function table).
//! - IRP_MJ_CLOSE: waiting ALLOCs are completed with STATUS_CANCELLED, enabled events released,
//!   every frame given back (frames still outstanding too: the memory is gone after the close, as
//!   the function table is), `DeleteAllocator` called, the header and the object freed. (On
//!   Windows a waiting IRP holds a reference on the file object, so the close only comes once
//!   none is left; the emulation sends it anyway, which is what the cancelling is for. An ALLOC
//!   whose cancel routine `IoCancelIrp` has already taken is that routine's to complete, so a
//!   cancel racing the close is a case Windows never produces.)
//! - Read, Write, Flush: STATUS_INVALID_DEVICE_REQUEST. QuerySecurity, SetSecurity: ks.sys's
//!   `KsDispatchQuerySecurity`/`KsDispatchSetSecurity`, through the create item in the header.
//! - The function table (`KSPROPERTY_STREAMALLOCATOR_FUNCTIONTABLE`): `AllocateFrame` and
//!   `FreeFrame` for kernel callers at IRQL <= DISPATCH_LEVEL, O(1), under the spin lock.
//!   `AllocateFrame` with every frame outstanding fails with STATUS_INSUFFICIENT_RESOURCES (it
//!   cannot wait); `FreeFrame` of a foreign or free pointer changes nothing.

use core::ffi::c_void;
use core::ptr;

use avcam_kernel::{
    event_object_type, irp, KeSetEvent, KsDispatchQuerySecurity, KsDispatchSetSecurity,
    ObReferenceObjectByHandle, ObfDereferenceObject,
};
use ks::ks::{
    IOCTL_KS_DISABLE_EVENT, IOCTL_KS_ENABLE_EVENT, IOCTL_KS_METHOD, IOCTL_KS_PROPERTY,
    KSDISPATCH_TABLE,
};
use ks::nt::{
    KernelMode, DEVICE_OBJECT, EVENT_MODIFY_STATE, FILE_OBJECT, IO_NO_INCREMENT, IRP, KEVENT,
};
use ks::status::{nt_success, STATUS_PENDING, STATUS_SUCCESS};
use ks::NTSTATUS;

use super::object::{destroy, object_of, object_of_irp, AllocatorObject, Locked};
use super::queue::{served_frame, set_served_frame, IrpQueue};
use crate::error::Error;
use crate::events::{Registration, MAX_EVENT_REGISTRATIONS};
use crate::requests::{
    answer_method_support, answer_property, parse_disable_event, parse_enable_event, parse_method,
    parse_property, write_frame_address, DisableRequest, EventRequest, MethodRequest, Notification,
    PropertyValues, EVENT_DATA_SIZE, FRAME_POINTER_SIZE, IDENTIFIER_SIZE,
};
use crate::state::Waiters;

/// The dispatch table every allocator file object gets through its object header.
pub static DISPATCH_TABLE: KSDISPATCH_TABLE = KSDISPATCH_TABLE {
    DeviceIoControl: Some(device_control),
    Read: Some(invalid_request),
    Write: Some(invalid_request),
    Flush: Some(invalid_request),
    Close: Some(close),
    QuerySecurity: Some(KsDispatchQuerySecurity),
    SetSecurity: Some(KsDispatchSetSecurity),
    FastDeviceIoControl: None,
    FastRead: None,
    FastWrite: None,
};

/// What a handled request leaves to do.
enum Outcome {
    /// Complete with STATUS_SUCCESS and this Information.
    Done(usize),
    /// The IRP is marked pending and queued; return STATUS_PENDING.
    Pending,
}

/// Completes `irp` according to `result` (unless it was pended) and returns the dispatch status.
///
/// # Safety
/// `irp` must be a live IRP owned by the caller; if `result` is `Ok(Outcome::Pending)` it must
/// have been marked pending and handed to a queue.
unsafe fn finish(irp: *mut IRP, result: Result<Outcome, Error>) -> NTSTATUS {
    let (status, information) = match result {
        Ok(Outcome::Pending) => return STATUS_PENDING,
        Ok(Outcome::Done(information)) => (STATUS_SUCCESS, information),
        Err(error) => (error.status(), error.information()),
    };
    // SAFETY: the caller owns the live IRP, which no queue holds; this is its one completion.
    unsafe { irp::complete(irp, status, information) };
    status
}

/// A METHOD_NEITHER buffer as the I/O manager passed it: an address and a length.
#[derive(Clone, Copy)]
struct Buffer {
    address: *mut u8,
    len: usize,
}

impl Buffer {
    /// A buffer; a NULL address counts as empty.
    fn new(address: *mut c_void, len: u32) -> Buffer {
        let len = if address.is_null() { 0 } else { len as usize };
        Buffer {
            address: address.cast(),
            len,
        }
    }

    /// A copy of the first `N` bytes (fewer if the buffer is shorter) and how many there are.
    ///
    /// # Safety
    /// The buffer must be readable for `len` bytes (a kernel-mode request the caller owns).
    unsafe fn copy_prefix<const N: usize>(&self) -> ([u8; N], usize) {
        let mut bytes = [0u8; N];
        let count = self.len.min(N);
        // SAFETY: the caller guarantees `count <= len` readable bytes; `bytes` is a local.
        unsafe { ptr::copy_nonoverlapping(self.address, bytes.as_mut_ptr(), count) };
        (bytes, count)
    }

    /// The buffer as a byte slice to write an answer into.
    ///
    /// # Safety
    /// The buffer must be writable for `len` bytes, and referenced by nothing else, for `'a`
    /// (a kernel-mode request the caller owns and does not complete meanwhile).
    unsafe fn as_mut_slice<'a>(&self) -> &'a mut [u8] {
        if self.len == 0 {
            return &mut [];
        }
        // SAFETY: as the caller guarantees.
        unsafe { core::slice::from_raw_parts_mut(self.address, self.len) }
    }
}

/// The input (`Type3InputBuffer`) and output (`UserBuffer`) buffers of a device-control IRP.
///
/// # Safety
/// `irp` must be a live IRP_MJ_DEVICE_CONTROL owned by the caller.
unsafe fn buffers(irp: *mut IRP) -> (Buffer, Buffer) {
    // SAFETY: forwarded from the caller.
    let parameters = unsafe { irp::device_io_control(irp) };
    // SAFETY: as above.
    let user_buffer = unsafe { (*irp).UserBuffer };
    (
        Buffer::new(parameters.Type3InputBuffer, parameters.InputBufferLength),
        Buffer::new(user_buffer, parameters.OutputBufferLength),
    )
}

/// IRP_MJ_DEVICE_CONTROL.
///
/// # Safety
/// ks.sys calls it with a live IRP for a live allocator file object, which this routine owns.
#[ks::kernel_abi]
unsafe extern "system" fn device_control(_device: *mut DEVICE_OBJECT, irp: *mut IRP) -> NTSTATUS {
    // SAFETY: forwarded from the caller.
    let result = unsafe { handle_device_control(irp) };
    // SAFETY: as above; a pended IRP was queued by `handle_device_control`.
    unsafe { finish(irp, result) }
}

/// # Safety
/// As for [`device_control`].
unsafe fn handle_device_control(irp: *mut IRP) -> Result<Outcome, Error> {
    // SAFETY: the caller owns the live IRP.
    if unsafe { (*irp).RequestorMode } != KernelMode {
        return Err(Error::UserModeRequest);
    }
    // SAFETY: as above.
    let parameters = unsafe { irp::device_io_control(irp) };
    // SAFETY: as above.
    let (input, output) = unsafe { buffers(irp) };
    // SAFETY: ks.sys routes only IRPs of open allocator file objects here.
    let object = unsafe { object_of_irp(irp) };
    // The IRP is a kernel-mode request this routine owns, so its METHOD_NEITHER buffers are
    // valid for their lengths until it is completed: what the handlers below require.
    match parameters.IoControlCode {
        // SAFETY: see above.
        IOCTL_KS_PROPERTY => unsafe { property(object, input, output) }.map(Outcome::Done),
        // SAFETY: see above.
        IOCTL_KS_METHOD => unsafe { method(object, irp, input, output) },
        // SAFETY: see above.
        IOCTL_KS_ENABLE_EVENT => unsafe { enable_event(object, input, output) }.map(Outcome::Done),
        // SAFETY: see above.
        IOCTL_KS_DISABLE_EVENT => unsafe { disable_event(object, input) }.map(Outcome::Done),
        _ => Err(Error::InvalidDeviceRequest),
    }
}

/// The function table's entries, as the FUNCTIONTABLE property reports them.
fn function_table() -> [usize; 2] {
    [
        allocate_frame as *const () as usize,
        free_frame as *const () as usize,
    ]
}

/// IOCTL_KS_PROPERTY.
///
/// # Safety
/// `input` and `output` must be valid as [`Buffer`] requires, for a request the caller owns.
unsafe fn property(
    object: &AllocatorObject,
    input: Buffer,
    output: Buffer,
) -> Result<usize, Error> {
    // SAFETY: forwarded from the caller.
    let (identifier, length) = unsafe { input.copy_prefix::<IDENTIFIER_SIZE>() };
    let request = parse_property(&identifier[..length])?;
    let status = object.locked.lock().core.status();
    let values = PropertyValues {
        status,
        function_table: function_table(),
    };
    // SAFETY: forwarded from the caller; the slice lives until this function returns.
    answer_property(request, unsafe { output.as_mut_slice() }, &values)
}

/// IOCTL_KS_METHOD: ALLOC (maybe pended), FREE, and the support queries.
///
/// # Safety
/// As for [`property`]; `irp` is the live request the buffers belong to.
unsafe fn method(
    object: &AllocatorObject,
    irp: *mut IRP,
    input: Buffer,
    output: Buffer,
) -> Result<Outcome, Error> {
    // SAFETY: forwarded from the caller.
    let (identifier, length) = unsafe { input.copy_prefix::<IDENTIFIER_SIZE>() };
    // SAFETY: as above.
    let (data, data_length) = unsafe { output.copy_prefix::<FRAME_POINTER_SIZE>() };
    match parse_method(&identifier[..length], &data[..data_length])? {
        MethodRequest::SetSupport => Ok(Outcome::Done(0)),
        MethodRequest::BasicSupport(method) => {
            // SAFETY: forwarded from the caller.
            answer_method_support(method, unsafe { output.as_mut_slice() }).map(Outcome::Done)
        }
        MethodRequest::Free { address } => release(object, address).map(|()| Outcome::Done(0)),
        MethodRequest::Alloc => {
            let allocated = {
                let mut guard = object.locked.lock();
                let locked: &mut Locked = &mut guard;
                match locked.core.allocate() {
                    Ok(frame) => frame,
                    Err(Error::AllFramesOutstanding) => {
                        // SAFETY: the caller owns the live IRP; the lock is held.
                        return unsafe { wait_for_frame(&mut locked.waiting, irp) };
                    }
                    Err(error) => return Err(error),
                }
            };
            // SAFETY: forwarded from the caller; the IRP was not queued.
            write_frame_address(unsafe { output.as_mut_slice() }, allocated).map(Outcome::Done)
        }
    }
}

/// Queues an ALLOC until a FREE serves it, with a cancel routine, unless it is cancelled already.
///
/// # Safety
/// `irp` must be a live IRP the caller owns; the allocator's lock must be held (`waiting` is
/// behind it).
unsafe fn wait_for_frame(waiting: &mut IrpQueue, irp: *mut IRP) -> Result<Outcome, Error> {
    // SAFETY: the caller owns the live IRP.
    unsafe { irp::set_cancel_routine(irp, Some(cancel_waiting_alloc)) };
    // SAFETY: as above.
    if unsafe { irp::is_cancelled(irp) } {
        // SAFETY: as above.
        if unsafe { irp::set_cancel_routine(irp, None) }.is_some() {
            // The routine was not called: the IRP is still ours, to complete as cancelled.
            return Err(Error::Cancelled);
        }
        // IoCancelIrp took the routine: it runs once the lock is released, finds the IRP on the
        // queue and completes it.
    }
    // SAFETY: as above; marked before anyone else can complete it.
    unsafe { irp::mark_pending(irp) };
    // SAFETY: the IRP is live, owned and on no queue; the queue owns it from now on.
    unsafe { waiting.push_back(irp) };
    Ok(Outcome::Pending)
}

/// The cancel routine of a waiting ALLOC.
///
/// # Safety
/// `IoCancelIrp` calls it with the cancel spin lock held and `Irp->CancelIrql` set, for an IRP
/// whose routine it took, i.e. one queued by [`wait_for_frame`] (or just unlinked by a FREE that
/// then left it to this routine).
#[ks::kernel_abi]
unsafe extern "system" fn cancel_waiting_alloc(_device: *mut DEVICE_OBJECT, irp: *mut IRP) {
    // SAFETY: the cancel routine contract: the IRP is live and CancelIrql set.
    let cancel_irql = unsafe { (*irp).CancelIrql };
    // SAFETY: the cancel spin lock is held by this thread, acquired at `CancelIrql`.
    unsafe { avcam_kernel::IoReleaseCancelSpinLock(cancel_irql) };
    // SAFETY: a waiting IRP keeps its file object, hence the allocator, alive.
    let object = unsafe { object_of_irp(irp) };
    {
        let mut locked = object.locked.lock();
        // SAFETY: the IRP is live and either on this queue or unlinked (linked to itself).
        unsafe { locked.waiting.remove(irp) };
    }
    // SAFETY: this routine owns the IRP now: it is on no queue and its cancel routine is gone.
    unsafe { irp::complete(irp, Error::Cancelled.status(), 0) };
}

/// FREE and `FreeFrame`: gives the frame back, then completes the ALLOCs it served.
fn release(object: &AllocatorObject, address: usize) -> Result<(), Error> {
    let mut served = IrpQueue::new();
    let result = {
        let mut guard = object.locked.lock();
        let Locked { core, waiting } = &mut *guard;
        core.free(
            address,
            waiting,
            |irp, frame| {
                // SAFETY: `pop_front` handed over a live IRP whose cancel routine it took back.
                unsafe { set_served_frame(irp, frame) };
                // SAFETY: as above; the IRP is on no queue.
                unsafe { served.push_back(irp) };
            },
            signal,
        )
    };
    complete_served(served);
    result
}

/// Signals an enabled event (under the lock, at DISPATCH_LEVEL: `KeSetEvent` with Wait FALSE).
fn signal(registration: &Registration) {
    // SAFETY: a registration's KEVENT is live: referenced from its handle until the registration
    // goes, or a kernel client's KEVENT that must stay valid until it disables the event
    // (KSEVENTF_EVENT_OBJECT's contract).
    unsafe {
        KeSetEvent(
            registration.object as *mut KEVENT,
            i32::from(IO_NO_INCREMENT),
            0,
        )
    };
}

/// Completes served ALLOCs with their frames, in order.
fn complete_served(mut served: IrpQueue) {
    while let Some(irp) = served.unlink_front() {
        // SAFETY: served IRPs are live and owned here (their cancel routine was taken back).
        let frame = unsafe { served_frame(irp) };
        // SAFETY: as above.
        let (_, output) = unsafe { buffers(irp) };
        // SAFETY: the ALLOC's kernel-mode data buffer is valid until its IRP is completed below;
        // ALLOC checked it holds a pointer.
        let result = write_frame_address(unsafe { output.as_mut_slice() }, frame);
        // SAFETY: the IRP is owned here and completed once.
        unsafe { finish(irp, result.map(Outcome::Done)) };
    }
}

/// IOCTL_KS_ENABLE_EVENT: the KSEVENT in the input, the KSEVENTDATA in the output buffer.
///
/// # Safety
/// As for [`property`].
unsafe fn enable_event(
    object: &AllocatorObject,
    input: Buffer,
    output: Buffer,
) -> Result<usize, Error> {
    // SAFETY: forwarded from the caller.
    let (identifier, length) = unsafe { input.copy_prefix::<IDENTIFIER_SIZE>() };
    // SAFETY: as above.
    let (data, data_length) = unsafe { output.copy_prefix::<EVENT_DATA_SIZE>() };
    let (event, notification) =
        match parse_enable_event(&identifier[..length], &data[..data_length])? {
            EventRequest::SetSupport | EventRequest::BasicSupport(_) => return Ok(0),
            EventRequest::Enable {
                event,
                notification,
            } => (event, notification),
        };
    let (target, referenced) = match notification {
        Notification::EventObject { event } => (event, false),
        Notification::EventHandle { handle } => {
            let mut target: *mut c_void = ptr::null_mut();
            // SAFETY: `target` is writable, no handle information is asked; the request is a
            // kernel-mode one, so the handle is looked up as kernel mode (at PASSIVE_LEVEL).
            let status = unsafe {
                ObReferenceObjectByHandle(
                    handle as *mut c_void,
                    EVENT_MODIFY_STATE,
                    event_object_type(),
                    KernelMode,
                    &mut target,
                    ptr::null_mut(),
                )
            };
            if !nt_success(status) {
                return Err(Error::EventObjectRejected { status });
            }
            (target as usize, true)
        }
    };
    let key = output.address as usize;
    let registration = Registration {
        event,
        key,
        notification,
        object: target,
        referenced,
    };
    let added = object.locked.lock().core.events().add(registration);
    if let Err(error) = added {
        release_registration(&registration);
        return Err(error);
    }
    Ok(0)
}

/// IOCTL_KS_DISABLE_EVENT: the KSEVENTDATA of the enable in the input, or nothing for all.
///
/// # Safety
/// As for [`property`].
unsafe fn disable_event(object: &AllocatorObject, input: Buffer) -> Result<usize, Error> {
    // SAFETY: forwarded from the caller.
    let (data, length) = unsafe { input.copy_prefix::<EVENT_DATA_SIZE>() };
    match parse_disable_event(input.address as usize, &data[..length])? {
        DisableRequest::All => {
            let all = object.locked.lock().core.events().take_all();
            release_registrations(&all);
        }
        DisableRequest::One { key, notification } => {
            let removed = object
                .locked
                .lock()
                .core
                .events()
                .remove(key, notification)?;
            release_registration(&removed);
        }
    }
    Ok(0)
}

/// Drops the reference a registration holds on its event, if any.
fn release_registration(registration: &Registration) {
    if registration.referenced {
        // SAFETY: the reference was taken by ObReferenceObjectByHandle at enable, dropped once.
        unsafe { ObfDereferenceObject(registration.object as *mut c_void) };
    }
}

fn release_registrations(all: &[Option<Registration>; MAX_EVENT_REGISTRATIONS]) {
    all.iter().flatten().for_each(release_registration);
}

/// IRP_MJ_CLOSE: see the module documentation.
///
/// # Safety
/// ks.sys calls it with a live IRP_MJ_CLOSE for a live allocator file object, which is not used
/// afterwards.
#[ks::kernel_abi]
unsafe extern "system" fn close(_device: *mut DEVICE_OBJECT, irp: *mut IRP) -> NTSTATUS {
    // SAFETY: the caller owns the live IRP.
    let file = unsafe { irp::file_object(irp) };
    // SAFETY: the file object is a live allocator's.
    let object = unsafe { object_of(file) };
    let mut cancelled = IrpQueue::new();
    let registrations = {
        let mut locked = object.locked.lock();
        while let Some(waiter) = locked.waiting.pop_front() {
            // SAFETY: `pop_front` handed over a live IRP whose cancel routine it took back.
            unsafe { cancelled.push_back(waiter) };
        }
        locked.core.events().take_all()
    };
    while let Some(waiter) = cancelled.unlink_front() {
        // SAFETY: owned here, on no queue, no cancel routine: completed once.
        unsafe { finish(waiter, Err(Error::Cancelled)) };
    }
    release_registrations(&registrations);
    // SAFETY: no IRP waits any more and the close is the last request of the file object.
    unsafe { destroy(file) };
    // SAFETY: the caller owns the live IRP; completed once.
    unsafe { finish(irp, Ok(Outcome::Done(0))) }
}

/// IRP_MJ_READ, IRP_MJ_WRITE, IRP_MJ_FLUSH_BUFFERS: not an allocator's business.
///
/// # Safety
/// ks.sys calls it with a live IRP the routine owns.
#[ks::kernel_abi]
unsafe extern "system" fn invalid_request(_device: *mut DEVICE_OBJECT, irp: *mut IRP) -> NTSTATUS {
    // SAFETY: forwarded from the caller.
    unsafe { finish(irp, Err(Error::InvalidDeviceRequest)) }
}

/// `KSSTREAMALLOCATOR_FUNCTIONTABLE.AllocateFrame`.
///
/// # Safety
/// `file` must be a live allocator file object; `frame` NULL or writable. IRQL <= DISPATCH_LEVEL.
#[ks::kernel_abi]
pub unsafe extern "system" fn allocate_frame(
    file: *mut FILE_OBJECT,
    frame: *mut *mut c_void,
) -> NTSTATUS {
    if file.is_null() || frame.is_null() {
        return Error::NullPointer.status();
    }
    // SAFETY: the caller guarantees a live allocator file object.
    let object = unsafe { object_of(file) };
    let allocated = object.locked.lock().core.allocate();
    let (address, status) = match allocated {
        Ok(address) => (address, STATUS_SUCCESS),
        Err(error) => (0, error.status()),
    };
    // SAFETY: the caller guarantees `frame` is writable.
    unsafe { frame.write(address as *mut c_void) };
    status
}

/// `KSSTREAMALLOCATOR_FUNCTIONTABLE.FreeFrame`.
///
/// # Safety
/// `file` must be a live allocator file object. IRQL <= DISPATCH_LEVEL.
#[ks::kernel_abi]
pub unsafe extern "system" fn free_frame(file: *mut FILE_OBJECT, frame: *mut c_void) {
    if file.is_null() {
        return;
    }
    // SAFETY: the caller guarantees a live allocator file object.
    let object = unsafe { object_of(file) };
    // FreeFrame returns nothing: a refused free (foreign or free pointer) just changes nothing.
    let _ = release(object, frame as usize);
}
