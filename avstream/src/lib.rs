//! The avcam camera core.
#![no_std]
