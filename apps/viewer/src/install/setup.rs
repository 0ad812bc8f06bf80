//! The Windows half of `install` and `uninstall` (Windows builds only): SetupAPI and newdev
//! through the `windows` crate. What each step decides is described in [`super`]; this file
//! only makes the calls and reads their answers.

use std::ffi::c_void;
use std::io::Write;
use std::os::windows::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use avcam_client::win32::{multi_sz_contains, win32_from_hresult};
use windows::core::{BOOL, GUID, PCWSTR};
use windows::Win32::Devices::DeviceAndDriverInstallation::{
    SetupDiCallClassInstaller, SetupDiCreateDeviceInfoList, SetupDiCreateDeviceInfoW,
    SetupDiDestroyDeviceInfoList, SetupDiEnumDeviceInfo, SetupDiGetClassDevsW,
    SetupDiGetDeviceInstallParamsW, SetupDiGetDeviceInstanceIdW, SetupDiGetDeviceRegistryPropertyW,
    SetupDiGetINFClassW, SetupDiOpenDevRegKey, SetupDiSetClassInstallParamsW,
    SetupDiSetDeviceRegistryPropertyW, SetupUninstallOEMInfW, UpdateDriverForPlugAndPlayDevicesW,
    DICD_GENERATE_ID, DICS_FLAG_GLOBAL, DIF_REGISTERDEVICE, DIF_REMOVE, DIGCF_ALLCLASSES,
    DIREG_DRV, DI_NEEDREBOOT, DI_NEEDRESTART, DI_REMOVEDEVICE_GLOBAL, HDEVINFO, INSTALLFLAG_FORCE,
    SPDRP_HARDWAREID, SP_CLASSINSTALL_HEADER, SP_DEVINFO_DATA, SP_DEVINSTALL_PARAMS_W,
    SP_REMOVEDEVICE_PARAMS, SUOI_FORCEDELETE,
};
use windows::Win32::Foundation::{CloseHandle, ERROR_SUCCESS, HANDLE};
use windows::Win32::Security::{GetTokenInformation, TokenElevation, TOKEN_ELEVATION, TOKEN_QUERY};
use windows::Win32::System::Registry::{RegCloseKey, RegQueryValueExW, HKEY, KEY_READ};
use windows::Win32::System::SystemInformation::GetSystemWindowsDirectoryW;
use windows::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

use super::{inf, InstallError, HARDWARE_ID, PROVIDER};
use avcam_driver::identity::{DEVICE_CLASS, SERVICE_NAME};

/// `ERROR_NO_MORE_ITEMS`: past the last device of a set.
const ERROR_NO_MORE_ITEMS: u32 = 259;
/// `ERROR_INSUFFICIENT_BUFFER`: a size query's answer.
const ERROR_INSUFFICIENT_BUFFER: u32 = 122;
/// `MAX_DEVICE_ID_LEN` (cfgmgr32.h): a device instance ID's length, NUL included.
const MAX_DEVICE_ID_LEN: usize = 200;
/// `MAX_CLASS_NAME_LEN` (setupapi.h).
const MAX_CLASS_NAME_LEN: usize = 32;

/// The Win32 code of a `windows` crate error.
fn code_of(error: &windows::core::Error) -> u32 {
    win32_from_hresult(error.code().0 as u32)
}

/// Maps a failed call to [`InstallError::Win32`].
fn win32(call: &'static str) -> impl FnOnce(windows::core::Error) -> InstallError {
    move |error| InstallError::Win32 {
        call,
        code: code_of(&error),
    }
}

/// `text` as a NUL-terminated UTF-16 string.
fn wide(text: &std::ffi::OsStr) -> Vec<u16> {
    text.encode_wide().chain(std::iter::once(0)).collect()
}

/// A UTF-16 buffer up to its first NUL, as a string.
fn from_wide(units: &[u16]) -> String {
    let end = units.iter().position(|&u| u == 0).unwrap_or(units.len());
    String::from_utf16_lossy(&units[..end])
}

