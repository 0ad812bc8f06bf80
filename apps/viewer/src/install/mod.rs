//! `avcam-viewer install [--inf PATH]` and `avcam-viewer uninstall`: what devcon's `install`
//! and `remove` do for avcam, without the WDK (the package's `install.ps1` and `uninstall.ps1`
//! call them).
//!
//! - `install`: checks the INF (readable, of the Camera class, listing `Root\avcam`), then that
//!   the process is elevated; creates the root-enumerated device (`SetupDiCreateDeviceInfoW`,
//!   hardware ID [`HARDWARE_ID`], `SetupDiCallClassInstaller(DIF_REGISTERDEVICE)`) unless one
//!   with that hardware ID exists, and installs the INF's driver on it
//!   (`UpdateDriverForPlugAndPlayDevicesW`) unless its installed INF is this one already: a
//!   second run changes nothing.
//! - `uninstall`: removes every device node listing the hardware ID
//!   (`SetupDiCallClassInstaller(DIF_REMOVE)`, as devcon's `remove`), then
//!   every avcam driver package from the driver store (`SetupUninstallOEMInfW` on each
//!   `%windir%\INF\oem*.inf` whose provider is avcam and which lists the hardware ID).
//!
//! The calls live in `setup` (Windows builds only); this module holds what is portable: the
//! errors and their exit codes, the names of the Win32 codes, the INF checks ([`inf`]). In a
//! build for another OS both commands are a usage error (exit 2).
//!
//! Only ever run under wine (CI): there, what wine's SetupAPI allows; never on Windows.

pub mod inf;
#[cfg(windows)]
mod setup;

use core::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

pub use avcam_driver::identity::HARDWARE_ID;
use avcam_driver::identity::MINIMUM_WINDOWS_BUILD;

use crate::error::{ViewerError, EXIT_FAILURE, EXIT_USAGE};
use crate::Context;

/// The `Provider` of avcam's INF: how `uninstall` tells avcam's packages in the driver store
/// from others listing the same hardware ID.
pub const PROVIDER: &str = "avcam";

/// The INF `install` uses without `--inf`: this one, beside the executable (as in the package).
pub const DEFAULT_INF: &str = "avcam.inf";

/// Exit code when Windows refused the driver package's signature or catalog
/// ([`is_signature_refusal`]): the package scripts then explain the WDK path.
pub const EXIT_SIGNATURE: i32 = 4;

/// What can go wrong in `install` and `uninstall`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallError {
    /// This build is not for Windows.
    NotWindows {
        /// `install` or `uninstall`.
        command: &'static str,
    },
    /// The INF cannot be read.
    NoInf {
        /// The path tried.
        path: PathBuf,
        /// The OS error.
        reason: String,
    },
    /// The INF is not one for avcam's device.
    WrongInf {
        /// The path.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The process is not elevated.
    NotElevated {
        /// `install` or `uninstall`.
        command: &'static str,
    },
    /// Windows reported the driver installed, but the device has no driver.
    NotInstalled {
        /// The device instance ID (or the hardware ID when no device is left).
        device: String,
        /// The INF whose driver was to be installed.
        inf: PathBuf,
    },
    /// A Win32 call failed.
    Win32 {
        /// The call, e.g. `SetupDiCallClassInstaller(DIF_REGISTERDEVICE)`.
        call: &'static str,
        /// Its `GetLastError` code.
        code: u32,
    },
}

impl InstallError {
    /// [`EXIT_USAGE`] for what the user can fix (wrong OS, INF, not elevated),
    /// [`EXIT_SIGNATURE`] when Windows refused the package's signature or catalog,
    /// [`EXIT_FAILURE`] for any other failed call.
    pub fn exit_code(&self) -> i32 {
        match self {
            InstallError::NotWindows { .. }
            | InstallError::NoInf { .. }
            | InstallError::WrongInf { .. }
            | InstallError::NotElevated { .. } => EXIT_USAGE,
            InstallError::Win32 { code, .. } if is_signature_refusal(*code) => EXIT_SIGNATURE,
            InstallError::Win32 { .. } | InstallError::NotInstalled { .. } => EXIT_FAILURE,
        }
    }
}

