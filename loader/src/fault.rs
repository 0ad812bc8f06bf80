//! Bug checks inside a loaded image.
//!
//! The image cannot unwind: its panic handler prints the message with `DbgPrint` and executes
//! `int 0x29` (`__fastfail`), which on Windows is bug check 0x139, and any other fault in its code
//! (an `int3`, a bad pointer, an illegal instruction) would be bug check 0x1E. In this process the
//! CPU raises a signal instead (SIGSEGV for `int 0x29` in user mode, SIGTRAP, SIGSEGV, SIGBUS,
//! SIGILL, SIGFPE). The loader's handler for those signals looks at the faulting instruction: if
//! it lies in a loaded image, it writes one report naming the bug check Windows would raise (code,
//! name, parameters), the offset in the image and the nearest symbol of its linker map, and ends
//! the process at once with [`BUG_CHECK_EXIT_STATUS`] (`_exit`: no unwinding through the image's
//! frames, no destructors, as on a stopped machine). A fault anywhere else goes to the handler that
//! was there before (Rust's stack-overflow handler, or the default action).
//!
//! Which bug check Windows raises for an exception depends on where it happens (0x1E
//! KMODE_EXCEPTION_NOT_HANDLED, 0x7E in a system thread, 0x8E, 0x50 or 0xD1 for some page faults);
//! the report always names 0x1E with the exception code, which carries the same information
//! (docs/ks-fidelity.md: a guess). `int 0x29` is always 0x139 with the fast-fail code in
//! parameter 1 (learn.microsoft.com, Bug Check 0x139).
//!
//! The handler runs on the faulting thread's alternate signal stack when it has one (std gives one
//! to every thread it starts), allocates nothing, and writes the report with one `write(2)` from
//! a stack of its own (the alternate stack is too small for formatting in an unoptimised build).

use std::ffi::{c_int, c_void};
use std::fmt;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Once, OnceLock};

use crate::symbols::Symbols;

/// The exit status of a process whose loaded image bug checked.
pub const BUG_CHECK_EXIT_STATUS: i32 = 70;

/// The signals a fault in the image raises.
const SIGNALS: [c_int; 5] = [
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGILL,
    libc::SIGTRAP,
    libc::SIGFPE,
];

/// How many images can be loaded at once.
const SLOTS: usize = 64;

/// A loaded image as the handler sees it.
#[derive(Debug)]
pub(crate) struct Region {
    /// The mapping's first byte.
    pub(crate) base: usize,
    /// Its length.
    pub(crate) len: usize,
    /// The image's file name (`avcam.sys`).
    pub(crate) name: String,
    /// Where it was loaded from.
    pub(crate) path: String,
    /// Its linker map, if one was found.
    pub(crate) map: Option<String>,
    /// The map's symbols.
    pub(crate) symbols: Symbols,
}

/// The loaded images; null slots are free.
static REGIONS: [AtomicPtr<Region>; SLOTS] = [const { AtomicPtr::new(ptr::null_mut()) }; SLOTS];
/// Handlers currently reading `REGIONS` (an unregistering image waits for them).
static IN_HANDLER: AtomicUsize = AtomicUsize::new(0);
/// The dispositions the loader replaced, in `SIGNALS` order.
static PREVIOUS: OnceLock<[libc::sigaction; SIGNALS.len()]> = OnceLock::new();
static INSTALL: Once = Once::new();

/// An image known to the handler until this drops.
#[derive(Debug)]
pub(crate) struct Registration {
    slot: usize,
}

/// Makes `region` known to the fault handler (installing the handler the first time); None when
/// [`SLOTS`] images are loaded already.
pub(crate) fn register(region: Region) -> Option<Registration> {
    install();
    let raw = Box::into_raw(Box::new(region));
    for (slot, entry) in REGIONS.iter().enumerate() {
        if entry
            .compare_exchange(ptr::null_mut(), raw, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            return Some(Registration { slot });
        }
    }
    // SAFETY: `raw` came from Box::into_raw above and was stored in no slot.
    drop(unsafe { Box::from_raw(raw) });
    None
}

