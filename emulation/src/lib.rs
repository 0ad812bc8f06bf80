//! A user-mode emulation of the ntoskrnl and ks.sys services avcam's driver code uses.

/// The services, with the C names and signatures of `avcam_kernel::sig`.
pub mod services {}
