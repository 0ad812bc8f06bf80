//! `#[kernel_abi]` gives every boundary item the Windows x64 convention on x86_64, whatever the
//! host OS, and leaves "system" elsewhere.

use avcam_abi::kernel_abi;

/// A callback type of the boundary.
#[kernel_abi]
type Callback = unsafe extern "system" fn(u64, u64, u64, u64, u64, u64) -> u64;

/// A table of callbacks, as ks.sys's dispatch tables are.
#[kernel_abi]
struct Table {
    first: Option<unsafe extern "system" fn(u32) -> u32>,
    second: Callback,
}

#[kernel_abi]
unsafe extern "system" fn add(a: u64, b: u64, c: u64, d: u64, e: u64, f: u64) -> u64 {
    a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f
}

#[kernel_abi]
unsafe extern "system" fn negate(value: u32) -> u32 {
    value.wrapping_neg()
}

#[test]
fn every_extern_system_in_an_item_is_the_windows_x64_convention_on_x86_64() {
    #[cfg(target_arch = "x86_64")]
    {
        // These only type-check if the attribute made them "win64" (a distinct type from "C",
        // which is what "system" means on Linux).
        let _: unsafe extern "win64" fn(u64, u64, u64, u64, u64, u64) -> u64 = add;
        let _: Option<unsafe extern "win64" fn(u32) -> u32> = Some(negate);
        let _: Callback = add as unsafe extern "win64" fn(u64, u64, u64, u64, u64, u64) -> u64;
    }
    let table = Table {
        first: Some(negate),
        second: add,
    };
    // Six arguments: four in registers, two on the stack under the Windows x64 convention.
    // SAFETY: both functions have no preconditions.
    let sum = unsafe { (table.second)(1, 1, 1, 1, 1, 1) };
    assert_eq!(sum, 21);
    // SAFETY: `negate` has no preconditions.
    let negated = unsafe { (table.first.expect("set"))(1) };
    assert_eq!(negated, u32::MAX);
}
