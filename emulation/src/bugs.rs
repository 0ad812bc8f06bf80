//! Driver bugs the emulation detects, and how they are reported.
//!
//! The services are `extern "system"` functions, and a panic cannot unwind out of them (the
//! process would abort). So a service that detects a bug records it here, prints it at once on
//! stderr, and takes a safe fallback (ignoring a double free, a second completion, ...). The bug is
//! then raised as a panic, in Rust code that can unwind, at the next safe point:
//! - every client call ([`Kernel::create`](crate::Kernel::create), `ioctl`, `close`, ...) checks
//!   the log when the driver returns, and [`Kernel::check`](crate::Kernel::check) does it on demand;
//! - the [`Kernel`](crate::Kernel) panics when dropped with bugs nobody took.
//!
//! A test that provokes a bug on purpose calls [`Kernel::expect_bugs`](crate::Kernel::expect_bugs)
//! first, then takes the bugs with [`Kernel::take_bugs`](crate::Kernel::take_bugs) and asserts on
//! them. Bugs that leave no safe way on (acquiring a spin lock the thread already holds, which
//! would deadlock on Windows) panic where they are found.

use std::fmt;
use std::sync::Mutex;

use ks::nt::KIRQL;
use ks::status::status_name;
use ks::NTSTATUS;

use crate::pool::Tag;

