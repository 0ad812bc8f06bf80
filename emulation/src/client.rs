//! The client side: a safe API to create objects, send requests and close them, for tests and
//! later the viewer.
//!
//! Every call enters the kernel on the calling thread for its duration (at PASSIVE_LEVEL), builds
//! the IRP as the I/O manager would for the file's requestor mode (kernel or user, see
//! [`crate::file`]), sends it through the driver's `MajorFunction` table, delivers the CLOSEs
//! waiting for a safe point, and raises any driver bug detected meanwhile (see [`crate::bugs`]).
//! A [`File`] is a client handle: a call on one that is closed answers STATUS_INVALID_HANDLE.
//!
//! - [`Kernel::create_parent`]: a test parent object (standing in for a pin) whose file object
//!   carries a KS object header with the given create items;
//! - [`Kernel::create`] / [`Kernel::create_bytes`]: IRP_MJ_CREATE relative to a parent;
//! - [`Kernel::create_allocator`] / [`Kernel::create_allocator_raw`]: the request
//!   `KsCreateAllocator` sends;
//! - [`Kernel::ioctl`] (synchronous) and [`Kernel::ioctl_async`] (a [`PendingIrp`] when the
//!   driver returns STATUS_PENDING): METHOD_NEITHER IOCTLs (IOCTL_KS_PROPERTY, ...);
//! - [`Kernel::close`]: closes the handle (IRP_MJ_CLEANUP on the last one; IRP_MJ_CLOSE when the
//!   file object's last reference goes, i.e. once the IRPs in flight have completed);
//! - [`Kernel::kill_client`]: the client process dies (its IRPs cancelled, then its handles
//!   closed, newest first).

use std::ffi::c_void;
use std::sync::Arc;
use std::time::Duration;

use ks::ks::{
    KSSTRING_Allocator, KSALLOCATOR_FRAMING, KSDISPATCH_TABLE, KSOBJECT_CREATE_ITEM,
    KSOBJECT_HEADER,
};
use ks::nt::{
    irp_mj, KernelMode, NotificationEvent, UserMode, DEVICE_IO_CONTROL_PARAMETERS, DEVICE_OBJECT,
    DRIVER_OBJECT, EVENT_TYPE, FILE_OBJECT, HANDLE, IO_STACK_PARAMETERS, IRP, KPROCESSOR_MODE,
    UNICODE_STRING,
};
use ks::status::{nt_success, STATUS_INVALID_HANDLE, STATUS_PENDING, STATUS_SUCCESS};
use ks::NTSTATUS;
use zerocopy::IntoBytes;

use crate::file::{self, FileRecord};
use crate::io::{self, complete_with, IoResult, IrpRecord};
use crate::ks::ObjectHeader;
use crate::memory::{zeroed, RawBox, RawBuffer};
use crate::{event, Kernel};

/// A handle the client has open to a file object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct File(pub(crate) u64);

/// `PDRIVER_DISPATCH` without the Option: a create handler.
#[ks::kernel_abi]
pub type DispatchFn = unsafe extern "system" fn(*mut DEVICE_OBJECT, *mut IRP) -> NTSTATUS;

/// A create item of a test parent.
#[derive(Clone, Debug)]
pub struct CreateItem {
    name: Vec<u16>,
    create: Option<DispatchFn>,
    context: *mut c_void,
    flags: u32,
    security_descriptor: bool,
}

impl CreateItem {
    /// An item named `object_class` whose creates go to `create`.
    pub fn new(object_class: &str, create: DispatchFn) -> CreateItem {
        CreateItem {
            name: object_class.encode_utf16().collect(),
            create: Some(create),
            context: std::ptr::null_mut(),
            flags: 0,
            security_descriptor: false,
        }
    }

    /// The item KsCreateAllocator's requests match (`KSSTRING_Allocator`).
    pub fn allocator(create: DispatchFn) -> CreateItem {
        CreateItem::new(KSSTRING_Allocator, create)
    }

