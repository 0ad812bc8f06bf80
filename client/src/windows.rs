//! The Windows transport: the client over real KS handles (compiled for Windows only).
//!
//! - Finding the filter: `SetupDiGetClassDevsW(category, DIGCF_PRESENT | DIGCF_DEVICEINTERFACE)`,
//!   `SetupDiEnumDeviceInterfaces`, `SetupDiGetDeviceInterfaceDetailW` (the device path and the
//!   device), `SetupDiGetDeviceRegistryPropertyW(SPDRP_HARDWAREID)` to keep only the device
//!   whose hardware IDs list the one asked for (avcam's `Root\avcam`), then `CreateFileW`
//!   (overlapped). No such interface: [`ClientError::NoDevice`].
//! - Pins and allocators: `KsCreatePin` / `KsCreateAllocator` (ksuser.dll) on the filter / pin.
//! - Requests: `DeviceIoControl` with an `OVERLAPPED` and its own event, waited for with
//!   `GetOverlappedResult`; reads (`IOCTL_KS_READ_STREAM`) stay queued as [`WindowsRead`], which
//!   cancels (`CancelIoEx`) and waits for an unfinished read before its memory is freed.
//! - Copy mode only: allocator frames are kernel memory, which never reaches a user-mode
//!   process (an allocator created from user mode refuses its ALLOC/FREE methods).
//!
//! Win32 results are read by the portable [`crate::win32`] (tested on every host). This module
//! has only ever run under wine, where SetupDi finds no interface.

use std::cell::Cell;
use std::time::Duration;

use ks::ks::{IOCTL_KS_READ_STREAM, KSALLOCATOR_FRAMING};
use ks::GUID;
use windows::core::PCWSTR;
use windows::Win32::Devices::DeviceAndDriverInstallation::{
    SetupDiDestroyDeviceInfoList, SetupDiEnumDeviceInterfaces, SetupDiGetClassDevsW,
    SetupDiGetDeviceInterfaceDetailW, SetupDiGetDeviceRegistryPropertyW, DIGCF_DEVICEINTERFACE,
    DIGCF_PRESENT, HDEVINFO, SPDRP_HARDWAREID, SP_DEVICE_INTERFACE_DATA,
    SP_DEVICE_INTERFACE_DETAIL_DATA_W, SP_DEVINFO_DATA,
};
use windows::Win32::Foundation::{CloseHandle, GENERIC_READ, GENERIC_WRITE, HANDLE};
use windows::Win32::Media::KernelStreaming::{KsCreateAllocator, KsCreatePin};
use windows::Win32::Storage::FileSystem::{
    CreateFileW, FILE_ATTRIBUTE_NORMAL, FILE_FLAG_OVERLAPPED, FILE_SHARE_MODE, OPEN_EXISTING,
};
use windows::Win32::System::Threading::CreateEventW;
use windows::Win32::System::IO::{
    CancelIoEx, DeviceIoControl, GetOverlappedResult, GetOverlappedResultEx, OVERLAPPED,
};

use crate::transport::{Read, Reply, Status, Transport};
use crate::win32::{
    detail_path, multi_sz_contains, status_from_win32, win32_from_hresult, ERROR_IO_PENDING,
    ERROR_NO_MORE_ITEMS,
};
use crate::ClientError;

/// The Win32 code of a `windows` crate error.
fn code_of(error: &windows::core::Error) -> u32 {
    win32_from_hresult(error.code().0 as u32)
}

/// Maps a failed call to [`ClientError::Win32`].
fn win32(request: &'static str) -> impl FnOnce(windows::core::Error) -> ClientError {
    move |error| ClientError::Win32 {
        request,
        code: code_of(&error),
    }
}

/// Our GUID as the `windows` crate's.
fn guid(guid: &GUID) -> windows::core::GUID {
    windows::core::GUID::from_values(guid.Data1, guid.Data2, guid.Data3, guid.Data4)
}

/// `bytes` copied into 8-byte-aligned storage (the C structures they encode need it).
fn aligned(bytes: &[u8]) -> Vec<u64> {
    let mut words = vec![0u64; bytes.len().div_ceil(8)];
    for (word, chunk) in words.iter_mut().zip(bytes.chunks(8)) {
        let mut le = [0u8; 8];
        le[..chunk.len()].copy_from_slice(chunk);
        *word = u64::from_le_bytes(le);
    }
    words
}

