//! avcam-loader: runs the cross-built driver image (`target/driver/avcam.sys`) in a Linux
//! process, bound to the emulation. For tests and development only: nothing of it is in the
//! driver image, and it loads nothing on Windows.
//!
//! [`Image::load`] maps the image's sections with their protections (anonymous memory: the
//! headers and `.rdata` read-only, `.text` read-execute, `.data` read-write), applies its base
//! relocations, binds its imports by module and name to the emulation's services (functions, and
//! data imports such as `ExEventObjectType` to the emulation's variable), and refuses what it
//! cannot honour with a [`LoadError`]: a machine other than AMD64, a relocation type other than
//! DIR64, an import by ordinal or one the emulation does not provide, a TLS or delay-load
//! directory, a section both writable and executable. The emulation then runs the image's
//! `DriverEntry` ([`Image::driver_entry`]) with a real DRIVER_OBJECT and registry path, exactly
//! as it runs the driver's Linux build (`avcam_emulation::Kernel::load_driver`).
//!
//! Both directions of every call use the Windows x64 convention (`ks::kernel_abi`), so the
//! emulation calls the image's callbacks through the same function-pointer types it uses for the
//! Linux build. A bug check inside the image (its panic handler's `int 0x29`, or any fault in its
//! code) ends the process with a report naming the bug check, the offset in the image and the
//! nearest symbol of its linker map ([`BUG_CHECK_EXIT_STATUS`]; see `fault`). `DbgPrint` output
//! goes to standard error.
//!
//! The one switch for tests, the bench and the viewer is [`IMAGE_ENV`]
//! (`AVCAM_DRIVER_IMAGE=/path/to/avcam.sys`): [`image_from_env`] loads that image once per
//! process. Supported hosts: Linux on x86_64 (on any other host [`Image::load`] returns
//! [`LoadError::UnsupportedHost`]).

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod fault;
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod memory;
mod pe;
pub mod services;
pub mod symbols;

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub use fault::BUG_CHECK_EXIT_STATUS;
/// The exit status of a process whose loaded image bug checked.
#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
pub const BUG_CHECK_EXIT_STATUS: i32 = 70;

use symbols::Symbols;

/// The environment variable that switches tests, the bench and the viewer's default to a
/// driver image: the path of an `avcam.sys` (absolute, or relative to the process's working
/// directory: the package's directory under `cargo test`).
pub const IMAGE_ENV: &str = "AVCAM_DRIVER_IMAGE";

/// Why an image could not be loaded.
#[derive(Debug)]
pub enum LoadError {
    /// The file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        error: io::Error,
    },
    /// Not a PE image the loader can read (a message from the parser or the loader's checks).
    Malformed(String),
    /// The COFF machine is not AMD64 (0x8664).
    Machine(u16),
    /// Sections are aligned to less than a page, so they cannot have their own protection.
    SectionAlignment(u32),
    /// A section is both writable and executable (HVCI refuses such a driver too).
    WritableCode(String),
    /// The entry point is not inside an executable section.
    EntryPoint(u32),
    /// A base relocation of a type other than ABSOLUTE (padding) and DIR64.
    Relocation {
        /// Where it applies.
        rva: u32,
        /// Its `IMAGE_REL_BASED_*` type.
        kind: u16,
    },
    /// An import by ordinal (the loader binds by name only).
    ImportByOrdinal {
        /// The module.
        module: String,
        /// The ordinal.
        ordinal: u16,
    },
    /// An import the emulation does not provide (not in `ks::kernel_services!`).
    UnboundImport {
        /// The module.
        module: String,
        /// The symbol.
        symbol: String,
    },
    /// The image has a TLS directory (a driver cannot have one).
    TlsDirectory,
    /// The image has delay-load imports (kernel images cannot).
    DelayLoadImports,
    /// The memory for the image could not be mapped or protected.
    Map(io::Error),
    /// Too many images are loaded in this process.
    TooManyImages,
    /// Loading images needs Linux on x86_64.
    UnsupportedHost,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Read { path, error } => write!(f, "cannot read {}: {error}", path.display()),
            LoadError::Malformed(why) => write!(f, "not a loadable PE image: {why}"),
            LoadError::Machine(machine) => {
                write!(f, "machine {machine:#06x} is not AMD64 (0x8664)")
            }
            LoadError::SectionAlignment(alignment) => write!(
                f,
                "section alignment {alignment:#x} is not a multiple of the page size"
            ),
            LoadError::WritableCode(section) => {
                write!(f, "section {section} is both writable and executable")
            }
            LoadError::EntryPoint(rva) => {
                write!(
                    f,
                    "the entry point {rva:#x} is not in an executable section"
                )
            }
            LoadError::Relocation { rva, kind } => write!(
                f,
                "base relocation type {kind} at {rva:#x} is not supported (only DIR64)"
            ),
            LoadError::ImportByOrdinal { module, ordinal } => {
                write!(
                    f,
                    "{module} is imported by ordinal {ordinal}; only names are bound"
                )
            }
            LoadError::UnboundImport { module, symbol } => write!(
                f,
                "the emulation does not provide the import {module}!{symbol} \
                 (add it to ks::kernel_services! and the emulation)"
            ),
            LoadError::TlsDirectory => write!(f, "the image has a TLS directory"),
            LoadError::DelayLoadImports => write!(f, "the image has delay-load imports"),
            LoadError::Map(error) => write!(f, "cannot map the image: {error}"),
            LoadError::TooManyImages => write!(f, "too many images loaded in this process"),
            LoadError::UnsupportedHost => {
                write!(f, "loading a driver image needs Linux on x86_64")
            }
        }
    }
}