    /// Sets `Context`.
    pub fn with_context(mut self, context: *mut c_void) -> CreateItem {
        self.context = context;
        self
    }

    /// Sets `Flags` (`KSCREATE_ITEM_*`).
    pub fn with_flags(mut self, flags: u32) -> CreateItem {
        self.flags = flags;
        self
    }

    /// Gives the item a security descriptor (an opaque blob: the emulation has no security model).
    pub fn with_security_descriptor(mut self) -> CreateItem {
        self.security_descriptor = true;
        self
    }
}

/// The memory behind a test parent's `FsContext`: its items, their names, its header.
struct ParentParts {
    _context: RawBox<KSOBJECT_HEADER>,
    _items: RawBuffer,
    _names: Vec<RawBuffer>,
    _descriptors: Vec<RawBuffer>,
}

/// A test parent's dispatch table: close succeeds, everything else is an invalid request.
static PARENT_TABLE: KSDISPATCH_TABLE = KSDISPATCH_TABLE {
    DeviceIoControl: None,
    Read: None,
    Write: None,
    Flush: None,
    Close: Some(close_parent),
    QuerySecurity: None,
    SetSecurity: None,
    FastDeviceIoControl: None,
    FastRead: None,
    FastWrite: None,
};

/// IRP_MJ_CLOSE of a test parent: the emulation frees its header itself.
#[ks::kernel_abi]
unsafe extern "system" fn close_parent(_device: *mut DEVICE_OBJECT, irp: *mut IRP) -> NTSTATUS {
    // SAFETY: the dispatch routine owns the live IRP it was given.
    unsafe { complete_with(irp, STATUS_SUCCESS, 0) }
}

/// The result of a request that completed, with the output buffer's bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IoOutput {
    /// Status and information.
    pub result: IoResult,
    /// The output buffer as the driver left it.
    pub output: Vec<u8>,
}

/// What [`Kernel::ioctl_async`] gives back.
pub enum AsyncIo {
    /// The dispatch routine returned something other than STATUS_PENDING.
    Done(IoOutput),
    /// The dispatch routine returned STATUS_PENDING.
    Pending(PendingIrp),
}

impl AsyncIo {
    /// The pending IRP; panics if the request was not pended.
    pub fn expect_pending(self) -> PendingIrp {
        match self {
            AsyncIo::Pending(pending) => pending,
            AsyncIo::Done(done) => panic!(
                "expected STATUS_PENDING, the request completed: {:?}",
                done.result
            ),
        }
    }

    /// The completed result; panics if the request was pended.
    pub fn expect_done(self) -> IoOutput {
        match self {
            AsyncIo::Done(done) => done,
            AsyncIo::Pending(_) => {
                panic!("expected a completed request, the driver returned STATUS_PENDING")
            }
        }
    }
}

/// An IRP the driver returned STATUS_PENDING for.
pub struct PendingIrp {
    kernel: Kernel,
    record: Arc<IrpRecord>,
}

impl PendingIrp {
    /// The result, if the IRP is completed. Like every return of the client to the kernel, it
    /// delivers the CLOSEs waiting for a safe point (see [`crate::file`]).
    pub fn poll(&self) -> Option<IoResult> {
        let result = self.record.result();
        self.kernel.deliver_pending_closes();
        result
    }

    /// Waits up to `timeout` for completion (and delivers the waiting CLOSEs, as `poll`).
    pub fn wait(&self, timeout: Duration) -> Option<IoResult> {
        let result = self.record.wait(timeout);
        self.kernel.deliver_pending_closes();
        result
    }

    /// The output buffer, once completed.
    pub fn output(&self) -> Option<Vec<u8>> {
        self.record.result().map(|_| self.record.output())
    }

