//! Synthesis benchmark (filled in next).
fn main() {}
