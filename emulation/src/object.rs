//! The object manager subset: kernel objects reachable through HANDLEs, with reference counts.
//!
//! A test creates an event with [`Kernel::create_event`](crate::Kernel::create_event) and passes
//! the HANDLE to the driver (as a client passes one in KSEVENTDATA); the driver turns it into a
//! KEVENT pointer with `ObReferenceObjectByHandle` (type-checked against `*ExEventObjectType`) and
//! drops the reference with `ObfDereferenceObject`. References the driver takes and never drops
//! are leaks, listed by [`ObjectTable::leaked_references`]. The object's memory lives until its
//! handle is closed and the driver's last reference is gone.

use std::collections::HashMap;
use std::ffi::c_void;
use std::fmt;
use std::sync::{Arc, Mutex};

use ks::nt::{EVENT_TYPE, HANDLE, KEVENT, LIST_ENTRY, POBJECT_TYPE};
use ks::status::{STATUS_INVALID_HANDLE, STATUS_OBJECT_TYPE_MISMATCH, STATUS_SUCCESS};
use ks::NTSTATUS;

use crate::bugs::Bug;
use crate::event;
use crate::file::{self, FileRecord, Release};
use crate::kernel::KernelState;
use crate::memory::RawBox;
use crate::registry::DeviceKey;

/// An object type (what `POBJECT_TYPE` points to in the emulation).
pub struct ObjectType {
    /// Its name, as the object manager names it.
    pub name: &'static str,
}

/// The event object type; `*ExEventObjectType` points here.
pub static EVENT_OBJECT_TYPE: ObjectType = ObjectType { name: "Event" };

/// The file object type; `*IoFileObjectType` points here.
pub static FILE_OBJECT_TYPE: ObjectType = ObjectType { name: "File" };

/// The registry key object type (`IoOpenDeviceRegistryKey` handles).
pub static KEY_OBJECT_TYPE: ObjectType = ObjectType { name: "Key" };

/// The `POBJECT_TYPE` of file objects.
pub(crate) fn file_object_type() -> POBJECT_TYPE {
    (&FILE_OBJECT_TYPE as *const ObjectType).cast_mut().cast()
}

/// The `POBJECT_TYPE` of events.
pub(crate) fn event_object_type() -> POBJECT_TYPE {
    (&EVENT_OBJECT_TYPE as *const ObjectType).cast_mut().cast()
}

/// The `POBJECT_TYPE` of registry keys.
pub(crate) fn key_object_type() -> POBJECT_TYPE {
    (&KEY_OBJECT_TYPE as *const ObjectType).cast_mut().cast()
}

/// A reference the driver took and never dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceLeak {
    /// The object's type name.
    pub type_name: &'static str,
    /// The object's address.
    pub object: usize,
    /// References still held.
    pub references: usize,
}

impl fmt::Display for ReferenceLeak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} object {:#x}: {} reference(s) from ObReferenceObjectByHandle never dropped",
            self.type_name, self.object, self.references
        )
    }
}

/// What an object is.
enum Body {
    /// An event the emulation owns.
    Event(RawBox<KEVENT>),
    /// A file object of the I/O manager (kept alive by the entry).
    File(Arc<FileRecord>),
    /// An open key of the device (`IoOpenDeviceRegistryKey`).
    Key {
        /// Gives the object an address of its own.
        _object: RawBox<u64>,
        /// Which key.
        key: DeviceKey,
    },
}

impl Body {
    /// The object's type.
    fn object_type(&self) -> &'static ObjectType {
        match self {
            Body::Event(_) => &EVENT_OBJECT_TYPE,
            Body::File(_) => &FILE_OBJECT_TYPE,
            Body::Key { .. } => &KEY_OBJECT_TYPE,
        }
    }
}

struct Entry {
    body: Body,
    /// Open handles to it.
    handles: usize,
    /// References taken through ObReferenceObjectByHandle and not yet dropped.
    references: usize,
}

/// An open handle.
#[derive(Clone, Copy)]
struct Handle {
    /// The object's address.
    object: usize,
    /// Opened by the driver (`ObOpenObjectByPointer`, `KsCreateAllocator`): it must `ZwClose` it.
    kernel: bool,
}

#[derive(Default)]
struct Table {
    /// Objects by body address.
    objects: HashMap<usize, Entry>,
    /// Handle value -> handle.
    handles: HashMap<usize, Handle>,
    next_handle: usize,
}

