//! The loader on small images of its own: what it maps, relocates and binds runs (calls into the
//! emulation with the Windows x64 convention, reads relocated pointers and data imports), with
//! each section's protection; and every image it cannot honour is refused with its reason.
// The loader maps and runs images only on Linux x86_64.
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

mod support;

use std::path::Path;

use avcam_emulation::Kernel;
use avcam_loader::symbols::Symbols;
use avcam_loader::{Image, LoadError};
use object::pe;
use support::{Code, Fixture, ImportName, DATA_RVA, IMAGE_BASE, RDATA_RVA, TEXT_RVA};

/// Loads a fixture built from `code`.
fn load(fixture: &Fixture, code: &Code) -> Result<Image, LoadError> {
    Image::from_bytes(
        &fixture.build(code.bytes()),
        Path::new("fixture.sys"),
        Symbols::none(),
        None,
    )
}

/// Calls the image's entry point the way the fixtures use it: `entry(out)`, which writes its
/// results to `out`.
fn run(image: &Image, out: &mut [u64; 4]) -> i32 {
    let entry = image.driver_entry();
    // SAFETY: the fixtures' entry points take a pointer to four writable u64 as their first
    // argument (the DRIVER_OBJECT slot) and ignore the second.
    unsafe { entry(out.as_mut_ptr().cast(), std::ptr::null_mut()) }
}

/// The permissions /proc/self/maps shows for the mapping that contains `address`.
fn permissions(address: usize) -> Option<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("/proc/self/maps");
    maps.lines().find_map(|line| {
        let (range, rest) = line.split_once(' ')?;
        let (start, end) = range.split_once('-')?;
        let (start, end) = (
            usize::from_str_radix(start, 16).ok()?,
            usize::from_str_radix(end, 16).ok()?,
        );
        (start <= address && address < end).then(|| rest[..4].to_owned())
    })
}

#[test]
fn imports_are_bound_to_the_emulation_and_called_with_the_windows_x64_convention() {
    let fixture = Fixture {
        imports: vec![(
            "ntoskrnl.exe",
            vec![
                ImportName::Name("ExAllocatePool2"),
                ImportName::Name("ExEventObjectType"),
            ],
        )],
        ..Fixture::default()
    };
    let layout = fixture.layout();
    // out[0] = ExAllocatePool2(POOL_FLAG_NON_PAGED, 48, 'Fxt1'); out[1] = *ExEventObjectType.
    let code = Code::new()
        .prologue()
        .mov_ecx(0x40)
        .mov_edx(48)
        .mov_r8d(u32::from_le_bytes(*b"Fxt1"))
        .call_slot(layout.slot(0, 0))
        .store_rax_at_rbx(0)
        .load_rax(layout.slot(0, 1))
        .deref_rax()
        .store_rax_at_rbx(8)
        .epilogue();
    let image = load(&fixture, &code).expect("loads");
    assert_eq!(image.imports_bound(), 2);

    let kernel = Kernel::new();
    let mut out = [0u64; 4];
    let status = {
        let _entered = kernel.enter();
        run(&image, &mut out)
    };
    assert_eq!(status, 0);
    let blocks = kernel.pool().outstanding();
    let block = blocks
        .iter()
        .find(|b| b.tag == avcam_emulation::Tag(u32::from_le_bytes(*b"Fxt1")))
        .expect("the image's allocation is in the emulation's pool");
    assert_eq!(block.size, 48);
    assert_eq!(block.address, out[0] as usize);
    // SAFETY: the emulation's data export, initialised once and never written.
    let event_type = unsafe { avcam_kernel::ExEventObjectType };
    assert_eq!(out[1] as usize, event_type as usize);
    let _entered = kernel.enter();
    // SAFETY: the block the image allocated with this tag, freed once.
    unsafe { avcam_kernel::ExFreePoolWithTag(out[0] as *mut _, u32::from_le_bytes(*b"Fxt1")) };
}

#[test]
fn dir64_relocations_move_pointers_to_the_load_address() {
    // .data: [0] a pointer to .data+8 (linked at IMAGE_BASE), [8] a magic number.
    let mut data = Vec::new();
    data.extend_from_slice(&(IMAGE_BASE + u64::from(DATA_RVA) + 8).to_le_bytes());
    data.extend_from_slice(&0x1234_5678_9ABC_DEF0u64.to_le_bytes());
    let fixture = Fixture {
        data,
        relocations: vec![(DATA_RVA, pe::IMAGE_REL_BASED_DIR64.0)],
        ..Fixture::default()
    };
    // out[0] = the relocated pointer; out[1] = what it points to.
    let code = Code::new()
        .prologue()
        .load_rax(DATA_RVA)
        .store_rax_at_rbx(0)
        .deref_rax()
        .store_rax_at_rbx(8)
        .epilogue();
    let image = load(&fixture, &code).expect("loads");
    assert_eq!(image.relocations_applied(), 1);
    let mut out = [0u64; 4];
    assert_eq!(run(&image, &mut out), 0);
    assert_eq!(out[0] as usize, image.base() + DATA_RVA as usize + 8);
    assert_ne!(
        image.base() as u64,
        IMAGE_BASE,
        "loaded elsewhere than linked"
    );
    assert_eq!(out[1], 0x1234_5678_9ABC_DEF0);
}