    /// `IoCancelIrp`: sets the IRP's Cancel flag and calls its cancel routine, if one is set.
    /// Returns whether a routine was called.
    pub fn cancel(&self) -> bool {
        self.kernel
            .client_call(|| io::cancel(&self.kernel.state, &self.record))
    }

    /// The IRP (for tests that look inside).
    pub fn irp(&self) -> *mut IRP {
        self.record.irp()
    }
}

impl Drop for PendingIrp {
    fn drop(&mut self) {
        // A completed IRP is done with; one still pending stays registered, so the driver can
        // still complete it.
        if self.record.result().is_some() {
            self.kernel.state.io.retire(&self.record);
        }
    }
}

impl Kernel {
    /// Sends the CLOSEs waiting for a safe point, if any (a client waiting on or polling its
    /// IRP is such a point: no driver code is on its stack).
    fn deliver_pending_closes(&self) {
        if self.state.io.files.has_pending_closes() {
            let _entered = self.enter();
            file::run_pending_closes(&self.state);
        }
    }
}

/// The name KsCreateAllocator opens: `KSSTRING_Allocator`, `\`, then `parameters` (the raw
/// KSALLOCATOR_FRAMING bytes), as bytes of UTF-16.
pub fn allocator_create_name(parameters: &[u8]) -> Vec<u8> {
    let mut name: Vec<u8> = KSSTRING_Allocator
        .encode_utf16()
        .chain([u16::from(b'\\')])
        .flat_map(u16::to_le_bytes)
        .collect();
    name.extend_from_slice(parameters);
    name
}

impl Kernel {
    /// The driver object (its `MajorFunction` slots go to `KsDispatchIrp`).
    pub fn driver_object(&self) -> *mut DRIVER_OBJECT {
        self.state.io.driver()
    }

    /// The device object every file object is opened on.
    pub fn device_object(&self) -> *mut DEVICE_OBJECT {
        self.state.io.device()
    }

    /// The FILE_OBJECT of an open handle (NULL once the handle is closed).
    pub fn file_object(&self, file: File) -> *mut FILE_OBJECT {
        self.open_record(file)
            .map_or(std::ptr::null_mut(), |record| record.object())
    }

    /// The requestor mode of an open handle's file object (`KernelMode` or `UserMode`), `None`
    /// once the handle is closed.
    pub fn requestor_mode(&self, file: File) -> Option<KPROCESSOR_MODE> {
        self.open_record(file).map(|record| record.mode())
    }

    /// Handles the client has open (parents included).
    pub fn open_files(&self) -> usize {
        self.state.io.files.client().by_id.len()
    }

    /// The file record behind an open client handle.
    fn open_record(&self, file: File) -> Option<Arc<FileRecord>> {
        self.state.io.files.client().by_id.get(&file.0).cloned()
    }

    /// Opens the client's first handle to a file object that was just created.
    fn register(&self, record: Arc<FileRecord>) -> File {
        file::opened(&self.state, &record);
        record.add_handle();
        let mut client = self.state.io.files.client();
        client.last_id += 1;
        let id = client.last_id;
        client.by_id.insert(id, record);
        File(id)
    }

    /// Runs `body` as a client call: entered on this thread, then the CLOSEs the call's completions
    /// left for a safe point (see [`crate::file`]), then the driver bugs detected meanwhile raised.
    fn client_call<R>(&self, body: impl FnOnce() -> R) -> R {
        let result = {
            let _entered = self.enter();
            let result = body();
            file::run_pending_closes(&self.state);
            result
        };
        self.check();
        result
    }

    /// A test parent object with these create items and a dispatch table that only closes
    /// (kernel mode).
    pub fn create_parent(&self, items: &[CreateItem]) -> File {
        self.create_parent_with_table(items, &PARENT_TABLE)
    }

    /// [`Kernel::create_parent`] opened by a user-mode client: the objects created relative to it
    /// are user-mode files, whose IRPs say `UserMode`.
    pub fn create_parent_user(&self, items: &[CreateItem]) -> File {
        self.new_parent(items, &PARENT_TABLE, UserMode)
    }

