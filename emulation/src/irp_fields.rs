//! The IRP fields a driver does not own, and the check at completion that it left them alone.
//!
//! The IRP reference page (LM/ddi/wdm/ns-wdm-_irp) gives the driver that owns an IRP `IoStatus`
//! to set, `Tail.Overlay.DriverContext` and `Tail.Overlay.ListEntry` to use while it holds the IRP
//! (its own queues), `CancelRoutine` through `IoSetCancelRoutine`, and the requestor mode, the
//! buffers, `Cancel` and `CancelIrql` to read; the undocumented members are "reserved, used only
//! by the I/O manager". ks.sys (the emulation here) also writes `MdlAddress`, `Flags` and
//! `AssociatedIrp.SystemBuffer` when it captures stream headers, so those are not checked either.
//!
//! Everything else is the I/O manager's. The emulation fills the ones it has no value for
//! (`UserEvent`, `Overlay`, `Tail.Overlay.Thread`, `Tail.Overlay.AuxiliaryBuffer`) with
//! [`PATTERN`], a non-canonical address (a driver dereferencing one faults), takes a snapshot of
//! all of them when the IRP is dispatched, and compares at completion: a driver that links an IRP
//! into its queue through the wrong offset, or writes past `DriverContext`, is reported as
//! [`Bug::IrpFieldOverwritten`](crate::Bug::IrpFieldOverwritten) when the IRP completes, before
//! the I/O manager would have used the corrupted field (on Windows: a crash in the requesting
//! thread's completion APC, far from the cause).

use ks::nt::{IRP, LIST_ENTRY};

/// What the emulation puts in the I/O manager's pointer fields it has no value for: `0xA5` bytes,
/// a non-canonical x64 address.
pub(crate) const PATTERN: usize = 0xA5A5_A5A5_A5A5_A5A5;

/// The I/O manager's fields of an IRP, as a driver must leave them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct IoManagerFields {
    kind: i16,
    size: u16,
    thread_list: (usize, usize),
    requestor_mode: i8,
    stack_count: i8,
    current_location: i8,
    apc_environment: i8,
    allocation_flags: u8,
    user_iosb: usize,
    user_event: usize,
    overlay: [usize; 2],
    user_buffer: usize,
    thread: usize,
    auxiliary_buffer: usize,
    current_stack_location: usize,
    original_file_object: usize,
}

/// Fills the I/O manager's fields the emulation has no value for with [`PATTERN`].
pub(crate) fn fill(irp: &mut IRP) {
    irp.UserEvent = std::ptr::without_provenance_mut(PATTERN);
    irp.Overlay = [PATTERN; 2];
    irp.Tail.Thread = std::ptr::without_provenance_mut(PATTERN);
    irp.Tail.AuxiliaryBuffer = std::ptr::without_provenance_mut(PATTERN);
}

impl IoManagerFields {
    /// The fields of a live IRP.
    ///
    /// # Safety
    /// `irp` must point to a live IRP that nobody writes meanwhile.
    pub(crate) unsafe fn of(irp: *const IRP) -> IoManagerFields {
        // SAFETY: the caller guarantees a live IRP that nobody writes meanwhile.
        let irp = unsafe { &*irp };
        let entry = |e: &LIST_ENTRY| (e.Flink as usize, e.Blink as usize);
        IoManagerFields {
            kind: irp.Type,
            size: irp.Size,
            thread_list: entry(&irp.ThreadListEntry),
            requestor_mode: irp.RequestorMode,
            stack_count: irp.StackCount,
            current_location: irp.CurrentLocation,
            apc_environment: irp.ApcEnvironment,
            allocation_flags: irp.AllocationFlags,
            user_iosb: irp.UserIosb as usize,
            user_event: irp.UserEvent as usize,
            overlay: irp.Overlay,
            user_buffer: irp.UserBuffer as usize,
            thread: irp.Tail.Thread as usize,
            auxiliary_buffer: irp.Tail.AuxiliaryBuffer as usize,
            current_stack_location: irp.Tail.CurrentStackLocation as usize,
            original_file_object: irp.Tail.OriginalFileObject as usize,
        }
    }

