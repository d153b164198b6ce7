//! Any text as an SDES `a=crypto` attribute: an error or a value that formats and parses back
//! to itself.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    media::sdes::fuzz_entry(data);
});