impl Drop for Registration {
    fn drop(&mut self) {
        let raw = REGIONS[self.slot].swap(ptr::null_mut(), Ordering::AcqRel);
        // A handler that loaded the pointer before the swap is done with it before it is freed.
        while IN_HANDLER.load(Ordering::Acquire) != 0 {
            std::thread::yield_now();
        }
        // SAFETY: the slot held the pointer `register` made with Box::into_raw; no handler can
        // load it any more (swapped out) and none still uses it (waited for above).
        drop(unsafe { Box::from_raw(raw) });
    }
}

/// Installs the handler for every signal in [`SIGNALS`], once per process, remembering the
/// dispositions it replaces first.
fn install() {
    INSTALL.call_once(|| {
        // SAFETY: all-zero is a valid sigaction (SIG_DFL, no flags, an empty mask).
        let mut previous: [libc::sigaction; SIGNALS.len()] = unsafe { std::mem::zeroed() };
        for (signal, old) in SIGNALS.iter().zip(previous.iter_mut()) {
            // SAFETY: a query (no new action) writing into a sigaction we own.
            let result = unsafe { libc::sigaction(*signal, ptr::null(), old) };
            assert_eq!(result, 0, "sigaction query of signal {signal}");
        }
        PREVIOUS
            .set(previous)
            .expect("the dispositions are recorded once");
        let stack: &'static mut [u128] = vec![0u128; EMERGENCY_STACK / 16].leak();
        let top = stack.as_mut_ptr_range().end as usize;
        EMERGENCY_STACK_TOP.store(top, Ordering::Release);
        for signal in SIGNALS {
            // SAFETY: all-zero is a valid sigaction (SIG_DFL, no flags, an empty mask); it is
            // filled in below.
            let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
            action.sa_sigaction = on_fault
                as extern "C" fn(c_int, *mut libc::siginfo_t, *mut c_void)
                as libc::sighandler_t;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            // SAFETY: `action` is a live sigaction and `on_fault` has the SA_SIGINFO signature.
            let result = unsafe { libc::sigaction(signal, &action, ptr::null_mut()) };
            assert_eq!(result, 0, "sigaction of signal {signal}");
        }
    });
}

/// What the CPU reported, as the handler reads it from the signal.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Trap {
    /// The signal.
    pub(crate) signal: c_int,
    /// `si_code`.
    pub(crate) code: c_int,
    /// `si_addr`: the address accessed (page faults) or the instruction (others).
    pub(crate) address: usize,
    /// The instruction pointer (after the instruction for a trap such as `int3`).
    pub(crate) rip: usize,
    /// `rcx` (`__fastfail`'s code).
    pub(crate) rcx: u64,
}

/// The bug check a fault in the image stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BugCheck {
    /// The bug check code.
    pub(crate) code: u32,
    /// Its name.
    pub(crate) name: &'static str,
    /// Its four parameters.
    pub(crate) parameters: [u64; 4],
    /// What happened, in words.
    pub(crate) what: &'static str,
    /// The faulting instruction's address.
    pub(crate) instruction: usize,
}

/// `si_code` of SIGFPE for an integer overflow (`<asm-generic/siginfo.h>`; the libc crate lacks it).
const FPE_INTOVF: c_int = 2;
/// `si_code` of SIGFPE for an integer division by zero (`<asm-generic/siginfo.h>`).
#[cfg(test)]
const FPE_INTDIV: c_int = 1;
/// `si_code` of SIGSEGV for an unmapped address (`<asm-generic/siginfo.h>`).
#[cfg(test)]
const SEGV_MAPERR: c_int = 1;

/// `__fastfail`'s code for an abort the program asked for (Rust's panic path).
const FAST_FAIL_FATAL_APP_EXIT: u64 = 7;

