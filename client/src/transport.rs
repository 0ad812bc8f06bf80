//! The seam between the client's requests and the handles they travel on.
//!
//! [`Transport`] is the few operations the client needs of an operating system: open the filter
//! of a device interface category, create a pin or an allocator on an open object, send a
//! synchronous `IOCTL_KS_*`, queue an `IOCTL_KS_READ_STREAM` and close. The request bytes
//! themselves always come from [`crate::request`]. Two transports exist:
//!
//! - the emulation (`avcam_emulation::Kernel`, every host): the driver loaded in this process;
//!   whether requests come from a kernel-mode consumer or a user-mode application is decided by
//!   how the filter was opened (`Camera::open` / `Camera::open_as_application`);
//! - `windows::WindowsKs` (Windows only): real KS handles through SetupDi, `CreateFileW`,
//!   `KsCreatePin` and `DeviceIoControl`.

use std::time::Duration;

use avcam_emulation::{AsyncIo, File, Kernel};
use ks::ks::KSALLOCATOR_FRAMING;
use ks::status::{STATUS_BUFFER_OVERFLOW, STATUS_SUCCESS};
use ks::{GUID, NTSTATUS};

use crate::{ClientError, Result};

/// How a request completed, as the transport saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The driver's NTSTATUS (the emulation sees it as is; on Windows, success and the size
    /// protocol's `STATUS_BUFFER_OVERFLOW` are recovered from their Win32 codes).
    Nt(NTSTATUS),
    /// A Win32 error code (`GetLastError`) with no NTSTATUS the client can recover.
    Win32(u32),
}

impl Status {
    /// `STATUS_SUCCESS`.
    pub const SUCCESS: Status = Status::Nt(STATUS_SUCCESS);
    /// `STATUS_BUFFER_OVERFLOW`: the size protocol's answer (the size is the information).
    pub const BUFFER_OVERFLOW: Status = Status::Nt(STATUS_BUFFER_OVERFLOW);

    /// `Ok` for success, else the error of `request`.
    pub fn check(self, request: &'static str) -> Result<()> {
        match self {
            Status::Nt(STATUS_SUCCESS) => Ok(()),
            Status::Nt(status) => Err(ClientError::Request { request, status }),
            Status::Win32(code) => Err(ClientError::Win32 { request, code }),
        }
    }
}

/// What a synchronous request returned: its status and `IoStatus.Information` (bytes written,
/// or the size needed when the status is [`Status::BUFFER_OVERFLOW`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    /// How it completed.
    pub status: Status,
    /// `IoStatus.Information` (`lpBytesReturned` on Windows).
    pub information: usize,
}

/// A queued `IOCTL_KS_READ_STREAM`.
///
/// # Invariants
/// While the read is pending the driver may write the stream headers it was given and the frame
/// buffers they point to; an implementation that owns such memory cancels the read and waits
/// for it to finish before that memory is freed (on drop at the latest).
pub trait Read {
    /// Whether the read has completed.
    fn is_done(&self) -> bool;

    /// Waits up to `timeout`; the status and the stream headers as the driver left them.
    /// `None` if the read is still pending.
    fn wait(&self, timeout: Duration) -> Option<(Status, Vec<u8>)>;

    /// Asks for the read to be cancelled (`IoCancelIrp` / `CancelIoEx`); it still completes,
    /// and [`Read::wait`] reports how.
    fn cancel(&self);
}

/// The operations the client needs of the system it runs on.
pub trait Transport {
    /// An open filter, pin or allocator.
    type Handle: Copy + std::fmt::Debug;
    /// A queued read.
    type Read: Read;

    /// Opens the filter of the first device interface of `category`
    /// ([`ClientError::NoDevice`] when there is none).
    fn open_filter(&self, category: &GUID) -> Result<Self::Handle>;

    /// Creates a pin on `filter` from `KSPIN_CONNECT` + format bytes.
    fn create_pin(&self, filter: Self::Handle, connect: &[u8]) -> Result<Self::Handle>;

