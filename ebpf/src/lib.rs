//! XDP steering for the portico media plane.
//!
//! This crate will hold the XDP program (C, built with clang), the `#[repr(C)]` types shared with
//! its maps and the aya loader. It is empty until the XDP issue lands.