/// The bug check for `trap`, if its instruction lies in the image whose bytes `read` gives
/// (`read(address)` is the byte there when the address is inside the image).
pub(crate) fn classify(trap: &Trap, read: impl Fn(usize) -> Option<u8>) -> Option<BugCheck> {
    let exception = |code: u32, what, instruction: usize, parameter: u64| BugCheck {
        code: 0x1E,
        name: "KMODE_EXCEPTION_NOT_HANDLED",
        parameters: [u64::from(code), instruction as u64, 0, parameter],
        what,
        instruction,
    };
    match trap.signal {
        libc::SIGTRAP => {
            // int3 is a trap: rip is past it.
            let instruction = trap.rip.checked_sub(1)?;
            (read(instruction)? == 0xCC).then(|| {
                exception(
                    0x8000_0003,
                    "exception 0x80000003 STATUS_BREAKPOINT: an int3 in the image's code (no \
                     kernel debugger attached)",
                    instruction,
                    0,
                )
            })
        }
        libc::SIGSEGV | libc::SIGBUS => {
            let first = read(trap.rip)?;
            if first == 0xCD && read(trap.rip + 1) == Some(0x29) {
                return Some(BugCheck {
                    code: 0x139,
                    name: "KERNEL_SECURITY_CHECK_FAILURE",
                    parameters: [trap.rcx, 0, 0, 0],
                    what: if trap.rcx == FAST_FAIL_FATAL_APP_EXIT {
                        "int 0x29 (__fastfail) with code 7, FAST_FAIL_FATAL_APP_EXIT: a fatal \
                         program exit was requested (the driver's panic handler; its message, if \
                         any, is printed above by DbgPrint)"
                    } else {
                        "int 0x29 (__fastfail): parameter 1 is the fast-fail code"
                    },
                    instruction: trap.rip,
                });
            }
            Some(if trap.code == libc::SI_KERNEL {
                exception(
                    0xC000_0096,
                    "exception 0xC0000096 STATUS_PRIVILEGED_INSTRUCTION: a general-protection \
                     fault in user mode (a privileged instruction, which scripts/check-driver.sh \
                     forbids, or a non-canonical address)",
                    trap.rip,
                    0,
                )
            } else {
                exception(
                    0xC000_0005,
                    "exception 0xC0000005 STATUS_ACCESS_VIOLATION: parameter 4 is the address \
                     accessed",
                    trap.rip,
                    trap.address as u64,
                )
            })
        }
        libc::SIGILL => {
            read(trap.rip)?;
            Some(exception(
                0xC000_001D,
                "exception 0xC000001D STATUS_ILLEGAL_INSTRUCTION",
                trap.rip,
                0,
            ))
        }
        libc::SIGFPE => {
            read(trap.rip)?;
            Some(if trap.code == FPE_INTOVF {
                exception(
                    0xC000_0095,
                    "exception 0xC0000095 STATUS_INTEGER_OVERFLOW",
                    trap.rip,
                    0,
                )
            } else {
                exception(
                    0xC000_0094,
                    "exception 0xC0000094 STATUS_INTEGER_DIVIDE_BY_ZERO",
                    trap.rip,
                    0,
                )
            })
        }
        _ => None,
    }
}

/// Writes the report of `bug` in `region` (thread `thread`).
pub(crate) fn report(
    out: &mut impl fmt::Write,
    region: &Region,
    bug: &BugCheck,
    thread: i64,
) -> fmt::Result {
    let offset = bug.instruction - region.base;
    writeln!(out)?;
    writeln!(
        out,
        "*** {}: bug check 0x{:08X} {} in the driver image",
        region.name, bug.code, bug.name
    )?;
    writeln!(out, "    {}", bug.what)?;
    write!(out, "    at {}+{offset:#x}", region.name)?;
    let symbol = u32::try_from(offset)
        .ok()
        .and_then(|rva| region.symbols.nearest(rva));
    match (symbol, &region.map) {
        (Some((name, from)), Some(map)) => writeln!(out, ": {name}+{from:#x} ({map})")?,
        (None, Some(map)) => writeln!(out, " (no symbol before it in {map})")?,
        (_, None) => writeln!(out, " (no linker map next to the image to name it)")?,
    }
    let [p1, p2, p3, p4] = bug.parameters;
    writeln!(out, "    parameters {p1:#x}, {p2:#x}, {p3:#x}, {p4:#x}")?;
    writeln!(
        out,
        "    image {} loaded at {:#x}..{:#x}; thread {thread}",
        region.path,
        region.base,
        region.base + region.len
    )?;
    writeln!(
        out,
        "    Windows would stop here; avcam-loader ends the process with status {BUG_CHECK_EXIT_STATUS}."
    )
}

