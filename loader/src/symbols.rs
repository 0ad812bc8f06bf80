//! The image's symbols, from the MSVC-style map lld-link writes next to it (`/MAP`:
//! `target/driver/avcam.map`), for naming the function a fault happened in.
//!
//! The map lists "Publics by Value" and "Static symbols", one a line:
//! ` 0001:000000b0  _RNvNtCs..._5avcam10frame_path11frame_timer  00000001800010b0  object`, the
//! third field being the address at the preferred load address ("Preferred load address is
//! 0000000180000000" further up). Rust's v0 names are demangled (without their crate hashes).

/// The symbols of one image, sorted by RVA.
#[derive(Debug, Clone, Default)]
pub struct Symbols {
    entries: Vec<(u32, String)>,
}

impl Symbols {
    /// No symbols (an image without a map).
    pub fn none() -> Symbols {
        Symbols::default()
    }

    /// The symbols of a linker map's text; lines that are not symbols are skipped, and so is
    /// everything if the map names no preferred load address.
    pub fn parse_map(map: &str) -> Symbols {
        let base = map.lines().find_map(|line| {
            let rest = line.trim().strip_prefix("Preferred load address is ")?;
            u64::from_str_radix(rest.trim(), 16).ok()
        });
        let Some(base) = base else {
            return Symbols::none();
        };
        let mut entries: Vec<(u32, String)> = map
            .lines()
            .filter_map(|line| {
                let mut fields = line.split_whitespace();
                let (section, name, address) = (fields.next()?, fields.next()?, fields.next()?);
                let (index, _) = section.split_once(':')?;
                if index.len() != 4 || !index.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                if address.len() != 16 {
                    return None;
                }
                let address = u64::from_str_radix(address, 16).ok()?;
                let rva = u32::try_from(address.checked_sub(base)?).ok()?;
                Some((rva, demangle(name)))
            })
            .collect();
        entries.sort_by_key(|(rva, _)| *rva);
        entries.dedup_by_key(|(rva, _)| *rva);
        Symbols { entries }
    }

    /// How many symbols there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The symbol at or before `rva` and the offset from it. Allocates nothing (the fault
    /// report calls it from a signal handler).
    pub fn nearest(&self, rva: u32) -> Option<(&str, u32)> {
        let index = self.entries.partition_point(|(start, _)| *start <= rva);
        let (start, name) = self.entries.get(index.checked_sub(1)?)?;
        Some((name.as_str(), rva - start))
    }

    /// The RVA of the symbol named `name` (demangled, without hash), if the map lists it.
    pub fn rva_of(&self, name: &str) -> Option<u32> {
        self.entries
            .iter()
            .find(|(_, candidate)| candidate == name)
            .map(|(rva, _)| *rva)
    }
}

/// A Rust symbol demangled without its hash; anything else unchanged.
fn demangle(name: &str) -> String {
    match rustc_demangle::try_demangle(name) {
        Ok(demangled) => format!("{demangled:#}"),
        Err(_) => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAP: &str = " avcam

 Preferred load address is 0000000180000000

  Address         Publics by Value              Rva+Base               Lib:Object

 0001:00000000       DriverEntry                0000000180001000     avcam.o
 0001:00000040       _RNvCsfgHYwM92fyn_7___rustc17rust_begin_unwind 0000000180001040     avcam.o
 0001:000000b0       _RNvNtCsa7Fv5Sr7h8M_5avcam10frame_path11frame_timer 00000001800010b0     avcam.o

 entry point at         0001:00000000

 Static symbols

 0001:000001d0       _RNvNtCsa7Fv5Sr7h8M_5avcam10frame_path11pin_process 00000001800011d0     avcam.o
";

    #[test]
    fn a_maps_symbols_are_found_demangled_with_their_offsets() {
        let symbols = Symbols::parse_map(MAP);
        assert_eq!(symbols.len(), 4);
        assert_eq!(symbols.nearest(0x1000), Some(("DriverEntry", 0)));
        assert_eq!(
            symbols.nearest(0x1062),
            Some(("__rustc::rust_begin_unwind", 0x22))
        );
        assert_eq!(
            symbols.nearest(0x1300),
            Some(("avcam::frame_path::pin_process", 0x130))
        );
        assert_eq!(symbols.nearest(0xfff), None);
        assert_eq!(
            symbols.rva_of("avcam::frame_path::frame_timer"),
            Some(0x10b0)
        );
        assert_eq!(symbols.rva_of("avcam::frame_path::nothing"), None);
    }

    #[test]
    fn a_map_without_a_load_address_gives_no_symbols() {
        let symbols = Symbols::parse_map(&MAP.replace("Preferred load address", "Load address"));
        assert!(symbols.is_empty());
        assert_eq!(symbols.nearest(0x1100), None);
    }
}
