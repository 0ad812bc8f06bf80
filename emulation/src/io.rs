//! The I/O manager subset: one driver and its device, file objects, IRPs, dispatch, completion
//! and cancellation.
//!
//! IRPs are built as the I/O manager builds them for a driver with a one-location stack: the IRP
//! followed by its IO_STACK_LOCATION, `Tail.Overlay.CurrentStackLocation` pointing at it,
//! `UserIosb` pointing at an IO_STATUS_BLOCK the emulation reads the result from, and
//! `Tail.Overlay.OriginalFileObject` set. They are dispatched through the driver object's
//! `MajorFunction` table, as `IoCallDriver` does, and the emulation then checks what the I/O
//! manager and Driver Verifier check: a STATUS_PENDING return needs `IoMarkIrpPending`, any other
//! return needs the IRP completed with that same status, an IRP is completed once, never with
//! STATUS_PENDING, never with a cancel routine still set, never while the completing thread holds
//! a spin lock.
//!
//! Each IRP carries its file object's requestor mode (`Irp->RequestorMode`, see [`crate::file`])
//! and, other than create, cleanup and close, holds a reference on the file object until it
//! completes. At completion, an IRP whose `Flags` say IRP_BUFFERED_IO | IRP_INPUT_OPERATION (a
//! user-mode request whose buffer `KsProbeStreamIrp` captured) gets `IoStatus.Information` bytes
//! of `AssociatedIrp.SystemBuffer` copied back to `UserBuffer` unless its status is an error, as
//! the I/O manager does in `IopCompleteRequest` (ReactOS ntoskrnl/io/iomgr/irp.c).
//!
//! All of this memory belongs to the emulation, not to the tracked pool. An IRP lives until the
//! client has read its result; touching it after completing it is a use-after-free, as on Windows.

use std::collections::HashMap;
use std::sync::atomic::{AtomicPtr, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use ks::ks::FILE_DEVICE_KS;
use ks::nt::{
    irp_mj, DEVICE_OBJECT, DISPATCH_LEVEL, DRIVER_EXTENSION, DRIVER_OBJECT, IO_STACK_LOCATION,
    IO_STACK_PARAMETERS, IO_STATUS_BLOCK, IO_TYPE_DEVICE, IO_TYPE_DRIVER, IO_TYPE_IRP, IRP,
    IRP_BUFFERED_IO, IRP_INPUT_OPERATION, LIST_ENTRY, PDRIVER_DISPATCH, SL_PENDING_RETURNED,
};
use ks::status::{nt_error, STATUS_INVALID_DEVICE_REQUEST, STATUS_PENDING};
use ks::NTSTATUS;

use crate::bugs::Bug;
use crate::file::{self, FileRecord, Files, Release};
use crate::irp_fields::{self, IoManagerFields};
use crate::kernel::{current, current_irql, set_irql, KernelState};
use crate::memory::{field_ptr, zeroed, RawBox, RawBuffer, Zeroable};
use crate::sync;

/// The outcome of a request: `IoStatus` once the IRP is completed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct IoResult {
    /// `IoStatus.Status`.
    pub status: NTSTATUS,
    /// `IoStatus.Information`.
    pub information: usize,
}

impl std::fmt::Debug for IoResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = ks::status::status_name(self.status)
            .map_or_else(|| format!("{:#010x}", self.status as u32), str::to_string);
        write!(
            f,
            "IoResult {{ status: {name}, information: {} }}",
            self.information
        )
    }
}

/// An IRP with its one stack location and the status block the result is copied to.
#[repr(C)]
pub(crate) struct IrpBlock {
    irp: IRP,
    stack: [IO_STACK_LOCATION; 1],
    user_iosb: IO_STATUS_BLOCK,
}

// SAFETY: IRP, IO_STACK_LOCATION and IO_STATUS_BLOCK are all valid when zeroed.
unsafe impl Zeroable for IrpBlock {}
// SAFETY: integers only.
unsafe impl Zeroable for IO_STATUS_BLOCK {}
// SAFETY: a union of integers and raw pointers.
unsafe impl Zeroable for IO_STACK_PARAMETERS {}

/// `IoSizeOfIrp(1)`.
const IRP_SIZE: u16 =
    (std::mem::size_of::<IRP>() + std::mem::size_of::<IO_STACK_LOCATION>()) as u16;

