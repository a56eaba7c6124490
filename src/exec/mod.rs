//! The executor: the only code that talks to the kernel.

pub mod tc;