/// `id` as the bytes of a `REG_MULTI_SZ` holding only it.
fn multi_sz(id: &str) -> Vec<u8> {
    id.encode_utf16()
        .chain([0, 0])
        .flat_map(u16::to_le_bytes)
        .collect()
}

/// A device information set, destroyed on drop.
struct DeviceInfoSet(HDEVINFO);

impl Drop for DeviceInfoSet {
    fn drop(&mut self) {
        // SAFETY: the set came from SetupDiGetClassDevsW or SetupDiCreateDeviceInfoList and is
        // destroyed only here, once.
        let _ = unsafe { SetupDiDestroyDeviceInfoList(self.0) };
    }
}

/// An open handle, closed on drop.
struct OwnedHandle(HANDLE);

impl Drop for OwnedHandle {
    fn drop(&mut self) {
        // SAFETY: the handle was opened for this value and is closed only here.
        let _ = unsafe { CloseHandle(self.0) };
    }
}

/// An open registry key, closed on drop.
struct OwnedKey(HKEY);

impl Drop for OwnedKey {
    fn drop(&mut self) {
        // SAFETY: the key was opened for this value and is closed only here.
        let _ = unsafe { RegCloseKey(self.0) };
    }
}

/// Whether the process runs elevated (its token's `TokenElevation`).
fn is_elevated() -> Result<bool, InstallError> {
    // SAFETY: no arguments; the pseudo-handle it returns needs no closing.
    let process = unsafe { GetCurrentProcess() };
    let mut token = HANDLE::default();
    // SAFETY: `process` is this process's pseudo-handle and `token` a valid out pointer; the
    // handle it returns is owned by the guard below.
    unsafe { OpenProcessToken(process, TOKEN_QUERY, &mut token) }
        .map_err(win32("OpenProcessToken"))?;
    let token = OwnedHandle(token);
    let mut elevation = TOKEN_ELEVATION::default();
    let mut written = 0u32;
    // SAFETY: the buffer is a TOKEN_ELEVATION of the size given, and the token is open for
    // TOKEN_QUERY.
    unsafe {
        GetTokenInformation(
            token.0,
            TokenElevation,
            Some(std::ptr::from_mut(&mut elevation).cast::<c_void>()),
            size_of::<TOKEN_ELEVATION>() as u32,
            &mut written,
        )
    }
    .map_err(win32("GetTokenInformation(TokenElevation)"))?;
    Ok(elevation.TokenIsElevated != 0)
}

/// Every device node of every class, present or not.
fn all_devices() -> Result<DeviceInfoSet, InstallError> {
    // SAFETY: no class, enumerator or window; the set is owned by the returned value.
    let set = unsafe { SetupDiGetClassDevsW(None, PCWSTR::null(), None, DIGCF_ALLCLASSES) }
        .map_err(win32("SetupDiGetClassDevsW(DIGCF_ALLCLASSES)"))?;
    Ok(DeviceInfoSet(set))
}

/// A device node of a set.
struct Device {
    data: SP_DEVINFO_DATA,
    /// Its device instance ID, e.g. `ROOT\AVCAM\0000`.
    instance_id: String,
}

/// The device's hardware IDs (`REG_MULTI_SZ` bytes), or `None` if it has none.
fn hardware_ids(
    set: &DeviceInfoSet,
    data: &SP_DEVINFO_DATA,
) -> Result<Option<Vec<u8>>, InstallError> {
    let mut needed = 0u32;
    // SAFETY: a size query: no buffer, `needed` a valid out pointer, `data` a member of `set`.
    let query = unsafe {
        SetupDiGetDeviceRegistryPropertyW(
            set.0,
            data,
            SPDRP_HARDWAREID,
            None,
            None,
            Some(&mut needed),
        )
    };
    match query.map_err(|e| code_of(&e)) {
        Err(ERROR_INSUFFICIENT_BUFFER) => {}
        // No hardware ID at all (ERROR_INVALID_DATA), or an empty one.
        Err(_) | Ok(()) => return Ok(None),
    }
    let mut buffer = vec![0u8; needed as usize];
    // SAFETY: the buffer has the size the query asked for; `data` is a member of `set`.
    unsafe {
        SetupDiGetDeviceRegistryPropertyW(
            set.0,
            data,
            SPDRP_HARDWAREID,
            None,
            Some(&mut buffer),
            None,
        )
    }
    .map_err(win32("SetupDiGetDeviceRegistryPropertyW(SPDRP_HARDWAREID)"))?;
    Ok(Some(buffer))
}