/// How long a synchronous client call waits for a pending IRP before declaring the driver stuck.
/// A safety net against hung tests, not a timing assertion.
pub const SYNCHRONOUS_WAIT: Duration = Duration::from_secs(120);

/// What the I/O manager knows about a completion.
#[derive(Default)]
struct Completion {
    completed: bool,
    result: Option<IoResult>,
}

/// An IRP in flight and everything it owns.
pub(crate) struct IrpRecord {
    block: RawBox<IrpBlock>,
    /// `Type3InputBuffer`'s memory, kept alive with the IRP.
    _input: RawBuffer,
    output: RawBuffer,
    /// The file object the IRP is for.
    pub(crate) file: Arc<FileRecord>,
    /// Whether the IRP holds a reference on `file` until it completes.
    references_file: bool,
    /// Sent by the client (not by the driver): cancelled when the client dies.
    client: bool,
    /// A system buffer ks.sys attached (`AssociatedIrp.SystemBuffer`), freed with the IRP.
    system_buffer: Mutex<Option<RawBuffer>>,
    major: u8,
    /// The I/O manager's fields as they were when the IRP was dispatched (checked at completion).
    io_manager_fields: OnceLock<IoManagerFields>,
    completion: Mutex<Completion>,
    done: Condvar,
}

impl IrpRecord {
    /// The IRP.
    pub(crate) fn irp(&self) -> *mut IRP {
        field_ptr!(self.block.as_ptr(), IrpBlock, irp)
    }

    /// The result, once completed.
    pub(crate) fn result(&self) -> Option<IoResult> {
        self.completion
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .result
    }

