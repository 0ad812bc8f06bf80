//! The PE image, parsed once into what the loader needs and validated against what it can
//! honour: an AMD64 PE32+ image with page-aligned sections, `IMAGE_REL_BASED_DIR64` base
//! relocations, imports by name, and no TLS or delay-load directory. Facts from "PE Format"
//! (learn.microsoft.com/windows/win32/debug/pe-format): the data directory indexes, the base
//! relocation types (ABSOLUTE 0 is padding, DIR64 10 adds the load delta to a 64-bit field), the
//! import lookup table's ordinal flag (bit 63 in PE32+), the section flags.

use object::pe;
use object::read::pe::{ExportTarget, ImageNtHeaders, ImageOptionalHeader, Import, PeFile64};
use object::LittleEndian as LE;

use crate::LoadError;

/// The page size the loader maps with: sections must start on such a boundary to get their own
/// protection.
pub(crate) const PAGE_SIZE: u32 = 0x1000;

/// What a section's pages may do once the image is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protection {
    /// Read only (`.rdata`, `.pdata`, `.reloc`, the headers).
    Read,
    /// Read and write (`.data`).
    ReadWrite,
    /// Read and execute (`.text`).
    ReadExecute,
}

/// One section: where it goes and what it holds.
#[derive(Debug, Clone)]
pub(crate) struct Section {
    /// Its RVA (a multiple of [`PAGE_SIZE`]).
    pub(crate) rva: u32,
    /// Its size in memory.
    pub(crate) virtual_size: u32,
    /// The bytes of the file copied to `rva` (at most `virtual_size`; the rest is zero).
    pub(crate) file_range: std::ops::Range<usize>,
    /// Its protection once loaded.
    pub(crate) protection: Protection,
}

/// One import: the IAT slot to fill with the address of `module!name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImportSlot {
    /// The exporting module as the image names it (`ntoskrnl.exe`, `ks.sys`).
    pub(crate) module: String,
    /// The symbol.
    pub(crate) name: String,
    /// The RVA of its 8-byte slot in the import address table.
    pub(crate) slot_rva: u32,
}

/// A validated image.
#[derive(Debug, Clone)]
pub(crate) struct ParsedImage {
    /// The address the image was linked for (`ImageBase`).
    pub(crate) image_base: u64,
    /// `SizeOfImage`: the bytes to reserve.
    pub(crate) size_of_image: u32,
    /// `SizeOfHeaders`: the header bytes mapped read-only at the image's start.
    pub(crate) size_of_headers: u32,
    /// The entry point's RVA (inside an executable section).
    pub(crate) entry_rva: u32,
    /// The sections, in file order.
    pub(crate) sections: Vec<Section>,
    /// The RVAs of the 64-bit fields the load delta is added to.
    pub(crate) relocations: Vec<u32>,
    /// The imports, all by name.
    pub(crate) imports: Vec<ImportSlot>,
    /// The named exports and their RVAs.
    pub(crate) exports: Vec<(String, u32)>,
}

