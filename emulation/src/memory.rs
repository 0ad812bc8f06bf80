//! The emulation's own memory (IRPs, file objects, buffers), kept apart from the tracked pool.
//!
//! Driver code reaches these objects through raw pointers, from any thread, as on Windows, so the
//! emulation never holds Rust references to them while the driver may: [`RawBox`] and
//! [`RawBuffer`] hand out raw pointers only.

use std::alloc::Layout;
use std::ptr::NonNull;

/// A heap object at a stable address, reached only through raw pointers.
pub(crate) struct RawBox<T> {
    pointer: NonNull<T>,
}

// SAFETY: the object is only reached through raw pointers, under the kernel's rules for the
// structure it is (the same rules that make it shareable between processors on Windows).
unsafe impl<T> Send for RawBox<T> {}
// SAFETY: as above; `RawBox` itself exposes no shared references to the object.
unsafe impl<T> Sync for RawBox<T> {}

impl<T> RawBox<T> {
    /// Moves `value` to the heap.
    pub(crate) fn new(value: T) -> RawBox<T> {
        RawBox {
            pointer: NonNull::from(Box::leak(Box::new(value))),
        }
    }

    /// The object's address.
    pub(crate) fn as_ptr(&self) -> *mut T {
        self.pointer.as_ptr()
    }
}

impl<T: Zeroable> RawBox<T> {
    /// An all-zero object.
    pub(crate) fn zeroed() -> RawBox<T> {
        RawBox::new(zeroed())
    }
}

impl<T> Drop for RawBox<T> {
    fn drop(&mut self) {
        // SAFETY: the pointer came from `Box::leak` in `new` and is released only here.
        drop(unsafe { Box::from_raw(self.pointer.as_ptr()) });
    }
}

/// An all-zero value of a C structure.
pub(crate) fn zeroed<T: Zeroable>() -> T {
    // SAFETY: `T: Zeroable` promises that all-zero bytes are a valid `T`.
    unsafe { std::mem::zeroed() }
}

/// The address of a field, from the address of its structure and the field's offset
/// (`field_ptr!(irp, IRP, Tail.CurrentStackLocation)`); safe, since nothing is dereferenced.
macro_rules! field_ptr {
    ($base:expr, $type:ty, $($field:tt).+) => {
        ($base as *mut $type).cast::<u8>().wrapping_add(::std::mem::offset_of!($type, $($field).+)).cast()
    };
}
pub(crate) use field_ptr;

/// C structures for which all-zero bytes are a valid value (integers, raw pointers and
/// `Option<fn>` only), as `IoAllocateIrp` and friends hand them out.
///
/// # Safety
/// All-zero bytes must be a valid value of the type.
pub(crate) unsafe trait Zeroable {}

// SAFETY: IRP, IO_STACK_LOCATION, FILE_OBJECT, DEVICE_OBJECT and DRIVER_OBJECT contain only
// integers, raw pointers, `Option<fn>` and arrays/unions of those.
unsafe impl Zeroable for ks::nt::IRP {}
// SAFETY: as above.
unsafe impl Zeroable for ks::nt::IO_STACK_LOCATION {}
// SAFETY: as above.
unsafe impl Zeroable for ks::nt::FILE_OBJECT {}
// SAFETY: as above.
unsafe impl Zeroable for ks::nt::DEVICE_OBJECT {}
// SAFETY: as above.
unsafe impl Zeroable for ks::nt::DRIVER_OBJECT {}
// SAFETY: as above.
unsafe impl Zeroable for ks::nt::DRIVER_EXTENSION {}

/// A zero-initialised byte buffer at a stable, 16-byte aligned address (NULL when empty), like
/// the user buffers of METHOD_NEITHER requests.
pub(crate) struct RawBuffer {
    pointer: *mut u8,
    len: usize,
    layout: Option<Layout>,
}

// SAFETY: the buffer is plain bytes reached through raw pointers; see `RawBox`.
unsafe impl Send for RawBuffer {}
// SAFETY: as above.
unsafe impl Sync for RawBuffer {}

const BUFFER_ALIGN: usize = 16;

impl RawBuffer {
    /// A buffer holding a copy of `bytes`.
    pub(crate) fn from_bytes(bytes: &[u8]) -> RawBuffer {
        let buffer = RawBuffer::zeroed(bytes.len());
        if !bytes.is_empty() {
            // SAFETY: the buffer is a fresh allocation of `bytes.len()` bytes.
            unsafe {
                buffer
                    .pointer
                    .copy_from_nonoverlapping(bytes.as_ptr(), bytes.len())
            };
        }
        buffer
    }

    /// `len` zero bytes.
    pub(crate) fn zeroed(len: usize) -> RawBuffer {
        if len == 0 {
            return RawBuffer {
                pointer: std::ptr::null_mut(),
                len,
                layout: None,
            };
        }
        let Ok(layout) = Layout::from_size_align(len, BUFFER_ALIGN) else {
            panic!("avcam-emulation: a buffer of {len} bytes is too large");
        };
        // SAFETY: `layout` has a non-zero size.
        let pointer = unsafe { std::alloc::alloc_zeroed(layout) };
        if pointer.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        RawBuffer {
            pointer,
            len,
            layout: Some(layout),
        }
    }

    /// The first byte (NULL when empty).
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.pointer
    }

    /// The length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// A copy of the contents.
    ///
    /// # Safety
    /// No one may be writing the buffer during the copy.
    pub(crate) unsafe fn to_vec(&self) -> Vec<u8> {
        if self.len == 0 {
            return Vec::new();
        }
        // SAFETY: the buffer holds `len` initialised bytes; the caller excludes writers.
        unsafe { std::slice::from_raw_parts(self.pointer, self.len) }.to_vec()
    }
}

impl Drop for RawBuffer {
    fn drop(&mut self) {
        if let Some(layout) = self.layout {
            // SAFETY: allocated in `zeroed` with this layout, and released only here.
            unsafe { std::alloc::dealloc(self.pointer, layout) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_aligned_copied_and_null_when_empty() {
        let buffer = RawBuffer::from_bytes(&[1, 2, 3]);
        assert_eq!(buffer.as_ptr() as usize % BUFFER_ALIGN, 0);
        assert_eq!(buffer.len(), 3);
        // SAFETY: nobody writes the buffer.
        assert_eq!(unsafe { buffer.to_vec() }, [1, 2, 3]);
        assert!(RawBuffer::zeroed(0).as_ptr().is_null());
    }

    #[test]
    fn zeroed_objects_are_zero() {
        let irp = RawBox::<ks::nt::IRP>::zeroed();
        // SAFETY: the IRP is live and nobody else holds it.
        let irp = unsafe { &*irp.as_ptr() };
        assert_eq!(irp.Type, 0);
        assert!(irp.CancelRoutine.is_none());
    }
}
