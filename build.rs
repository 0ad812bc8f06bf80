//! The driver's build script: it only configures linking.
//!
//! - Official Windows path (`--features wdk` on a Windows host, in a WDK environment):
//!   windows-drivers-rs's `wdk_build::configure_wdk_binary_build()`, as its README prescribes.
//! - Cross build (target `x86_64-pc-windows-msvc` in kernel mode, `--cfg avcam_kernel_mode`,
//!   without the feature: `scripts/build-driver.sh`): the kernel-image link arguments for lld-link.
//! - Every build outside kernel mode (the Linux tests, Windows user-mode programs): nothing.

#[cfg(not(feature = "wdk"))]
/// lld-link arguments that turn the cdylib into a kernel driver image (the WDK's
/// WindowsDriver.KernelMode props, as far as lld supports them; see docs/windows.md).
const CROSS_LINK_ARGS: &[&str] = &[
    "/DRIVER",
    "/SUBSYSTEM:NATIVE",
    "/ENTRY:DriverEntry",
    "/NODEFAULTLIB",
    // No stray sections: exports live in .rdata, rustc's metadata section in .data.
    "/MERGE:.edata=.rdata",
    "/MERGE:.rustc=.data",
    "/OPT:REF,ICF",
    "/DEBUG:NONE",
    // /RELEASE makes lld (>= 16) write the PE checksum, which the kernel loader verifies.
    "/RELEASE",
    "/NXCOMPAT",
    "/DYNAMICBASE",
    // Forced integrity: the image only loads with a valid signature (as the WDK does).
    "/INTEGRITYCHECK",
    // A map next to the image (deps/avcam.map): scripts/check-driver.sh reads the entry point's
    // name from it.
    "/MAP",
    // Reproducible: a hash of the image instead of the link time in the header's TimeDateStamp
    // (the package's zip must be the same bytes from the same commit).
    "/Brepro",
];

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    configure();
}

/// The official path: windows-drivers-rs does everything (WDK libraries, link arguments, cfgs).
#[cfg(all(feature = "wdk", windows))]
fn configure() {
    if std::env::var_os("CARGO_CFG_AVCAM_KERNEL_MODE").is_none() {
        panic!(
            "the `wdk` feature builds the driver image, which needs kernel mode: \
             RUSTFLAGS must contain `--cfg avcam_kernel_mode` (Makefile.toml sets it)"
        );
    }
    if let Err(error) = wdk_build::configure_wdk_binary_build() {
        panic!("wdk-build could not configure the driver build: {error:?}");
    }
}

/// The `wdk` feature asked for on a host that cannot have a WDK.
#[cfg(all(feature = "wdk", not(windows)))]
fn configure() {
    panic!(
        "the `wdk` feature is the official Windows-host build and needs a WDK environment; \
         on Linux, cross-build with scripts/build-driver.sh instead"
    );
}

/// The cross build links a kernel image; every other build (the host tests, a Windows user-mode
/// program) needs nothing. Kernel mode is the `avcam_kernel_mode` cfg, which cargo passes to
/// build scripts as `CARGO_CFG_AVCAM_KERNEL_MODE`.
#[cfg(not(feature = "wdk"))]
fn configure() {
    use std::env;

    let kernel_mode = env::var_os("CARGO_CFG_AVCAM_KERNEL_MODE").is_some();
    let target_os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let target_env = env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if kernel_mode && target_os == "windows" && target_env == "msvc" {
        for arg in CROSS_LINK_ARGS {
            println!("cargo::rustc-cdylib-link-arg={arg}");
        }
    }
}
