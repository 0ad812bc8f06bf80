//! A spin lock over `KSPIN_LOCK` that owns the data it protects.
//!
//! (To be filled in: `SpinLock<T>` with an RAII guard over KeAcquireSpinLockRaiseToDpc /
//! KeReleaseSpinLock.)
