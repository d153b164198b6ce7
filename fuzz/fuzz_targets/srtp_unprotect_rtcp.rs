//! Any datagram into SRTCP unprotect: an error or a packet, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
mod common;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, packet)) = data.split_first() else { return };
    let mut ctx = common::context(selector);
    let mut buf = packet.to_vec();
    if let Ok(n) = ctx.unprotect_rtcp(&mut buf) {
        assert!(n <= packet.len());
    }
});