    /// Waits for completion up to `timeout`.
    pub(crate) fn wait(&self, timeout: Duration) -> Option<IoResult> {
        let deadline = Instant::now() + timeout;
        let mut completion = self.completion.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(result) = completion.result {
                return Some(result);
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            completion = self
                .done
                .wait_timeout(completion, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// The status block the result is copied to (`UserIosb` as the I/O manager set it).
    fn user_iosb(&self) -> *mut IO_STATUS_BLOCK {
        field_ptr!(self.block.as_ptr(), IrpBlock, user_iosb)
    }

    /// The IRP's one stack location (`Tail.Overlay.CurrentStackLocation` as the I/O manager set
    /// it).
    fn stack(&self) -> *mut IO_STACK_LOCATION {
        field_ptr!(self.block.as_ptr(), IrpBlock, stack)
    }

    /// The output buffer's bytes; only meaningful once completed.
    pub(crate) fn output(&self) -> Vec<u8> {
        // SAFETY: read after completion, when the driver no longer writes the buffer.
        unsafe { self.output.to_vec() }
    }

    /// Keeps `buffer` alive with the IRP (a system buffer ks.sys made for it).
    pub(crate) fn attach_system_buffer(&self, buffer: RawBuffer) {
        *self.system_buffer.lock().unwrap_or_else(|e| e.into_inner()) = Some(buffer);
    }
}

/// Driver, device, files and IRPs of one kernel.
pub(crate) struct IoManager {
    driver: RawBox<DRIVER_OBJECT>,
    _extension: RawBox<DRIVER_EXTENSION>,
    device: RawBox<DEVICE_OBJECT>,
    /// The physical device object the bus driver (the root enumerator) created for the device:
    /// what AddDevice and `IoOpenDeviceRegistryKey` get; it lives as long as the kernel.
    physical: RawBox<DEVICE_OBJECT>,
    irps: Mutex<HashMap<usize, Arc<IrpRecord>>>,
    /// File objects, their lifetimes and the client's handles.
    pub(crate) files: Files,
}

impl IoManager {
    /// One driver with one device; every major function goes to `KsDispatchIrp` where
    /// `KsSetMajorFunctionHandler` would put it, the rest to an invalid-request handler.
    pub(crate) fn new() -> IoManager {
        let driver = RawBox::<DRIVER_OBJECT>::zeroed();
        let extension = RawBox::<DRIVER_EXTENSION>::zeroed();
        let device = RawBox::<DEVICE_OBJECT>::zeroed();
        let physical = RawBox::<DEVICE_OBJECT>::zeroed();
        let mut major_functions: [PDRIVER_DISPATCH; 28] = [Some(invalid_device_request); 28];
        for major in [
            irp_mj::CREATE,
            irp_mj::CLOSE,
            irp_mj::DEVICE_CONTROL,
            irp_mj::READ,
            irp_mj::WRITE,
            irp_mj::FLUSH_BUFFERS,
            irp_mj::QUERY_SECURITY,
            irp_mj::SET_SECURITY,
        ] {
            major_functions[usize::from(major)] = Some(crate::services::KsDispatchIrp);
        }
        let mut driver_value: DRIVER_OBJECT = zeroed();
        driver_value.Type = IO_TYPE_DRIVER;
        driver_value.Size = std::mem::size_of::<DRIVER_OBJECT>() as i16;
        driver_value.DeviceObject = device.as_ptr();
        driver_value.DriverExtension = extension.as_ptr();
        driver_value.MajorFunction = major_functions;
        let mut extension_value: DRIVER_EXTENSION = zeroed();
        extension_value.DriverObject = driver.as_ptr();
        let mut device_value: DEVICE_OBJECT = zeroed();
        device_value.Type = IO_TYPE_DEVICE;
        device_value.Size = std::mem::size_of::<DEVICE_OBJECT>() as u16;
        device_value.ReferenceCount = 1;
        device_value.DriverObject = driver.as_ptr();
        device_value.DeviceType = FILE_DEVICE_KS;
        device_value.StackSize = 1;
        // SAFETY: the three objects were just allocated and nobody else knows them yet.
        unsafe { driver.as_ptr().write(driver_value) };
        // SAFETY: as above.
        unsafe { extension.as_ptr().write(extension_value) };
        // SAFETY: as above.
        unsafe { device.as_ptr().write(device_value) };
        IoManager {
            driver,
            _extension: extension,
            device,
            physical,
            irps: Mutex::new(HashMap::new()),
            files: Files::default(),
        }
    }

    /// The driver object.
    pub(crate) fn driver(&self) -> *mut DRIVER_OBJECT {
        self.driver.as_ptr()
    }

    /// The device object.
    pub(crate) fn device(&self) -> *mut DEVICE_OBJECT {
        self.device.as_ptr()
    }

    /// The device's physical device object (the root bus's PDO).
    pub(crate) fn physical(&self) -> *mut DEVICE_OBJECT {
        self.physical.as_ptr()
    }

    fn irps(&self) -> std::sync::MutexGuard<'_, HashMap<usize, Arc<IrpRecord>>> {
        self.irps.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new IRP for `file`, registered as live, with the file's requestor mode. `input` becomes
    /// `Type3InputBuffer` and `output` `UserBuffer` (METHOD_NEITHER), both NULL when empty.
    /// `client`: sent by the client (cancelled if it dies). Other than create, cleanup and close,
    /// the IRP references the file object until it completes.
    pub(crate) fn new_irp(
        &self,
        major: u8,
        file: &Arc<FileRecord>,
        parameters: IO_STACK_PARAMETERS,
        input: RawBuffer,
        output: RawBuffer,
        client: bool,
    ) -> Arc<IrpRecord> {
        let block = RawBox::<IrpBlock>::zeroed();
        let base = block.as_ptr();
        let mut value: IrpBlock = zeroed();
        value.irp.Type = IO_TYPE_IRP;
        value.irp.Size = IRP_SIZE;
        value.irp.StackCount = 1;
        value.irp.CurrentLocation = 1;
        value.irp.RequestorMode = file.mode();
        let thread_list: *mut LIST_ENTRY = field_ptr!(base, IrpBlock, irp.ThreadListEntry);
        value.irp.ThreadListEntry = LIST_ENTRY {
            Flink: thread_list,
            Blink: thread_list,
        };
        value.irp.UserIosb = field_ptr!(base, IrpBlock, user_iosb);
        value.irp.UserBuffer = output.as_ptr().cast();
        value.irp.Tail.CurrentStackLocation = field_ptr!(base, IrpBlock, stack);
        value.irp.Tail.OriginalFileObject = file.object();
        irp_fields::fill(&mut value.irp);
        value.stack[0].MajorFunction = major;
        value.stack[0].Parameters = parameters;
        value.stack[0].FileObject = file.object();
        value.stack[0].DeviceObject = self.device();
        // SAFETY: the block was just allocated and nobody else knows it yet.
        unsafe { base.write(value) };
        let references_file = !matches!(major, irp_mj::CREATE | irp_mj::CLEANUP | irp_mj::CLOSE);
        if references_file {
            file.add_reference();
        }
        let record = Arc::new(IrpRecord {
            block,
            _input: input,
            output,
            file: file.clone(),
            references_file,
            client,
            system_buffer: Mutex::new(None),
            major,
            io_manager_fields: OnceLock::new(),
            completion: Mutex::new(Completion::default()),
            done: Condvar::new(),
        });
        self.irps().insert(record.irp() as usize, record.clone());
        record
    }

    /// Forgets a completed IRP (its memory goes when the last holder drops it).
    pub(crate) fn retire(&self, record: &IrpRecord) {
        self.irps().remove(&(record.irp() as usize));
    }

    /// The live IRP at `irp`, if any.
    pub(crate) fn record_of(&self, irp: *mut IRP) -> Option<Arc<IrpRecord>> {
        self.irps().get(&(irp as usize)).cloned()
    }

    /// The client's IRPs not completed yet, oldest first.
    pub(crate) fn pending_client_irps(&self) -> Vec<Arc<IrpRecord>> {
        let mut pending: Vec<Arc<IrpRecord>> = self
            .irps()
            .values()
            .filter(|r| r.client && r.result().is_none())
            .cloned()
            .collect();
        pending.sort_by_key(|r| r.irp() as usize);
        pending
    }
}

/// The current stack location of a live IRP.
///
/// # Safety
/// `irp` must point to a live IRP.
pub(crate) unsafe fn stack_location(irp: *mut IRP) -> *mut IO_STACK_LOCATION {
    // SAFETY: the caller guarantees `irp` is live.
    unsafe { (*irp).Tail.CurrentStackLocation }
}

/// Sends `record` to the driver (`IoCallDriver`) and checks what the dispatch routine did.
/// Returns the status the dispatch routine returned.
pub(crate) fn call_driver(state: &KernelState, record: &IrpRecord) -> NTSTATUS {
    let irp = record.irp();
    let major = record.major;
    let irql_before = current_irql();
    let held_before = sync::held_spin_locks();
    // SAFETY: the driver object is live for the kernel's lifetime; MajorFunction is only written
    // before requests are sent.
    let dispatch = unsafe { (*state.io.driver()).MajorFunction[usize::from(major)] };
    let dispatch = dispatch.unwrap_or(invalid_device_request);
    // SAFETY: `irp` is a live IRP built by `new_irp`, not yet sent, so nobody writes it.
    let fields = unsafe { IoManagerFields::of(irp) };
    record.io_manager_fields.get_or_init(|| fields);
    // SAFETY: `irp` is a live IRP built by `new_irp` for this device; the driver owns it now.
    let returned = unsafe { dispatch(state.io.device(), irp) };
    let irql_after = current_irql();
    if irql_after != irql_before {
        state.report(Bug::IrqlNotRestored {
            context: "a dispatch routine",
            irql: irql_after,
        });
        set_irql(irql_before);
        sync::forget_spin_locks_beyond(held_before);
    }
    // Only `Control` is read here: it was written before the dispatch routine returned.
    // SAFETY: the IRP is alive until the client retires it, after this check.
    let stack = unsafe { stack_location(irp) };
    // SAFETY: as above; the stack location is inside the IRP's block.
    let marked = unsafe { (*stack).Control } & SL_PENDING_RETURNED != 0;
    let completed = record.result();
    if returned == STATUS_PENDING {
        if !marked {
            state.report(Bug::PendingNotMarked { major });
        }
    } else {
        if marked {
            state.report(Bug::MarkedPendingButReturned {
                major,
                status: returned,
            });
        }
        match completed {
            None => state.report(Bug::ReturnedWithoutCompleting {
                major,
                status: returned,
            }),
            Some(result) if result.status != returned => state.report(Bug::StatusMismatch {
                major,
                returned,
                completed: result.status,
            }),
            Some(_) => {}
        }
    }
    returned
}

/// Sends `record` to the driver and waits for its completion (a synchronous request).
pub(crate) fn call_driver_and_wait(state: &KernelState, record: &IrpRecord) -> IoResult {
    let returned = call_driver(state, record);
    if returned != STATUS_PENDING && record.result().is_none() {
        // Reported by `call_driver`; the IRP is abandoned, the caller sees the returned status.
        return IoResult {
            status: returned,
            information: 0,
        };
    }
    match record.wait(SYNCHRONOUS_WAIT) {
        Some(result) => result,
        None => panic!(
            "avcam-emulation: an IRP (major {:#x}) returned STATUS_PENDING and was not completed \
             within {SYNCHRONOUS_WAIT:?}",
            record.major
        ),
    }
}

/// `IofCompleteRequest`.
///
/// # Safety
/// `irp` must be NULL or point to readable memory; if it is a live IRP of this kernel, the caller
/// owns it (it is the driver completing it).
pub(crate) unsafe fn complete(state: &KernelState, irp: *mut IRP) {
    sync::check_irql(state, "IofCompleteRequest", DISPATCH_LEVEL);
    let address = irp as usize;
    if sync::holds_spin_lock() {
        // "Never call IoCompleteRequest while holding a spin lock" (the IoCompleteRequest page).
        state.report(Bug::IrpCompletedHoldingSpinLock { irp: address });
    }
    let Some(record) = state.io.irps().get(&address).cloned() else {
        state.report(Bug::IrpUnknown { irp: address });
        return;
    };
    let mut completion = record.completion.lock().unwrap_or_else(|e| e.into_inner());
    if completion.completed {
        drop(completion);
        state.report(Bug::IrpCompletedTwice { irp: address });
        return;
    }
    if let Some(dispatched) = record.io_manager_fields.get() {
        // SAFETY: `irp` is a live IRP (found in the registry) and the caller owns it.
        let fields = unsafe { IoManagerFields::of(irp) }.changed_since(dispatched);
        if !fields.is_empty() {
            state.report(Bug::IrpFieldOverwritten {
                irp: address,
                fields,
            });
        }
    }
    // SAFETY: `irp` is a live IRP (found in the registry) and the caller owns it.
    let cancel_routine =
        unsafe { cancel_routine_slot(irp) }.swap(std::ptr::null_mut(), Ordering::AcqRel);
    if !cancel_routine.is_null() {
        state.report(Bug::IrpCompletedWithCancelRoutine { irp: address });
    }
    // SAFETY: as above.
    let io_status = unsafe { (*irp).IoStatus };
    if io_status.Status == STATUS_PENDING {
        state.report(Bug::IrpCompletedWithPending { irp: address });
    }
    // The stack location and the status block as the I/O manager set them: the IRP's own
    // pointers may have been overwritten (reported above).
    let stack = record.stack();
    // SAFETY: the stack location is inside the live IRP's block.
    let pending_returned = unsafe { (*stack).Control } & SL_PENDING_RETURNED != 0;
    // SAFETY: as above.
    unsafe { (*irp).PendingReturned = u8::from(pending_returned) };
    // SAFETY: the status block is inside the live IRP's block; only the I/O manager writes it.
    unsafe { record.user_iosb().write(io_status) };
    // SAFETY: `irp` is a live IRP (found in the registry) and the caller owns it.
    let flags = unsafe { (*irp).Flags };
    if flags & (IRP_BUFFERED_IO | IRP_INPUT_OPERATION) == IRP_BUFFERED_IO | IRP_INPUT_OPERATION
        && !nt_error(io_status.Status)
    {
        // SAFETY: `irp` is a live IRP the caller owns.
        let system = unsafe { (*irp).SystemBuffer }.cast::<u8>();
        let attached = record
            .system_buffer
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        // Only the buffer ks.sys attached is copied (its length is known).
        if let Some(buffer) = attached.as_ref().filter(|b| b.as_ptr() == system) {
            let length = io_status
                .Information
                .min(record.output.len())
                .min(buffer.len());
            if length > 0 {
                // SAFETY: `buffer` holds `buffer.len()` bytes and `output` (the IRP's user buffer)
                // `output.len()`; both are emulation allocations of the IRP, distinct, and nobody
                // writes them while the IRP completes.
                unsafe {
                    record
                        .output
                        .as_ptr()
                        .copy_from_nonoverlapping(buffer.as_ptr(), length)
                };
            }
        }
    }
    // The IRP's reference on its file object goes before anyone can see the completion: a
    // waiter that then closes the file's last handle finds no IRP in flight.
    if record.references_file {
        file::release_reference(state, &record.file, Release::Deferred);
    }
    completion.completed = true;
    completion.result = Some(IoResult {
        status: io_status.Status,
        information: io_status.Information,
    });
    drop(completion);
    record.done.notify_all();
}

/// `Irp->CancelRoutine`, seen as an atomic pointer (`IoSetCancelRoutine` exchanges it).
///
/// # Safety
/// `irp` must point to a live IRP.
unsafe fn cancel_routine_slot<'a>(irp: *mut IRP) -> &'a AtomicPtr<std::ffi::c_void> {
    let slot: *mut *mut std::ffi::c_void = field_ptr!(irp, IRP, CancelRoutine);
    // SAFETY: the caller guarantees the IRP is live; CancelRoutine is an aligned pointer-sized
    // field that the kernel and drivers only exchange atomically.
    unsafe { AtomicPtr::from_ptr(slot) }
}

/// `IoCancelIrp`: sets `Cancel`, and calls the cancel routine (with the cancel spin lock held,
/// which the routine releases) if one is set. Returns whether a routine was called.
#[ks::kernel_abi]
pub(crate) fn cancel(state: &KernelState, record: &IrpRecord) -> bool {
    if record.result().is_some() {
        return false;
    }
    let irp = record.irp();
    let lock = state.cancel_lock.as_ptr();
    // SAFETY: the cancel lock word lives as long as the kernel.
    let old_irql = unsafe { sync::acquire(state, "IoAcquireCancelSpinLock", lock) };
    let cancel_flag: *mut u8 = field_ptr!(irp, IRP, Cancel);
    // SAFETY: the IRP is live (the record holds it); Cancel is a byte the kernel writes and
    // drivers read.
    unsafe { AtomicU8::from_ptr(cancel_flag) }.store(1, Ordering::Release);
    // SAFETY: the IRP is live.
    let routine = unsafe { cancel_routine_slot(irp) }.swap(std::ptr::null_mut(), Ordering::AcqRel);
    if routine.is_null() {
        // SAFETY: acquired above by this thread.
        unsafe { sync::release(state, lock, old_irql) };
        return false;
    }
    // SAFETY: the IRP is live; CancelIrql is read by the cancel routine only.
    unsafe { (*irp).CancelIrql = old_irql };
    // SAFETY: a non-NULL CancelRoutine is a PDRIVER_CANCEL set by the driver.
    let routine: unsafe extern "system" fn(*mut DEVICE_OBJECT, *mut IRP) =
        unsafe { std::mem::transmute(routine) };
    // SAFETY: the cancel routine contract: called with the cancel spin lock held, for a live IRP.
    unsafe { routine(state.io.device(), irp) };
    if state.cancel_lock.held_by_this_thread() {
        state.report(Bug::CancelLockNotReleased);
        // SAFETY: held by this thread, as just checked.
        unsafe { sync::release(state, lock, old_irql) };
    }
    if current_irql() != old_irql {
        state.report(Bug::IrqlNotRestored {
            context: "a cancel routine",
            irql: current_irql(),
        });
        set_irql(old_irql);
    }
    true
}

/// What the I/O manager puts in `MajorFunction` slots a driver leaves empty
/// (`IopInvalidDeviceRequest`): completes with STATUS_INVALID_DEVICE_REQUEST.
///
/// # Safety
/// `irp` must be a live IRP owned by the caller.
#[ks::kernel_abi]
pub(crate) unsafe extern "system" fn invalid_device_request(
    _device: *mut DEVICE_OBJECT,
    irp: *mut IRP,
) -> NTSTATUS {
    // SAFETY: the caller hands over a live IRP.
    unsafe { complete_with(irp, STATUS_INVALID_DEVICE_REQUEST, 0) }
}

/// Sets `IoStatus` and completes `irp` (the emulation's own completions, as ks.sys does them).
///
/// # Safety
/// `irp` must be a live IRP owned by the caller.
pub(crate) unsafe fn complete_with(
    irp: *mut IRP,
    status: NTSTATUS,
    information: usize,
) -> NTSTATUS {
    // SAFETY: the caller owns the live IRP.
    unsafe {
        (*irp).IoStatus = IO_STATUS_BLOCK {
            Status: status,
            _pad: 0,
            Information: information,
        }
    };
    let state = current("IofCompleteRequest");
    // SAFETY: as above.
    unsafe { complete(&state, irp) };
    status
}