impl std::error::Error for LoadError {}

/// A driver image loaded into this process.
///
/// It stays mapped until dropped: drop it only once no kernel can run its code any more (after
/// `Kernel::unload_driver` and the last close), or keep it for the process's lifetime as
/// [`image_from_env`] does.
#[derive(Debug)]
pub struct Image {
    path: PathBuf,
    entry: usize,
    exports: Vec<(String, usize)>,
    imports: usize,
    relocations: usize,
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    _registration: fault::Registration,
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    mapping: memory::Mapping,
}

impl Image {
    /// Loads the image at `path`; its linker map (`path` with `.map`), when present, names the
    /// functions in fault reports.
    pub fn load(path: impl AsRef<Path>) -> Result<Image, LoadError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|error| LoadError::Read {
            path: path.to_owned(),
            error,
        })?;
        let map_path = path.with_extension("map");
        let symbols = std::fs::read_to_string(&map_path)
            .ok()
            .map(|text| Symbols::parse_map(&text));
        let map = symbols.as_ref().map(|_| map_path);
        Image::from_bytes(&bytes, path, symbols.unwrap_or_default(), map)
    }

    /// Loads an image from its bytes; `path` names it in reports, `symbols` (from `map`) name its
    /// functions.
    pub fn from_bytes(
        bytes: &[u8],
        path: &Path,
        symbols: Symbols,
        map: Option<PathBuf>,
    ) -> Result<Image, LoadError> {
        let parsed = pe::ParsedImage::parse(bytes)?;
        let mut bound = Vec::with_capacity(parsed.imports.len());
        for import in &parsed.imports {
            let service = services::find(&import.module, &import.name).ok_or_else(|| {
                LoadError::UnboundImport {
                    module: import.module.clone(),
                    symbol: import.name.clone(),
                }
            })?;
            bound.push((import.slot_rva, service.address));
        }
        Image::map(parsed, bytes, &bound, path, symbols, map)
    }

    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    fn map(
        parsed: pe::ParsedImage,
        bytes: &[u8],
        bound: &[(u32, usize)],
        path: &Path,
        symbols: Symbols,
        map: Option<PathBuf>,
    ) -> Result<Image, LoadError> {
        let mut mapping =
            memory::Mapping::new(parsed.size_of_image as usize).map_err(LoadError::Map)?;
        let base = mapping.base();
        let memory = mapping.bytes_mut();
        let headers = parsed.size_of_headers as usize;
        memory[..headers].copy_from_slice(&bytes[..headers]);
        for section in &parsed.sections {
            let start = section.rva as usize;
            let data = &bytes[section.file_range.clone()];
            memory[start..start + data.len()].copy_from_slice(data);
        }
        let delta = (base as u64).wrapping_sub(parsed.image_base);
        for &rva in &parsed.relocations {
            let field = &mut memory[rva as usize..rva as usize + 8];
            let value = u64::from_le_bytes(field.try_into().expect("8 bytes"));
            field.copy_from_slice(&value.wrapping_add(delta).to_le_bytes());
        }
        for &(rva, address) in bound {
            memory[rva as usize..rva as usize + 8].copy_from_slice(&(address as u64).to_le_bytes());
        }
        mapping
            .protect(0, mapping.len(), pe::Protection::Read)
            .map_err(LoadError::Map)?;
        for section in &parsed.sections {
            mapping
                .protect(
                    section.rva as usize,
                    section.virtual_size as usize,
                    section.protection,
                )
                .map_err(LoadError::Map)?;
        }
        let registration = fault::register(fault::Region {
            base,
            len: mapping.len(),
            name: path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            ),
            path: path.display().to_string(),
            map: map.map(|m| m.display().to_string()),
            symbols,
        })
        .ok_or(LoadError::TooManyImages)?;
        Ok(Image {
            path: path.to_owned(),
            entry: base + parsed.entry_rva as usize,
            exports: parsed
                .exports
                .iter()
                .map(|(name, rva)| (name.clone(), base + *rva as usize))
                .collect(),
            imports: bound.len(),
            relocations: parsed.relocations.len(),
            _registration: registration,
            mapping,
        })
    }

    #[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
    fn map(
        _parsed: pe::ParsedImage,
        _bytes: &[u8],
        _bound: &[(u32, usize)],
        _path: &Path,
        _symbols: Symbols,
        _map: Option<PathBuf>,
    ) -> Result<Image, LoadError> {
        Err(LoadError::UnsupportedHost)
    }

    /// The image's entry point as `DriverEntry`, for `Kernel::load_driver`.
    pub fn driver_entry(&self) -> avcam_emulation::DriverEntry {
        // SAFETY: the entry point lies in the image's executable section (checked at load) and a
        // driver image's entry point is DriverEntry, with the boundary's calling convention; the
        // caller keeps the image loaded while a kernel may call it (the type's contract).
        unsafe { std::mem::transmute::<usize, avcam_emulation::DriverEntry>(self.entry) }
    }

    /// The address of the image's export `name` (`KsCreateDefaultAllocatorEx`, ...).
    pub fn export_address(&self, name: &str) -> Option<usize> {
        self.exports
            .iter()
            .find(|(export, _)| export == name)
            .map(|(_, address)| *address)
    }

    /// The export `name` as a function pointer of type `F`.
    ///
    /// # Safety
    /// `F` must be a function-pointer type with the export's exact signature and calling
    /// convention, and the image must stay loaded while the pointer is used.
    pub unsafe fn export<F: Copy>(&self, name: &str) -> Option<F> {
        assert_eq!(
            std::mem::size_of::<F>(),
            std::mem::size_of::<usize>(),
            "a function pointer"
        );
        let address = self.export_address(name)?;
        // SAFETY: F is a pointer-sized function-pointer type (the caller's contract, and the size
        // asserted above) and the address is the export's, non-null.
        Some(unsafe { std::mem::transmute_copy::<usize, F>(&address) })
    }

    /// Where the image was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The image's base address in this process.
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    pub fn base(&self) -> usize {
        self.mapping.base()
    }

    /// How many imports were bound.
    pub fn imports_bound(&self) -> usize {
        self.imports
    }

    /// How many DIR64 relocations were applied.
    pub fn relocations_applied(&self) -> usize {
        self.relocations
    }
}

/// The image [`IMAGE_ENV`] names, loaded once per process and kept for its lifetime; None when
/// the variable is unset or empty. Panics, naming the variable and the reason, when it names an
/// image that cannot be loaded (a test run asked for the image must not quietly run the Linux
/// build instead).
pub fn image_from_env() -> Option<&'static Image> {
    static IMAGE: OnceLock<Option<Image>> = OnceLock::new();
    IMAGE
        .get_or_init(|| {
            let path = std::env::var_os(IMAGE_ENV).filter(|p| !p.is_empty())?;
            match Image::load(&path) {
                Ok(image) => Some(image),
                Err(error) => panic!("{IMAGE_ENV}={}: {error}", Path::new(&path).display()),
            }
        })
        .as_ref()
}
