//! A bug check inside a loaded image ends the process with a report naming the bug check, the
//! offset in the image and the nearest symbol of its map, never a bare signal; a fault outside
//! every image is left to the disposition that was there before.
//!
//! Each case runs in a child process (this test binary again, running one ignored test with
//! `AVCAM_FAULT_CASE` saying what to do), because the report ends the process it happens in.
// The loader maps and runs images only on Linux x86_64.
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

mod support;

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output};

use avcam_loader::{Image, BUG_CHECK_EXIT_STATUS};
use support::{map_text, scratch_dir, Code, Fixture, ImportName, RDATA_RVA, TEXT_RVA};

/// Runs the child test with `case` and returns what it printed and how it ended.
fn run_child(case: &str) -> Output {
    Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            "--exact",
            "child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("AVCAM_FAULT_CASE", case)
        .output()
        .expect("the child runs")
}

/// Builds the fixture image for `case` with a map naming its function, loads it, and runs it.
fn run_case(case: &str) {
    let dir = scratch_dir(case);
    let (fixture, code, symbol) = match case {
        "int3" => (
            Fixture::default(),
            // Three nops, then the planted int3, as if the third instruction of the function
            // had been patched.
            Code::new().raw(&[0x90, 0x90, 0x90]).int3().epilogue(),
            "_RNvNtCs4fqI2P2rA04_5avcam10frame_path11pin_process",
        ),
        "panic" => {
            // The panic handler's tail: DbgPrint("avcam: %s\n", message), then __fastfail(7).
            let fixture = Fixture {
                imports: vec![("ntoskrnl.exe", vec![ImportName::Name("DbgPrint")])],
                ..Fixture::default()
            };
            let layout = fixture.layout();
            let format = RDATA_RVA + 0x100;
            let message = RDATA_RVA + 0x110;
            let code = Code::new()
                .prologue()
                .lea_rcx(format)
                .lea_rdx(message)
                .call_slot(layout.slot(0, 0))
                .fast_fail(7);
            (
                fixture,
                code,
                "_RNvCsfgHYwM92fyn_7___rustc17rust_begin_unwind",
            )
        }
        other => panic!("unknown case {other}"),
    };
    let mut bytes = fixture.build(code.bytes());
    if case == "panic" {
        // The strings, in .rdata past the import tables.
        let rdata_file = file_offset_of(&bytes, RDATA_RVA);
        put(&mut bytes, rdata_file + 0x100, b"avcam: %s\n\0");
        put(
            &mut bytes,
            rdata_file + 0x110,
            b"panicked at src/planted.rs:1:1:\nplanted\0",
        );
    }
    let path = dir.join("fixture.sys");
    std::fs::write(&path, bytes).unwrap();
    std::fs::write(dir.join("fixture.map"), map_text(&[(symbol, TEXT_RVA)])).unwrap();
    let image = Image::load(&path).expect("loads");
    let entry = image.driver_entry();
    let mut out = [0u64; 4];
    // SAFETY: the fixture's entry point takes a writable pointer in its first argument.
    unsafe { entry(out.as_mut_ptr().cast(), std::ptr::null_mut()) };
    unreachable!("the image bug checks");
}

/// The file offset of `rva` in a fixture (its section headers, read back).
fn file_offset_of(bytes: &[u8], rva: u32) -> usize {
    let file = object::read::pe::PeFile64::parse(bytes).expect("a fixture");
    file.section_table()
        .iter()
        .find_map(|s| {
            let start = s.virtual_address.get(object::LittleEndian);
            let offset = s.pointer_to_raw_data.get(object::LittleEndian);
            (start == rva).then_some(offset as usize)
        })
        .expect("the section")
}

fn put(bytes: &mut [u8], at: usize, data: &[u8]) {
    bytes[at..at + data.len()].copy_from_slice(data);
}

/// What the parent tests run in a child process.
#[test]
#[ignore = "run in a child process by the other tests of this file"]
fn child() {
    let case = std::env::var("AVCAM_FAULT_CASE").expect("run by a parent test");
    if case == "outside" {
        // Load an image (installing the handler), then fault in Rust code, not in the image.
        let _image = Image::from_bytes(
            &Fixture::default().build(Code::new().epilogue().bytes()),
            std::path::Path::new("idle.sys"),
            avcam_loader::symbols::Symbols::none(),
            None,
        )
        .expect("loads");
        // SAFETY: raise has no preconditions; the default action ends the process.
        unsafe { libc::raise(libc::SIGTRAP) };
        unreachable!("SIGTRAP's default action ends the process");
    }
    run_case(&case);
}

#[test]
fn an_int3_in_the_image_is_bug_check_0x1e_with_its_offset_and_symbol() {
    let output = run_child("int3");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(BUG_CHECK_EXIT_STATUS),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "*** fixture.sys: bug check 0x0000001E KMODE_EXCEPTION_NOT_HANDLED in the driver image"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("0x80000003 STATUS_BREAKPOINT"), "{stderr}");
    assert!(
        stderr.contains("at fixture.sys+0x1003: avcam::frame_path::pin_process+0x3 ("),
        "{stderr}"
    );
    assert!(stderr.contains("fixture.map)"), "{stderr}");
}

#[test]
fn the_panic_path_prints_the_message_then_bug_check_0x139() {
    let output = run_child("panic");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(BUG_CHECK_EXIT_STATUS),
        "{stderr}"
    );
    let message = stderr
        .find("avcam: panicked at src/planted.rs:1:1:\nplanted\n")
        .expect("DbgPrint's text reaches standard error");
    let report = stderr
        .find("bug check 0x00000139 KERNEL_SECURITY_CHECK_FAILURE")
        .expect("the report");
    assert!(message < report, "{stderr}");
    assert!(stderr.contains("FAST_FAIL_FATAL_APP_EXIT"), "{stderr}");
    assert!(stderr.contains("parameters 0x7, 0x0, 0x0, 0x0"), "{stderr}");
    assert!(
        stderr.contains(": __rustc::rust_begin_unwind+0x"),
        "{stderr}"
    );
}

#[test]
fn a_fault_outside_every_image_keeps_its_previous_disposition() {
    let output = run_child("outside");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.signal(), Some(libc::SIGTRAP), "{stderr}");
    assert!(!stderr.contains("bug check"), "{stderr}");
}
