//! Official Windows path only (`--features wdk` on a Windows host): the ABI types of `ks`
//! asserted equal to wdk-sys's, which bindgen generates from the real WDK headers. This is the
//! WDK-side counterpart of `ks/src/header_layouts.rs` (generated from the mingw-w64 headers).
//!
//! Never compiled on the Linux machines this project is developed on (wdk-sys cannot be built
//! there); see docs/windows.md for what has and has not run.

use core::mem::{align_of, offset_of, size_of};

macro_rules! same_layout {
    ($ours:ty, $theirs:ty) => {
        const _: () = assert!(
            size_of::<$ours>() == size_of::<$theirs>(),
            concat!("size of ", stringify!($ours), " differs from wdk-sys")
        );
        const _: () = assert!(
            align_of::<$ours>() == align_of::<$theirs>(),
            concat!("alignment of ", stringify!($ours), " differs from wdk-sys")
        );
    };
}

macro_rules! same_offset {
    ($ours:ty, $theirs:ty, $field:ident) => {
        const _: () = assert!(
            offset_of!($ours, $field) == offset_of!($theirs, $field),
            concat!(
                "offset of ",
                stringify!($ours),
                ".",
                stringify!($field),
                " differs from wdk-sys"
            )
        );
    };
}

same_layout!(ks::GUID, wdk_sys::GUID);
same_layout!(ks::nt::LIST_ENTRY, wdk_sys::LIST_ENTRY);
same_layout!(ks::nt::UNICODE_STRING, wdk_sys::UNICODE_STRING);
same_layout!(ks::nt::IO_STATUS_BLOCK, wdk_sys::IO_STATUS_BLOCK);
same_layout!(ks::nt::KEVENT, wdk_sys::KEVENT);
same_layout!(ks::nt::KDPC, wdk_sys::KDPC);
same_layout!(ks::nt::KTIMER, wdk_sys::KTIMER);
same_layout!(
    ks::nt::OBJECT_HANDLE_INFORMATION,
    wdk_sys::OBJECT_HANDLE_INFORMATION
);
same_layout!(ks::nt::IRP, wdk_sys::IRP);
same_layout!(ks::nt::IO_STACK_LOCATION, wdk_sys::IO_STACK_LOCATION);
same_layout!(ks::nt::FILE_OBJECT, wdk_sys::FILE_OBJECT);
same_layout!(ks::nt::DEVICE_OBJECT, wdk_sys::DEVICE_OBJECT);
same_layout!(ks::nt::DRIVER_EXTENSION, wdk_sys::DRIVER_EXTENSION);
same_layout!(ks::nt::DRIVER_OBJECT, wdk_sys::DRIVER_OBJECT);

// The named fields the driver reads and writes (bindgen keeps the C names).
same_offset!(ks::nt::IRP, wdk_sys::IRP, MdlAddress);
same_offset!(ks::nt::IRP, wdk_sys::IRP, IoStatus);
same_offset!(ks::nt::IRP, wdk_sys::IRP, RequestorMode);
same_offset!(ks::nt::IRP, wdk_sys::IRP, Cancel);
same_offset!(ks::nt::IRP, wdk_sys::IRP, CancelRoutine);
same_offset!(ks::nt::IRP, wdk_sys::IRP, UserBuffer);
same_offset!(ks::nt::IRP, wdk_sys::IRP, Tail);
same_offset!(
    ks::nt::IO_STACK_LOCATION,
    wdk_sys::IO_STACK_LOCATION,
    Parameters
);
same_offset!(
    ks::nt::IO_STACK_LOCATION,
    wdk_sys::IO_STACK_LOCATION,
    DeviceObject
);
same_offset!(
    ks::nt::IO_STACK_LOCATION,
    wdk_sys::IO_STACK_LOCATION,
    FileObject
);
same_offset!(ks::nt::FILE_OBJECT, wdk_sys::FILE_OBJECT, FsContext);
same_offset!(ks::nt::FILE_OBJECT, wdk_sys::FILE_OBJECT, FsContext2);
same_offset!(ks::nt::FILE_OBJECT, wdk_sys::FILE_OBJECT, RelatedFileObject);
same_offset!(ks::nt::FILE_OBJECT, wdk_sys::FILE_OBJECT, FileName);
same_offset!(
    ks::nt::DEVICE_OBJECT,
    wdk_sys::DEVICE_OBJECT,
    DeviceExtension
);
same_offset!(ks::nt::DEVICE_OBJECT, wdk_sys::DEVICE_OBJECT, Flags);
same_offset!(
    ks::nt::DRIVER_OBJECT,
    wdk_sys::DRIVER_OBJECT,
    DriverExtension
);
same_offset!(ks::nt::DRIVER_OBJECT, wdk_sys::DRIVER_OBJECT, DriverUnload);
same_offset!(ks::nt::DRIVER_OBJECT, wdk_sys::DRIVER_OBJECT, MajorFunction);
