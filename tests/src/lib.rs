//! End-to-end and interop tests of portico. The tests live in `tests/tests/`:
//!
//! - `srtp_libsrtp2.rs`: our SRTP/SRTCP against libsrtp2, both directions, every suite.
#![forbid(unsafe_code)]