    /// A test parent object with these create items and its own dispatch table (for a test that
    /// stands in for a pin's property handling, say).
    pub fn create_parent_with_table(
        &self,
        items: &[CreateItem],
        table: &'static KSDISPATCH_TABLE,
    ) -> File {
        self.new_parent(items, table, KernelMode)
    }

    fn new_parent(
        &self,
        items: &[CreateItem],
        table: &'static KSDISPATCH_TABLE,
        mode: KPROCESSOR_MODE,
    ) -> File {
        let mut names = Vec::new();
        let mut descriptors = Vec::new();
        let item_array =
            RawBuffer::zeroed(items.len() * std::mem::size_of::<KSOBJECT_CREATE_ITEM>());
        let first_item = item_array.as_ptr().cast::<KSOBJECT_CREATE_ITEM>();
        for (index, item) in items.iter().enumerate() {
            let name_bytes: Vec<u8> = item.name.iter().flat_map(|u| u.to_le_bytes()).collect();
            let Ok(length) = u16::try_from(name_bytes.len()) else {
                panic!("avcam-emulation: create item name too long");
            };
            let name = RawBuffer::from_bytes(&name_bytes);
            let descriptor = if item.security_descriptor {
                let blob = RawBuffer::from_bytes(&[1, 0, 4, 0x80]);
                let pointer = blob.as_ptr().cast();
                descriptors.push(blob);
                pointer
            } else {
                std::ptr::null_mut()
            };
            let value = KSOBJECT_CREATE_ITEM {
                Create: item.create,
                Context: item.context,
                ObjectClass: UNICODE_STRING {
                    Length: length,
                    MaximumLength: length,
                    Buffer: name.as_ptr().cast(),
                },
                SecurityDescriptor: descriptor,
                Flags: item.flags,
            };
            names.push(name);
            // SAFETY: `item_array` holds `items.len()` 16-byte aligned slots; nobody else knows it.
            unsafe { first_item.wrapping_add(index).write(value) };
        }
        let header = self.state.ks.new_emulation_header(ObjectHeader {
            items: if items.is_empty() {
                std::ptr::null_mut()
            } else {
                first_item
            },
            item_count: items.len() as u32,
            table,
            create_item: std::ptr::null_mut(),
        });
        // FsContext -> a structure whose first field is the header.
        let context = RawBox::new(header);
        let fs_context = context.as_ptr().cast();
        let parts = ParentParts {
            _context: context,
            _items: item_array,
            _names: names,
            _descriptors: descriptors,
        };
        let record = file::new_file(
            &self.state,
            None,
            RawBuffer::zeroed(0),
            0,
            mode,
            Some((fs_context, Box::new(parts))),
            Some(header),
        );
        self.register(record)
    }

    /// IRP_MJ_CREATE of `name_units` relative to `parent`.
    pub fn create(&self, parent: File, name_units: &[u16]) -> Result<File, NTSTATUS> {
        let bytes: Vec<u8> = name_units.iter().flat_map(|u| u.to_le_bytes()).collect();
        self.create_bytes(parent, &bytes)
    }

    /// IRP_MJ_CREATE of a name given as raw bytes (`FileName.Length` = `name.len()`, which may be
    /// odd) relative to `parent`; the new file has the parent's requestor mode.
    /// STATUS_INVALID_HANDLE if `parent` is not an open handle.
    pub fn create_bytes(&self, parent: File, name: &[u8]) -> Result<File, NTSTATUS> {
        let Ok(length) = u16::try_from(name.len()) else {
            panic!(
                "avcam-emulation: a file name of {} bytes does not fit a UNICODE_STRING",
                name.len()
            );
        };
        let Some(parent) = self.open_record(parent) else {
            return Err(STATUS_INVALID_HANDLE);
        };
        let mode = parent.mode();
        self.client_call(|| {
            self.send_create(Some(parent), name, length, mode)
                .map(|record| self.register(record))
        })
    }

