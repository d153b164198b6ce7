//! The SRTP packet path allocates nothing: once a stream is known, protect and unprotect of RTP
//! and RTCP, in every suite, with and without MKI, and their error paths, make no heap
//! allocation. Checked with a counting global allocator (this file is its own test binary).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use media::srtp::{Context, Error, MasterKey, Mki, Policy, Suite};

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call unchanged to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
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

            ALLOCATIONS.store(0, Ordering::Relaxed);
            COUNTING.store(true, Ordering::Relaxed);
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
            COUNTING.store(false, Ordering::Relaxed);
            assert_eq!(
                ALLOCATIONS.load(Ordering::Relaxed),
                0,
                "{suite} mki={mki:?}: heap allocations on the packet path"
            );
        }
    }
}
