//! Small PE images built for the loader's tests with `object`'s PE writer: a `.text` section at
//! RVA 0x1000 (read-execute), `.rdata` at 0x2000 (read-only: the import directory and its
//! tables), `.data` at 0x3000 (read-write), then `.reloc`; the entry point at the start of
//! `.text`. Code is hand-assembled x86-64 ([`Code`]), addressing import slots and data
//! RIP-relatively; fixtures can break one rule each (machine, relocation type, an import by
//! ordinal, a TLS or delay-load directory, a writable code section).
#![allow(dead_code)] // each test binary uses a subset

use object::pe;
use object::write::pe::{NtHeaders, Writer};

/// The linked address of every fixture.
pub const IMAGE_BASE: u64 = 0x1_8000_0000;
/// Where `.text` starts.
pub const TEXT_RVA: u32 = 0x1000;
/// Where `.rdata` starts.
pub const RDATA_RVA: u32 = 0x2000;
/// Where `.data` starts.
pub const DATA_RVA: u32 = 0x3000;
/// `.text`'s size (code is padded to it with int3).
const TEXT_SIZE: u32 = 0x1000;

/// One import of a module.
#[derive(Debug, Clone, Copy)]
pub enum ImportName {
    /// By name.
    Name(&'static str),
    /// By ordinal.
    Ordinal(u16),
}

/// A fixture image to build.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// The COFF machine.
    pub machine: u16,
    /// Imports, per module.
    pub imports: Vec<(&'static str, Vec<ImportName>)>,
    /// `.data`'s initial bytes.
    pub data: Vec<u8>,
    /// Base relocations: (RVA, IMAGE_REL_BASED_* type).
    pub relocations: Vec<(u32, u16)>,
    /// Set the TLS data directory.
    pub tls: bool,
    /// Set the delay-load import data directory.
    pub delay_load: bool,
    /// Make `.text` writable too.
    pub writable_code: bool,
    /// The entry point's offset in `.text` (0: its start).
    pub entry_offset: u32,
    /// `SectionAlignment` (0x1000 unless a test asks for less).
    pub section_alignment: u32,
}

impl Default for Fixture {
    fn default() -> Self {
        Fixture {
            machine: pe::IMAGE_FILE_MACHINE_AMD64.0,
            imports: Vec::new(),
            data: vec![0; 16],
            relocations: Vec::new(),
            tls: false,
            delay_load: false,
            writable_code: false,
            entry_offset: 0,
            section_alignment: 0x1000,
        }
    }
}

/// Where the import tables of a fixture are.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The RVA of the import address table slot of `imports[module][entry]`.
    slots: Vec<Vec<u32>>,
}

impl Layout {
    /// The RVA of an import's slot (module and entry by index in [`Fixture::imports`]).
    pub fn slot(&self, module: usize, entry: usize) -> u32 {
        self.slots[module][entry]
    }
}

impl Fixture {
    /// The import tables' layout in `.rdata` and their bytes.
    fn import_tables(&self) -> (Layout, Vec<u8>, u32) {
        let modules = self.imports.len();
        let mut offset = 20 * (modules as u32 + 1);
        let mut lookup = Vec::new();
        for (_, entries) in &self.imports {
            lookup.push(offset);
            offset += 8 * (entries.len() as u32 + 1);
        }
        let mut address = Vec::new();
        for (_, entries) in &self.imports {
            address.push(offset);
            offset += 8 * (entries.len() as u32 + 1);
        }
        let mut bytes = vec![0u8; offset as usize];
        let mut slots = Vec::new();
        for (m, (module, entries)) in self.imports.iter().enumerate() {
            let mut module_slots = Vec::new();
            for (e, entry) in entries.iter().enumerate() {
                let thunk = match entry {
                    ImportName::Name(name) => {
                        let hint_name = RDATA_RVA + bytes.len() as u32;
                        bytes.extend_from_slice(&0u16.to_le_bytes());
                        bytes.extend_from_slice(name.as_bytes());
                        bytes.push(0);
                        if bytes.len() % 2 == 1 {
                            bytes.push(0);
                        }
                        u64::from(hint_name)
                    }
                    ImportName::Ordinal(ordinal) => (1 << 63) | u64::from(*ordinal),
                };
                for table in [lookup[m], address[m]] {
                    let at = (table + 8 * e as u32) as usize;
                    bytes[at..at + 8].copy_from_slice(&thunk.to_le_bytes());
                }
                module_slots.push(RDATA_RVA + address[m] + 8 * e as u32);
            }
            slots.push(module_slots);
            let name = RDATA_RVA + bytes.len() as u32;
            bytes.extend_from_slice(module.as_bytes());
            bytes.push(0);
            let descriptor = 20 * m;
            let fields = [RDATA_RVA + lookup[m], 0, 0, name, RDATA_RVA + address[m]];
            for (i, field) in fields.iter().enumerate() {
                let at = descriptor + 4 * i;
                bytes[at..at + 4].copy_from_slice(&field.to_le_bytes());
            }
        }
        let directory_size = 20 * (modules as u32 + 1);
        (Layout { slots }, bytes, directory_size)
    }