    /// IRP_MJ_CREATE with no related file object, named `name` (raw bytes of UTF-16), by a client
    /// of `mode`: what opening a device interface sends.
    pub(crate) fn create_root_bytes(
        &self,
        name: &[u8],
        mode: KPROCESSOR_MODE,
    ) -> Result<File, NTSTATUS> {
        let Ok(length) = u16::try_from(name.len()) else {
            return Err(ks::status::STATUS_INVALID_PARAMETER);
        };
        self.client_call(|| {
            self.send_create(None, name, length, mode)
                .map(|record| self.register(record))
        })
    }

    /// Sends IRP_MJ_CREATE for a new file object named `name` (`length` bytes), relative to
    /// `parent` if any, with requestor mode `mode`; returns the file object, opened, without a
    /// handle (the caller opens the first), when the driver succeeds.
    pub(crate) fn send_create(
        &self,
        parent: Option<Arc<FileRecord>>,
        name: &[u8],
        length: u16,
        mode: KPROCESSOR_MODE,
    ) -> Result<Arc<FileRecord>, NTSTATUS> {
        let _entered = self.enter();
        let record = file::new_file(
            &self.state,
            parent,
            RawBuffer::from_bytes(name),
            length,
            mode,
            None,
            None,
        );
        let irp = self.state.io.new_irp(
            irp_mj::CREATE,
            &record,
            zeroed(),
            RawBuffer::zeroed(0),
            RawBuffer::zeroed(0),
            false,
        );
        let result = io::call_driver_and_wait(&self.state, &irp);
        self.state.io.retire(&irp);
        if nt_success(result.status) {
            file::opened(&self.state, &record);
            Ok(record)
        } else {
            Err(result.status)
        }
    }

    /// The allocator create request `KsCreateAllocator` sends: `KSSTRING_Allocator`, `\`, and the
    /// 24 bytes of `framing` (as 12 UTF-16 units).
    pub fn create_allocator(
        &self,
        parent: File,
        framing: &KSALLOCATOR_FRAMING,
    ) -> Result<File, NTSTATUS> {
        self.create_allocator_raw(parent, framing.as_bytes())
    }

    /// An allocator create request with arbitrary parameter bytes after `KSSTRING_Allocator\`
    /// (short, long, odd-length: malformed requests).
    pub fn create_allocator_raw(&self, parent: File, parameters: &[u8]) -> Result<File, NTSTATUS> {
        self.create_bytes(parent, &allocator_create_name(parameters))
    }

    /// A client IRP_MJ_DEVICE_CONTROL (METHOD_NEITHER) on an open file.
    fn new_ioctl_with(
        &self,
        record: &Arc<FileRecord>,
        code: u32,
        input: &[u8],
        output: RawBuffer,
    ) -> Arc<IrpRecord> {
        let output_len = output.len();
        let input = RawBuffer::from_bytes(input);
        let mut parameters: IO_STACK_PARAMETERS = zeroed();
        parameters.DeviceIoControl = DEVICE_IO_CONTROL_PARAMETERS {
            OutputBufferLength: output_len as u32,
            _pad0: 0,
            InputBufferLength: input.len() as u32,
            _pad1: 0,
            IoControlCode: code,
            _pad2: 0,
            Type3InputBuffer: input.as_ptr().cast(),
        };
        self.state.io.new_irp(
            irp_mj::DEVICE_CONTROL,
            record,
            parameters,
            input,
            output,
            true,
        )
    }

