//! The driver as a client of other kernel objects: `ObOpenObjectByPointer` / `ZwClose` on file
//! objects, `KsSynchronousIoControlDevice` and `KsCreateAllocator`.
//!
//! Choices where the documentation leaves room:
//! - every handle `ObOpenObjectByPointer` returns is a kernel handle (as with `OBJ_KERNEL_HANDLE`,
//!   which a driver should pass anyway) and counts as a handle of the file object: while it is
//!   open the file object gets neither IRP_MJ_CLEANUP nor IRP_MJ_CLOSE (see [`crate::file`]);
//!   only live file objects of the emulation can be opened, and every kernel handle not closed
//!   with `ZwClose` shows as a leak;
//! - `KsSynchronousIoControlDevice` sends an IRP_MJ_DEVICE_CONTROL (METHOD_NEITHER: the caller's
//!   buffers themselves are `Type3InputBuffer` and `UserBuffer`) with the given requestor mode
//!   and waits for it; the fast-I/O attempt ks.sys makes first is not emulated;
//! - `KsCreateAllocator` opens `KSSTRING_Allocator\` + the 24 framing bytes relative to the
//!   connection's file object (the same request bytes as [`crate::client::allocator_create_name`])
//!   as a kernel-mode file and returns a kernel handle to it; `ZwClose` on it closes the
//!   allocator's handle (CLEANUP, then CLOSE when no IRP is in flight).

use std::ffi::c_void;
use std::sync::Arc;

use ks::ks::KSALLOCATOR_FRAMING;
use ks::nt::{
    irp_mj, KernelMode, FILE_OBJECT, HANDLE, IO_STACK_PARAMETERS, KPROCESSOR_MODE, PASSIVE_LEVEL,
    POBJECT_TYPE,
};
use ks::status::{
    STATUS_INVALID_HANDLE, STATUS_INVALID_PARAMETER, STATUS_OBJECT_TYPE_MISMATCH, STATUS_SUCCESS,
};
use ks::NTSTATUS;
use zerocopy::IntoBytes;

use crate::bugs::Bug;
use crate::client::allocator_create_name;
use crate::io::{self};
use crate::kernel::KernelState;
use crate::memory::{zeroed, RawBuffer};
use crate::object::file_object_type;
use crate::sync::check_irql;
use crate::Kernel;

fn kernel_of(state: &Arc<KernelState>) -> Kernel {
    Kernel {
        state: state.clone(),
    }
}

/// `ObOpenObjectByPointer`.
///
/// # Safety
/// `handle` must be writable.
pub(crate) unsafe fn open_object_by_pointer(
    state: &Arc<KernelState>,
    object: *mut c_void,
    object_type: POBJECT_TYPE,
    handle: *mut HANDLE,
) -> NTSTATUS {
    check_irql(state, "ObOpenObjectByPointer", PASSIVE_LEVEL);
    if !object_type.is_null() && object_type != file_object_type() {
        return STATUS_OBJECT_TYPE_MISMATCH;
    }
    let opened = state
        .io
        .files
        .live_file(object.cast())
        .and_then(|record| state.objects.open_file(record));
    let Some(value) = opened else {
        state.report(Bug::ObjectUnknown {
            object: object as usize,
        });
        return STATUS_INVALID_HANDLE;
    };
    // SAFETY: the caller guarantees `handle` is writable.
    unsafe { handle.write(value) };
    STATUS_SUCCESS
}

/// `ZwClose`.
pub(crate) fn close(state: &Arc<KernelState>, handle: HANDLE) -> NTSTATUS {
    check_irql(state, "ZwClose", PASSIVE_LEVEL);
    if crate::object::close_handle(state, handle) {
        STATUS_SUCCESS
    } else {
        STATUS_INVALID_HANDLE
    }
}

/// `KsSynchronousIoControlDevice`.
///
/// # Safety
/// `input` / `output` must be valid for `input_len` / `output_len` bytes (or NULL with 0);
/// `returned` must be writable.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn synchronous_io_control(
    state: &Arc<KernelState>,
    file: *mut FILE_OBJECT,
    mode: KPROCESSOR_MODE,
    code: u32,
    input: *mut c_void,
    input_len: u32,
    output: *mut c_void,
    output_len: u32,
    returned: *mut u32,
) -> NTSTATUS {
    check_irql(state, "KsSynchronousIoControlDevice", PASSIVE_LEVEL);
    let Some(record) = state.io.files.live_file(file) else {
        state.report(Bug::ObjectUnknown {
            object: file as usize,
        });
        return STATUS_INVALID_HANDLE;
    };
    let mut parameters: IO_STACK_PARAMETERS = zeroed();
    parameters.DeviceIoControl = ks::nt::DEVICE_IO_CONTROL_PARAMETERS {
        OutputBufferLength: output_len,
        _pad0: 0,
        InputBufferLength: input_len,
        _pad1: 0,
        IoControlCode: code,
        _pad2: 0,
        Type3InputBuffer: input,
    };
    let irp = state.io.new_irp(
        irp_mj::DEVICE_CONTROL,
        &record,
        parameters,
        RawBuffer::zeroed(0),
        RawBuffer::zeroed(0),
        false,
    );
    // SAFETY: the IRP was just built and is not yet sent; METHOD_NEITHER passes the caller's
    // output buffer itself.
    unsafe { (*irp.irp()).UserBuffer = output };
    // SAFETY: the IRP was just built and is not yet sent; the caller names its requestor mode.
    unsafe { (*irp.irp()).RequestorMode = mode };
    let result = io::call_driver_and_wait(state, &irp);
    if irp.result().is_some() {
        state.io.retire(&irp);
    }
    // SAFETY: the caller guarantees `returned` is writable.
    unsafe { returned.write(result.information as u32) };
    result.status
}