/// A driver bug the emulation detected (Windows would bugcheck, hang or corrupt memory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bug {
    /// `ExFreePoolWithTag` on an allocation that was already freed.
    PoolDoubleFree {
        /// The address freed twice.
        address: usize,
    },
    /// `ExFreePoolWithTag` on an address the pool never handed out (or not its start).
    PoolForeignPointer {
        /// The address.
        address: usize,
    },
    /// `ExFreePoolWithTag` with a tag other than the one of the allocation (the allocation is
    /// left alive, so it also shows as a leak).
    PoolWrongTag {
        /// The address.
        address: usize,
        /// The tag it was allocated with.
        allocated: Tag,
        /// The tag passed to the free.
        freed_with: Tag,
    },
    /// `ExAllocatePool2` with flags that name no pool type, two pool types or unknown bits.
    PoolInvalidFlags {
        /// The flags.
        flags: u64,
    },
    /// `ExAllocatePool2` with a tag that is 0, has a character outside 0x20..0x7E or has no letter
    /// or digit (BAD_POOL_CALLER 0x9B / 0x9D); the call returns NULL.
    PoolInvalidTag {
        /// The tag.
        tag: Tag,
    },
    /// `ExAllocatePool2` for zero bytes (BAD_POOL_CALLER 0x00); the call returns NULL.
    PoolZeroBytes {
        /// The tag asked for.
        tag: Tag,
    },
    /// Pool of the wrong kind for the IRQL (paged pool above APC_LEVEL, anything above DISPATCH).
    PoolAtWrongIrql {
        /// The caller's IRQL.
        irql: KIRQL,
        /// Whether paged pool was asked for.
        paged: bool,
    },
    /// `KeReleaseSpinLock` on a lock the calling thread does not hold.
    SpinLockNotHeld {
        /// The lock's address.
        lock: usize,
    },
    /// `KeReleaseSpinLock` / `IoReleaseCancelSpinLock` raising the IRQL instead of restoring it.
    IrqlRaisedByRelease {
        /// The IRQL while the lock was held.
        current: KIRQL,
        /// The IRQL asked for.
        requested: KIRQL,
    },
    /// A service called above the highest IRQL it allows.
    IrqlTooHigh {
        /// The service.
        service: &'static str,
        /// The caller's IRQL.
        irql: KIRQL,
        /// The highest IRQL the service allows.
        max: KIRQL,
    },
    /// A dispatch routine, a completion or a client thread left the IRQL raised (a spin lock
    /// acquired and never released).
    IrqlNotRestored {
        /// Where it was noticed.
        context: &'static str,
        /// The IRQL found.
        irql: KIRQL,
    },
    /// `IofCompleteRequest` on an IRP that was already completed.
    IrpCompletedTwice {
        /// The IRP's address.
        irp: usize,
    },
    /// `IofCompleteRequest` on a pointer that is not a live IRP of this kernel.
    IrpUnknown {
        /// The address.
        irp: usize,
    },
    /// An IRP completed with `IoStatus.Status == STATUS_PENDING`.
    IrpCompletedWithPending {
        /// The IRP's address.
        irp: usize,
    },
    /// `IofCompleteRequest` by a thread holding a spin lock (the cancel spin lock included):
    /// "Never call IoCompleteRequest while holding a spin lock" (it can deadlock).
    IrpCompletedHoldingSpinLock {
        /// The IRP's address.
        irp: usize,
    },
    /// An IRP completed while a cancel routine was still set.
    IrpCompletedWithCancelRoutine {
        /// The IRP's address.
        irp: usize,
    },
    /// An IRP completed with a field of the I/O manager's changed (a driver owns only
    /// `IoStatus`, `Tail.Overlay.DriverContext`, `Tail.Overlay.ListEntry` and, through
    /// `IoSetCancelRoutine`, `CancelRoutine`; see `irp_fields`).
    IrpFieldOverwritten {
        /// The IRP's address.
        irp: usize,
        /// The fields changed, by their C names.
        fields: Vec<&'static str>,
    },
    /// A dispatch routine returned `STATUS_PENDING` without `IoMarkIrpPending`.
    PendingNotMarked {
        /// The IRP's major function.
        major: u8,
    },
    /// A dispatch routine marked the IRP pending but returned another status.
    MarkedPendingButReturned {
        /// The IRP's major function.
        major: u8,
        /// The status returned.
        status: NTSTATUS,
    },
    /// A dispatch routine returned a status other than STATUS_PENDING without completing the IRP.
    ReturnedWithoutCompleting {
        /// The IRP's major function.
        major: u8,
        /// The status returned.
        status: NTSTATUS,
    },
    /// A dispatch routine completed the IRP with one status and returned another.
    StatusMismatch {
        /// The IRP's major function.
        major: u8,
        /// The status returned by the dispatch routine.
        returned: NTSTATUS,
        /// The status in `IoStatus`.
        completed: NTSTATUS,
    },
    /// A cancel routine returned without releasing the cancel spin lock.
    CancelLockNotReleased,
    /// `ObfDereferenceObject` on a pointer that is not a referenced object of this kernel.
    ObjectUnknown {
        /// The address.
        object: usize,
    },
    /// `ObfDereferenceObject` dropping more references than were taken.
    ObjectOverDereferenced {
        /// The address.
        object: usize,
    },
    /// `_KsEdit` with a bag that is not the `Bag` of a live filter or pin.
    ObjectBagUnknown {
        /// The address.
        bag: usize,
    },
    /// `KsFreeObjectHeader` (or a dispatch through `FsContext`) on something that is not a live
    /// object header.
    ObjectHeaderUnknown {
        /// The address.
        header: usize,
    },
    /// An IRP reached `KsDispatchIrp` for a file object whose `FsContext` is NULL.
    NoFsContext {
        /// The IRP's major function.
        major: u8,
    },
    /// A `KEVENT` passed to an event service was never initialised with `KeInitializeEvent`.
    EventNotInitialized {
        /// The address.
        event: usize,
    },
    /// A KTIMER passed to `KeSetTimerEx`/`KeCancelTimer` was never initialised.
    TimerNotInitialized {
        /// The address.
        timer: usize,
    },
    /// `KsStreamPointerDelete` on a pin's leading edge (only clones are deleted).
    LeadingEdgeDeleted {
        /// The stream pointer.
        pointer: usize,
    },
    /// A frame completed with a `DataUsed` other than the bytes the stream pointer advanced over
    /// it (`Count - Remaining`): the sources disagree on who writes `DataUsed`, so the minidriver
    /// must set it and advance its offsets by the same count (see `avstream::pointers`).
    DataUsedMismatch {
        /// The header's `DataUsed`.
        data_used: u32,
        /// `Count - Remaining` of the pointer that let the frame go last.
        advanced: u32,
    },
    /// A minidriver changed the `Data` of a user-mode read's header (its captured copy): a kernel
    /// address must never reach user mode.
    UserHeaderDataChanged {
        /// The `Data` the caller gave.
        original: u64,
        /// What the minidriver wrote.
        written: u64,
    },
    /// `Process` returned STATUS_SUCCESS with frames at the leading edge and none consumed:
    /// AVStream would call it again at once, forever ("Restarting Processing in AVStream").
    ProcessWithoutProgress {
        /// The KSPIN.
        pin: usize,
    },
    /// A timer fired a KDPC that was never initialised with `KeInitializeDpc`.
    DpcNotInitialized {
        /// The address.
        dpc: usize,
    },
    /// A service that requires the device mutex (`KsAcquireDevice`) called without it.
    DeviceMutexNotHeld {
        /// The service.
        service: &'static str,
    },
    /// `KsAcquireDevice` by the thread that holds the device mutex already (it is not
    /// recursive: a deadlock on Windows).
    DeviceMutexRecursive,
    /// `KsReleaseDevice` by a thread that does not hold the device mutex.
    DeviceMutexNotOwned,
    /// `KsPinAcquireProcessingMutex` by the thread that holds the pin's processing mutex already
    /// (inside Process, for one): it is not recursive, a deadlock on Windows.
    ProcessingMutexRecursive {
        /// The KSPIN.
        pin: usize,
    },
    /// `KsPinReleaseProcessingMutex` by a thread that does not hold the pin's processing mutex.
    ProcessingMutexNotOwned {
        /// The KSPIN.
        pin: usize,
    },
    /// `ExFreePoolWithTag` of a block holding a KTIMER or EX_TIMER that is still set (Driver
    /// Verifier's bug check 0xC7 TIMER_OR_DPC_INVALID, parameter 1 = 0).
    TimerInFreedPool {
        /// The block freed.
        block: usize,
        /// The timer inside it.
        timer: usize,
    },
    /// `ExFreePoolWithTag` of a block holding a KDPC that is queued and has not run yet (bug
    /// check 0xC7, parameter 1 = 1).
    DpcInFreedPool {
        /// The block freed.
        block: usize,
        /// The KDPC inside it.
        dpc: usize,
    },
    /// `ExFreePoolWithTag` of a block holding the CallbackContext of an EX_TIMER that is set or
    /// whose callback is queued or running (the callback would use freed memory; a guess at
    /// what Driver Verifier catches).
    TimerContextInFreedPool {
        /// The block freed.
        block: usize,
        /// The EX_TIMER.
        timer: usize,
        /// Its CallbackContext.
        context: usize,
    },
    /// `ExFreePoolWithTag` of an EX_TIMER object (only `ExDeleteTimer` frees one).
    ExTimerFreedAsPool {
        /// The timer.
        timer: usize,
    },
    /// An EX_TIMER service given a pointer `ExAllocateTimer` never returned.
    ExTimerUnknown {
        /// The service.
        service: &'static str,
        /// The pointer.
        timer: usize,
    },
    /// An EX_TIMER service given a timer `ExDeleteTimer` has freed.
    ExTimerDeleted {
        /// The service.
        service: &'static str,
        /// The timer.
        timer: usize,
    },
    /// `ExAllocateTimer` with EX_TIMER_HIGH_RESOLUTION and EX_TIMER_NO_WAKE, or unknown bits.
    ExTimerInvalidAttributes {
        /// The attributes.
        attributes: u32,
    },
    /// A rule of the KTIMER or EX_TIMER services broken (documented as a bug check or a "must",
    /// or marked a guess in `crate::timer`).
    TimerMisuse {
        /// The service.
        service: &'static str,
        /// The timer.
        timer: usize,
        /// The rule.
        rule: &'static str,
    },
    /// A NULL pointer where a service writes its result.
    NullArgument {
        /// The service.
        service: &'static str,
        /// The parameter.
        parameter: &'static str,
    },
}

