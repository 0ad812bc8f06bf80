//! The wdm.h inline IRP helpers, written once in Rust.
//!
//! (To be filled in: `current_stack_location`, `mark_pending`, `set_cancel_routine`, and
//! `complete`, the one function through which avcam completes an IRP.)