impl Table {
    fn new_handle(&mut self, object: usize, kernel: bool) -> HANDLE {
        // Handle values are multiples of 4, as on Windows, and never 0.
        self.next_handle += 4;
        let handle = self.next_handle;
        self.handles.insert(handle, Handle { object, kernel });
        if let Some(entry) = self.objects.get_mut(&object) {
            entry.handles += 1;
        }
        handle as HANDLE
    }
}

/// The handle and object table of one kernel.
#[derive(Default)]
pub struct ObjectTable {
    table: Mutex<Table>,
}

impl ObjectTable {
    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates an event object and a handle to it.
    pub(crate) fn create_event(&self, kind: EVENT_TYPE, signalled: bool) -> HANDLE {
        let body = RawBox::new(KEVENT {
            Header: 0,
            SignalState: 0,
            WaitListHead: LIST_ENTRY {
                Flink: std::ptr::null_mut(),
                Blink: std::ptr::null_mut(),
            },
        });
        // SAFETY: `body` is a live KEVENT owned by the table.
        unsafe { event::initialize(body.as_ptr(), kind, signalled) };
        let address = body.as_ptr() as usize;
        let mut table = self.lock();
        table.objects.insert(
            address,
            Entry {
                body: Body::Event(body),
                handles: 0,
                references: 0,
            },
        );
        table.new_handle(address, false)
    }

    /// A kernel handle to an opened file object (`ObOpenObjectByPointer`, `KsCreateAllocator`);
    /// `None` if the file object is closing.
    pub(crate) fn open_file(&self, file: Arc<FileRecord>) -> Option<HANDLE> {
        if !file.add_handle() {
            return None;
        }
        let address = file.object() as usize;
        let mut table = self.lock();
        table.objects.entry(address).or_insert(Entry {
            body: Body::File(file),
            handles: 0,
            references: 0,
        });
        Some(table.new_handle(address, true))
    }

    /// A kernel handle to a new key object of the device's `key`.
    pub(crate) fn open_key(&self, key: DeviceKey) -> HANDLE {
        let body = RawBox::new(0u64);
        let address = body.as_ptr() as usize;
        let mut table = self.lock();
        table.objects.insert(
            address,
            Entry {
                body: Body::Key { _object: body, key },
                handles: 0,
                references: 0,
            },
        );
        table.new_handle(address, true)
    }

    /// Which key an open handle is to: STATUS_INVALID_HANDLE for no open handle,
    /// STATUS_OBJECT_TYPE_MISMATCH for a handle to another kind of object.
    pub(crate) fn key_of(&self, handle: HANDLE) -> Result<DeviceKey, NTSTATUS> {
        let table = self.lock();
        let address = table
            .handles
            .get(&(handle as usize))
            .ok_or(STATUS_INVALID_HANDLE)?
            .object;
        match &table
            .objects
            .get(&address)
            .ok_or(STATUS_INVALID_HANDLE)?
            .body
        {
            Body::Key { key, .. } => Ok(*key),
            _ => Err(STATUS_OBJECT_TYPE_MISMATCH),
        }
    }

    /// The file object behind an open handle.
    pub(crate) fn file_of(&self, handle: HANDLE) -> Option<Arc<FileRecord>> {
        let table = self.lock();
        let address = table.handles.get(&(handle as usize))?.object;
        match &table.objects.get(&address)?.body {
            Body::File(file) => Some(file.clone()),
            _ => None,
        }
    }

    /// The KEVENT behind an open handle.
    pub(crate) fn event_of(&self, handle: HANDLE) -> Option<*mut KEVENT> {
        let table = self.lock();
        let address = table.handles.get(&(handle as usize))?.object;
        match &table.objects.get(&address)?.body {
            Body::Event(event) => Some(event.as_ptr()),
            _ => None,
        }
    }

    /// Takes a handle out of the table; the object lives on while the driver holds references.
    /// Returns whether the handle was open, and the file object it was a handle to, if any (whose
    /// own handle count the caller then drops, see [`close_handle`]).
    fn remove_handle(&self, handle: HANDLE) -> Option<Option<Arc<FileRecord>>> {
        let mut table = self.lock();
        let closed = table.handles.remove(&(handle as usize))?;
        let mut file = None;
        if let Some(entry) = table.objects.get_mut(&closed.object) {
            entry.handles -= 1;
            if let Body::File(record) = &entry.body {
                file = Some(record.clone());
            }
            if entry.handles == 0 && entry.references == 0 {
                table.objects.remove(&closed.object);
            }
        }
        Some(file)
    }

    /// Handles the driver opened and never closed with `ZwClose`.
    pub fn leaked_kernel_handles(&self) -> Vec<usize> {
        let table = self.lock();
        let mut leaked: Vec<usize> = table
            .handles
            .iter()
            .filter(|(_, h)| h.kernel)
            .map(|(&value, _)| value)
            .collect();
        leaked.sort_unstable();
        leaked
    }