/// Little-endian bytes of aligned storage.
fn bytes_of(words: &[u64]) -> Vec<u8> {
    words.iter().flat_map(|word| word.to_le_bytes()).collect()
}

/// A SetupDi device information set, destroyed on drop.
struct DeviceInfoSet(HDEVINFO);

impl Drop for DeviceInfoSet {
    fn drop(&mut self) {
        // SAFETY: the set came from SetupDiGetClassDevsW and is destroyed only here, once.
        let _ = unsafe { SetupDiDestroyDeviceInfoList(self.0) };
    }
}

/// A manual-reset event for one overlapped request, closed on drop.
struct Event(HANDLE);

impl Event {
    fn new() -> Result<Event, ClientError> {
        // SAFETY: no attributes and no name; the handle is owned by the returned value.
        let handle = unsafe { CreateEventW(None, true, false, PCWSTR::null()) }
            .map_err(win32("CreateEventW"))?;
        Ok(Event(handle))
    }
}

impl Drop for Event {
    fn drop(&mut self) {
        // SAFETY: the event handle is owned by this value and closed only here.
        let _ = unsafe { CloseHandle(self.0) };
    }
}

/// The KS client's transport over real handles.
#[derive(Debug, Clone)]
pub struct WindowsKs {
    /// The hardware ID the device must list (e.g. `Root\avcam`).
    hardware_id: String,
}

impl WindowsKs {
    /// A transport that opens only devices listing `hardware_id` among their hardware IDs.
    pub fn new(hardware_id: &str) -> WindowsKs {
        WindowsKs {
            hardware_id: hardware_id.into(),
        }
    }

    /// Interface `index` of `set`: `None` past the last one, else `Some` of its device path if
    /// its device lists our hardware ID (`Some(None)` for another device's interface).
    fn interface_path(
        &self,
        set: &DeviceInfoSet,
        category: &windows::core::GUID,
        index: u32,
    ) -> Result<Option<Option<Vec<u16>>>, ClientError> {
        let mut interface = SP_DEVICE_INTERFACE_DATA {
            cbSize: size_of::<SP_DEVICE_INTERFACE_DATA>() as u32,
            ..Default::default()
        };
        // SAFETY: `interface` is a live, correctly sized SP_DEVICE_INTERFACE_DATA.
        let found =
            unsafe { SetupDiEnumDeviceInterfaces(set.0, None, category, index, &mut interface) };
        match found {
            Err(error) if code_of(&error) == ERROR_NO_MORE_ITEMS => return Ok(None),
            other => other.map_err(win32("SetupDiEnumDeviceInterfaces"))?,
        }
        let mut required = 0u32;
        // SAFETY: the size query: no buffer, `required` is a live u32. It fails with
        // ERROR_INSUFFICIENT_BUFFER by design, which is why its result is not checked.
        let _ = unsafe {
            SetupDiGetDeviceInterfaceDetailW(
                set.0,
                &interface,
                None,
                0,
                Some(&raw mut required),
                None,
            )
        };
        let mut detail = vec![0u64; (required as usize).div_ceil(8).max(1)];
        // cbSize is the fixed part's size (8 on x64), written as the first little-endian DWORD.
        detail[0] = u64::from(size_of::<SP_DEVICE_INTERFACE_DETAIL_DATA_W>() as u32);
        let mut device = SP_DEVINFO_DATA {
            cbSize: size_of::<SP_DEVINFO_DATA>() as u32,
            ..Default::default()
        };
        // SAFETY: `detail` is 8-byte aligned, at least `required` bytes long and starts with
        // cbSize; `device` is a live, correctly sized SP_DEVINFO_DATA.
        unsafe {
            SetupDiGetDeviceInterfaceDetailW(
                set.0,
                &interface,
                Some(detail.as_mut_ptr().cast()),
                (detail.len() * 8) as u32,
                None,
                Some(&raw mut device),
            )
        }
        .map_err(win32("SetupDiGetDeviceInterfaceDetailW"))?;
        let path = detail_path(&bytes_of(&detail))
            .ok_or(ClientError::Malformed("SetupDiGetDeviceInterfaceDetailW"))?;
        Ok(Some(self.lists_hardware_id(set, &device)?.then_some(path)))
    }