/// The device's instance ID.
fn instance_id(set: &DeviceInfoSet, data: &SP_DEVINFO_DATA) -> Result<String, InstallError> {
    let mut buffer = [0u16; MAX_DEVICE_ID_LEN];
    // SAFETY: the buffer holds MAX_DEVICE_ID_LEN characters, the most an ID has; `data` is a
    // member of `set`.
    unsafe { SetupDiGetDeviceInstanceIdW(set.0, data, Some(&mut buffer), None) }
        .map_err(win32("SetupDiGetDeviceInstanceIdW"))?;
    Ok(from_wide(&buffer))
}

/// The devices of `set` that list [`HARDWARE_ID`].
fn avcam_devices(set: &DeviceInfoSet) -> Result<Vec<Device>, InstallError> {
    let mut devices = Vec::new();
    for index in 0.. {
        let mut data = SP_DEVINFO_DATA {
            cbSize: size_of::<SP_DEVINFO_DATA>() as u32,
            ..Default::default()
        };
        // SAFETY: `data` is an SP_DEVINFO_DATA with its cbSize set.
        match unsafe { SetupDiEnumDeviceInfo(set.0, index, &mut data) } {
            Ok(()) => {}
            Err(error) if code_of(&error) == ERROR_NO_MORE_ITEMS => break,
            Err(error) => return Err(win32("SetupDiEnumDeviceInfo")(error)),
        }
        if hardware_ids(set, &data)?.is_some_and(|ids| multi_sz_contains(&ids, HARDWARE_ID)) {
            let instance_id = instance_id(set, &data)?;
            devices.push(Device { data, instance_id });
        }
    }
    Ok(devices)
}

/// The published name (`oemNN.inf`) of the driver package installed on the device, from its
/// driver key's `InfPath`; `None` when no driver is installed.
fn installed_inf(set: &DeviceInfoSet, device: &Device) -> Option<String> {
    // SAFETY: `device.data` is a member of `set`; the key is owned by the guard below.
    let key = unsafe {
        SetupDiOpenDevRegKey(
            set.0,
            &device.data,
            DICS_FLAG_GLOBAL.0,
            0,
            DIREG_DRV,
            KEY_READ.0,
        )
    }
    .ok()?;
    let key = OwnedKey(key);
    let mut buffer = [0u16; 260];
    let mut size = (buffer.len() * 2) as u32;
    let name = wide("InfPath".as_ref());
    // SAFETY: the buffer holds `size` bytes and `name` is NUL-terminated; the key is open.
    let status = unsafe {
        RegQueryValueExW(
            key.0,
            PCWSTR(name.as_ptr()),
            None,
            None,
            Some(buffer.as_mut_ptr().cast::<u8>()),
            Some(&mut size),
        )
    };
    (status == ERROR_SUCCESS)
        .then(|| from_wide(&buffer[..(size as usize / 2).min(buffer.len())]))
        .filter(|name| !name.is_empty())
}