    /// Creates an allocator on `pin` (`KsCreateAllocator`).
    fn create_allocator(
        &self,
        pin: Self::Handle,
        framing: &KSALLOCATOR_FRAMING,
    ) -> Result<Self::Handle>;

    /// A synchronous `DeviceIoControl`: `input` in, up to `output.len()` bytes out.
    fn ioctl(&self, handle: Self::Handle, code: u32, input: &[u8], output: &mut [u8]) -> Reply;

    /// Queues an `IOCTL_KS_READ_STREAM` with `headers` as its output (stream headers whose
    /// `Data` fields point at buffers the caller keeps alive until the read completed). A read
    /// that fails at once is returned completed, with its status.
    fn read_stream(&self, pin: Self::Handle, headers: Vec<u8>) -> Self::Read;

    /// Closes a handle.
    fn close(&self, handle: Self::Handle) -> Result<()>;
}

/// The emulation's request failures, as the client's.
fn emulated(request: &'static str) -> impl FnOnce(NTSTATUS) -> ClientError {
    move |status| ClientError::Request { request, status }
}

impl Transport for Kernel {
    type Handle = File;
    type Read = AsyncIo;

    fn open_filter(&self, category: &GUID) -> Result<File> {
        let interfaces = self.device_interfaces(category);
        let interface = interfaces.first().ok_or(ClientError::NoDevice(*category))?;
        self.open_interface(interface)
            .map_err(emulated("open filter"))
    }

    fn create_pin(&self, filter: File, connect: &[u8]) -> Result<File> {
        Kernel::create_pin(self, filter, connect).map_err(emulated("create pin"))
    }

    fn create_allocator(&self, pin: File, framing: &KSALLOCATOR_FRAMING) -> Result<File> {
        Kernel::create_allocator(self, pin, framing).map_err(emulated("create allocator"))
    }

    fn ioctl(&self, handle: File, code: u32, input: &[u8], output: &mut [u8]) -> Reply {
        let result = Kernel::ioctl(self, handle, code, input, output);
        Reply {
            status: Status::Nt(result.status),
            information: result.information,
        }
    }

    fn read_stream(&self, pin: File, headers: Vec<u8>) -> AsyncIo {
        Kernel::read_stream(self, pin, &headers)
    }

    fn close(&self, handle: File) -> Result<()> {
        Status::Nt(Kernel::close(self, handle)).check("close")
    }
}

impl Read for AsyncIo {
    fn is_done(&self) -> bool {
        match self {
            AsyncIo::Done(_) => true,
            AsyncIo::Pending(pending) => pending.poll().is_some(),
        }
    }

    fn wait(&self, timeout: Duration) -> Option<(Status, Vec<u8>)> {
        match self {
            AsyncIo::Done(done) => Some((Status::Nt(done.result.status), done.output.clone())),
            AsyncIo::Pending(pending) => {
                let result = pending.wait(timeout)?;
                Some((
                    Status::Nt(result.status),
                    pending.output().unwrap_or_default(),
                ))
            }
        }
    }

    fn cancel(&self) {
        if let AsyncIo::Pending(pending) = self {
            pending.cancel();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ks::status::STATUS_INVALID_PARAMETER;

    #[test]
    fn statuses_check_into_the_clients_errors() {
        assert_eq!(Status::SUCCESS.check("x"), Ok(()));
        assert_eq!(
            Status::Nt(STATUS_INVALID_PARAMETER).check("set state"),
            Err(ClientError::Request {
                request: "set state",
                status: STATUS_INVALID_PARAMETER
            })
        );
        assert_eq!(
            Status::Win32(5).check("open filter"),
            Err(ClientError::Win32 {
                request: "open filter",
                code: 5
            })
        );
        // The size protocol's warning is not a success.
        assert!(Status::BUFFER_OVERFLOW.check("DATARANGES").is_err());
    }
}