/// `KsCreateAllocator`.
///
/// # Safety
/// `framing` must be readable; `allocator` writable.
pub(crate) unsafe fn create_allocator(
    state: &Arc<KernelState>,
    connection: HANDLE,
    framing: *const KSALLOCATOR_FRAMING,
    allocator: *mut HANDLE,
) -> NTSTATUS {
    check_irql(state, "KsCreateAllocator", PASSIVE_LEVEL);
    let Some(parent) = state.objects.file_of(connection) else {
        return STATUS_INVALID_HANDLE;
    };
    // SAFETY: the caller guarantees `framing` is readable.
    let framing = unsafe { framing.read_unaligned() };
    let name = allocator_create_name(framing.as_bytes());
    let Ok(length) = u16::try_from(name.len()) else {
        return STATUS_INVALID_PARAMETER;
    };
    let created = kernel_of(state).send_create(Some(parent), &name, length, KernelMode);
    match created.map(|record| state.objects.open_file(record)) {
        Ok(Some(value)) => {
            // SAFETY: the caller guarantees `allocator` is writable.
            unsafe { allocator.write(value) };
            STATUS_SUCCESS
        }
        Ok(None) => STATUS_INVALID_HANDLE,
        Err(status) => status,
    }
}

#[cfg(test)]
mod tests {
    use std::ptr::null_mut;

    use ks::nt::{KernelMode, DEVICE_OBJECT, IRP};

    use super::*;
    use crate::client::CreateItem;
    use ks::ks::KSDISPATCH_TABLE;

    use crate::services::{
        KsAllocateObjectHeader, KsCreateAllocator, KsFreeObjectHeader, ObOpenObjectByPointer,
        ObReferenceObjectByHandle, ObfDereferenceObject, ZwClose,
    };

    /// The test allocator: a header alone behind FsContext; close frees it.
    static ALLOCATOR_TABLE: KSDISPATCH_TABLE = KSDISPATCH_TABLE {
        DeviceIoControl: None,
        Read: None,
        Write: None,
        Flush: None,
        Close: Some(close_allocator),
        QuerySecurity: None,
        SetSecurity: None,
        FastDeviceIoControl: None,
        FastRead: None,
        FastWrite: None,
    };

    #[ks::kernel_abi]
    unsafe extern "system" fn accept(_d: *mut DEVICE_OBJECT, irp: *mut IRP) -> NTSTATUS {
        // SAFETY: the dispatch contract: a live IRP we own, with one stack location.
        let stack = unsafe { io::stack_location(irp) };
        // SAFETY: the stack location of a live IRP.
        let file = unsafe { (*stack).FileObject };
        let context = Box::into_raw(Box::new(null_mut::<c_void>()));
        // SAFETY: `context` is writable; the table is static.
        let status =
            unsafe { KsAllocateObjectHeader(context, 0, null_mut(), irp, &ALLOCATOR_TABLE) };
        assert_eq!(status, STATUS_SUCCESS);
        // SAFETY: the file object is live while its create IRP is.
        unsafe { (*file).FsContext = context.cast() };
        // SAFETY: as above.
        unsafe { io::complete_with(irp, STATUS_SUCCESS, 0) }
    }

    /// IRP_MJ_CLOSEs the test allocators received.
    static ALLOCATOR_CLOSES: std::sync::atomic::AtomicUsize =
        std::sync::atomic::AtomicUsize::new(0);

    #[ks::kernel_abi]
    unsafe extern "system" fn close_allocator(_d: *mut DEVICE_OBJECT, irp: *mut IRP) -> NTSTATUS {
        ALLOCATOR_CLOSES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // SAFETY: the dispatch contract: a live IRP we own.
        let stack = unsafe { io::stack_location(irp) };
        // SAFETY: the stack location of a live IRP.
        let file = unsafe { (*stack).FileObject };
        // SAFETY: FsContext was set by `accept` to a boxed header pointer.
        let context = unsafe { (*file).FsContext }.cast::<*mut c_void>();
        // SAFETY: as above.
        let header = unsafe { *context };
        // SAFETY: a header from KsAllocateObjectHeader.
        unsafe { KsFreeObjectHeader(header) };
        // SAFETY: boxed by `accept`, freed once here.
        drop(unsafe { Box::from_raw(context) });
        // SAFETY: as above.
        unsafe { io::complete_with(irp, STATUS_SUCCESS, 0) }
    }

