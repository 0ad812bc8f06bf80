//! A user-mode emulation of the ntoskrnl and ks.sys services avcam's driver code uses.
//!
//! The same driver code that links against ntoskrnl.exe and ks.sys on Windows links against
//! [`services`] here (through `avcam-kernel`), with the same C names and signatures, operating on
//! IRPs, IO_STACK_LOCATIONs and FILE_OBJECTs laid out as on Windows x64 (`ks` crate). Where the
//! public documentation leaves the behaviour open, the module says what the emulation chose.
//!
//! - [`Kernel`]: one emulated kernel; all state lives in it, so parallel tests do not meet
//!   ([`kernel`]);
//! - [`pool`]: the tracked pool, leak reports by tag, the fault injector;
//! - [`sync`]: IRQL, spin locks, the cancel spin lock;
//! - [`event`]: KEVENTs; [`object`]: handles and references; [`registry`]: the device's
//!   registry keys (`IoOpenDeviceRegistryKey`, `ZwQueryValueKey`);
//! - [`mod@file`]: file objects, their requestor mode, and the handle and reference counts that decide
//!   IRP_MJ_CLEANUP and IRP_MJ_CLOSE;
//! - [`handles`]: the driver as a client (ObOpenObjectByPointer, ZwClose, KsCreateAllocator,
//!   KsSynchronousIoControlDevice);
//! - [`io`]: driver, device, file objects, IRPs, completion, cancellation;
//! - [`timer`]: the virtual (or real-time) clock and its tick, KTIMERs, EX_TIMERs, DPCs (inline
//!   or on emulated processors), work items;
//! - [`ks`]: object headers, `KsDispatchIrp`, create routing, security;
//! - [`avstream`]: KsInitializeDriver, device/filter/pin objects, their property sets, the read
//!   queue, stream pointers and processing; `bag`: the memory ks.sys keeps per filter or pin
//!   (`_KsEdit` copies), freed at close;
//! - `debug_print`: `DbgPrint`'s output, on standard error;
//! - [`client`]: the safe API tests (and later the viewer) drive the driver with;
//! - [`bugs`]: the driver bugs the emulation detects and how they are raised.
//!
//! An AVStream driver end to end, as a test (or the viewer) drives it:
//! [`Kernel::load_driver`]`(DriverEntry)`; [`Kernel::device_interfaces`]`(&category)`;
//! [`Kernel::open_interface`] (the filter, as a kernel-mode client) or
//! [`Kernel::open_interface_user`] (as an application); [`Kernel::create_pin`]`(filter,
//! KSPIN_CONNECT + KSDATAFORMAT bytes)`; property requests with [`Kernel::ioctl`]`(file,
//! IOCTL_KS_PROPERTY, ..)` (a SET's data goes in the output slice);
//! [`Kernel::read_stream`]`(pin, KSSTREAM_HEADERs)`, a [`PendingIrp`] to poll, wait for or cancel;
//! [`Kernel::clock`]`().advance(ns)` to fire the driver's timers; [`Kernel::close`] (a handle:
//! the IRP_MJ_CLOSE follows the last request in flight) or [`Kernel::kill_client`];
//! [`Kernel::unload_driver`], [`Kernel::assert_no_leaks`].

pub mod avstream;
mod bag;
pub mod bugs;
pub mod client;
mod debug_print;
pub mod event;
pub mod file;
pub mod handles;
pub mod io;
mod irp_fields;
pub mod kernel;
pub mod ks;
mod memory;
pub mod object;
pub mod pool;
pub mod registry;
pub mod services;
pub mod sync;
pub mod timer;

pub use avstream::{DeviceInterface, DriverEntry, PinCounters, DRIVER_REGISTRY_PATH};
pub use bugs::Bug;
pub use client::{AsyncIo, CreateItem, File, IoOutput, PendingIrp};
pub use io::IoResult;
pub use kernel::{current_irql, EnterGuard, Kernel};
pub use pool::{Allocation, Leak, Tag};
pub use registry::{DeviceKey, RegistryValue};
