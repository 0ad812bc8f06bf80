//! Conversion benchmark (placeholder).
fn main() {}