impl fmt::Display for Bug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = |s: &NTSTATUS| match status_name(*s) {
            Some(name) => name.to_string(),
            None => format!("{:#010x}", *s as u32),
        };
        match self {
            Bug::PoolDoubleFree { address } => write!(f, "pool block {address:#x} freed twice"),
            Bug::PoolForeignPointer { address } => {
                write!(f, "ExFreePoolWithTag({address:#x}): not a pool allocation")
            }
            Bug::PoolWrongTag { address, allocated, freed_with } => write!(
                f,
                "pool block {address:#x} allocated with tag '{allocated}' freed with tag '{freed_with}'"
            ),
            Bug::PoolInvalidFlags { flags } => write!(f, "ExAllocatePool2 with invalid flags {flags:#x}"),
            Bug::PoolInvalidTag { tag } => {
                write!(f, "ExAllocatePool2 with the invalid tag {:#010x} ('{tag}')", tag.0)
            }
            Bug::PoolZeroBytes { tag } => {
                write!(f, "ExAllocatePool2 for zero bytes (tag '{tag}')")
            }
            Bug::PoolAtWrongIrql { irql, paged } => write!(
                f,
                "{} pool allocated at IRQL {irql}",
                if *paged { "paged" } else { "non-paged" }
            ),
            Bug::SpinLockNotHeld { lock } => {
                write!(f, "KeReleaseSpinLock({lock:#x}): the thread does not hold this lock")
            }
            Bug::IrqlRaisedByRelease { current, requested } => {
                write!(f, "a spin lock release at IRQL {current} asked to go to IRQL {requested}")
            }
            Bug::IrqlTooHigh { service, irql, max } => {
                write!(f, "{service} called at IRQL {irql} (allowed up to {max})")
            }
            Bug::IrqlNotRestored { context, irql } => {
                write!(f, "IRQL left at {irql} after {context} (a spin lock never released?)")
            }
            Bug::IrpCompletedTwice { irp } => write!(f, "IRP {irp:#x} completed twice"),
            Bug::IrpUnknown { irp } => write!(f, "IofCompleteRequest({irp:#x}): not a live IRP"),
            Bug::IrpCompletedWithPending { irp } => {
                write!(f, "IRP {irp:#x} completed with IoStatus.Status == STATUS_PENDING")
            }
            Bug::IrpCompletedHoldingSpinLock { irp } => {
                write!(f, "IRP {irp:#x} completed while holding a spin lock")
            }
            Bug::IrpCompletedWithCancelRoutine { irp } => {
                write!(f, "IRP {irp:#x} completed with its cancel routine still set")
            }
            Bug::IrpFieldOverwritten { irp, fields } => write!(
                f,
                "IRP {irp:#x} completed with the I/O manager's {} overwritten by the driver",
                fields.join(", ")
            ),
            Bug::PendingNotMarked { major } => write!(
                f,
                "dispatch (major {major:#x}) returned STATUS_PENDING without IoMarkIrpPending"
            ),
            Bug::MarkedPendingButReturned { major, status: s } => write!(
                f,
                "dispatch (major {major:#x}) marked the IRP pending but returned {}",
                status(s)
            ),
            Bug::ReturnedWithoutCompleting { major, status: s } => write!(
                f,
                "dispatch (major {major:#x}) returned {} without completing the IRP",
                status(s)
            ),
            Bug::StatusMismatch { major, returned, completed } => write!(
                f,
                "dispatch (major {major:#x}) completed the IRP with {} but returned {}",
                status(completed),
                status(returned)
            ),
            Bug::CancelLockNotReleased => {
                write!(f, "a cancel routine returned holding the cancel spin lock")
            }
            Bug::ObjectUnknown { object } => {
                write!(f, "ObfDereferenceObject({object:#x}): not a referenced object")
            }
            Bug::ObjectOverDereferenced { object } => {
                write!(f, "object {object:#x} dereferenced more often than referenced")
            }
            Bug::ObjectBagUnknown { bag } => {
                write!(f, "{bag:#x} is not the Bag of a live KSFILTER or KSPIN")
            }
            Bug::ObjectHeaderUnknown { header } => write!(f, "{header:#x} is not a live KSOBJECT_HEADER"),
            Bug::NoFsContext { major } => {
                write!(f, "IRP (major {major:#x}) for a file object with no FsContext")
            }
            Bug::EventNotInitialized { event } => {
                write!(f, "KEVENT {event:#x} used before KeInitializeEvent")
            }
            Bug::TimerNotInitialized { timer } => {
                write!(f, "KTIMER {timer:#x} used before KeInitializeTimerEx")
            }
            Bug::LeadingEdgeDeleted { pointer } => write!(
                f,
                "KsStreamPointerDelete({pointer:#x}): a leading edge, not a clone"
            ),
            Bug::DataUsedMismatch { data_used, advanced } => write!(
                f,
                "a frame completed with DataUsed {data_used} but its stream pointer advanced \
                 {advanced} bytes over it (set DataUsed and advance the offsets by the same count)"
            ),
            Bug::UserHeaderDataChanged { original, written } => write!(
                f,
                "a user-mode read's header Data changed from {original:#x} to {written:#x} (a \
                 kernel address must never reach user mode)"
            ),
            Bug::ProcessWithoutProgress { pin } => write!(
                f,
                "KSPIN {pin:#x}: Process returned STATUS_SUCCESS with frames at the leading edge \
                 and consumed none (AVStream would call it again forever)"
            ),
            Bug::DpcNotInitialized { dpc } => {
                write!(f, "KDPC {dpc:#x} queued before KeInitializeDpc")
            }
            Bug::DeviceMutexNotHeld { service } => {
                write!(f, "{service} without the device mutex (KsAcquireDevice)")
            }
            Bug::DeviceMutexRecursive => write!(
                f,
                "KsAcquireDevice by the thread holding the device mutex (a deadlock)"
            ),
            Bug::DeviceMutexNotOwned => {
                write!(f, "KsReleaseDevice by a thread that does not hold the mutex")
            }
            Bug::ProcessingMutexRecursive { pin } => write!(
                f,
                "KsPinAcquireProcessingMutex({pin:#x}) by the thread holding it already (it is \
                 not recursive: a deadlock)"
            ),
            Bug::ProcessingMutexNotOwned { pin } => write!(
                f,
                "KsPinReleaseProcessingMutex({pin:#x}) by a thread that does not hold it"
            ),
            Bug::TimerInFreedPool { block, timer } => write!(
                f,
                "pool block {block:#x} freed while timer {timer:#x} inside it is set \
                 (TIMER_OR_DPC_INVALID)"
            ),
            Bug::DpcInFreedPool { block, dpc } => write!(
                f,
                "pool block {block:#x} freed while KDPC {dpc:#x} inside it is queued \
                 (TIMER_OR_DPC_INVALID)"
            ),
            Bug::TimerContextInFreedPool { block, timer, context } => write!(
                f,
                "pool block {block:#x} freed while EX_TIMER {timer:#x} with CallbackContext \
                 {context:#x} inside it is set or calling back"
            ),
            Bug::ExTimerFreedAsPool { timer } => {
                write!(f, "EX_TIMER {timer:#x} freed with ExFreePoolWithTag, not ExDeleteTimer")
            }
            Bug::ExTimerUnknown { service, timer } => {
                write!(f, "{service}({timer:#x}): not a timer ExAllocateTimer returned")
            }
            Bug::ExTimerDeleted { service, timer } => {
                write!(f, "{service}({timer:#x}): the timer was deleted (use after free)")
            }
            Bug::ExTimerInvalidAttributes { attributes } => {
                write!(f, "ExAllocateTimer with invalid attributes {attributes:#x}")
            }
            Bug::TimerMisuse { service, timer, rule } => {
                write!(f, "{service}({timer:#x}): {rule}")
            }
            Bug::NullArgument { service, parameter } => {
                write!(f, "{service} with a NULL {parameter}")
            }
        }
    }
}

