//! Benchmarks of portico, each measured side by side with the reference it must beat.
//!
//! - `benches/srtp.rs`: SRTP/SRTCP protect and unprotect per suite against libsrtp2 (through the
//!   `libsrtp2-ref` FFI crate). Run with `cargo xtask bench srtp`; results go to `RESULTS.md`.
#![forbid(unsafe_code)]
