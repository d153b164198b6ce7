//! Arbitrary datagrams, ports and sources into a relay holding an SRTP call and a multiplexed
//! call: every input gets a verdict, a forward stays inside the buffer, nothing panics; the same
//! bytes as the kept head of a datagram the kernel cut off are counted, never relayed.
#![no_main]
use std::net::SocketAddr;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use media::relay::engine::{LatchPolicy, LegConfig, Relay, RelayConfig, Verdict, HEADROOM, TAILROOM};
use media::srtp::{Context, MasterKey, Policy, Suite};

fn relay() -> Relay {
    let mut relay = Relay::new(RelayConfig { mux_ports: vec![36000, 36001], ..RelayConfig::default() });
    let t0 = Instant::now();
    let suite = Suite::AesCm128HmacSha1_80;
    let key = MasterKey::from_key_salt(suite, &[9u8; 30]).expect("fixed key");
    let ctx = || Context::new(Policy::new(suite), &[(key.clone(), None)]).expect("context");
    let mut outside = LegConfig::plain(40000, None);
    outside.latch = LatchPolicy::Authenticated;
    outside.srtp_in = Some(ctx());
    outside.srtp_out = Some(ctx());
    let inside = LegConfig::plain(40002, Some("198.19.0.20:20000".parse().expect("addr")));
    relay.allocate(t0, outside, inside).expect("call 1");
    let client = LegConfig::plain(36002, None);
    let mut traversal = LegConfig::plain(36000, Some("198.18.0.2:50000".parse().expect("addr")));
    traversal.rtcp_port = Some(36001);
    traversal.mux_id = Some(7);
    relay.allocate(t0, client, traversal).expect("call 2");
    relay
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, datagram)) = data.split_first() else { return };
    let mut relay = relay();
    let ports = [40000u16, 40001, 40002, 40003, 36000, 36001, 36002, 36003, 1];
    let sources = ["198.18.1.10:40000", "198.19.0.20:20000", "198.18.0.2:50000", "[2001:db8::1]:5"];
    let port = ports[usize::from(selector) % ports.len()];
    let src: SocketAddr = sources[usize::from(selector >> 4) % sources.len()].parse().expect("addr");
    let mut buf = vec![0u8; HEADROOM + datagram.len() + TAILROOM];
    buf[HEADROOM..HEADROOM + datagram.len()].copy_from_slice(datagram);
    let buf_len = buf.len();
    if let Verdict::Forward(t) = relay.handle_datagram(Instant::now(), port, src, &mut buf, HEADROOM, datagram.len()) {
        assert!(t.start + t.len <= buf_len);
    }
    assert!(matches!(relay.drop_oversized(Instant::now(), port, datagram), Verdict::Drop(_)));
});