/// A fixed buffer for the report (no allocation in the signal handler); text past its end is
/// dropped.
struct ReportBuffer {
    bytes: [u8; 2048],
    len: usize,
}

impl fmt::Write for ReportBuffer {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let room = self.bytes.len() - self.len;
        let take = text.len().min(room);
        self.bytes[self.len..self.len + take].copy_from_slice(&text.as_bytes()[..take]);
        self.len += take;
        Ok(())
    }
}

/// The signal handler (see the module documentation).
extern "C" fn on_fault(signal: c_int, info: *mut libc::siginfo_t, context: *mut c_void) {
    IN_HANDLER.fetch_add(1, Ordering::AcqRel);
    // SAFETY: for an SA_SIGINFO handler the kernel passes the interrupted ucontext_t.
    let registers = unsafe { &(*context.cast::<libc::ucontext_t>()).uc_mcontext.gregs };
    // SAFETY: for an SA_SIGINFO handler the kernel passes a valid siginfo_t.
    let info = unsafe { &*info };
    let trap = Trap {
        signal,
        code: info.si_code,
        // SAFETY: every signal handled here is a fault, whose siginfo carries si_addr.
        address: unsafe { info.si_addr() } as usize,
        rip: registers[libc::REG_RIP as usize] as usize,
        rcx: registers[libc::REG_RCX as usize] as u64,
    };
    for entry in &REGIONS {
        let region = entry.load(Ordering::Acquire);
        // SAFETY: a non-null slot points to a live Region until its Registration swaps it out
        // and then waits for IN_HANDLER, which this handler holds.
        let Some(region) = (unsafe { region.as_ref() }) else {
            continue;
        };
        let read = |address: usize| {
            (address >= region.base && address < region.base + region.len).then(|| {
                // SAFETY: inside the image's mapping, which is readable (every section is at
                // least read-only, and so are the headers) while it is registered.
                unsafe { (address as *const u8).read_volatile() }
            })
        };
        if let Some(bug) = classify(&trap, read) {
            let pending = Pending {
                region,
                bug,
                // SAFETY: gettid has no preconditions.
                thread: unsafe { libc::syscall(libc::SYS_gettid) },
            };
            report_on_emergency_stack(&pending);
        }
    }
    IN_HANDLER.fetch_sub(1, Ordering::AcqRel);
    chain(signal, info, context);
}

/// A bug check found by the handler, for [`report_and_exit`].
struct Pending<'a> {
    region: &'a Region,
    bug: BugCheck,
    thread: i64,
}

/// The stack the report is written on (the alternate signal stack std gives each thread is a
/// few KiB, too small for formatting in an unoptimised build): allocated when the handler is
/// installed, used by the first thread that reports (the process ends after it).
static EMERGENCY_STACK_TOP: AtomicUsize = AtomicUsize::new(0);
/// Its size.
const EMERGENCY_STACK: usize = 256 * 1024;
/// Set by the first thread that reports.
static REPORTING: AtomicBool = AtomicBool::new(false);

/// Moves to the emergency stack and reports `pending` there; never returns. A second thread
/// faulting while the first reports waits for the process to end.
fn report_on_emergency_stack(pending: &Pending<'_>) -> ! {
    let top = EMERGENCY_STACK_TOP.load(Ordering::Acquire);
    if top == 0 || REPORTING.swap(true, Ordering::AcqRel) {
        loop {
            // SAFETY: pause has no preconditions; the reporting thread ends the process.
            unsafe { libc::pause() };
        }
    }
    // SAFETY: `top` is the 16-byte aligned end of a live, unused allocation of EMERGENCY_STACK
    // bytes (made in `install`, never freed, claimed by this thread alone through REPORTING);
    // `report_and_exit` never returns, so nothing runs on the abandoned stack again, and
    // `pending` stays valid there (the handler's frame is never popped).
    unsafe {
        std::arch::asm!(
            "mov rsp, {top}",
            "call {report}",
            "ud2",
            top = in(reg) top,
            report = sym report_and_exit,
            in("rdi") pending as *const Pending<'_>,
            options(noreturn)
        )
    }
}

