//! The packet path allocates nothing. SRTP: once a stream is known, protect and unprotect of
//! RTP and RTCP, in every suite, with and without MKI, and their error paths. The relay: once a
//! call is set up and latched, relaying both ways (SRTP↔RTP), multiplex framing and the drop
//! paths. Checked with a counting global allocator (this file is its own test binary).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use media::relay::engine::{
    LatchPolicy, LegConfig, Relay, RelayConfig, Verdict, HEADROOM, TAILROOM,
};
use media::srtp::{Context, Error, MasterKey, Mki, Policy, Suite};

struct Counting;

thread_local! {
    // Per thread: the test harness runs tests on parallel threads.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn note_allocation() {
    if COUNTING.with(Cell::get) {
        ALLOCATIONS.with(|a| a.set(a.get() + 1));
    }
}

// SAFETY: forwards every call unchanged to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn packet(seq: u16, payload: usize) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0x42, 0x42]);
    p.resize(12 + payload, 0x5a);
    p
}

fn rtcp() -> Vec<u8> {
    let mut p = vec![0x80, 200, 0, 6, 0, 0, 0x42, 0x42];
    p.resize(28, 0x33);
    p
}

#[test]
fn protect_and_unprotect_allocate_nothing_per_packet() {
    for suite in Suite::ALL {
        for mki in [None, Some(Mki::new(&[1, 2]).expect("MKI"))] {
            let key = MasterKey::random(suite).expect("random key");
            let p = Policy::new(suite);
            let mut tx = Context::new(p, &[(key.clone(), mki)]).expect("context");
            let mut rx = Context::new(p, &[(key, mki)]).expect("context");
            // Prepare every buffer first; the first packet of the stream sets its state up.
            let mut bufs: Vec<Vec<u8>> = (0..200u16)
                .map(|i| {
                    let mut b = packet(i, 160 + usize::from(i % 7) * 100);
                    b.resize(b.len() + 64, 0);
                    b
                })
                .collect();
            let lens: Vec<usize> = bufs.iter().map(|b| b.len() - 64).collect();
            let mut rtcp_bufs: Vec<Vec<u8>> = (0..50)
                .map(|_| {
                    let mut b = rtcp();
                    b.resize(b.len() + 64, 0);
                    b
                })
                .collect();
            let n = tx.protect_rtp(&mut bufs[0], lens[0]).expect("first packet");
            rx.unprotect_rtp(&mut bufs[0][..n]).expect("first packet");
            let n = tx.protect_rtcp(&mut rtcp_bufs[0], 28).expect("first rtcp");
            rx.unprotect_rtcp(&mut rtcp_bufs[0][..n])
                .expect("first rtcp");

            let n = count_allocations(|| {
                for (b, &len) in bufs.iter_mut().zip(&lens).skip(1) {
                    let n = tx.protect_rtp(b, len).expect("protect");
                    let mut forged = [0u8; 2048];
                    forged[..n].copy_from_slice(&b[..n]);
                    forged[n - 1] ^= 1;
                    assert!(rx.unprotect_rtp(&mut forged[..n]).is_err());
                    assert_eq!(rx.unprotect_rtp(&mut b[..n]), Ok(len));
                    assert_eq!(rx.unprotect_rtp(&mut b[..n]), Err(Error::Replay));
                }
                for b in rtcp_bufs.iter_mut().skip(1) {
                    let n = tx.protect_rtcp(b, 28).expect("protect rtcp");
                    assert_eq!(rx.unprotect_rtcp(&mut b[..n]), Ok(28));
                }
            });
            assert_eq!(
                n, 0,
                "{suite} mki={mki:?}: heap allocations on the packet path"
            );
        }
    }
}

fn count_allocations(f: impl FnOnce()) -> usize {
    ALLOCATIONS.with(|a| a.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn relaying_allocates_nothing_per_packet() {
    let suite = Suite::AesCm128HmacSha1_80;
    let key = MasterKey::random(suite).expect("key");
    let back = MasterKey::random(suite).expect("key");
    let ctx = |k: &MasterKey| Context::new(Policy::new(suite), &[(k.clone(), None)]).expect("ctx");
    let (mut client_tx, mut client_rx) = (ctx(&key), ctx(&back));
    let mut relay = Relay::new(RelayConfig {
        mux_ports: vec![36000, 36001],
        ..RelayConfig::default()
    });
    let t0 = std::time::Instant::now();
    let mut outside = LegConfig::plain(40000, None);
    outside.latch = LatchPolicy::Authenticated;
    outside.srtp_in = Some(ctx(&key));
    outside.srtp_out = Some(ctx(&back));
    let inside_addr = "198.19.0.20:20000".parse().expect("addr");
    let mut inside = LegConfig::plain(36000, Some(inside_addr));
    inside.rtcp_port = Some(36001);
    inside.mux_id = Some(5);
    relay.allocate(t0, outside, inside).expect("call");
    let client = "198.18.1.10:40000".parse().expect("addr");

    // Buffers prepared up front: client SRTP packets, and framed plain packets from inside.
    let mut from_client: Vec<Vec<u8>> = (0..300u16)
        .map(|i| {
            let mut p = packet(i, 160);
            p.resize(p.len() + 64, 0);
            let n = client_tx.protect_rtp(&mut p, 172).expect("protect");
            let mut b = vec![0u8; HEADROOM + n + TAILROOM];
            b[HEADROOM..HEADROOM + n].copy_from_slice(&p[..n]);
            b
        })
        .collect();
    let mut from_inside: Vec<Vec<u8>> = (0..300u16)
        .map(|i| {
            let mut b = vec![0u8; HEADROOM + 4 + 172 + TAILROOM];
            b[HEADROOM..HEADROOM + 4].copy_from_slice(&5u32.to_be_bytes());
            b[HEADROOM + 4..HEADROOM + 4 + 172].copy_from_slice(&packet(1000 + i, 160));
            b
        })
        .collect();
    let client_len = from_client[0].len() - HEADROOM - TAILROOM;
    // First packets latch both legs (events are queued: that may allocate, once).
    for (b, src, port, len) in [
        (&mut from_client[0], client, 40000u16, client_len),
        (&mut from_inside[0], inside_addr, 36000, 176),
    ] {
        assert!(matches!(
            relay.handle_datagram(t0, port, src, b, HEADROOM, len),
            Verdict::Forward(_)
        ));
    }
    while relay.poll_event().is_some() {}

    let mut replies = Vec::with_capacity(300);
    let n = count_allocations(|| {
        for i in 1..300 {
            let v =
                relay.handle_datagram(t0, 40000, client, &mut from_client[i], HEADROOM, client_len);
            assert!(matches!(v, Verdict::Forward(_)), "{v:?}");
            let v =
                relay.handle_datagram(t0, 36000, inside_addr, &mut from_inside[i], HEADROOM, 176);
            let Verdict::Forward(t) = v else {
                panic!("{v:?}")
            };
            replies.push((i, t.start, t.len));
            // Drop paths: a replay and a forged packet.
            assert!(matches!(
                relay.handle_datagram(t0, 40000, client, &mut from_client[i], HEADROOM, client_len),
                Verdict::Drop(_)
            ));
        }
    });
    assert_eq!(n, 0, "heap allocations while relaying");
    for (i, start, len) in replies {
        let mut srtp = from_inside[i][start..start + len].to_vec();
        assert_eq!(client_rx.unprotect_rtp(&mut srtp), Ok(172), "reply {i}");
    }
}