/// `%windir%\INF`, where the published `oemNN.inf` copies live.
fn inf_directory() -> Result<PathBuf, InstallError> {
    let mut buffer = [0u16; 260];
    // SAFETY: the buffer and its length are passed together.
    let length = unsafe { GetSystemWindowsDirectoryW(Some(&mut buffer)) } as usize;
    if length == 0 || length >= buffer.len() {
        return Err(InstallError::Win32 {
            call: "GetSystemWindowsDirectoryW",
            code: windows::core::Error::from_thread().code().0 as u32,
        });
    }
    Ok(PathBuf::from(String::from_utf16_lossy(&buffer[..length])).join("INF"))
}

/// The class of the INF (`SetupDiGetINFClassW`): its GUID and name.
fn inf_class(inf: &Path, inf_w: &[u16]) -> Result<(GUID, Vec<u16>), InstallError> {
    let mut class = GUID::zeroed();
    let mut name = [0u16; MAX_CLASS_NAME_LEN];
    // SAFETY: `inf_w` is NUL-terminated and the name buffer's length is passed with it.
    unsafe { SetupDiGetINFClassW(PCWSTR(inf_w.as_ptr()), &mut class, &mut name, None) }.map_err(
        |error| InstallError::WrongInf {
            path: inf.to_path_buf(),
            reason: format!(
                "SetupDiGetINFClassW cannot read its class: {}",
                super::describe_code(code_of(&error))
            ),
        },
    )?;
    let end = name.iter().position(|&u| u == 0).unwrap_or(name.len());
    let mut class_name = name[..end].to_vec();
    class_name.push(0);
    Ok((class, class_name))
}

/// Creates and registers a root-enumerated device listing [`HARDWARE_ID`] (what devcon's
/// `install` does before it installs the driver); returns its instance ID.
fn create_device(class: &GUID) -> Result<String, InstallError> {
    // SAFETY: `class` is a valid GUID; the set is owned by the guard below.
    let set = unsafe { SetupDiCreateDeviceInfoList(Some(class), None) }
        .map_err(win32("SetupDiCreateDeviceInfoList"))?;
    let set = DeviceInfoSet(set);
    let mut data = SP_DEVINFO_DATA {
        cbSize: size_of::<SP_DEVINFO_DATA>() as u32,
        ..Default::default()
    };
    // With DICD_GENERATE_ID the name is only the middle of the instance ID: ROOT\AVCAM\NNNN.
    let name = wide(SERVICE_NAME.as_ref());
    // SAFETY: `name` is NUL-terminated, `class` valid, `data` has its cbSize set.
    unsafe {
        SetupDiCreateDeviceInfoW(
            set.0,
            PCWSTR(name.as_ptr()),
            class,
            PCWSTR::null(),
            None,
            DICD_GENERATE_ID,
            Some(&mut data),
        )
    }
    .map_err(win32("SetupDiCreateDeviceInfoW"))?;
    let ids = multi_sz(HARDWARE_ID);
    // SAFETY: `data` is the element just created in `set`; `ids` is a complete REG_MULTI_SZ.
    unsafe { SetupDiSetDeviceRegistryPropertyW(set.0, &mut data, SPDRP_HARDWAREID, Some(&ids)) }
        .map_err(win32("SetupDiSetDeviceRegistryPropertyW(SPDRP_HARDWAREID)"))?;
    // SAFETY: `data` is the element just created in `set`.
    unsafe { SetupDiCallClassInstaller(DIF_REGISTERDEVICE, set.0, Some(&data)) }
        .map_err(win32("SetupDiCallClassInstaller(DIF_REGISTERDEVICE)"))?;
    instance_id(&set, &data)
}

