//! The wdm.h inline IRP helpers, written once in Rust.
//!
//! `IoGetCurrentIrpStackLocation`, `IoMarkIrpPending`, `IoSetCancelRoutine` and `IoCompleteRequest`
//! are macros or `FORCEINLINE` functions in C, so no kernel exports them; these are their
//! definitions over the `ks::nt` layouts. [`complete`] is the one function through which avcam
//! code completes an IRP.

use core::ffi::c_void;
use core::mem::offset_of;
use core::sync::atomic::{AtomicPtr, AtomicU8, Ordering};

use ks::ks::KSOBJECT_CREATE_ITEM;
use ks::nt::{
    DEVICE_IO_CONTROL_PARAMETERS, FILE_OBJECT, IO_NO_INCREMENT, IO_STACK_LOCATION, IO_STATUS_BLOCK,
    IRP, PDRIVER_CANCEL, SL_PENDING_RETURNED,
};
use ks::NTSTATUS;

use crate::IofCompleteRequest;

/// The address of the field at `offset` in the structure at `base` (nothing is dereferenced).
fn field<T, F>(base: *mut T, offset: usize) -> *mut F {
    base.cast::<u8>().wrapping_add(offset).cast()
}

/// `IoGetCurrentIrpStackLocation(Irp)`: `Irp->Tail.Overlay.CurrentStackLocation`.
///
/// # Safety
/// `irp` must point to a live IRP the caller owns (is dispatching or completing).
pub unsafe fn current_stack_location(irp: *mut IRP) -> *mut IO_STACK_LOCATION {
    // SAFETY: the caller guarantees `irp` is a live IRP.
    unsafe { (*irp).Tail.CurrentStackLocation }
}

/// `IoMarkIrpPending(Irp)`: sets SL_PENDING_RETURNED in the current stack location's `Control`.
/// A dispatch routine that returns STATUS_PENDING must call it first.
///
/// # Safety
/// `irp` must point to a live IRP the caller owns, with a current stack location.
pub unsafe fn mark_pending(irp: *mut IRP) {
    // SAFETY: the caller guarantees `irp` is a live IRP.
    let stack = unsafe { current_stack_location(irp) };
    // SAFETY: the current stack location of a live IRP is live and belongs to this driver.
    unsafe { (*stack).Control |= SL_PENDING_RETURNED };
}

/// `IoSetCancelRoutine(Irp, Routine)`: atomically exchanges `Irp->CancelRoutine` and returns the
/// previous routine. Setting NULL and getting NULL back means `IoCancelIrp` has taken the routine
/// (it is running, or about to run, and will complete the IRP).
///
/// # Safety
/// `irp` must point to a live IRP the caller owns.
#[ks::kernel_abi]
pub unsafe fn set_cancel_routine(irp: *mut IRP, routine: PDRIVER_CANCEL) -> PDRIVER_CANCEL {
    // SAFETY: the caller guarantees `irp` is live; CancelRoutine is pointer-sized and aligned,
    // and the kernel and drivers only ever exchange it atomically.
    let slot = unsafe { AtomicPtr::<c_void>::from_ptr(field(irp, offset_of!(IRP, CancelRoutine))) };
    let new = routine.map_or(core::ptr::null_mut(), |f| f as *mut c_void);
    let previous = slot.swap(new, Ordering::AcqRel);
    if previous.is_null() {
        None
    } else {
        // SAFETY: a non-NULL CancelRoutine was stored from a PDRIVER_CANCEL; function pointers and
        // data pointers have the same size on every target avcam builds for.
        Some(unsafe {
            core::mem::transmute::<*mut c_void, unsafe extern "system" fn(_, _)>(previous)
        })
    }
}

/// Whether `IoCancelIrp` has set `Irp->Cancel`.
///
/// # Safety
/// `irp` must point to a live IRP the caller owns.
pub unsafe fn is_cancelled(irp: *mut IRP) -> bool {
    // SAFETY: the caller guarantees `irp` is live; `Cancel` is a byte the I/O manager sets
    // from another thread, so it is read atomically.
    unsafe { AtomicU8::from_ptr(field(irp, offset_of!(IRP, Cancel))) }.load(Ordering::Acquire) != 0
}

/// `KSCREATE_ITEM_IRP_STORAGE(Irp)`: the create item ks.sys matched for an IRP_MJ_CREATE.
///
/// # Safety
/// `irp` must point to a live IRP the caller owns.
pub unsafe fn create_item(irp: *mut IRP) -> *mut KSOBJECT_CREATE_ITEM {
    // SAFETY: the caller guarantees `irp` is live; DriverContext[0] is the KS storage slot.
    unsafe { (*irp).Tail.DriverContext[ks::ks::KSCREATE_ITEM_IRP_STORAGE_INDEX] }.cast()
}

/// The file object of the current stack location.
///
/// # Safety
/// `irp` must point to a live IRP the caller owns.
pub unsafe fn file_object(irp: *mut IRP) -> *mut FILE_OBJECT {
    // SAFETY: the caller guarantees `irp` is live.
    let stack = unsafe { current_stack_location(irp) };
    // SAFETY: the current stack location of a live IRP is live.
    unsafe { (*stack).FileObject }
}

