//! What the loader binds an image's imports to: the emulation's services, by module and name,
//! generated from the one list (`ks::kernel_services!`), so that the table cannot drift from
//! the imports the driver is built with.

/// One service the emulation provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    /// The module that exports it on Windows (`ntoskrnl.exe`, `ks.sys`).
    pub module: &'static str,
    /// Its name.
    pub name: &'static str,
    /// What an import address table slot for it holds: the function's address, or for a data
    /// import (`ExEventObjectType`) the address of the variable.
    pub address: usize,
    /// Whether it is a data import.
    pub data: bool,
}

/// Every service of the list, with the emulation's address for it.
macro_rules! table {
    ($($module:literal {
        functions { $($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)?;)* }
        data { $($(#[$data_doc:meta])* static $data:ident: $data_ty:ty;)* }
        variadic { $($(#[$variadic_doc:meta])* fn $variadic:ident($($variadic_arg:ident: $variadic_ty:ty),* , ...) $(-> $variadic_ret:ty)?;)* }
    })*) => {
        /// Every service the emulation provides (each function typed by its signature first, so
        /// that the table holds exactly the functions `avcam_kernel::sig` describes).
        pub fn services() -> Vec<Service> {
            vec![$(
                $(Service {
                    module: $module,
                    name: stringify!($name),
                    address: avcam_kernel::$name as avcam_kernel::sig::$name as usize,
                    data: false,
                },)*
                $(Service {
                    module: $module,
                    name: stringify!($data),
                    address: (&raw const avcam_kernel::$data) as usize,
                    data: true,
                },)*
                $(Service {
                    module: $module,
                    name: stringify!($variadic),
                    address: avcam_kernel::$variadic as *const () as usize,
                    data: false,
                },)*
            )*]
        }
    };
}
ks::kernel_services!(table);

/// The service `module!name` (the module compared without case, as Windows does).
pub fn find(module: &str, name: &str) -> Option<Service> {
    services()
        .into_iter()
        .find(|s| s.module.eq_ignore_ascii_case(module) && s.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_every_listed_service_once_with_a_distinct_address() {
        let services = services();
        // The list as the driver is built with it: 26 ntoskrnl functions (the device registry
        // key's IoOpenDeviceRegistryKey and ZwQueryValueKey among them), 2 data imports and
        // DbgPrint; 28 ks.sys functions.
        let count = |module| services.iter().filter(|s| s.module == module).count();
        assert_eq!(count("ntoskrnl.exe"), 29);
        assert_eq!(count("ks.sys"), 28);
        let mut addresses: Vec<usize> = services.iter().map(|s| s.address).collect();
        addresses.sort_unstable();
        addresses.dedup();
        assert_eq!(addresses.len(), services.len());
        assert!(services.iter().all(|s| s.address != 0));
    }

    #[test]
    fn lookups_ignore_the_modules_case_but_not_the_names() {
        let pool = find("NTOSKRNL.EXE", "ExAllocatePool2").expect("listed");
        assert_eq!(
            pool.address,
            avcam_kernel::ExAllocatePool2 as avcam_kernel::sig::ExAllocatePool2 as usize
        );
        assert!(!pool.data);
        let event_type = find("ntoskrnl.exe", "ExEventObjectType").expect("listed");
        assert!(event_type.data);
        assert_eq!(find("ntoskrnl.exe", "exallocatepool2"), None);
        assert_eq!(find("ks.sys", "ExAllocatePool2"), None);
        assert_eq!(find("hal.dll", "KeQueryPerformanceCounter"), None);
    }
}
