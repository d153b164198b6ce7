//! Any datagram through the classifier and the multiplex parser: a kind or an error, and the
//! kinds agree with the length rules.
#![no_main]
use libfuzzer_sys::fuzz_target;
use media::relay::classify::{classify, Kind};
use media::relay::mux::{self, MuxDatagram};

fuzz_target!(|data: &[u8]| {
    match classify(data) {
        Ok(Kind::Rtp) => assert!(data.len() >= 12),
        Ok(Kind::Rtcp) => assert!(data.len() >= 8),
        _ => {}
    }
    match mux::parse(data) {
        MuxDatagram::Keepalive => assert!(data.len() < mux::MIN_MEDIA_DATAGRAM),
        MuxDatagram::Media { packet, .. } => assert_eq!(packet.len() + 4, data.len()),
    }
});