/// Removes one device node as devcon's `remove` does (`DIF_REMOVE` with the global scope:
/// `DiUninstallDevice` would do too, but wine 8 lacks it); returns whether Windows asks for a
/// restart.
fn remove_device(set: &DeviceInfoSet, device: &Device) -> Result<bool, InstallError> {
    let params = SP_REMOVEDEVICE_PARAMS {
        ClassInstallHeader: SP_CLASSINSTALL_HEADER {
            cbSize: size_of::<SP_CLASSINSTALL_HEADER>() as u32,
            InstallFunction: DIF_REMOVE,
        },
        Scope: DI_REMOVEDEVICE_GLOBAL,
        HwProfile: 0,
    };
    // SAFETY: `params` is an SP_REMOVEDEVICE_PARAMS whose header and size are given;
    // `device.data` is a member of `set`.
    unsafe {
        SetupDiSetClassInstallParamsW(
            set.0,
            Some(&device.data),
            Some(&params.ClassInstallHeader),
            size_of::<SP_REMOVEDEVICE_PARAMS>() as u32,
        )
    }
    .map_err(win32("SetupDiSetClassInstallParamsW(DIF_REMOVE)"))?;
    // SAFETY: `device.data` is a member of `set`, whose remove parameters were just set.
    unsafe { SetupDiCallClassInstaller(DIF_REMOVE, set.0, Some(&device.data)) }
        .map_err(win32("SetupDiCallClassInstaller(DIF_REMOVE)"))?;
    let mut install = SP_DEVINSTALL_PARAMS_W {
        cbSize: size_of::<SP_DEVINSTALL_PARAMS_W>() as u32,
        ..Default::default()
    };
    // SAFETY: `install` has its cbSize set; `device.data` is a member of `set`.
    let asked = unsafe { SetupDiGetDeviceInstallParamsW(set.0, Some(&device.data), &mut install) };
    Ok(asked.is_ok() && (install.Flags.0 & (DI_NEEDREBOOT.0 | DI_NEEDRESTART.0)) != 0)
}

/// What [`remove_avcam_devices`] did.
struct Removed {
    devices: usize,
    /// The packages the removed devices had installed (`oemNN.inf`).
    packages: Vec<String>,
    reboot: bool,
}

/// Removes every device listing [`HARDWARE_ID`]; used to undo a half-done `install` too.
fn remove_avcam_devices(out: &mut dyn Write) -> Result<Removed, InstallError> {
    let set = all_devices()?;
    let mut removed = Removed {
        devices: 0,
        packages: Vec::new(),
        reboot: false,
    };
    for device in avcam_devices(&set)? {
        removed.packages.extend(installed_inf(&set, &device));
        removed.reboot |= remove_device(&set, &device)?;
        removed.devices += 1;
        let _ = writeln!(out, "removed device {}", device.instance_id);
    }
    Ok(removed)
}

pub(super) fn install(inf: &Path, out: &mut dyn Write) -> Result<(), InstallError> {
    let inf_w = wide(inf.as_os_str());
    let (class, _class_name) = inf_class(inf, &inf_w)?;
    let camera = GUID::from_values(
        DEVICE_CLASS.Data1,
        DEVICE_CLASS.Data2,
        DEVICE_CLASS.Data3,
        DEVICE_CLASS.Data4,
    );
    if class != camera {
        return Err(InstallError::WrongInf {
            path: inf.to_path_buf(),
            reason: format!("its class is {{{class:?}}}, not Camera {{{camera:?}}}"),
        });
    }
    if !is_elevated()? {
        return Err(InstallError::NotElevated { command: "install" });
    }
    let ours = std::fs::read(inf).map_err(|error| InstallError::NoInf {
        path: inf.to_path_buf(),
        reason: error.to_string(),
    })?;

    let set = all_devices()?;
    let devices = avcam_devices(&set)?;
    let created = if devices.is_empty() {
        let id = create_device(&class)?;
        let _ = writeln!(out, "created device {id} (hardware ID {HARDWARE_ID})");
        true
    } else {
        let directory = inf_directory()?;
        let current = devices.iter().all(|device| {
            installed_inf(&set, device)
                .and_then(|name| std::fs::read(directory.join(name)).ok())
                .is_some_and(|installed| installed == ours)
        });
        let ids: Vec<&str> = devices.iter().map(|d| d.instance_id.as_str()).collect();
        if current {
            let _ = writeln!(
                out,
                "avcam is already installed ({}) with this package's driver: nothing changed",
                ids.join(", ")
            );
            return Ok(());
        }
        let _ = writeln!(
            out,
            "found device {} (hardware ID {HARDWARE_ID})",
            ids.join(", ")
        );
        false
    };
    drop(set);

    let hardware_id = wide(HARDWARE_ID.as_ref());
    let mut reboot = BOOL(0);
    // SAFETY: both strings are NUL-terminated; `reboot` is a valid out pointer.
    let installed = unsafe {
        UpdateDriverForPlugAndPlayDevicesW(
            None,
            PCWSTR(hardware_id.as_ptr()),
            PCWSTR(inf_w.as_ptr()),
            INSTALLFLAG_FORCE,
            Some(&mut reboot),
        )
    }
    .map_err(win32("UpdateDriverForPlugAndPlayDevicesW"))
    .and_then(|()| driver_is_installed(inf));
    if let Err(error) = installed {
        // Leave no device without a driver behind: undo what this run created.
        if created {
            if let Err(undo) = remove_avcam_devices(out) {
                let _ = writeln!(out, "could not remove the device this run created: {undo}");
            }
        }
        return Err(error);
    }
    let _ = writeln!(out, "installed the driver from {}", inf.display());
    if reboot.as_bool() {
        let _ = writeln!(out, "Windows asks for a restart to finish");
    }
    Ok(())
}