    /// Whether `device`'s `SPDRP_HARDWAREID` lists our hardware ID.
    fn lists_hardware_id(
        &self,
        set: &DeviceInfoSet,
        device: &SP_DEVINFO_DATA,
    ) -> Result<bool, ClientError> {
        let mut required = 0u32;
        // SAFETY: the size query: no buffer, `required` is a live u32 (fails with
        // ERROR_INSUFFICIENT_BUFFER by design).
        let _ = unsafe {
            SetupDiGetDeviceRegistryPropertyW(
                set.0,
                device,
                SPDRP_HARDWAREID,
                None,
                None,
                Some(&raw mut required),
            )
        };
        let mut ids = vec![0u8; required as usize];
        // SAFETY: `ids` is a live buffer whose length the slice carries.
        let read = unsafe {
            SetupDiGetDeviceRegistryPropertyW(
                set.0,
                device,
                SPDRP_HARDWAREID,
                None,
                Some(&mut ids),
                None,
            )
        };
        Ok(read.is_ok() && multi_sz_contains(&ids, &self.hardware_id))
    }
}

/// Waits for the overlapped request on `handle` that `DeviceIoControl` answered with
/// `started`; its status and `IoStatus.Information`.
fn finish(handle: HANDLE, overlapped: &OVERLAPPED, started: windows::core::Result<()>) -> Reply {
    let mut transferred = 0u32;
    let code = match started {
        Ok(()) => 0,
        Err(error) => code_of(&error),
    };
    let code = if code == 0 || code == ERROR_IO_PENDING {
        // SAFETY: `overlapped` belongs to a request issued on `handle`; waiting (bWait TRUE)
        // returns once it completed, after which its IoStatus is final.
        match unsafe { GetOverlappedResult(handle, overlapped, &mut transferred, true) } {
            Ok(()) => 0,
            Err(error) => code_of(&error),
        }
    } else {
        code
    };
    Reply {
        status: status_from_win32(code),
        // InternalHigh is IoStatus.Information, also for the size protocol's warning.
        information: overlapped.InternalHigh.max(transferred as usize),
    }
}

impl Transport for WindowsKs {
    type Handle = HANDLE;
    type Read = WindowsRead;

    fn open_filter(&self, category: &GUID) -> Result<HANDLE, ClientError> {
        let class = guid(category);
        // SAFETY: `class` is a live GUID; no enumerator, no window.
        let set = unsafe {
            SetupDiGetClassDevsW(
                Some(&raw const class),
                PCWSTR::null(),
                None,
                DIGCF_PRESENT | DIGCF_DEVICEINTERFACE,
            )
        }
        .map_err(win32("SetupDiGetClassDevsW"))?;
        let set = DeviceInfoSet(set);
        for index in 0.. {
            let Some(path) = self.interface_path(&set, &class, index)? else {
                break;
            };
            let Some(path) = path else { continue };
            // SAFETY: `path` is a NUL-terminated UTF-16 device path that outlives the call.
            let filter = unsafe {
                CreateFileW(
                    PCWSTR(path.as_ptr()),
                    GENERIC_READ.0 | GENERIC_WRITE.0,
                    FILE_SHARE_MODE(0),
                    None,
                    OPEN_EXISTING,
                    FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OVERLAPPED,
                    None,
                )
            };
            return filter.map_err(win32("open filter (CreateFileW)"));
        }
        Err(ClientError::NoDevice(*category))
    }

    fn create_pin(&self, filter: HANDLE, connect: &[u8]) -> Result<HANDLE, ClientError> {
        let connect = aligned(connect);
        let mut pin = HANDLE::default();
        // SAFETY: `connect` holds a KSPIN_CONNECT followed by its data format, 8-byte aligned,
        // alive during the call; `pin` receives the handle.
        let code = unsafe {
            KsCreatePin(
                filter,
                connect.as_ptr().cast(),
                GENERIC_READ.0 | GENERIC_WRITE.0,
                &mut pin,
            )
        };
        status_from_win32(code).check("create pin (KsCreatePin)")?;
        Ok(pin)
    }