/// Writes the report of `pending` to standard error in one write and ends the process with
/// [`BUG_CHECK_EXIT_STATUS`].
extern "C" fn report_and_exit(pending: *const Pending<'_>) -> ! {
    // SAFETY: the handler passes a Pending on its own frame, which is never popped.
    let pending = unsafe { &*pending };
    let mut buffer = ReportBuffer {
        bytes: [0; 2048],
        len: 0,
    };
    let _ = report(&mut buffer, pending.region, &pending.bug, pending.thread);
    // SAFETY: writes `len` initialised bytes of the buffer to standard error.
    unsafe { libc::write(2, buffer.bytes.as_ptr().cast(), buffer.len) };
    // SAFETY: ends the process without running anything more of it, as intended.
    unsafe { libc::_exit(BUG_CHECK_EXIT_STATUS) }
}

/// Hands a fault outside every image to the disposition the loader replaced.
fn chain(signal: c_int, info: *const libc::siginfo_t, context: *mut c_void) {
    let index = SIGNALS.iter().position(|s| *s == signal);
    let previous = PREVIOUS.get().zip(index).map(|(all, i)| all[i]);
    match previous {
        Some(action)
            if action.sa_sigaction != libc::SIG_DFL && action.sa_sigaction != libc::SIG_IGN =>
        {
            if action.sa_flags & libc::SA_SIGINFO != 0 {
                // SAFETY: an SA_SIGINFO disposition's handler has this signature.
                let handler = unsafe {
                    std::mem::transmute::<
                        libc::sighandler_t,
                        extern "C" fn(c_int, *const libc::siginfo_t, *mut c_void),
                    >(action.sa_sigaction)
                };
                handler(signal, info, context);
            } else {
                // SAFETY: a plain disposition's handler takes the signal number.
                let handler = unsafe {
                    std::mem::transmute::<libc::sighandler_t, extern "C" fn(c_int)>(
                        action.sa_sigaction,
                    )
                };
                handler(signal);
            }
        }
        other => {
            // SAFETY: all-zero is a valid sigaction (SIG_DFL).
            let fallback: libc::sigaction = unsafe { std::mem::zeroed() };
            let action = other.unwrap_or(fallback);
            // SAFETY: restores a disposition recorded by `install` (or the default); the fault
            // then repeats under it when the handler returns.
            unsafe { libc::sigaction(signal, &action, ptr::null_mut()) };
            if signal == libc::SIGTRAP {
                // A trap does not repeat on return: raise it again under the old disposition.
                // SAFETY: raise has no preconditions.
                unsafe { libc::raise(signal) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write as _;

    fn region(symbols: Symbols) -> Region {
        Region {
            base: 0x7000_0000,
            len: 0x2000,
            name: "avcam.sys".to_owned(),
            path: "/x/avcam.sys".to_owned(),
            map: Some("/x/avcam.map".to_owned()),
            symbols,
        }
    }

    fn bytes(at: usize, code: &'static [u8]) -> impl Fn(usize) -> Option<u8> {
        move |address| {
            let offset = address.checked_sub(at)?;
            code.get(offset).copied()
        }
    }

    fn trap(signal: c_int, code: c_int, rip: usize, rcx: u64) -> Trap {
        Trap {
            signal,
            code,
            address: 0,
            rip,
            rcx,
        }
    }

    #[test]
    fn int_0x29_is_bug_check_0x139_with_the_fast_fail_code() {
        let bug = classify(
            &trap(libc::SIGSEGV, libc::SI_KERNEL, 0x7000_1062, 7),
            bytes(0x7000_1062, &[0xCD, 0x29]),
        )
        .expect("in the image");
        assert_eq!((bug.code, bug.parameters), (0x139, [7, 0, 0, 0]));
        assert_eq!(bug.instruction, 0x7000_1062);
        assert!(bug.what.contains("FAST_FAIL_FATAL_APP_EXIT"));
    }

    #[test]
    fn int3_is_bug_check_0x1e_breakpoint_at_the_int3_itself() {
        let bug = classify(
            &trap(libc::SIGTRAP, 0x80, 0x7000_1101, 0),
            bytes(0x7000_1100, &[0xCC]),
        )
        .expect("in the image");
        assert_eq!(bug.code, 0x1E);
        assert_eq!(bug.parameters, [0x8000_0003, 0x7000_1100, 0, 0]);
        // A trap whose previous byte is not an int3 (a debugger's single step) is not ours.
        assert_eq!(
            classify(
                &trap(libc::SIGTRAP, 0x80, 0x7000_1101, 0),
                bytes(0x7000_1100, &[0x90])
            ),
            None
        );
    }

    #[test]
    fn other_faults_are_exceptions_with_their_codes_and_outside_ones_are_not_ours() {
        let access = Trap {
            address: 0x10,
            ..trap(libc::SIGSEGV, SEGV_MAPERR, 0x7000_1200, 0)
        };
        let bug = classify(&access, bytes(0x7000_1200, &[0x8B, 0x00])).expect("ours");
        assert_eq!(bug.parameters, [0xC000_0005, 0x7000_1200, 0, 0x10]);
        let privileged = trap(libc::SIGSEGV, libc::SI_KERNEL, 0x7000_1200, 0);
        let bug = classify(&privileged, bytes(0x7000_1200, &[0xFA])).expect("ours");
        assert_eq!(bug.parameters[0], 0xC000_0096);
        let illegal = trap(libc::SIGILL, 0, 0x7000_1200, 0);
        let bug = classify(&illegal, bytes(0x7000_1200, &[0x0F, 0x0B])).expect("ours");
        assert_eq!(bug.parameters[0], 0xC000_001D);
        let divide = trap(libc::SIGFPE, FPE_INTDIV, 0x7000_1200, 0);
        assert_eq!(
            classify(&divide, bytes(0x7000_1200, &[0xF7]))
                .expect("ours")
                .parameters[0],
            0xC000_0094
        );
        // The instruction outside the image: the previous handler's business.
        assert_eq!(classify(&access, bytes(0x9000_0000, &[0x8B])), None);
    }

    #[test]
    fn the_report_names_code_offset_symbol_and_map() {
        let map = " Preferred load address is 0000000180000000\n \
                   0001:00000040  _RNvCsfgHYwM92fyn_7___rustc17rust_begin_unwind 0000000180001040  a.o\n";
        let region = region(Symbols::parse_map(map));
        let bug = classify(
            &trap(libc::SIGSEGV, libc::SI_KERNEL, 0x7000_1062, 7),
            bytes(0x7000_1062, &[0xCD, 0x29]),
        )
        .expect("ours");
        let mut text = String::new();
        report(&mut text, &region, &bug, 42).unwrap();
        assert!(
            text.contains(
                "*** avcam.sys: bug check 0x00000139 KERNEL_SECURITY_CHECK_FAILURE in the driver image"
            ),
            "{text}"
        );
        assert!(
            text.contains("at avcam.sys+0x1062: __rustc::rust_begin_unwind+0x22 (/x/avcam.map)"),
            "{text}"
        );
        assert!(text.contains("parameters 0x7, 0x0, 0x0, 0x0"), "{text}");
        assert!(text.contains("status 70"), "{text}");
        let mut without_map = region;
        without_map.map = None;
        let mut text = String::new();
        report(&mut text, &without_map, &bug, 42).unwrap();
        assert!(
            text.contains("at avcam.sys+0x1062 (no linker map"),
            "{text}"
        );
    }

    #[test]
    fn the_report_buffer_truncates_instead_of_failing() {
        let mut buffer = ReportBuffer {
            bytes: [0; 2048],
            len: 0,
        };
        for _ in 0..100 {
            buffer.write_str(&"x".repeat(50)).unwrap();
        }
        assert_eq!(buffer.len, 2048);
    }
}
