//! End-to-end and interop tests of portico. The tests live in `tests/tests/`:
//!
//! - `srtp_libsrtp2.rs`: our SRTP/SRTCP against libsrtp2, both directions, every suite.
//! - `packet_path_no_alloc.rs`: the SRTP and relay packet paths make no heap allocation
//!   (counting allocator).
#![forbid(unsafe_code)]
