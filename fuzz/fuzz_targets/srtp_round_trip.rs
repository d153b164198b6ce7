//! Whatever protect accepts, unprotect gives back unchanged (RTP and RTCP), and a changed bit
//! is never accepted. Reaches the decrypt paths that random ciphertext cannot.
#![no_main]
use libfuzzer_sys::fuzz_target;
mod common;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let Some((&flip, packet)) = rest.split_first() else { return };
    let mut tx = common::context(selector);
    let mut rx = common::context(selector);
    for rtcp in [false, true] {
        let mut buf = packet.to_vec();
        buf.resize(packet.len() + 64, 0);
        let protected = if rtcp {
            tx.protect_rtcp(&mut buf, packet.len())
        } else {
            tx.protect_rtp(&mut buf, packet.len())
        };
        let Ok(n) = protected else { continue };
        let mut bad = buf[..n].to_vec();
        let bit = usize::from(flip) % (n * 8);
        bad[bit / 8] ^= 0x80 >> (bit % 8);
        let forged = if rtcp { rx.unprotect_rtcp(&mut bad) } else { rx.unprotect_rtp(&mut bad) };
        assert!(forged.is_err(), "a flipped bit {bit} was accepted");
        let back = if rtcp {
            rx.unprotect_rtcp(&mut buf[..n])
        } else {
            rx.unprotect_rtp(&mut buf[..n])
        };
        assert_eq!(back, Ok(packet.len()));
        assert_eq!(&buf[..packet.len()], packet);
    }
});