impl fmt::Display for InstallError {
    /// One line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstallError::NotWindows { command } => write!(
                f,
                "{command} works on Windows only: it needs the Windows build \
                 (avcam-viewer.exe from the package), not this one"
            ),
            InstallError::NoInf { path, reason } => write!(
                f,
                "cannot read the INF {}: {reason} (give it with --inf PATH)",
                path.display()
            ),
            InstallError::WrongInf { path, reason } => {
                write!(f, "{} is not avcam's INF: {reason}", path.display())
            }
            InstallError::NotElevated { command } => write!(
                f,
                "{command} needs an elevated prompt: run it as administrator"
            ),
            InstallError::NotInstalled { device, inf } => write!(
                f,
                "UpdateDriverForPlugAndPlayDevicesW reported success, but no driver is installed \
                 on {device} (the models of {} need Windows build {MINIMUM_WINDOWS_BUILD} or later)",
                inf.display()
            ),
            InstallError::Win32 { call, code } => {
                write!(f, "{call} failed: {}", describe_code(*code))?;
                if is_signature_refusal(*code) {
                    write!(
                        f,
                        " (Windows refused the package's signature or catalog; \
                         docs/windows.md says how to finish with the WDK)"
                    )?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for InstallError {}

/// The Win32 codes `install` and `uninstall` can meet, by name (winerror.h, setupapi.h).
const CODE_NAMES: &[(u32, &str)] = &[
    (2, "ERROR_FILE_NOT_FOUND"),
    (3, "ERROR_PATH_NOT_FOUND"),
    (5, "ERROR_ACCESS_DENIED"),
    (6, "ERROR_INVALID_HANDLE"),
    (13, "ERROR_INVALID_DATA"),
    (87, "ERROR_INVALID_PARAMETER"),
    (120, "ERROR_CALL_NOT_IMPLEMENTED"),
    (259, "ERROR_NO_MORE_ITEMS"),
    (577, "ERROR_INVALID_IMAGE_HASH"),
    (740, "ERROR_ELEVATION_REQUIRED"),
    (1275, "ERROR_DRIVER_BLOCKED"),
    (0xE000_0003, "ERROR_GENERAL_SYNTAX"),
    (0xE000_0100, "ERROR_WRONG_INF_STYLE"),
    (0xE000_0201, "ERROR_CLASS_MISMATCH"),
    (0xE000_0203, "ERROR_NO_DRIVER_SELECTED"),
    (0xE000_0206, "ERROR_INVALID_CLASS"),
    (0xE000_0207, "ERROR_DEVINST_ALREADY_EXISTS"),
    (0xE000_020B, "ERROR_NO_SUCH_DEVINST"),
    (0xE000_0219, "ERROR_NO_ASSOCIATED_SERVICE"),
    (0xE000_0225, "ERROR_NO_SUCH_DEVICE_INTERFACE"),
    (0xE000_022D, "ERROR_NON_WINDOWS_NT_DRIVER"),
    (0xE000_022F, "ERROR_NO_CATALOG_FOR_OEM_INF"),
    (0xE000_0234, "ERROR_DRIVER_NONNATIVE"),
    (0xE000_0235, "ERROR_IN_WOW64"),
    (0xE000_023C, "ERROR_NOT_AN_INSTALLED_OEM_INF"),
    (0xE000_023D, "ERROR_INF_IN_USE_BY_DEVICES"),
    (0xE000_0240, "ERROR_AUTHENTICODE_DISALLOWED"),
    (0xE000_0241, "ERROR_AUTHENTICODE_TRUSTED_PUBLISHER"),
    (0xE000_0242, "ERROR_AUTHENTICODE_TRUST_NOT_ESTABLISHED"),
    (0xE000_0243, "ERROR_AUTHENTICODE_PUBLISHER_NOT_TRUSTED"),
    (0xE000_0245, "ERROR_ONLY_VALIDATE_VIA_AUTHENTICODE"),
    (0xE000_0247, "ERROR_DRIVER_STORE_ADD_FAILED"),
    (0xE000_0249, "ERROR_DRIVER_INSTALL_BLOCKED"),
    (0xE000_024C, "ERROR_DRIVER_STORE_DELETE_FAILED"),
    (0xE000_1000, "ERROR_NOT_INSTALLED"),
    (0x800B_0004, "TRUST_E_SUBJECT_NOT_TRUSTED"),
    (0x800B_0100, "TRUST_E_NOSIGNATURE"),
    (0x800B_0101, "CERT_E_EXPIRED"),
    (0x800B_0109, "CERT_E_UNTRUSTEDROOT"),
    (0x800B_010A, "CERT_E_CHAINING"),
    (0x800B_010D, "CERT_E_UNTRUSTEDTESTROOT"),
    (0x800B_0111, "TRUST_E_EXPLICIT_DISTRUST"),
    (0x8009_6010, "TRUST_E_BAD_DIGEST"),
];

/// The codes that mean Windows refused the package's catalog or a signature.
const SIGNATURE_REFUSALS: &[u32] = &[
    577,
    0xE000_022F,
    0xE000_0240,
    0xE000_0241,
    0xE000_0242,
    0xE000_0243,
    0xE000_0245,
    0xE000_0247,
    0x800B_0004,
    0x800B_0100,
    0x800B_0101,
    0x800B_0109,
    0x800B_010A,
    0x800B_010D,
    0x800B_0111,
    0x8009_6010,
];

/// Whether `code` says the package's catalog or a signature was refused.
pub fn is_signature_refusal(code: u32) -> bool {
    SIGNATURE_REFUSALS.contains(&code)
}

/// `code` as `error 0xE000022F (ERROR_NO_CATALOG_FOR_OEM_INF)`; small codes in decimal too.
pub fn describe_code(code: u32) -> String {
    let name = CODE_NAMES
        .iter()
        .find(|(c, _)| *c == code)
        .map_or("", |(_, name)| name);
    let number = if code < 0x1_0000 {
        format!("{code} (0x{code:X})")
    } else {
        format!("0x{code:08X}")
    };
    if name.is_empty() {
        format!("error {number}")
    } else {
        format!("error {number} {name}")
    }
}

/// The INF `install` uses: `given`, or [`DEFAULT_INF`] beside `exe`; checked to be readable, to
/// list [`HARDWARE_ID`] and to come from [`PROVIDER`]; returned as an absolute path
/// (`UpdateDriverForPlugAndPlayDevicesW` wants a full one).
pub fn resolve_inf(given: Option<&Path>, exe: &Path) -> Result<PathBuf, InstallError> {
    let path = match given {
        Some(path) => path.to_path_buf(),
        None => exe
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join(DEFAULT_INF),
    };
    let bytes = std::fs::read(&path).map_err(|error| InstallError::NoInf {
        path: path.clone(),
        reason: error.to_string(),
    })?;
    let text = inf::decode(&bytes);
    let wrong = |reason: String| InstallError::WrongInf {
        path: path.clone(),
        reason,
    };
    if !inf::lists_hardware_id(&text, HARDWARE_ID) {
        return Err(wrong(format!("no models line lists {HARDWARE_ID}")));
    }
    match inf::provider(&text) {
        Some(provider) if provider.eq_ignore_ascii_case(PROVIDER) => {}
        other => return Err(wrong(format!("its Provider is {other:?}, not {PROVIDER}"))),
    }
    std::path::absolute(&path).map_err(|error| InstallError::NoInf {
        path: path.clone(),
        reason: error.to_string(),
    })
}

/// Runs `install`: reports what it did on `context.stdout`, one line a step.
pub fn run_install(inf: Option<&Path>, context: &mut Context<'_>) -> Result<(), ViewerError> {
    install(inf, context.stdout).map_err(ViewerError::Install)
}

/// Runs `uninstall`: reports what it removed on `context.stdout`, one line each.
pub fn run_uninstall(context: &mut Context<'_>) -> Result<(), ViewerError> {
    uninstall(context.stdout).map_err(ViewerError::Install)
}

#[cfg(windows)]
fn install(inf: Option<&Path>, out: &mut dyn Write) -> Result<(), InstallError> {
    let exe = std::env::current_exe().map_err(|error| InstallError::NoInf {
        path: PathBuf::from(DEFAULT_INF),
        reason: format!("cannot locate the executable: {error}"),
    })?;
    let inf = resolve_inf(inf, &exe)?;
    setup::install(&inf, out)
}

#[cfg(windows)]
fn uninstall(out: &mut dyn Write) -> Result<(), InstallError> {
    setup::uninstall(out)
}

#[cfg(not(windows))]
fn install(_inf: Option<&Path>, _out: &mut dyn Write) -> Result<(), InstallError> {
    Err(InstallError::NotWindows { command: "install" })
}

#[cfg(not(windows))]
fn uninstall(_out: &mut dyn Write) -> Result<(), InstallError> {
    Err(InstallError::NotWindows {
        command: "uninstall",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The values the `windows` crate (0.62) gives these names, in decimal as it writes them.
    #[test]
    fn code_names_match_the_windows_crates_values() {
        let crate_values: &[(&str, u32)] = &[
            ("ERROR_NO_CATALOG_FOR_OEM_INF", 3758096943),
            ("ERROR_AUTHENTICODE_DISALLOWED", 3758096960),
            ("ERROR_AUTHENTICODE_PUBLISHER_NOT_TRUSTED", 3758096963),
            ("ERROR_DRIVER_STORE_ADD_FAILED", 3758096967),
            ("ERROR_DRIVER_STORE_DELETE_FAILED", 3758096972),
            ("ERROR_INF_IN_USE_BY_DEVICES", 3758096957),
            ("ERROR_NOT_AN_INSTALLED_OEM_INF", 3758096956),
            ("ERROR_NO_SUCH_DEVINST", 3758096907),
            ("ERROR_IN_WOW64", 3758096949),
            ("ERROR_CLASS_MISMATCH", 3758096897),
            ("ERROR_WRONG_INF_STYLE", 3758096640),
            ("ERROR_NOT_INSTALLED", 3758100480),
            ("ERROR_ONLY_VALIDATE_VIA_AUTHENTICODE", 3758096965),
            ("ERROR_DRIVER_INSTALL_BLOCKED", 3758096969),
        ];
        for (name, value) in crate_values {
            let found = CODE_NAMES.iter().find(|(_, n)| n == name);
            assert_eq!(found.map(|(c, _)| *c), Some(*value), "{name}");
        }
        let mut codes: Vec<u32> = CODE_NAMES.iter().map(|(c, _)| *c).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), CODE_NAMES.len(), "a code is listed twice");
        for code in SIGNATURE_REFUSALS {
            assert!(
                CODE_NAMES.iter().any(|(c, _)| c == code),
                "{code:#x} unnamed"
            );
        }
    }

    #[test]
    fn codes_are_named_and_signature_refusals_exit_4() {
        assert_eq!(describe_code(5), "error 5 (0x5) ERROR_ACCESS_DENIED");
        assert_eq!(
            describe_code(0xE000_022F),
            "error 0xE000022F ERROR_NO_CATALOG_FOR_OEM_INF"
        );
        assert_eq!(describe_code(0x1234_5678), "error 0x12345678");
        let refused = InstallError::Win32 {
            call: "UpdateDriverForPlugAndPlayDevicesW",
            code: 0x800B_0109,
        };
        assert_eq!(refused.exit_code(), EXIT_SIGNATURE);
        let text = refused.to_string();
        assert!(
            text.starts_with("UpdateDriverForPlugAndPlayDevicesW failed: error 0x800B0109 CERT_E_UNTRUSTEDROOT (Windows refused"),
            "{text}"
        );
        assert!(text.contains("WDK") && !text.contains('\n'));
        let other = InstallError::Win32 {
            call: "SetupDiCallClassInstaller(DIF_REGISTERDEVICE)",
            code: 5,
        };
        assert_eq!(other.exit_code(), EXIT_FAILURE);
        assert!(!other.to_string().contains("WDK"));
        for usage in [
            InstallError::NotWindows { command: "install" },
            InstallError::NotElevated {
                command: "uninstall",
            },
            InstallError::NoInf {
                path: "x.inf".into(),
                reason: "gone".into(),
            },
        ] {
            assert_eq!(usage.exit_code(), EXIT_USAGE, "{usage}");
        }
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("avcam-install-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_inf_is_found_beside_the_executable_and_checked() {
        let dir = temp_dir("resolve");
        let exe = dir.join("avcam-viewer.exe");
        let missing = resolve_inf(None, &exe).unwrap_err();
        assert!(
            matches!(&missing, InstallError::NoInf { path, .. } if *path == dir.join(DEFAULT_INF)),
            "{missing:?}"
        );
        assert!(missing.to_string().contains("--inf PATH"));

        let inx = include_str!("../../../../inf/avcam.inx");
        std::fs::write(dir.join(DEFAULT_INF), inx).unwrap();
        let found = resolve_inf(None, &exe).unwrap();
        assert!(found.is_absolute() && found.ends_with(DEFAULT_INF));

        let other = dir.join("other.inf");
        std::fs::write(&other, inx.replace(r"Root\avcam", r"Root\other")).unwrap();
        let wrong = resolve_inf(Some(&other), &exe).unwrap_err();
        assert!(
            wrong
                .to_string()
                .contains(r"no models line lists Root\avcam"),
            "{wrong}"
        );
        std::fs::write(
            &other,
            inx.replace(
                "ProviderName            = \"avcam\"",
                "ProviderName = \"x\"",
            ),
        )
        .unwrap();
        let wrong = resolve_inf(Some(&other), &exe).unwrap_err();
        assert!(
            wrong.to_string().contains("Provider is Some(\"x\")"),
            "{wrong}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Runs the viewer's command line; returns (exit code, stdout, stderr) and whether a
    /// camera was asked for.
    fn run_line(args: &[&str]) -> (i32, String, String, bool) {
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        let mut opened = false;
        let stop = std::sync::atomic::AtomicBool::new(false);
        let mut context = Context {
            stdout: &mut stdout,
            stderr: &mut stderr,
            stderr_is_terminal: false,
            display: crate::DisplayEnv::default(),
            stop: &stop,
        };
        let code = crate::run(
            std::iter::once("avcam-viewer").chain(args.iter().copied()),
            &mut || {
                opened = true;
                Err(crate::CameraError::NotFound {
                    what: "no camera in this test".into(),
                })
            },
            &mut context,
        );
        let text = |bytes: Vec<u8>| String::from_utf8(bytes).unwrap();
        (code, text(stdout), text(stderr), opened)
    }

    #[test]
    fn bad_arguments_are_one_line_and_exit_2() {
        for args in [
            &["install", "--inf"][..],
            &["install", "--bogus"],
            &["uninstall", "extra"],
            &["uninstall", "--inf", "x.inf"],
        ] {
            let (code, stdout, stderr, opened) = run_line(args);
            assert_eq!(code, EXIT_USAGE, "{args:?}: {stderr}");
            assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
            assert!(stdout.is_empty() && !opened, "{args:?}");
        }
    }

    #[cfg(not(windows))]
    #[test]
    fn both_commands_are_one_line_usage_errors_through_the_command_line() {
        for args in [
            &["install"][..],
            &["install", "--inf", "avcam.inf"],
            &["uninstall"],
        ] {
            let (code, stdout, stderr, opened) = run_line(args);
            assert_eq!(code, EXIT_USAGE, "{args:?}");
            assert_eq!(stderr.lines().count(), 1, "{stderr}");
            assert!(
                stderr.starts_with("avcam-viewer: ") && stderr.contains("works on Windows only"),
                "{stderr}"
            );
            assert!(stdout.is_empty() && !opened);
        }
    }

    #[cfg(not(windows))]
    #[test]
    fn both_commands_are_usage_errors_outside_windows() {
        let mut out = Vec::new();
        let error = install(None, &mut out).unwrap_err();
        assert_eq!(error.exit_code(), EXIT_USAGE);
        assert!(error.to_string().contains("works on Windows only"));
        assert_eq!(uninstall(&mut out).unwrap_err().exit_code(), EXIT_USAGE);
        assert!(out.is_empty());
    }
}
