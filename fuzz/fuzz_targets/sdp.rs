//! SDP input: whatever parses must write back to bytes that parse to the same description, and
//! the anchoring edits (connection, port and proto, attributes, origin version) must keep it
//! parseable. Nothing may panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use signaling::sdp::{Connection, Direction, Sdp};

fuzz_target!(|data: &[u8]| {
    let Ok(mut sdp) = Sdp::parse(data) else {
        return;
    };
    let again = Sdp::parse(&sdp.to_bytes());
    assert_eq!(again.as_ref(), Ok(&sdp));
    let relay = Connection::new(std::net::IpAddr::from([198, 18, 2, 10]));
    sdp.session_mut().set_connection(&relay);
    for i in 0..sdp.sections().len() {
        if let Some(mut m) = sdp.media(i) {
            m.port = m.port.wrapping_add(2);
            m.proto = "RTP/AVP".into();
            sdp.set_media(i, &m);
        }
        if let Some(s) = sdp.section_mut(i) {
            s.remove_attribute("crypto");
            s.add_attribute("rtcp", Some("40003"));
            s.set_direction(Direction::SendRecv);
            s.set_connection(&relay);
        }
    }
    sdp.bump_version();
    assert!(Sdp::parse(&sdp.to_bytes()).is_ok());
});