    /// Where the import slots will be (to assemble code against).
    pub fn layout(&self) -> Layout {
        self.import_tables().0
    }

    /// The image's bytes, with `code` at the start of `.text`.
    pub fn build(&self, code: &[u8]) -> Vec<u8> {
        assert!(code.len() <= TEXT_SIZE as usize, "code fits in .text");
        let (_, mut rdata, directory_size) = self.import_tables();
        // Room past the tables for a test's strings (up to 0x200).
        rdata.resize(rdata.len().max(0x200), 0);
        let mut buffer = Vec::new();
        let mut writer = Writer::new(true, self.section_alignment, 0x200, &mut buffer);
        writer.reserve_dos_header_and_stub();
        writer.reserve_nt_headers(16);
        writer.reserve_section_headers(4);
        let mut text_flags =
            pe::IMAGE_SCN_CNT_CODE | pe::IMAGE_SCN_MEM_EXECUTE | pe::IMAGE_SCN_MEM_READ;
        if self.writable_code {
            text_flags |= pe::IMAGE_SCN_MEM_WRITE;
        }
        writer.reserve_virtual_until(TEXT_RVA);
        let text = writer.reserve_section(*b".text\0\0\0", text_flags, TEXT_SIZE, TEXT_SIZE);
        assert_eq!(text.virtual_address, TEXT_RVA);
        writer.reserve_virtual_until(RDATA_RVA);
        let rdata_range = writer.reserve_rdata_section(rdata.len() as u32);
        assert_eq!(rdata_range.virtual_address, RDATA_RVA);
        writer.reserve_virtual_until(DATA_RVA);
        let data = writer.reserve_data_section(self.data.len() as u32, self.data.len() as u32);
        assert_eq!(data.virtual_address, DATA_RVA);
        for (rva, kind) in &self.relocations {
            writer.add_reloc(*rva, pe::BaseRelocationType(*kind));
        }
        let reloc = writer.reserve_reloc_section();
        if !self.imports.is_empty() {
            writer.set_data_directory(pe::IMAGE_DIRECTORY_ENTRY_IMPORT, RDATA_RVA, directory_size);
        }
        if self.tls {
            writer.set_data_directory(pe::IMAGE_DIRECTORY_ENTRY_TLS, RDATA_RVA, 40);
        }
        if self.delay_load {
            writer.set_data_directory(pe::IMAGE_DIRECTORY_ENTRY_DELAY_IMPORT, RDATA_RVA, 32);
        }
        let _ = reloc;
        writer.write_dos_header_and_stub().expect("the DOS header");
        writer.write_nt_headers(NtHeaders {
            machine: pe::Machine(self.machine),
            time_date_stamp: 0,
            characteristics: pe::IMAGE_FILE_EXECUTABLE_IMAGE
                | pe::IMAGE_FILE_LARGE_ADDRESS_AWARE
                | pe::IMAGE_FILE_DLL,
            major_linker_version: 14,
            minor_linker_version: 0,
            address_of_entry_point: TEXT_RVA + self.entry_offset,
            image_base: IMAGE_BASE,
            major_operating_system_version: 10,
            minor_operating_system_version: 0,
            major_image_version: 0,
            minor_image_version: 0,
            major_subsystem_version: 10,
            minor_subsystem_version: 0,
            subsystem: pe::IMAGE_SUBSYSTEM_NATIVE,
            dll_characteristics: pe::IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE
                | pe::IMAGE_DLLCHARACTERISTICS_NX_COMPAT,
            size_of_stack_reserve: 0x40000,
            size_of_stack_commit: 0x1000,
            size_of_heap_reserve: 0,
            size_of_heap_commit: 0,
        });
        writer.write_section_headers();
        let mut text_bytes = code.to_vec();
        text_bytes.resize(TEXT_SIZE as usize, 0xCC);
        writer.write_section(text.file_offset, &text_bytes);
        writer.write_section(rdata_range.file_offset, &rdata);
        writer.write_section(data.file_offset, &self.data);
        writer.write_reloc_section();
        buffer
    }
}