    fn create_allocator(
        &self,
        pin: HANDLE,
        framing: &KSALLOCATOR_FRAMING,
    ) -> Result<HANDLE, ClientError> {
        let mut allocator = HANDLE::default();
        // SAFETY: `framing` is a live KSALLOCATOR_FRAMING of the C layout (ks::layout asserts
        // it against the headers); `allocator` receives the handle.
        let code =
            unsafe { KsCreateAllocator(pin, std::ptr::from_ref(framing).cast(), &mut allocator) };
        status_from_win32(code).check("create allocator (KsCreateAllocator)")?;
        Ok(allocator)
    }

    fn ioctl(&self, handle: HANDLE, code: u32, input: &[u8], output: &mut [u8]) -> Reply {
        let event = match Event::new() {
            Ok(event) => event,
            Err(error) => {
                return Reply {
                    status: Status::Win32(error.win32_code().unwrap_or(0)),
                    information: 0,
                }
            }
        };
        let mut overlapped = OVERLAPPED {
            hEvent: event.0,
            ..Default::default()
        };
        let input_bytes = input.len();
        let input = aligned(input);
        // SAFETY: both buffers are live for the whole request (finish waits for it), of the
        // sizes given; `overlapped` and its event outlive it too.
        let started = unsafe {
            DeviceIoControl(
                handle,
                code,
                (!input.is_empty()).then(|| input.as_ptr().cast()),
                input_bytes as u32,
                (!output.is_empty()).then(|| output.as_mut_ptr().cast()),
                output.len() as u32,
                None,
                Some(&raw mut overlapped),
            )
        };
        finish(handle, &overlapped, started)
    }

    fn read_stream(&self, pin: HANDLE, headers: Vec<u8>) -> WindowsRead {
        WindowsRead::start(pin, headers)
    }

    fn close(&self, handle: HANDLE) -> Result<(), ClientError> {
        // SAFETY: the handle was opened by this transport and is closed once, here.
        unsafe { CloseHandle(handle) }.map_err(win32("CloseHandle"))
    }
}

/// A queued `IOCTL_KS_READ_STREAM` on a real pin.
///
/// # Invariants
/// `overlapped`, `event` and `headers` live at stable addresses (boxed) for as long as the
/// request may be pending; drop cancels and waits for an unfinished request first.
pub struct WindowsRead {
    pin: HANDLE,
    overlapped: Box<OVERLAPPED>,
    event: Option<Event>,
    headers: Box<[u64]>,
    header_bytes: usize,
    /// The request's result once known.
    completed: Cell<Option<Status>>,
}

impl WindowsRead {
    fn start(pin: HANDLE, headers: Vec<u8>) -> WindowsRead {
        let header_bytes = headers.len();
        let mut read = WindowsRead {
            pin,
            overlapped: Box::default(),
            event: None,
            headers: aligned(&headers).into_boxed_slice(),
            header_bytes,
            completed: Cell::new(None),
        };
        let event = match Event::new() {
            Ok(event) => event,
            Err(error) => {
                read.completed
                    .set(Some(Status::Win32(error.win32_code().unwrap_or(0))));
                return read;
            }
        };
        read.overlapped.hEvent = event.0;
        read.event = Some(event);
        // SAFETY: the headers (and the frame buffers their Data fields point at, which the
        // caller keeps alive until completion) and `overlapped` stay put until the request
        // completed: they are boxed, and drop waits for it.
        let started = unsafe {
            DeviceIoControl(
                pin,
                IOCTL_KS_READ_STREAM,
                None,
                0,
                Some(read.headers.as_mut_ptr().cast()),
                header_bytes as u32,
                None,
                Some(&raw mut *read.overlapped),
            )
        };
        if let Err(error) = started {
            let code = code_of(&error);
            if code != ERROR_IO_PENDING {
                read.completed.set(Some(status_from_win32(code)));
            }
        }
        read
    }

    fn output(&self) -> Vec<u8> {
        let mut bytes = bytes_of(&self.headers);
        bytes.truncate(self.header_bytes);
        bytes
    }
}