#[test]
fn sections_get_their_protections_and_dropping_the_image_unmaps_it() {
    let fixture = Fixture::default();
    let image = load(&fixture, &Code::new().epilogue()).expect("loads");
    let base = image.base();
    assert_eq!(permissions(base).as_deref(), Some("r--p"), "headers");
    assert_eq!(
        permissions(base + TEXT_RVA as usize).as_deref(),
        Some("r-xp")
    );
    assert_eq!(
        permissions(base + RDATA_RVA as usize).as_deref(),
        Some("r--p")
    );
    assert_eq!(
        permissions(base + DATA_RVA as usize).as_deref(),
        Some("rw-p")
    );
    drop(image);
    assert_eq!(permissions(base + TEXT_RVA as usize), None);
}

#[test]
fn images_the_loader_cannot_honour_are_refused_with_the_reason() {
    let code = Code::new().epilogue();
    let refused = |fixture: Fixture| load(&fixture, &code).expect_err("refused").to_string();

    let i386 = refused(Fixture {
        machine: 0x014C,
        ..Fixture::default()
    });
    assert_eq!(i386, "machine 0x014c is not AMD64 (0x8664)");
    let arm64 = refused(Fixture {
        machine: 0xAA64,
        ..Fixture::default()
    });
    assert_eq!(arm64, "machine 0xaa64 is not AMD64 (0x8664)");

    let highlow = refused(Fixture {
        relocations: vec![(DATA_RVA, pe::IMAGE_REL_BASED_HIGHLOW.0)],
        ..Fixture::default()
    });
    assert_eq!(
        highlow,
        "base relocation type 3 at 0x3000 is not supported (only DIR64)"
    );

    let ordinal = refused(Fixture {
        imports: vec![("ntoskrnl.exe", vec![ImportName::Ordinal(42)])],
        ..Fixture::default()
    });
    assert_eq!(
        ordinal,
        "ntoskrnl.exe is imported by ordinal 42; only names are bound"
    );

    let unknown = refused(Fixture {
        imports: vec![(
            "ntoskrnl.exe",
            vec![
                ImportName::Name("ExAllocatePool2"),
                ImportName::Name("KeBugCheckEx"),
            ],
        )],
        ..Fixture::default()
    });
    assert_eq!(
        unknown,
        "the emulation does not provide the import ntoskrnl.exe!KeBugCheckEx (add it to \
         ks::kernel_services! and the emulation)"
    );
    let other_module = refused(Fixture {
        imports: vec![(
            "hal.dll",
            vec![ImportName::Name("KeQueryPerformanceCounter")],
        )],
        ..Fixture::default()
    });
    assert!(
        other_module.contains("hal.dll!KeQueryPerformanceCounter"),
        "{other_module}"
    );

    let tls = refused(Fixture {
        tls: true,
        ..Fixture::default()
    });
    assert_eq!(tls, "the image has a TLS directory");
    let delay = refused(Fixture {
        delay_load: true,
        ..Fixture::default()
    });
    assert_eq!(delay, "the image has delay-load imports");

    let writable = refused(Fixture {
        writable_code: true,
        ..Fixture::default()
    });
    assert_eq!(writable, "section .text is both writable and executable");

    let entry = refused(Fixture {
        entry_offset: 0x1000 + 0x10,
        ..Fixture::default()
    });
    assert_eq!(
        entry,
        "the entry point 0x2010 is not in an executable section"
    );

    let alignment = refused(Fixture {
        section_alignment: 0x200,
        ..Fixture::default()
    });
    assert_eq!(
        alignment,
        "section alignment 0x200 is not a multiple of the page size"
    );
}

#[test]
fn truncated_and_missing_files_are_refused() {
    let bytes = Fixture::default().build(Code::new().epilogue().bytes());
    for len in [0, 2, 0x40, 0x100] {
        let error = Image::from_bytes(&bytes[..len], Path::new("cut.sys"), Symbols::none(), None)
            .expect_err("refused");
        assert!(
            matches!(error, LoadError::Malformed(_)),
            "{len} bytes: {error}"
        );
    }
    let missing = Image::load("/nonexistent/avcam.sys").expect_err("refused");
    assert!(
        missing
            .to_string()
            .starts_with("cannot read /nonexistent/avcam.sys: "),
        "{missing}"
    );
}

#[test]
fn the_map_next_to_the_image_is_read_and_exports_are_absent_from_fixtures() {
    let dir = support::scratch_dir("map");
    let image_path = dir.join("fixture.sys");
    std::fs::write(
        &image_path,
        Fixture::default().build(Code::new().epilogue().bytes()),
    )
    .unwrap();
    std::fs::write(
        dir.join("fixture.map"),
        support::map_text(&[("DriverEntry", TEXT_RVA)]),
    )
    .unwrap();
    let image = Image::load(&image_path).expect("loads");
    assert_eq!(image.path(), image_path);
    assert_eq!(image.export_address("KsCreateDefaultAllocatorEx"), None);
    drop(image);
    std::fs::remove_dir_all(dir).unwrap();
}
