//! What a freestanding Windows kernel image must provide itself (compiled in kernel mode only,
//! `--cfg avcam_kernel_mode`): the entry point symbol, the panic handler, `_fltused`, `__chkstk`
//! and the global allocator.
//!
//! Every other build (Linux, Windows user-mode programs) links std, which provides all of these.

use core::fmt::{self, Write};
use core::panic::PanicInfo;

use avcam_kernel::DbgPrint;
use ks::nt::{POOL_FLAG_NON_PAGED, POOL_FLAG_UNINITIALIZED};

use crate::identity::POOL_TAG;
use crate::pool::{Pool, PoolAllocator};

/// `FAST_FAIL_FATAL_APP_EXIT`: the `__fastfail` code of an abort requested by the program.
const FAST_FAIL_FATAL_APP_EXIT: u32 = 7;

/// A panic in the kernel cannot unwind: the message goes to the debugger, then the system stops
/// with bug check 0x139 (KERNEL_SECURITY_CHECK_FAILURE) and parameter 1 = 7
/// (FAST_FAIL_FATAL_APP_EXIT), the same `__fastfail` that Rust's `abort` uses on Windows.
#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    let mut message = MessageBuffer::new();
    // A truncated message is still worth printing; the writer never fails otherwise.
    let _ = write!(message, "{info}");
    // SAFETY: the format and the argument are NUL-terminated byte strings that outlive the call,
    // and `%s` of an ANSI string may be printed at any IRQL up to DIRQL.
    unsafe { DbgPrint(c"avcam: %s\n".as_ptr().cast(), message.as_c_str()) };
    fast_fail()
}

/// `__fastfail(FAST_FAIL_FATAL_APP_EXIT)`.
fn fast_fail() -> ! {
    // SAFETY: `int 0x29` is `__fastfail`: it does not return, touches no memory of ours, and in
    // kernel mode raises the bug check described on `panic`.
    unsafe {
        core::arch::asm!(
            "int 0x29",
            in("ecx") FAST_FAIL_FATAL_APP_EXIT,
            options(noreturn, nostack)
        )
    }
}

/// A fixed, NUL-terminated text buffer for the panic message (no allocation while panicking).
struct MessageBuffer {
    bytes: [u8; 256],
    len: usize,
}

impl MessageBuffer {
    const fn new() -> Self {
        MessageBuffer {
            bytes: [0; 256],
            len: 0,
        }
    }

    /// The text so far, NUL-terminated (the last byte is never written).
    fn as_c_str(&self) -> *const u8 {
        self.bytes.as_ptr()
    }
}

impl Write for MessageBuffer {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let room = self.bytes.len() - 1 - self.len;
        // `%s` stops at a NUL: replace any inside the message.
        for (slot, byte) in self.bytes[self.len..]
            .iter_mut()
            .zip(text.bytes().take(room))
        {
            *slot = if byte == 0 { b'?' } else { byte };
        }
        self.len += text.len().min(room);
        if text.len() > room {
            Err(fmt::Error)
        } else {
            Ok(())
        }
    }
}

// The two symbols the linker needs by name are defined here in assembly rather than with
// `#[no_mangle]`, because rustc exports every `#[no_mangle]` item of a cdylib and the driver must
// export nothing but the allocator's Ks* functions:
// - `DriverEntry`, the image entry point (`/ENTRY:DriverEntry`): a tail jump to the Rust function;
// - `_fltused`, the MSVC marker that floating point is used, which LLVM references from any
//   function with floating-point arguments (wdk-sys defines it on the official path).
core::arch::global_asm!(
    ".globl DriverEntry",
    ".p2align 4",
    "DriverEntry:",
    "    jmp {driver_entry}",
    driver_entry = sym crate::driver_entry::DriverEntry,
);
#[cfg(not(feature = "wdk"))]
core::arch::global_asm!(
    ".section .rdata,\"dr\"",
    ".globl _fltused",
    ".p2align 2",
    "_fltused:",
    "    .long 0",
    ".text",
);

// `__chkstk`: called by any function whose frame is larger than a page, with the frame size in
// rax, before it moves rsp. It touches one byte in every page from the caller's stack pointer down
// to rsp - rax, in order, so that a stack overflow hits the guard page below the kernel stack
// (a clean bug check) instead of skipping it. Preserves every register except r10, r11 and flags.
core::arch::global_asm!(
    ".globl __chkstk",
    ".p2align 4",
    "__chkstk:",
    "    push rcx",
    "    push rax",
    // The caller's stack pointer before its `call`: return address + the two pushes above.
    "    lea rcx, [rsp + 24]",
    "    cmp rax, 0x1000",
    "    jb 3f",
    "2:",
    "    sub rcx, 0x1000",
    "    test qword ptr [rcx], rcx",
    "    sub rax, 0x1000",
    "    cmp rax, 0x1000",
    "    ja 2b",
    "3:",
    "    sub rcx, rax",
    "    test qword ptr [rcx], rcx",
    "    pop rax",
    "    pop rcx",
    "    ret",
);

/// Non-paged, no-execute pool through `ExAllocatePool2`, tagged [`POOL_TAG`].
struct NonPagedPool;

// SAFETY: ExAllocatePool2 returns null or a block of at least `bytes` bytes aligned to 16
// (MEMORY_ALLOCATION_ALIGNMENT), zero-filled unless POOL_FLAG_UNINITIALIZED is given, owned by the
// caller until ExFreePoolWithTag.
unsafe impl Pool for NonPagedPool {
    fn allocate(&self, bytes: usize, zeroed: bool) -> *mut u8 {
        let flags = if zeroed {
            POOL_FLAG_NON_PAGED
        } else {
            POOL_FLAG_NON_PAGED | POOL_FLAG_UNINITIALIZED
        };
        // SAFETY: ExAllocatePool2 with non-paged pool is callable at IRQL <= DISPATCH_LEVEL, where
        // all of the driver's code runs; it has no other precondition.
        unsafe { avcam_kernel::ExAllocatePool2(flags, bytes, POOL_TAG) }.cast()
    }

    unsafe fn free(&self, block: *mut u8) {
        // SAFETY: `block` came from ExAllocatePool2 with POOL_TAG (the `Pool::free` contract).
        unsafe { avcam_kernel::ExFreePoolWithTag(block.cast(), POOL_TAG) };
    }
}

#[global_allocator]
static ALLOCATOR: PoolAllocator<NonPagedPool> = PoolAllocator::new(NonPagedPool);