impl Read for WindowsRead {
    fn is_done(&self) -> bool {
        self.wait(Duration::ZERO).is_some()
    }

    fn wait(&self, timeout: Duration) -> Option<(Status, Vec<u8>)> {
        if let Some(status) = self.completed.get() {
            return Some((status, self.output()));
        }
        let mut transferred = 0u32;
        let millis = u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX - 1);
        // SAFETY: the request was issued on `pin` with this OVERLAPPED, which is still live.
        let result = unsafe {
            GetOverlappedResultEx(self.pin, &*self.overlapped, &mut transferred, millis, false)
        };
        let status = match result {
            Ok(()) => Status::SUCCESS,
            Err(error) => match code_of(&error) {
                // WAIT_TIMEOUT / ERROR_IO_INCOMPLETE: still pending.
                258 | 996 => return None,
                code => status_from_win32(code),
            },
        };
        self.completed.set(Some(status));
        Some((status, self.output()))
    }

    fn cancel(&self) {
        if self.completed.get().is_none() {
            // SAFETY: cancels only this request (its OVERLAPPED) on `pin`; harmless if it
            // completed meanwhile.
            let _ = unsafe { CancelIoEx(self.pin, Some(&raw const *self.overlapped)) };
        }
    }
}

impl Drop for WindowsRead {
    fn drop(&mut self) {
        if self.completed.get().is_none() && self.event.is_some() {
            self.cancel();
            let mut transferred = 0u32;
            // SAFETY: waits (bWait TRUE) until the cancelled request completed, so that the
            // headers and buffers it writes are not freed under it.
            let _ =
                unsafe { GetOverlappedResult(self.pin, &*self.overlapped, &mut transferred, true) };
        }
    }
}

// These run wherever the Windows build runs (CI: under wine, scripts/test-viewer-wine.sh), on
// any machine: no device registers the made-up category, and a null handle is never valid.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::request;
    use ks::ks::{IOCTL_KS_PROPERTY, KSPROPERTY_TYPE_GET};
    use ks::video::{KSPROPSETID_Pin, KSPROPERTY_PIN_CTYPES};

    /// A category no device registers: {A5CA0000-0000-4000-8000-00000000C0DE}.
    const NO_SUCH_CATEGORY: GUID = GUID {
        Data1: 0xA5CA_0000,
        Data2: 0,
        Data3: 0x4000,
        Data4: [0x80, 0, 0, 0, 0, 0, 0xC0, 0xDE],
    };
    /// `ERROR_INVALID_HANDLE`.
    const ERROR_INVALID_HANDLE: u32 = 6;

    #[test]
    fn a_category_without_interfaces_is_no_device() {
        let ks = WindowsKs::new(r"Root\avcam");
        assert_eq!(
            ks.open_filter(&NO_SUCH_CATEGORY),
            Err(ClientError::NoDevice(NO_SUCH_CATEGORY))
        );
        let camera = crate::Camera::open(&ks, &NO_SUCH_CATEGORY);
        assert!(matches!(camera, Err(ClientError::NoDevice(_))));
    }

    #[test]
    fn requests_on_a_bad_handle_carry_the_win32_code() {
        let ks = WindowsKs::new(r"Root\avcam");
        let input = request::property(KSPROPSETID_Pin, KSPROPERTY_PIN_CTYPES, KSPROPERTY_TYPE_GET);
        let mut count = [0u8; 4];
        let reply = ks.ioctl(HANDLE::default(), IOCTL_KS_PROPERTY, &input, &mut count);
        assert_eq!(reply.status, Status::Win32(ERROR_INVALID_HANDLE));
        assert_eq!(
            reply.status.check("CTYPES"),
            Err(ClientError::Win32 {
                request: "CTYPES",
                code: ERROR_INVALID_HANDLE
            })
        );
        // A read that cannot start is returned completed, with its error; dropping it is safe.
        let read = ks.read_stream(HANDLE::default(), request::read_headers(&mut []));
        assert!(read.is_done());
        assert_eq!(
            read.wait(Duration::ZERO).map(|(status, _)| status),
            Some(Status::Win32(ERROR_INVALID_HANDLE))
        );
        assert!(ks.close(HANDLE::default()).is_err());
    }
}