    /// `ObReferenceObjectByHandle`.
    pub(crate) fn reference_by_handle(
        &self,
        handle: HANDLE,
        object_type: POBJECT_TYPE,
    ) -> Result<*mut c_void, NTSTATUS> {
        let mut table = self.lock();
        let Some(address) = table.handles.get(&(handle as usize)).map(|h| h.object) else {
            return Err(STATUS_INVALID_HANDLE);
        };
        let entry = table
            .objects
            .get_mut(&address)
            .ok_or(STATUS_INVALID_HANDLE)?;
        let actual = match entry.body {
            Body::Event(_) => event_object_type(),
            Body::File(_) => file_object_type(),
            Body::Key { .. } => key_object_type(),
        };
        if !object_type.is_null() && object_type != actual {
            return Err(STATUS_OBJECT_TYPE_MISMATCH);
        }
        entry.references += 1;
        if let Body::File(record) = &entry.body {
            record.add_reference();
        }
        Ok(address as *mut c_void)
    }

    /// `ObfDereferenceObject`: returns the references left (driver references plus the handle's).
    pub(crate) fn dereference(&self, state: &KernelState, object: *mut c_void) -> isize {
        let address = object as usize;
        let mut table = self.lock();
        let Some(entry) = table.objects.get_mut(&address) else {
            drop(table);
            state.report(Bug::ObjectUnknown { object: address });
            return 0;
        };
        if entry.references == 0 {
            drop(table);
            state.report(Bug::ObjectOverDereferenced { object: address });
            return 0;
        }
        entry.references -= 1;
        let left = entry.references + entry.handles;
        let file = match &entry.body {
            Body::File(record) => Some(record.clone()),
            _ => None,
        };
        if left == 0 {
            table.objects.remove(&address);
        }
        drop(table);
        if let Some(record) = file {
            // The file object's own count decides its CLOSE (it counts IRPs in flight too).
            file::release_reference(state, &record, Release::Now);
        }
        left as isize
    }

    /// References the driver took and never dropped.
    pub fn leaked_references(&self) -> Vec<ReferenceLeak> {
        let table = self.lock();
        let mut leaks: Vec<ReferenceLeak> = table
            .objects
            .iter()
            .filter(|(_, e)| e.references > 0)
            .map(|(&object, e)| ReferenceLeak {
                type_name: e.body.object_type().name,
                object,
                references: e.references,
            })
            .collect();
        leaks.sort_by_key(|l| l.object);
        leaks
    }

    /// Open handles.
    pub fn open_handles(&self) -> usize {
        self.lock().handles.len()
    }
}

/// `ZwClose` / `CloseHandle`: closes `handle`; a file object's last handle sends IRP_MJ_CLEANUP
/// and its last reference IRP_MJ_CLOSE (see [`crate::file`]). Returns whether it was open.
pub(crate) fn close_handle(state: &KernelState, handle: HANDLE) -> bool {
    match state.objects.remove_handle(handle) {
        None => false,
        Some(None) => true,
        Some(Some(record)) => {
            file::close_handle(state, &record);
            true
        }
    }
}

/// `ObReferenceObjectByHandle` for the services: writes the object and handle information.
///
/// # Safety
/// `object` must be writable; `info` must be NULL or writable.
pub(crate) unsafe fn reference_object_by_handle(
    state: &KernelState,
    handle: HANDLE,
    access: u32,
    object_type: POBJECT_TYPE,
    object: *mut *mut c_void,
    info: *mut ks::nt::OBJECT_HANDLE_INFORMATION,
) -> NTSTATUS {
    match state.objects.reference_by_handle(handle, object_type) {
        Ok(body) => {
            // SAFETY: the caller guarantees `object` is writable.
            unsafe { object.write(body) };
            if !info.is_null() {
                // The emulation has no access checks: the handle grants what is asked (a guess
                // at what matters to a driver: the call succeeds).
                // SAFETY: the caller guarantees a non-NULL `info` is writable.
                unsafe {
                    info.write(ks::nt::OBJECT_HANDLE_INFORMATION {
                        HandleAttributes: 0,
                        GrantedAccess: access,
                    })
                };
            }
            STATUS_SUCCESS
        }
        Err(status) => status,
    }
}

#[cfg(test)]
mod tests {
    use std::ptr::null_mut;

    use ks::nt::{KernelMode, NotificationEvent, EVENT_MODIFY_STATE};