/// A little x86-64 assembler: the instructions the fixtures use, with RIP-relative operands
/// resolved against RVAs (the code starts at [`TEXT_RVA`]).
#[derive(Debug, Default)]
pub struct Code {
    bytes: Vec<u8>,
}

impl Code {
    /// Empty code.
    pub fn new() -> Code {
        Code::default()
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The RVA of the next instruction.
    pub fn here(&self) -> u32 {
        TEXT_RVA + self.bytes.len() as u32
    }

    /// Raw bytes.
    pub fn raw(mut self, bytes: &[u8]) -> Code {
        self.bytes.extend_from_slice(bytes);
        self
    }

    /// An instruction whose last 4 bytes are a RIP-relative displacement to `target`.
    fn rip_relative(mut self, opcode: &[u8], target: u32) -> Code {
        let end = self.here() + opcode.len() as u32 + 4;
        self.bytes.extend_from_slice(opcode);
        self.bytes
            .extend_from_slice(&(target.wrapping_sub(end) as i32).to_le_bytes());
        self
    }

    /// `call qword ptr [rip + slot]` (an import).
    pub fn call_slot(self, slot: u32) -> Code {
        self.rip_relative(&[0xFF, 0x15], slot)
    }

    /// `mov rax, qword ptr [rip + target]`.
    pub fn load_rax(self, target: u32) -> Code {
        self.rip_relative(&[0x48, 0x8B, 0x05], target)
    }

    /// `lea rdx, [rip + target]`.
    pub fn lea_rdx(self, target: u32) -> Code {
        self.rip_relative(&[0x48, 0x8D, 0x15], target)
    }

    /// `lea rcx, [rip + target]`.
    pub fn lea_rcx(self, target: u32) -> Code {
        self.rip_relative(&[0x48, 0x8D, 0x0D], target)
    }

    /// `mov ecx, value`.
    pub fn mov_ecx(self, value: u32) -> Code {
        self.raw(&[0xB9]).raw(&value.to_le_bytes())
    }

    /// `mov edx, value`.
    pub fn mov_edx(self, value: u32) -> Code {
        self.raw(&[0xBA]).raw(&value.to_le_bytes())
    }

    /// `mov r8d, value`.
    pub fn mov_r8d(self, value: u32) -> Code {
        self.raw(&[0x41, 0xB8]).raw(&value.to_le_bytes())
    }

    /// `push rbx; sub rsp, 32; mov rbx, rcx`: a frame with the 32-byte home area the Windows x64
    /// convention requires, the stack 16-byte aligned for calls, the first argument kept in rbx.
    pub fn prologue(self) -> Code {
        self.raw(&[0x53, 0x48, 0x83, 0xEC, 0x20, 0x48, 0x89, 0xCB])
    }

    /// `xor eax, eax; add rsp, 32; pop rbx; ret`: returns STATUS_SUCCESS.
    pub fn epilogue(self) -> Code {
        self.raw(&[0x31, 0xC0, 0x48, 0x83, 0xC4, 0x20, 0x5B, 0xC3])
    }

    /// `mov qword ptr [rbx + offset], rax` (offset < 128).
    pub fn store_rax_at_rbx(self, offset: u8) -> Code {
        self.raw(&[0x48, 0x89, 0x43, offset])
    }

    /// `mov rax, qword ptr [rax]`.
    pub fn deref_rax(self) -> Code {
        self.raw(&[0x48, 0x8B, 0x00])
    }

    /// `int3`.
    pub fn int3(self) -> Code {
        self.raw(&[0xCC])
    }

    /// `mov ecx, code; int 0x29`: `__fastfail(code)`, what the driver's panic handler ends with.
    pub fn fast_fail(self, code: u32) -> Code {
        self.mov_ecx(code).raw(&[0xCD, 0x29])
    }
}

/// A linker map for a fixture naming `symbols` (mangled or plain names at RVAs), in lld-link's
/// format.
pub fn map_text(symbols: &[(&str, u32)]) -> String {
    let mut text = String::from(" fixture\n\n Preferred load address is 0000000180000000\n\n");
    text.push_str(
        "  Address         Publics by Value              Rva+Base               Lib:Object\n\n",
    );
    for (name, rva) in symbols {
        text.push_str(&format!(
            " 0001:{:08x}       {name} {:016x}     fixture.o\n",
            rva - TEXT_RVA,
            IMAGE_BASE + u64::from(*rva)
        ));
    }
    text
}

/// A fresh directory for one test's files.
pub fn scratch_dir(test: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("avcam-loader-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}
