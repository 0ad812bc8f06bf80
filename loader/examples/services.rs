//! Prints the loader's binding table, one `module name` line per service the emulation provides
//! (what an image may import), for `scripts/check-driver.sh --loader-table`.
//!
//! `cargo run -p avcam-loader --example services`

use std::io::Write;

fn main() {
    let mut out = std::io::stdout().lock();
    for service in avcam_loader::services::services() {
        let kind = if service.data { " data" } else { "" };
        if writeln!(out, "{} {}{kind}", service.module, service.name).is_err() {
            std::process::exit(1);
        }
    }
}