    use super::*;
    use crate::services::{ExEventObjectType, ObReferenceObjectByHandle, ObfDereferenceObject};
    use crate::Kernel;

    #[test]
    fn reference_by_handle_gives_the_event_and_counts() {
        let kernel = Kernel::new();
        let _entered = kernel.enter();
        let handle = kernel.create_event();
        let mut object = null_mut();
        // SAFETY: reading the data export, as drivers do.
        let event_type = unsafe { ExEventObjectType };
        // SAFETY: `object` is writable; `info` is NULL.
        let status = unsafe {
            ObReferenceObjectByHandle(
                handle,
                EVENT_MODIFY_STATE,
                event_type,
                KernelMode,
                &mut object,
                null_mut(),
            )
        };
        assert_eq!(status, STATUS_SUCCESS);
        assert_eq!(Some(object.cast()), kernel.objects().event_of(handle));
        assert_eq!(kernel.objects().leaked_references().len(), 1);
        // SAFETY: `object` was referenced above.
        let left = unsafe { ObfDereferenceObject(object) };
        assert_eq!(left, 1, "the handle's reference is left");
        assert!(kernel.objects().leaked_references().is_empty());
        assert!(kernel.close_handle(handle));
        assert!(!kernel.close_handle(handle));
        kernel.check();
    }

    #[test]
    fn the_object_outlives_its_handle_while_referenced() {
        let kernel = Kernel::new();
        let _entered = kernel.enter();
        let handle = kernel.create_event();
        let mut object = null_mut();
        // SAFETY: `object` is writable; `info` is NULL; a NULL type skips the type check.
        let status = unsafe {
            ObReferenceObjectByHandle(handle, 0, null_mut(), KernelMode, &mut object, null_mut())
        };
        assert_eq!(status, STATUS_SUCCESS);
        kernel.close_handle(handle);
        // The driver can still signal it.
        // SAFETY: the driver's reference keeps the KEVENT alive.
        let previous = unsafe { crate::services::KeSetEvent(object.cast(), 0, 0) };
        assert_eq!(previous, 0);
        // SAFETY: as above.
        assert_eq!(unsafe { ObfDereferenceObject(object) }, 0);
        assert_eq!(kernel.objects().open_handles(), 0);
        kernel.check();
    }

    #[test]
    fn bad_handles_and_types_fail() {
        let kernel = Kernel::new();
        let _entered = kernel.enter();
        let handle = kernel.create_event();
        let mut object = null_mut();
        let other_type = ObjectType { name: "Semaphore" };
        let other: POBJECT_TYPE = (&other_type as *const ObjectType).cast_mut().cast();
        // SAFETY: `object` is writable; `info` is NULL.
        let status = unsafe {
            ObReferenceObjectByHandle(handle, 0, other, KernelMode, &mut object, null_mut())
        };
        assert_eq!(status, STATUS_OBJECT_TYPE_MISMATCH);
        // SAFETY: as above.
        let status = unsafe {
            ObReferenceObjectByHandle(
                0x1234 as HANDLE,
                0,
                null_mut(),
                KernelMode,
                &mut object,
                null_mut(),
            )
        };
        assert_eq!(status, STATUS_INVALID_HANDLE);
        assert!(kernel.objects().leaked_references().is_empty());
        kernel.close_handle(handle);
    }

    #[test]
    fn over_dereferencing_and_unknown_objects_are_bugs() {
        let kernel = Kernel::new();
        kernel.expect_bugs();
        let _entered = kernel.enter();
        let handle = kernel.create_event_of(NotificationEvent, false);
        let event = kernel.objects().event_of(handle).unwrap();
        // SAFETY: the emulation checks the pointer before using it.
        unsafe { ObfDereferenceObject(event.cast()) };
        let local = 0u32;
        // SAFETY: as above.
        unsafe { ObfDereferenceObject((&local as *const u32).cast_mut().cast()) };
        assert_eq!(
            kernel.take_bugs(),
            vec![
                Bug::ObjectOverDereferenced {
                    object: event as usize
                },
                Bug::ObjectUnknown {
                    object: &local as *const u32 as usize
                },
            ]
        );
        kernel.close_handle(handle);
    }

    #[test]
    #[should_panic(expected = "Event object")]
    fn a_reference_never_dropped_is_a_leak() {
        let kernel = Kernel::new();
        let _entered = kernel.enter();
        let handle = kernel.create_event();
        let mut object = null_mut();
        // SAFETY: `object` is writable; `info` is NULL.
        unsafe {
            ObReferenceObjectByHandle(handle, 0, null_mut(), KernelMode, &mut object, null_mut())
        };
        kernel.assert_no_leaks();
    }
}
