//! Compile-time size, alignment and offset checks against the Windows x64 figures of the public
//! headers (`../shared/notes/ks-allocator.md`). A header-driven check that computes the same
//! figures from the mingw-w64 headers lives in `tests/` of the workspace.

use crate::guid::GUID;
use crate::ks::*;
use crate::nt::*;

// Only the x64 figures are asserted: avcam builds for Windows x64 and 64-bit Linux hosts.
#[cfg(target_pointer_width = "64")]
mod x64 {
    use super::*;

    assert_layout!(GUID, size 16, align 4);
    assert_layout!(KSIDENTIFIER, size 24, align 8);
    assert_layout!(KSEVENTDATA, size 32, align 8);
    assert_layout!(KSPROPERTY_DESCRIPTION, size 40, align 8);
    assert_layout!(KSALLOCATOR_FRAMING, size 24, align 4);
    assert_layout!(KS_FRAMING_ITEM, size 88, align 4);
    assert_layout!(KSALLOCATOR_FRAMING_EX, size 112, align 4);
    assert_offset!(KSALLOCATOR_FRAMING_EX, FramingItem, 24);
    assert_layout!(KSSTREAMALLOCATOR_STATUS, size 32, align 4);
    assert_layout!(KSSTREAMALLOCATOR_FUNCTIONTABLE, size 16, align 8);
    assert_layout!(KSOBJECT_CREATE_ITEM, size 48, align 8);
    assert_offset!(KSOBJECT_CREATE_ITEM, ObjectClass, 16);
    assert_offset!(KSOBJECT_CREATE_ITEM, Flags, 40);
    assert_layout!(KSDISPATCH_TABLE, size 80, align 8);
    assert_layout!(KSOBJECT_HEADER, size 8, align 8);

    assert_layout!(UNICODE_STRING, size 16, align 8);
    assert_layout!(IO_STATUS_BLOCK, size 16, align 8);
    assert_layout!(KEVENT, size 24, align 8);
    assert_layout!(OBJECT_HANDLE_INFORMATION, size 8, align 4);
    assert_layout!(POBJECT_TYPE, size 8, align 8);
    assert_layout!(IRP, size 208, align 16);
    assert_offset!(IRP, MdlAddress, 8);
    assert_offset!(IRP, SystemBuffer, 24);
    assert_offset!(IRP, IoStatus, 48);
    assert_offset!(IRP, RequestorMode, 64);
    assert_offset!(IRP, Cancel, 68);
    assert_offset!(IRP, UserIosb, 72);
    assert_offset!(IRP, UserEvent, 80);
    assert_offset!(IRP, CancelRoutine, 104);
    assert_offset!(IRP, UserBuffer, 112);
    assert_offset!(IRP, Tail, 120);
    assert_offset!(IRP_TAIL_OVERLAY, ListEntry, 48);
    assert_offset!(IRP_TAIL_OVERLAY, CurrentStackLocation, 64);
    assert_offset!(IRP_TAIL_OVERLAY, OriginalFileObject, 72);
    assert_layout!(IO_STACK_LOCATION, size 72, align 8);
    assert_offset!(IO_STACK_LOCATION, Parameters, 8);
    assert_offset!(IO_STACK_LOCATION, DeviceObject, 40);
    assert_offset!(IO_STACK_LOCATION, FileObject, 48);
    assert_offset!(DEVICE_IO_CONTROL_PARAMETERS, InputBufferLength, 8);
    assert_offset!(DEVICE_IO_CONTROL_PARAMETERS, IoControlCode, 16);
    assert_offset!(DEVICE_IO_CONTROL_PARAMETERS, Type3InputBuffer, 24);
    assert_layout!(IO_STACK_PARAMETERS, size 32, align 8);
    assert_layout!(FILE_OBJECT, size 216, align 8);
    assert_offset!(FILE_OBJECT, FsContext, 24);
    assert_offset!(FILE_OBJECT, FsContext2, 32);
    assert_offset!(FILE_OBJECT, RelatedFileObject, 64);
    assert_offset!(FILE_OBJECT, Flags, 80);
    assert_offset!(FILE_OBJECT, FileName, 88);
    assert_offset!(FILE_OBJECT, Lock, 128);
    assert_offset!(FILE_OBJECT, FileObjectExtension, 208);
    assert_layout!(KDPC, size 64, align 8);
    assert_layout!(DEVICE_OBJECT, size 336, align 16);
    assert_offset!(DEVICE_OBJECT, DeviceExtension, 64);
    assert_offset!(DEVICE_OBJECT, Queue, 80);
    assert_offset!(DEVICE_OBJECT, AlignmentRequirement, 152);
    assert_offset!(DEVICE_OBJECT, Dpc, 200);
    assert_offset!(DEVICE_OBJECT, DeviceLock, 280);
    assert_offset!(DEVICE_OBJECT, Reserved, 320);
    assert_layout!(DRIVER_OBJECT, size 336, align 8);
    assert_offset!(DRIVER_OBJECT, DriverExtension, 48);
    assert_offset!(DRIVER_OBJECT, DriverName, 56);
    assert_offset!(DRIVER_OBJECT, DriverUnload, 104);
    assert_offset!(DRIVER_OBJECT, MajorFunction, 112);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_codes_match_ks_h() {
        assert_eq!(IOCTL_KS_PROPERTY, 0x002F_0003);
        assert_eq!(IOCTL_KS_ENABLE_EVENT, 0x002F_0007);
        assert_eq!(IOCTL_KS_DISABLE_EVENT, 0x002F_000B);
        assert_eq!(IOCTL_KS_METHOD, 0x002F_000F);
        assert_eq!(IOCTL_KS_WRITE_STREAM, 0x002F_8013);
        assert_eq!(IOCTL_KS_READ_STREAM, 0x002F_4017);
        assert_eq!(IOCTL_KS_RESET_STATE, 0x002F_001B);
    }
}
