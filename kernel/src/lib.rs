//! The kernel services avcam's driver code calls, in one place.
//!
//! In kernel mode (the driver image, built with `--cfg avcam_kernel_mode`; see docs/windows.md)
//! they are imports from `ntoskrnl.exe` and `ks.sys`; in every other build (Linux, and Windows
//! user-mode programs such as the viewer) they are the user-mode emulation's functions of the
//! same name and the same C signature (`avcam-emulation`), so the driver code above this crate
//! is the same in both worlds. The target OS does not decide: a Windows user-mode program gets
//! the emulation too.
//!
//! Every service is declared once, in `ks::kernel_services!` (the one list, in the ABI crate that
//! the emulation sees too); this crate generates from it the signature types ([`sig`]), the
//! raw-dylib imports of kernel mode, and a compile-time check that every service, imported or
//! emulated, has exactly its signature. The calling convention is the boundary's
//! (`ks::kernel_abi`: the Windows x64 convention on every x86_64 build).
//!
//! The inline helpers of wdm.h that are macros or `FORCEINLINE` functions in C
//! (`IoGetCurrentIrpStackLocation`, `IoMarkIrpPending`, `IoSetCancelRoutine`, ...) are written
//! once, in Rust, in [`irp`]; the safe spin lock wrapper is [`sync`].
#![no_std]
#![allow(non_snake_case)]

// The unit tests drive the helpers through the emulation, which uses std.
#[cfg(test)]
extern crate std;

pub mod irp;
pub mod sync;

/// The C signatures of the services, one type per function, generated from
/// `ks::kernel_services!` (each type's documentation is the list's).
pub mod sig {
    /// One `pub type` per listed function, with the boundary's calling convention.
    macro_rules! signatures {
        ($($module:literal {
            functions { $($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)?;)* }
            data { $($(#[$data_doc:meta])* static $data:ident: $data_ty:ty;)* }
            variadic { $($(#[$variadic_doc:meta])* fn $variadic:ident($($variadic_arg:ident: $variadic_ty:ty),* , ...) $(-> $variadic_ret:ty)?;)* }
        })*) => {
            $($(
                $(#[$doc])*
                #[doc = concat!("\n\nExported by `", $module, "`.")]
                #[ks::kernel_abi]
                pub type $name = unsafe extern "system" fn($($ty),*) $(-> $ret)?;
            )*)*
        };
    }
    ks::kernel_services!(signatures);
}

/// The imports of the driver image, generated from `ks::kernel_services!`: functions and data by
/// name from their module (raw-dylib, `+verbatim` so that the import names the module exactly),
/// variadic functions as C variadics (on Windows x64 the same convention).
#[cfg(avcam_kernel_mode)]
mod imports {
    macro_rules! imports {
        ($($module:literal {
            functions { $($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)?;)* }
            data { $($(#[$data_doc:meta])* static $data:ident: $data_ty:ty;)* }
            variadic { $($(#[$variadic_doc:meta])* fn $variadic:ident($($variadic_arg:ident: $variadic_ty:ty),* , ...) $(-> $variadic_ret:ty)?;)* }
        })*) => {
            $(
                #[link(name = $module, kind = "raw-dylib", modifiers = "+verbatim")]
                #[ks::kernel_abi]
                extern "system" {
                    $(
                        #[doc = concat!("The import of `", stringify!($name), "`: see [`crate::sig::", stringify!($name), "`].")]
                        pub fn $name($($arg: $ty),*) $(-> $ret)?;
                    )*
                    $(
                        $(#[$data_doc])*
                        pub static $data: $data_ty;
                    )*
                }
                #[link(name = $module, kind = "raw-dylib", modifiers = "+verbatim")]
                extern "C" {
                    $(
                        $(#[$variadic_doc])*
                        pub fn $variadic($($variadic_arg: $variadic_ty),* , ...) $(-> $variadic_ret)?;
                    )*
                }
            )*
        };
    }
    ks::kernel_services!(imports);
}

#[cfg(avcam_kernel_mode)]
pub use imports::*;

#[cfg(not(avcam_kernel_mode))]
pub use avcam_emulation::services::*;

/// Compile-time proof that every service, imported (kernel mode) or emulated (every other build),
/// has exactly the C signature in [`sig`]; and that the emulation's stand-in for each variadic
/// service takes its fixed arguments plus three more (the arguments the emulation reads).
macro_rules! checks {
    ($($module:literal {
        functions { $($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)?;)* }
        data { $($(#[$data_doc:meta])* static $data:ident: $data_ty:ty;)* }
        variadic { $($(#[$variadic_doc:meta])* fn $variadic:ident($($variadic_arg:ident: $variadic_ty:ty),* , ...) $(-> $variadic_ret:ty)?;)* }
    })*) => {
        const _: () = {
            $($(
                let _: sig::$name = $name;
            )*)*
        };
        #[cfg(not(avcam_kernel_mode))]
        #[ks::kernel_abi]
        const _: () = {
            $($(
                let _: unsafe extern "system" fn($($variadic_ty,)* usize, usize, usize) $(-> $variadic_ret)? =
                    $variadic;
            )*)*
        };
    };
}
ks::kernel_services!(checks);

/// `*IoFileObjectType`: the object type to pass to `ObReferenceObjectByHandle` /
/// `ObOpenObjectByPointer` for file objects.
pub fn file_object_type() -> ks::nt::POBJECT_TYPE {
    // SAFETY: a data export the kernel initialises before any driver loads and never changes.
    unsafe { IoFileObjectType }
}

/// `*ExEventObjectType`: the object type to pass to `ObReferenceObjectByHandle` for events.
pub fn event_object_type() -> ks::nt::POBJECT_TYPE {
    // SAFETY: a data export the kernel initialises before any driver loads and never changes.
    unsafe { ExEventObjectType }
}