fn malformed(error: object::Error) -> LoadError {
    LoadError::Malformed(error.to_string())
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

impl ParsedImage {
    /// Parses and validates `data`.
    pub(crate) fn parse(data: &[u8]) -> Result<ParsedImage, LoadError> {
        // The machine first: a PE32 image (i386, ARM) fails PeFile64's magic check, and "not a
        // PE32+ image" would hide what is wrong with it.
        let machine = machine(data)?;
        if machine != pe::IMAGE_FILE_MACHINE_AMD64.0 {
            return Err(LoadError::Machine(machine));
        }
        let file = PeFile64::parse(data).map_err(malformed)?;
        let optional = file.nt_headers().optional_header();
        let directories = file.data_directories();
        for (index, refusal) in [
            (pe::IMAGE_DIRECTORY_ENTRY_TLS, LoadError::TlsDirectory),
            (
                pe::IMAGE_DIRECTORY_ENTRY_DELAY_IMPORT,
                LoadError::DelayLoadImports,
            ),
        ] {
            if directories
                .get(index)
                .is_some_and(|d| d.virtual_address.get(LE) != 0 || d.size.get(LE) != 0)
            {
                return Err(refusal);
            }
        }
        let section_alignment = optional.section_alignment();
        if section_alignment < PAGE_SIZE || section_alignment % PAGE_SIZE != 0 {
            return Err(LoadError::SectionAlignment(section_alignment));
        }
        let size_of_image = optional.size_of_image();
        let size_of_headers = optional.size_of_headers();
        if size_of_headers as usize > data.len() || size_of_headers > size_of_image {
            return Err(LoadError::Malformed(format!(
                "SizeOfHeaders {size_of_headers:#x} is past the file or the image"
            )));
        }

        let mut sections = Vec::new();
        for header in file.section_table().iter() {
            let name = text(header.raw_name());
            let rva = header.virtual_address.get(LE);
            let raw_size = header.size_of_raw_data.get(LE);
            let virtual_size = match header.virtual_size.get(LE) {
                0 => raw_size,
                size => size,
            };
            let flags = header.characteristics.get(LE);
            let end = u64::from(rva) + u64::from(virtual_size);
            if rva % PAGE_SIZE != 0 || rva < size_of_headers || end > u64::from(size_of_image) {
                return Err(LoadError::Malformed(format!(
                    "section {name} at {rva:#x} ({virtual_size:#x} bytes) is not page-aligned \
                     inside SizeOfImage {size_of_image:#x}, past the headers"
                )));
            }
            let execute = flags.contains(pe::IMAGE_SCN_MEM_EXECUTE);
            let write = flags.contains(pe::IMAGE_SCN_MEM_WRITE);
            let protection = match (write, execute) {
                (true, true) => return Err(LoadError::WritableCode(name)),
                (false, true) => Protection::ReadExecute,
                (true, false) => Protection::ReadWrite,
                (false, false) => Protection::Read,
            };
            let offset = header.pointer_to_raw_data.get(LE) as usize;
            let copied = raw_size.min(virtual_size) as usize;
            let file_range = if copied == 0 {
                0..0
            } else {
                offset..offset + copied
            };
            if file_range.end > data.len() {
                return Err(LoadError::Malformed(format!(
                    "section {name}'s data ({offset:#x}, {copied:#x} bytes) is past the end of \
                     the file"
                )));
            }
            sections.push(Section {
                rva,
                virtual_size,
                file_range,
                protection,
            });
        }
        let in_sections = |rva: u32, len: u32, executable: bool| {
            sections.iter().any(|s| {
                rva >= s.rva
                    && u64::from(rva) + u64::from(len)
                        <= u64::from(s.rva) + u64::from(s.virtual_size)
                    && (!executable || s.protection == Protection::ReadExecute)
            })
        };

        let entry_rva = optional.address_of_entry_point();
        if !in_sections(entry_rva, 1, true) {
            return Err(LoadError::EntryPoint(entry_rva));
        }

        // A directory of size 0 is absent (lld writes an empty .reloc's directory that way).
        let present = |index: usize| directories.get(index).is_some_and(|d| d.size.get(LE) != 0);
        let mut relocations = Vec::new();
        let blocks = if present(pe::IMAGE_DIRECTORY_ENTRY_BASERELOC) {
            directories
                .relocation_blocks(data, &file.section_table())
                .map_err(malformed)?
        } else {
            None
        };
        if let Some(mut blocks) = blocks {
            while let Some(block) = blocks.next().map_err(malformed)? {
                for relocation in block {
                    match relocation.typ {
                        pe::IMAGE_REL_BASED_ABSOLUTE => {}
                        pe::IMAGE_REL_BASED_DIR64 => {
                            if !in_sections(relocation.virtual_address, 8, false) {
                                return Err(LoadError::Malformed(format!(
                                    "a DIR64 relocation at {:#x} is outside every section",
                                    relocation.virtual_address
                                )));
                            }
                            relocations.push(relocation.virtual_address);
                        }
                        other => {
                            return Err(LoadError::Relocation {
                                rva: relocation.virtual_address,
                                kind: other.0,
                            })
                        }
                    }
                }
            }
        }

        let mut imports = Vec::new();
        let table = if present(pe::IMAGE_DIRECTORY_ENTRY_IMPORT) {
            file.import_table().map_err(malformed)?
        } else {
            None
        };
        if let Some(table) = table {
            let mut descriptors = table.descriptors().map_err(malformed)?;
            while let Some(descriptor) = descriptors.next().map_err(malformed)? {
                let module = text(table.name(descriptor.name.get(LE)).map_err(malformed)?);
                let first_thunk = descriptor.first_thunk.get(LE);
                let lookup = match descriptor.original_first_thunk.get(LE) {
                    0 => first_thunk,
                    rva => rva,
                };
                let mut thunks = table.thunks(lookup).map_err(malformed)?;
                let mut slot_rva = first_thunk;
                while let Some(thunk) = thunks.next::<pe::ImageNtHeaders64>().map_err(malformed)? {
                    let name = match table
                        .import::<pe::ImageNtHeaders64>(thunk)
                        .map_err(malformed)?
                    {
                        Import::Name(_hint, name) => text(name),
                        Import::Ordinal(ordinal) => {
                            return Err(LoadError::ImportByOrdinal { module, ordinal })
                        }
                    };
                    if !in_sections(slot_rva, 8, false) {
                        return Err(LoadError::Malformed(format!(
                            "the import slot of {module}!{name} at {slot_rva:#x} is outside every \
                             section"
                        )));
                    }
                    imports.push(ImportSlot {
                        module: module.clone(),
                        name,
                        slot_rva,
                    });
                    slot_rva += 8;
                }
            }
        }

        let mut exports = Vec::new();
        let table = if present(pe::IMAGE_DIRECTORY_ENTRY_EXPORT) {
            file.export_table().map_err(malformed)?
        } else {
            None
        };
        if let Some(table) = table {
            for export in table.exports().map_err(malformed)? {
                if let (Some(name), ExportTarget::Address(rva)) = (export.name, export.target) {
                    exports.push((text(name), rva));
                }
            }
        }

        Ok(ParsedImage {
            image_base: optional.image_base(),
            size_of_image,
            size_of_headers,
            entry_rva,
            sections,
            relocations,
            imports,
            exports,
        })
    }
}

/// The COFF header's machine field, read before anything that depends on it.
fn machine(data: &[u8]) -> Result<u16, LoadError> {
    let dos = pe::ImageDosHeader::parse(data).map_err(malformed)?;
    let offset = dos.nt_headers_offset() as usize;
    let signature = data.get(offset..offset + 4);
    if signature != Some(&b"PE\0\0"[..]) {
        return Err(LoadError::Malformed("no PE signature".to_owned()));
    }
    match data.get(offset + 4..offset + 6) {
        Some(&[low, high]) => Ok(u16::from_le_bytes([low, high])),
        _ => Err(LoadError::Malformed(
            "the file ends inside the COFF header".to_owned(),
        )),
    }
}