    /// The names of the fields that differ from `before`, in declaration order.
    pub(crate) fn changed_since(&self, before: &IoManagerFields) -> Vec<&'static str> {
        let checks: [(&'static str, bool); 16] = [
            ("Type", self.kind == before.kind),
            ("Size", self.size == before.size),
            ("ThreadListEntry", self.thread_list == before.thread_list),
            (
                "RequestorMode",
                self.requestor_mode == before.requestor_mode,
            ),
            ("StackCount", self.stack_count == before.stack_count),
            (
                "CurrentLocation",
                self.current_location == before.current_location,
            ),
            (
                "ApcEnvironment",
                self.apc_environment == before.apc_environment,
            ),
            (
                "AllocationFlags",
                self.allocation_flags == before.allocation_flags,
            ),
            ("UserIosb", self.user_iosb == before.user_iosb),
            ("UserEvent", self.user_event == before.user_event),
            ("Overlay", self.overlay == before.overlay),
            ("UserBuffer", self.user_buffer == before.user_buffer),
            ("Tail.Overlay.Thread", self.thread == before.thread),
            (
                "Tail.Overlay.AuxiliaryBuffer",
                self.auxiliary_buffer == before.auxiliary_buffer,
            ),
            (
                "Tail.Overlay.CurrentStackLocation",
                self.current_stack_location == before.current_stack_location,
            ),
            (
                "Tail.Overlay.OriginalFileObject",
                self.original_file_object == before.original_file_object,
            ),
        ];
        checks
            .into_iter()
            .filter(|&(_, same)| !same)
            .map(|(name, _)| name)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::zeroed;

    #[test]
    fn every_field_of_the_io_manager_is_compared_and_named() {
        let mut irp: IRP = zeroed();
        fill(&mut irp);
        // SAFETY: `irp` is a local IRP nothing else writes.
        let before = unsafe { IoManagerFields::of(&irp) };
        assert_eq!(before.user_event, PATTERN);
        assert_eq!(before.thread, PATTERN);
        // The driver's own fields may change freely.
        irp.IoStatus.Status = 1;
        irp.IoStatus.Information = 2;
        irp.Tail.DriverContext[3] = std::ptr::without_provenance_mut(3);
        irp.Tail.ListEntry.Flink = std::ptr::without_provenance_mut(4);
        irp.Tail.ListEntry.Blink = std::ptr::without_provenance_mut(5);
        irp.Cancel = 1;
        irp.CancelIrql = 2;
        irp.PendingReturned = 1;
        irp.SystemBuffer = std::ptr::without_provenance_mut(6);
        irp.MdlAddress = std::ptr::without_provenance_mut(7);
        irp.Flags = 8;
        // SAFETY: `irp` is a local IRP nothing else writes.
        let after_driver_fields = unsafe { IoManagerFields::of(&irp) };
        assert_eq!(
            after_driver_fields.changed_since(&before),
            Vec::<&str>::new()
        );
        // Each of the I/O manager's is told by name.
        irp.UserIosb = std::ptr::without_provenance_mut(8);
        irp.UserEvent = std::ptr::null_mut();
        irp.Tail.Thread = std::ptr::null_mut();
        irp.Tail.OriginalFileObject = std::ptr::without_provenance_mut(9);
        irp.RequestorMode = 1;
        // SAFETY: `irp` is still a local IRP nothing else writes.
        let after = unsafe { IoManagerFields::of(&irp) };
        assert_eq!(
            after.changed_since(&before),
            [
                "RequestorMode",
                "UserIosb",
                "UserEvent",
                "Tail.Overlay.Thread",
                "Tail.Overlay.OriginalFileObject"
            ]
        );
    }
}