/// `Parameters.DeviceIoControl` of the current stack location (for an IRP_MJ_DEVICE_CONTROL).
///
/// # Safety
/// `irp` must point to a live IRP_MJ_DEVICE_CONTROL IRP the caller owns.
pub unsafe fn device_io_control(irp: *mut IRP) -> DEVICE_IO_CONTROL_PARAMETERS {
    // SAFETY: the caller guarantees `irp` is live.
    let stack = unsafe { current_stack_location(irp) };
    let parameters: *mut DEVICE_IO_CONTROL_PARAMETERS =
        field(stack, offset_of!(IO_STACK_LOCATION, Parameters));
    // SAFETY: the stack location is live, and for a device-control IRP the `Parameters` union
    // holds `DeviceIoControl` (at the union's start).
    unsafe { parameters.read() }
}

/// `IoCompleteRequest(Irp, IO_NO_INCREMENT)` after setting `IoStatus`: the ONE way avcam code
/// completes an IRP. The IRP belongs to the I/O manager afterwards: the caller must not touch it
/// again.
///
/// # Safety
/// `irp` must point to a live IRP the caller owns, not yet completed, with no cancel routine set.
pub unsafe fn complete(irp: *mut IRP, status: NTSTATUS, information: usize) {
    // SAFETY: the caller owns the live IRP.
    unsafe {
        (*irp).IoStatus = IO_STATUS_BLOCK {
            Status: status,
            _pad: 0,
            Information: information,
        }
    };
    // SAFETY: as above; completing hands the IRP back to the I/O manager.
    unsafe { IofCompleteRequest(irp, IO_NO_INCREMENT) };
}

#[cfg(all(test, not(avcam_kernel_mode)))]
mod tests {
    use std::vec::Vec;

    use avcam_emulation::{CreateItem, Kernel};
    use ks::nt::DEVICE_OBJECT;
    use ks::status::{STATUS_INVALID_PARAMETER, STATUS_NOT_SUPPORTED, STATUS_PENDING};

    use super::*;

    #[ks::kernel_abi]
    unsafe extern "system" fn cancel_a(_: *mut DEVICE_OBJECT, _: *mut IRP) {}
    #[ks::kernel_abi]
    unsafe extern "system" fn cancel_b(_: *mut DEVICE_OBJECT, _: *mut IRP) {}

    #[ks::kernel_abi]
    type CancelFn = unsafe extern "system" fn(*mut DEVICE_OBJECT, *mut IRP);

    /// A create handler that exercises the helpers on the IRP it gets, then fails the create
    /// (so the child needs no object of its own).
    #[ks::kernel_abi]
    unsafe extern "system" fn create_and_check(_: *mut DEVICE_OBJECT, irp: *mut IRP) -> NTSTATUS {
        // SAFETY: the dispatch routine owns the live IRP.
        let stack = unsafe { current_stack_location(irp) };
        // SAFETY: as above.
        assert_eq!(unsafe { (*stack).MajorFunction }, ks::nt::irp_mj::CREATE);
        // SAFETY: as above.
        assert!(
            // SAFETY: as above.
            !unsafe { create_item(irp) }.is_null(),
            "ks.sys stored the matched item"
        );
        // SAFETY: as above.
        assert!(!unsafe { file_object(irp) }.is_null());
        let (a, b): (CancelFn, CancelFn) = (cancel_a, cancel_b);
        // SAFETY: as above.
        assert!(unsafe { set_cancel_routine(irp, Some(a)) }.is_none());
        // SAFETY: as above.
        let previous = unsafe { set_cancel_routine(irp, Some(b)) };
        assert_eq!(previous.map(|f| f as usize), Some(a as usize));
        // SAFETY: as above.
        let previous = unsafe { set_cancel_routine(irp, None) };
        assert_eq!(previous.map(|f| f as usize), Some(b as usize));
        // SAFETY: as above.
        assert!(!unsafe { is_cancelled(irp) });
        // SAFETY: as above; completed once, no cancel routine left.
        unsafe { complete(irp, STATUS_NOT_SUPPORTED, 0) };
        STATUS_NOT_SUPPORTED
    }

    #[test]
    fn helpers_read_and_write_the_real_layout() {
        let kernel = Kernel::new();
        let parent = kernel.create_parent(&[CreateItem::new("Child", create_and_check)]);
        let child = kernel.create(parent, &"child".encode_utf16().collect::<Vec<_>>());
        assert_eq!(
            child,
            Err(STATUS_NOT_SUPPORTED),
            "the handler ran and its status came back"
        );
        kernel.close(parent);
        kernel.check();
    }

    #[ks::kernel_abi]
    unsafe extern "system" fn pend_create(_: *mut DEVICE_OBJECT, irp: *mut IRP) -> NTSTATUS {
        // SAFETY: the dispatch routine owns the live IRP.
        unsafe { mark_pending(irp) };
        // SAFETY: as above; completing before returning STATUS_PENDING is allowed.
        unsafe { complete(irp, STATUS_INVALID_PARAMETER, 0) };
        STATUS_PENDING
    }

    #[test]
    fn a_marked_pending_create_hands_back_its_completion_status() {
        let kernel = Kernel::new();
        let parent = kernel.create_parent(&[CreateItem::new("P", pend_create)]);
        // The emulation checks that STATUS_PENDING came with IoMarkIrpPending (else a bug is
        // raised here) and hands back the completion status.
        assert_eq!(
            kernel.create(parent, &[u16::from(b'p')]),
            Err(STATUS_INVALID_PARAMETER)
        );
        kernel.close(parent);
        kernel.check();
    }
}
