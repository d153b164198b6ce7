//! Any bytes as one SIP message and as a stream. Nothing may panic; the framer only ever returns
//! frames inside the buffer; a message that parses writes back as bytes that parse to the same
//! message, each of its typed header values writes in canonical form and parses back to itself,
//! and the proxy edits leave it parseable; a request that does not parse gets an answer or a
//! reason why it cannot have one.
#![no_main]
use libfuzzer_sys::fuzz_target;
use signaling::sip::{
    error_response, parse_value, Frame, Framer, Limits, Message, Role, Unanswerable, Value,
};

fuzz_target!(|data: &[u8]| {
    for role in [Role::Server, Role::Client] {
        for limits in [
            Limits::default(),
            Limits {
                max_header: 128,
                max_body: 32,
            },
        ] {
            let mut framer = Framer::new(limits, role);
            let mut rest = data;
            while let Ok(frame) = framer.next(rest) {
                if frame.is_empty() {
                    break;
                }
                assert!(frame.len() <= rest.len());
                if let Frame::Message { len } = frame {
                    let _ = Message::parse(&rest[..len]);
                }
                rest = &rest[frame.len()..];
            }
        }
    }
    match Message::parse(data) {
        Ok(msg) => {
            let out = msg.to_bytes();
            assert_eq!(out.len(), msg.wire_len());
            let again = Message::parse(&out).expect("a written message parses");
            assert_eq!(again, msg);
            assert_eq!(again.to_bytes(), out);
            for h in msg.headers() {
                if *h.value() != Value::Other {
                    let text = h.value().to_string();
                    assert_eq!(
                        parse_value(h.kind(), text.as_bytes()).as_ref(),
                        Ok(h.value()),
                        "{text}"
                    );
                }
            }
            // every request but ACK can be answered
            match msg.response(400, "Bad Request", Some("fz")) {
                Ok(r) => assert_eq!(r.call_id(), msg.call_id()),
                Err(e) => assert!(matches!(e, Unanswerable::NotARequest | Unanswerable::Ack)),
            }
            let mut edited = msg.clone();
            let _ = edited.stamp_received("[2001:db8::1]:5061".parse().expect("address"));
            let _ = edited.decrement_max_forwards();
            let _ = edited.edit_contacts(|c| c.set_param("expires", Some("60")));
            let _ = edited.pop_route();
            let _ = edited.pop_via();
            if edited.top_via().is_some() {
                let bytes = edited.to_bytes();
                assert_eq!(
                    Message::parse(&bytes).expect("an edited message parses"),
                    edited
                );
            }
        }
        Err(e) => {
            let mut out = Vec::new();
            if error_response(data, e, "fz", &mut out).is_ok() {
                assert!(out.starts_with(b"SIP/2.0 ") && out.ends_with(b"\r\n\r\n"));
            }
        }
    }
});
