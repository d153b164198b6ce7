//! End-to-end and interop tests of portico. The tests live in `tests/tests/`:
//!
//! - `srtp_libsrtp2.rs`: our SRTP/SRTCP against libsrtp2, both directions, every suite.
//! - `srtp_no_alloc.rs`: the SRTP packet path makes no heap allocation (counting allocator).
#![forbid(unsafe_code)]