    /// A synchronous METHOD_NEITHER IOCTL (`Type3InputBuffer` = a copy of `input`, `UserBuffer` =
    /// a copy of `output`, where a property SET's data travels, copied back into `output`; both
    /// NULL when empty). If the driver pends it, waits for the completion. STATUS_INVALID_HANDLE
    /// if `file` is not an open handle.
    pub fn ioctl(&self, file: File, code: u32, input: &[u8], output: &mut [u8]) -> IoResult {
        let Some(record) = self.open_record(file) else {
            return IoResult {
                status: STATUS_INVALID_HANDLE,
                information: 0,
            };
        };
        self.client_call(|| {
            let irp = self.new_ioctl_with(&record, code, input, RawBuffer::from_bytes(output));
            let result = io::call_driver_and_wait(&self.state, &irp);
            if !output.is_empty() {
                output.copy_from_slice(&irp.output());
            }
            if irp.result().is_some() {
                self.state.io.retire(&irp);
            }
            result
        })
    }

    /// A METHOD_NEITHER IOCTL that may pend: [`AsyncIo::Pending`] when the dispatch routine
    /// returns STATUS_PENDING.
    pub fn ioctl_async(&self, file: File, code: u32, input: &[u8], output_len: usize) -> AsyncIo {
        self.ioctl_async_raw(file, code, input, RawBuffer::zeroed(output_len), false)
    }

    /// A METHOD_NEITHER IOCTL with no input whose output buffer starts as a copy of `output`
    /// (IOCTL_KS_READ_STREAM: the KSSTREAM_HEADERs), which may pend.
    pub fn ioctl_async_with_output(&self, file: File, code: u32, output: &[u8]) -> AsyncIo {
        self.ioctl_async_raw(file, code, &[], RawBuffer::from_bytes(output), false)
    }

    /// [`Kernel::ioctl_async_with_output`] for an IRP that `IoCancelIrp` reached before the
    /// driver did (`Irp->Cancel` already set when it is dispatched: the requesting thread exited
    /// while the request was on its way).
    pub fn ioctl_async_cancelled_early(&self, file: File, code: u32, output: &[u8]) -> AsyncIo {
        self.ioctl_async_raw(file, code, &[], RawBuffer::from_bytes(output), true)
    }

    fn ioctl_async_raw(
        &self,
        file: File,
        code: u32,
        input: &[u8],
        output: RawBuffer,
        cancelled: bool,
    ) -> AsyncIo {
        let Some(record) = self.open_record(file) else {
            return AsyncIo::Done(IoOutput {
                result: IoResult {
                    status: STATUS_INVALID_HANDLE,
                    information: 0,
                },
                output: Vec::new(),
            });
        };
        self.client_call(|| {
            let irp = self.new_ioctl_with(&record, code, input, output);
            if cancelled {
                // No cancel routine can be set yet: IoCancelIrp only sets the flag.
                io::cancel(&self.state, &irp);
            }
            let returned = io::call_driver(&self.state, &irp);
            if returned == STATUS_PENDING {
                AsyncIo::Pending(PendingIrp {
                    kernel: self.clone(),
                    record: irp,
                })
            } else {
                let result = irp.result().unwrap_or(IoResult {
                    status: returned,
                    information: 0,
                });
                let output = irp.output();
                if irp.result().is_some() {
                    self.state.io.retire(&irp);
                }
                AsyncIo::Done(IoOutput { result, output })
            }
        })
    }

    /// Closes a client handle (`CloseHandle`): IRP_MJ_CLEANUP if it was the file object's last
    /// handle, IRP_MJ_CLOSE once its last reference goes (at once if no IRP is in flight, else
    /// when the last one completes; see [`crate::file`]). STATUS_SUCCESS, or STATUS_INVALID_HANDLE
    /// for a handle that is not open (closed already, or another kernel's).
    pub fn close(&self, file: File) -> NTSTATUS {
        let Some(record) = self.state.io.files.client().by_id.remove(&file.0) else {
            return STATUS_INVALID_HANDLE;
        };
        self.client_call(|| file::close_handle(&self.state, &record));
        STATUS_SUCCESS
    }