/// Checks what `UpdateDriverForPlugAndPlayDevicesW` reported: every avcam device now has a
/// driver package installed (wine 8's returns success having installed nothing).
fn driver_is_installed(inf: &Path) -> Result<(), InstallError> {
    let set = all_devices()?;
    let devices = avcam_devices(&set)?;
    match devices
        .iter()
        .find(|device| installed_inf(&set, device).is_none())
    {
        None if !devices.is_empty() => Ok(()),
        missing => Err(InstallError::NotInstalled {
            device: missing.map_or_else(|| HARDWARE_ID.to_string(), |d| d.instance_id.clone()),
            inf: inf.to_path_buf(),
        }),
    }
}

pub(super) fn uninstall(out: &mut dyn Write) -> Result<(), InstallError> {
    if !is_elevated()? {
        return Err(InstallError::NotElevated {
            command: "uninstall",
        });
    }
    let removed = remove_avcam_devices(out)?;
    let mut packages = removed.packages;

    // Packages no device uses any more are still in the store: find them by their copy in
    // %windir%\INF (oemNN.inf), avcam's provider and hardware ID.
    let directory = inf_directory()?;
    if let Ok(entries) = std::fs::read_dir(&directory) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let lower = name.to_ascii_lowercase();
            if !(lower.starts_with("oem") && lower.ends_with(".inf")) {
                continue;
            }
            let Ok(bytes) = std::fs::read(entry.path()) else {
                continue;
            };
            let text = inf::decode(&bytes);
            let avcams = inf::provider(&text).is_some_and(|p| p.eq_ignore_ascii_case(PROVIDER))
                && inf::lists_hardware_id(&text, HARDWARE_ID);
            if avcams {
                packages.push(name);
            }
        }
    }
    packages.sort_by_key(|name| name.to_ascii_lowercase());
    packages.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    for name in &packages {
        let name_w = wide(name.as_ref());
        // SAFETY: `name_w` is NUL-terminated; no reserved pointer.
        unsafe { SetupUninstallOEMInfW(PCWSTR(name_w.as_ptr()), SUOI_FORCEDELETE, None) }
            .ok()
            .map_err(win32("SetupUninstallOEMInfW"))?;
        let _ = writeln!(out, "removed driver package {name} from the driver store");
    }
    if packages.is_empty() && removed.devices == 0 {
        let _ = writeln!(
            out,
            "no avcam device or driver package is installed: nothing changed"
        );
    }
    if removed.reboot {
        let _ = writeln!(out, "Windows asks for a restart to finish");
    }
    Ok(())
}
