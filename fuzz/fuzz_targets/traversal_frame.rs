//! Traversal link input: the first byte picks what the rest is fed to — the frame parser alone
//! (whatever parses must re-emit to the same octets), a server link before authentication, or an
//! authenticated server or client link with streams open — in chunks whose sizes come from the
//! input, with timers fired in between. Nothing may panic; a dead link stays dead and quiet.
#![no_main]
use std::sync::Arc;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use signaling::traversal::frame::{self, Parsed, StreamKind};
use signaling::traversal::link::{Link, LinkConfig};
use signaling::traversal::Credentials;

struct Store;

impl Credentials for Store {
    fn check(&self, user: &str, password: &str) -> bool {
        user == "c" && password == "p"
    }
}

fn config() -> LinkConfig {
    LinkConfig {
        max_payload: 1024,
        max_streams: 4,
        stream_window: 2048,
        send_buffer: 2048,
        ..LinkConfig::default()
    }
}

fn drain(link: &mut Link, now: Instant) -> Vec<u8> {
    let mut out = Vec::new();
    while link.poll_transmit(now, &mut out) > 0 {}
    while let Some(event) = link.poll_event() {
        if let signaling::traversal::link::Event::StreamData { id, data } = event {
            link.stream_consumed(id, data.len());
        }
    }
    out
}

/// A client and a server that have authenticated, with a stream open each way.
fn pair(now: Instant) -> (Link, Link) {
    let mut client = Link::client(now, config(), "c", "p").expect("valid config");
    let mut server = Link::server(now, config(), Arc::new(Store)).expect("valid config");
    for _ in 0..3 {
        let c = drain(&mut client, now);
        server.handle_input(now, &c);
        let s = drain(&mut server, now);
        client.handle_input(now, &s);
    }
    let _ = client.open_stream(StreamKind::SIP);
    let _ = server.open_stream(StreamKind::HTTP);
    let c = drain(&mut client, now);
    server.handle_input(now, &c);
    let s = drain(&mut server, now);
    client.handle_input(now, &s);
    (client, server)
}

fn feed(link: &mut Link, now: Instant, data: &[u8]) {
    let mut rest = data;
    let mut t = now;
    // Each chunk: a size octet (low 7 bits: length; high bit: fire the timers after it), then
    // that many octets of input.
    while let Some((&size, tail)) = rest.split_first() {
        let (chunk, after) = tail.split_at(usize::from(size & 0x7f).min(tail.len()));
        link.handle_input(t, chunk);
        let _ = drain(link, t);
        if size & 0x80 != 0 {
            t += Duration::from_millis(u64::from(size & 0x7f) * 100);
            link.handle_timeout(t);
            let _ = drain(link, t);
        }
        rest = after;
    }
    if link.is_closed() {
        link.handle_input(t, data);
        assert!(link.poll_event().is_none(), "a dead link stays quiet");
        assert_eq!(link.open_streams(), 0);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let now = Instant::now();
    match mode % 4 {
        0 => {
            let mut buf = rest;
            while let Ok(Parsed::Frame { frame, len }) = frame::parse(buf, u16::MAX) {
                let mut out = Vec::new();
                frame
                    .emit_to_vec(&mut out)
                    .expect("a parsed frame re-emits");
                assert_eq!(out[0], buf[0]);
                assert_eq!(out[2..], buf[2..len]);
                buf = &buf[len..];
            }
        }
        1 => {
            let mut server = Link::server(now, config(), Arc::new(Store)).expect("valid config");
            feed(&mut server, now, rest);
        }
        2 => {
            let (_, mut server) = pair(now);
            feed(&mut server, now, rest);
        }
        _ => {
            let (mut client, _) = pair(now);
            feed(&mut client, now, rest);
        }
    }
});