/// The bug log of one kernel.
#[derive(Default)]
pub(crate) struct BugLog {
    inner: Mutex<BugLogInner>,
}

#[derive(Default)]
struct BugLogInner {
    bugs: Vec<Bug>,
    expected: bool,
}

impl BugLog {
    /// Records a bug and prints it at once.
    pub(crate) fn report(&self, bug: Bug) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if !inner.expected {
            eprintln!("avcam-emulation: driver bug: {bug}");
        }
        inner.bugs.push(bug);
    }

    /// From now on, bugs are only recorded, for the test to take.
    pub(crate) fn expect(&self) {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .expected = true;
    }

    /// Takes every bug recorded so far.
    pub(crate) fn take(&self) -> Vec<Bug> {
        std::mem::take(&mut self.inner.lock().unwrap_or_else(|e| e.into_inner()).bugs)
    }

    /// Panics with every recorded bug, unless they are expected or there are none.
    pub(crate) fn raise_unexpected(&self) {
        let bugs = {
            let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            if inner.expected || inner.bugs.is_empty() {
                return;
            }
            std::mem::take(&mut inner.bugs)
        };
        panic!("{}", describe(&bugs));
    }

    /// Bugs left in the log (for the final check when the kernel is dropped).
    pub(crate) fn remaining(&self) -> Vec<Bug> {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .bugs
            .clone()
    }
}

/// One message naming every bug.
pub(crate) fn describe(bugs: &[Bug]) -> String {
    let mut text = format!("avcam-emulation detected {} driver bug(s):", bugs.len());
    for bug in bugs {
        text.push_str("\n  - ");
        text.push_str(&bug.to_string());
    }
    text
}