    #[test]
    fn a_file_opened_by_pointer_is_referenced_by_handle_and_closed() {
        let kernel = Kernel::new();
        let parent = kernel.create_parent(&[]);
        let _entered = kernel.enter();
        let object = kernel.file_object(parent);
        let mut handle = null_mut();
        // SAFETY: `handle` is writable.
        let status = unsafe {
            ObOpenObjectByPointer(
                object.cast(),
                ks::nt::OBJ_KERNEL_HANDLE,
                null_mut(),
                0,
                file_object_type(),
                KernelMode,
                &mut handle,
            )
        };
        assert_eq!(status, STATUS_SUCCESS);
        let mut referenced = null_mut();
        // SAFETY: `referenced` is writable.
        let status = unsafe {
            ObReferenceObjectByHandle(
                handle,
                0,
                file_object_type(),
                KernelMode,
                &mut referenced,
                null_mut(),
            )
        };
        assert_eq!(status, STATUS_SUCCESS);
        assert_eq!(referenced, object.cast());
        // An event type on a file handle is a mismatch.
        // SAFETY: as above.
        let status = unsafe {
            ObReferenceObjectByHandle(
                handle,
                0,
                crate::object::event_object_type(),
                KernelMode,
                &mut referenced,
                null_mut(),
            )
        };
        assert_eq!(status, STATUS_OBJECT_TYPE_MISMATCH);
        assert_eq!(
            kernel.objects().leaked_kernel_handles(),
            vec![handle as usize]
        );
        // SAFETY: referenced above.
        unsafe { ObfDereferenceObject(object.cast()) };
        // SAFETY: any handle value is accepted.
        assert_eq!(unsafe { ZwClose(handle) }, STATUS_SUCCESS);
        // SAFETY: as above.
        assert_eq!(unsafe { ZwClose(handle) }, STATUS_INVALID_HANDLE);
        assert!(kernel.objects().leaked_kernel_handles().is_empty());
        drop(_entered);
        kernel.close(parent);
        kernel.assert_no_leaks();
    }

    #[test]
    fn ks_create_allocator_sends_the_documented_request_and_zwclose_closes_it() {
        let kernel = Kernel::new();
        let parent = kernel.create_parent(&[CreateItem::allocator(accept)]);
        let files_before = kernel.open_files();
        let _entered = kernel.enter();
        let mut connection = null_mut();
        // SAFETY: `connection` is writable.
        unsafe {
            ObOpenObjectByPointer(
                kernel.file_object(parent).cast(),
                0,
                null_mut(),
                0,
                null_mut(),
                KernelMode,
                &mut connection,
            )
        };
        let mut framing = KSALLOCATOR_FRAMING {
            Flags: 0,
            PoolType: 0,
            Frames: 2,
            FrameSize: 4096,
            FileAlignment: 0,
            Reserved: 0,
        };
        let mut allocator = null_mut();
        // SAFETY: all pointers are live.
        let status = unsafe { KsCreateAllocator(connection, &mut framing, &mut allocator) };
        assert_eq!(status, STATUS_SUCCESS);
        assert_eq!(
            kernel.open_files(),
            files_before,
            "the driver's file is no client handle"
        );
        let file = kernel.objects().file_of(allocator).unwrap();
        assert_eq!(file.mode(), KernelMode, "the driver opened it");
        let closes_before = ALLOCATOR_CLOSES.load(std::sync::atomic::Ordering::Relaxed);
        // SAFETY: the new file object is live; its name is what KsCreateAllocator sent.
        let file_name = unsafe { &(*file.object()).FileName };
        // SAFETY: the name buffer lives with the file object.
        let name = unsafe { crate::ks::units(file_name) }.to_vec();
        let expected = allocator_create_name(framing.as_bytes());
        let expected: Vec<u16> = expected
            .chunks(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        assert_eq!(name, expected);
        drop(file);
        // SAFETY: any handle value is accepted.
        assert_eq!(unsafe { ZwClose(allocator) }, STATUS_SUCCESS);
        assert_eq!(
            ALLOCATOR_CLOSES.load(std::sync::atomic::Ordering::Relaxed),
            closes_before + 1,
            "its last handle and reference: IRP_MJ_CLOSE at once"
        );
        // SAFETY: as above.
        unsafe { ZwClose(connection) };
        drop(_entered);
        kernel.close(parent);
        kernel.assert_no_leaks();
    }
}