    /// The client process dies: every IRP it has pending is cancelled (`IoCancelIrp`: "The system
    /// cancels unprocessed IRPs if the thread that initiated the I/O request exits"), then every
    /// handle it has open is closed, newest first (the process's handle table). IRPs the driver
    /// does not complete on cancellation keep their file objects from being closed.
    pub fn kill_client(&self) {
        self.client_call(|| {
            for irp in self.state.io.pending_client_irps() {
                io::cancel(&self.state, &irp);
            }
            loop {
                let newest = self.state.io.files.client().by_id.pop_last();
                let Some((_, record)) = newest else {
                    break;
                };
                file::close_handle(&self.state, &record);
            }
        });
    }

    fn security_request(&self, file: File, major: u8) -> IoResult {
        let Some(record) = self.open_record(file) else {
            return IoResult {
                status: STATUS_INVALID_HANDLE,
                information: 0,
            };
        };
        self.client_call(|| {
            let irp = self.state.io.new_irp(
                major,
                &record,
                zeroed(),
                RawBuffer::zeroed(0),
                RawBuffer::zeroed(0),
                true,
            );
            let result = io::call_driver_and_wait(&self.state, &irp);
            if irp.result().is_some() {
                self.state.io.retire(&irp);
            }
            result
        })
    }

    /// IRP_MJ_QUERY_SECURITY.
    pub fn query_security(&self, file: File) -> IoResult {
        self.security_request(file, irp_mj::QUERY_SECURITY)
    }

    /// IRP_MJ_SET_SECURITY.
    pub fn set_security(&self, file: File) -> IoResult {
        self.security_request(file, irp_mj::SET_SECURITY)
    }

    /// A notification event, not signalled, and a handle to it.
    pub fn create_event(&self) -> HANDLE {
        self.create_event_of(NotificationEvent, false)
    }

    /// An event of `kind` (NotificationEvent or SynchronizationEvent) and a handle to it.
    pub fn create_event_of(&self, kind: EVENT_TYPE, signalled: bool) -> HANDLE {
        self.state.objects.create_event(kind, signalled)
    }

    fn event_of(&self, handle: HANDLE) -> *mut ks::nt::KEVENT {
        match self.state.objects.event_of(handle) {
            Some(event) => event,
            None => panic!("avcam-emulation: {handle:?} is not an open event handle"),
        }
    }

    /// Waits up to `timeout` for the event behind `handle`; a synchronization event is reset by
    /// the wait. Returns whether it was signalled.
    pub fn wait_event(&self, handle: HANDLE, timeout: Duration) -> bool {
        let event = self.event_of(handle);
        // SAFETY: the event lives while its handle is open; the test closes it only afterwards.
        unsafe { event::wait(&self.state, event, timeout) }
    }

    /// Whether the event behind `handle` is signalled (without consuming it).
    pub fn event_signalled(&self, handle: HANDLE) -> bool {
        let event = self.event_of(handle);
        // SAFETY: as above.
        unsafe { event::is_signalled(event) }
    }

    /// Resets the event behind `handle`.
    pub fn reset_event(&self, handle: HANDLE) {
        let event = self.event_of(handle);
        // SAFETY: as above.
        unsafe { event::reset(event) };
    }

    /// Closes a handle the test created (an event); returns whether it was open.
    pub fn close_handle(&self, handle: HANDLE) -> bool {
        self.client_call(|| crate::object::close_handle(&self.state, handle))
    }

    /// Waits up to `timeout` for a KEVENT the driver owns.
    ///
    /// # Safety
    /// `event` must point to a live, initialised KEVENT for the whole wait.
    pub unsafe fn wait_kevent(&self, event: *mut ks::nt::KEVENT, timeout: Duration) -> bool {
        // SAFETY: forwarded from the caller.
        unsafe { event::wait(&self.state, event, timeout) }
    }
}
