//! `media::srtp` against libsrtp2, the reference implementation, for every suite: what one
//! protects the other unprotects, RTP and RTCP, with and without MKI, across a sequence-number
//! wrap, with reordered packets, and replays rejected by both. Because SRTP is deterministic for
//! a given key and index, both must also produce byte-identical packets.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers: an unwrap failing is the test failing"
)]

use libsrtp2_ref::{status, Config, Direction, Session, MAX_TRAILER};
use media::srtp::{Context, Error, MasterKey, Mki, Policy, Suite};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

const SSRC: u32 = 0x1234_5678;

/// An RTP packet with `csrcs` CSRCs and an extension of `ext_words` words when `ext_words` is
/// some, followed by a payload of `payload` bytes.
fn rtp(
    seq: u16,
    ssrc: u32,
    payload: usize,
    csrcs: u8,
    ext_words: Option<u16>,
    fill: u8,
) -> Vec<u8> {
    let mut p = vec![0x80 | csrcs, 0x00];
    if ext_words.is_some() {
        p[0] |= 0x10;
    }
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    for i in 0..csrcs {
        p.extend_from_slice(&(0xc0de_0000 + u32::from(i)).to_be_bytes());
    }
    if let Some(w) = ext_words {
        p.extend_from_slice(&[0xbe, 0xde]);
        p.extend_from_slice(&w.to_be_bytes());
        p.extend(std::iter::repeat_n(0x11, usize::from(w) * 4));
    }
    p.extend((0..payload).map(|i| fill.wrapping_add(i as u8)));
    p
}

/// A compound RTCP packet: a sender report with `extra` bytes of report blocks/SDES after it.
fn rtcp(ssrc: u32, extra: usize, fill: u8) -> Vec<u8> {
    let words = (20 + extra) / 4;
    let mut p = vec![0x80, 200];
    p.extend_from_slice(&(words as u16).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend((0..20 + extra).map(|i| fill.wrapping_add(i as u8)));
    p
}

struct Keys {
    suite: Suite,
    key_salts: Vec<Vec<u8>>,
    mkis: Vec<Vec<u8>>,
}

impl Keys {
    fn new(suite: Suite, n: usize, mki_len: usize, seed: u64) -> Keys {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let key_salts = (0..n)
            .map(|_| (0..suite.key_salt_len()).map(|_| rng.gen()).collect())
            .collect();
        let mkis = if mki_len == 0 {
            Vec::new()
        } else {
            (0..n).map(|i| vec![0xa0 + i as u8; mki_len]).collect()
        };
        Keys {
            suite,
            key_salts,
            mkis,
        }
    }

    fn ours(&self, policy: Policy) -> Context {
        let keys: Vec<(MasterKey, Option<Mki>)> = self
            .key_salts
            .iter()
            .enumerate()
            .map(|(i, ks)| {
                (
                    MasterKey::from_key_salt(self.suite, ks).unwrap(),
                    self.mkis.get(i).map(|m| Mki::new(m).unwrap()),
                )
            })
            .collect();
        Context::new(policy, &keys).unwrap()
    }

    fn reference(&self, direction: Direction, policy: Policy) -> Session {
        let keys: Vec<&[u8]> = self.key_salts.iter().map(|k| k.as_slice()).collect();
        let mkis: Vec<&[u8]> = self.mkis.iter().map(|k| k.as_slice()).collect();
        Session::new(&Config {
            suite: self.suite.sdes_name(),
            direction,
            keys: &keys,
            mkis: &mkis,
            window: policy.replay_window as u64,
            allow_repeat_tx: policy.allow_repeat_tx,
            rtcp_encrypt: policy.encrypt_rtcp,
        })
        .unwrap()
    }
}

/// A sender and a receiver of each implementation, keyed alike.
struct Endpoints {
    ours_tx: Context,
    ref_tx: Session,
    ours_rx: Context,
    ref_rx: Session,
}

impl Keys {
    fn endpoints(&self, policy: Policy) -> Endpoints {
        Endpoints {
            ours_tx: self.ours(policy),
            ref_tx: self.reference(Direction::Outbound, policy),
            ours_rx: self.ours(policy),
            ref_rx: self.reference(Direction::Inbound, policy),
        }
    }
}

fn with_room(p: &[u8]) -> Vec<u8> {
    let mut b = p.to_vec();
    b.resize(p.len() + MAX_TRAILER, 0);
    b
}

/// Packets of every shape: seq from 65500 across the wrap, payloads 0..1200, CSRCs, extensions.
fn packet_train(count: u16) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| {
            let seq = 65500u16.wrapping_add(i);
            let payload = [0usize, 1, 15, 16, 17, 160, 172, 1200][usize::from(i) % 8];
            let csrcs = (i % 3) as u8;
            let ext = (i % 5 == 0).then_some(i % 4);
            rtp(seq, SSRC, payload, csrcs, ext, i as u8)
        })
        .collect()
}

fn variants() -> Vec<(Suite, usize, usize, bool)> {
    let mut v = Vec::new();
    for suite in Suite::ALL {
        // (suite, keys, mki length, encrypted SRTCP)
        v.push((suite, 1, 0, true));
        v.push((suite, 2, 4, true));
        v.push((suite, 1, 1, false));
    }
    v
}

#[test]
fn rtp_both_ways_byte_identical_across_wrap() {
    for (suite, n, mki_len, enc) in variants() {
        let keys = Keys::new(suite, n, mki_len, 1);
        let mut policy = Policy::new(suite);
        policy.encrypt_rtcp = enc;
        let Endpoints {
            mut ours_tx,
            mut ref_tx,
            mut ours_rx,
            mut ref_rx,
        } = keys.endpoints(policy);
        for (i, p) in packet_train(200).iter().enumerate() {
            let ctx = format!("{suite} keys={n} mki={mki_len} packet {i}");
            let mut a = with_room(p);
            let la = ours_tx.protect_rtp(&mut a, p.len()).unwrap();
            let mut b = with_room(p);
            let lb = ref_tx.protect(&mut b, p.len()).unwrap();
            assert_eq!(&a[..la], &b[..lb], "{ctx}: protected bytes differ");
            // ours -> libsrtp2
            let l = ref_rx.unprotect(&mut a[..la]).unwrap();
            assert_eq!(&a[..l], &p[..], "{ctx}: libsrtp2 could not read ours");
            // libsrtp2 -> ours
            let l = ours_rx.unprotect_rtp(&mut b[..lb]).unwrap();
            assert_eq!(&b[..l], &p[..], "{ctx}: we could not read libsrtp2's");
        }
        assert_eq!(
            ours_rx.rx_rtp_index(SSRC),
            Some((1 << 16) | u64::from(65500u16.wrapping_add(199)))
        );
    }
}

#[test]
fn rtcp_both_ways_byte_identical() {
    for (suite, n, mki_len, enc) in variants() {
        let keys = Keys::new(suite, n, mki_len, 2);
        let mut policy = Policy::new(suite);
        policy.encrypt_rtcp = enc;
        let Endpoints {
            mut ours_tx,
            mut ref_tx,
            mut ours_rx,
            mut ref_rx,
        } = keys.endpoints(policy);
        if mki_len > 0 && suite.rtp_tag_len() != suite.rtcp_tag_len() {
            // libsrtp2 2.5 looks for the SRTCP MKI using the SRTP tag length (4 bytes for the
            // _32 suites) instead of the SRTCP one (10 bytes, RFC 4568 §6.2.2), so it cannot read
            // SRTCP with an MKI in these suites, its own included. Check ours against ours.
            for i in 0..20usize {
                let p = rtcp(SSRC, i * 4, i as u8);
                let mut a = with_room(&p);
                let la = ours_tx.protect_rtcp(&mut a, p.len()).unwrap();
                assert_eq!(
                    ours_rx.unprotect_rtcp(&mut a[..la]),
                    Ok(p.len()),
                    "{suite} mki"
                );
            }
            continue;
        }
        // RFC 3711 §3.4 starts the SRTCP index at 0, as we do; libsrtp2 starts it at 1. Send one
        // packet of ours first so both number the rest alike, and check that it reads as 0.
        let first = rtcp(SSRC, 0, 0);
        let mut f = with_room(&first);
        let lf = ours_tx.protect_rtcp(&mut f, first.len()).unwrap();
        let at = if suite.is_aead() {
            first.len() + 16
        } else {
            first.len()
        };
        assert_eq!(
            u32::from_be_bytes(f[at..at + 4].try_into().unwrap()) & 0x7fff_ffff,
            0
        );
        assert_eq!(
            ref_rx.unprotect_rtcp(&mut f[..lf]),
            Ok(first.len()),
            "{suite} keys={n} mki={mki_len} enc={enc}: first SRTCP packet"
        );
        for i in 0..60usize {
            let ctx = format!("{suite} keys={n} mki={mki_len} enc={enc} rtcp {i}");
            let p = rtcp(SSRC, (i % 7) * 24, i as u8);
            let mut a = with_room(&p);
            let la = ours_tx.protect_rtcp(&mut a, p.len()).unwrap();
            let mut b = with_room(&p);
            let lb = ref_tx.protect_rtcp(&mut b, p.len()).unwrap();
            assert_eq!(&a[..la], &b[..lb], "{ctx}: protected bytes differ");
            let l = ref_rx.unprotect_rtcp(&mut a[..la]).unwrap();
            assert_eq!(&a[..l], &p[..], "{ctx}: libsrtp2 could not read ours");
            let l = ours_rx.unprotect_rtcp(&mut b[..lb]).unwrap();
            assert_eq!(&b[..l], &p[..], "{ctx}: we could not read libsrtp2's");
        }
    }
}

#[test]
fn reordered_across_wrap_and_replays_rejected_by_both() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    for (suite, n, mki_len, _) in variants() {
        let keys = Keys::new(suite, n, mki_len, 4);
        let policy = Policy::new(suite);
        let Endpoints {
            mut ours_tx,
            mut ref_tx,
            mut ours_rx,
            mut ref_rx,
        } = keys.endpoints(policy);
        let train = packet_train(300);
        let mut ours_pkts = Vec::new();
        let mut ref_pkts = Vec::new();
        for p in &train {
            let mut a = with_room(p);
            let la = ours_tx.protect_rtp(&mut a, p.len()).unwrap();
            a.truncate(la);
            ours_pkts.push((p.clone(), a));
            let mut b = with_room(p);
            let lb = ref_tx.protect(&mut b, p.len()).unwrap();
            b.truncate(lb);
            ref_pkts.push((p.clone(), b));
        }
        // Shuffle within windows of 32 packets (well inside the 128-packet replay window), so
        // packets cross the wrap out of order. The first packet stays first: a receiver learns
        // its starting index from it.
        let mut order: Vec<usize> = (0..train.len()).collect();
        for chunk in order[1..].chunks_mut(32) {
            chunk.shuffle(&mut rng);
        }
        for &i in &order {
            let (plain, mut a) = ours_pkts[i].clone();
            let l = ref_rx
                .unprotect(&mut a)
                .unwrap_or_else(|e| panic!("{suite}: libsrtp2 rejected reordered packet {i}: {e}"));
            assert_eq!(&a[..l], &plain[..]);
            let (plain, mut b) = ref_pkts[i].clone();
            let l = ours_rx
                .unprotect_rtp(&mut b)
                .unwrap_or_else(|e| panic!("{suite}: we rejected reordered packet {i}: {e}"));
            assert_eq!(&b[..l], &plain[..]);
        }
        // Replays: recent ones (in the window) and old ones (behind it).
        for i in [299usize, 290, 250, 10, 0] {
            let (_, mut a) = ours_pkts[i].clone();
            let rc = ref_rx.unprotect(&mut a).unwrap_err();
            assert!(
                rc == status::REPLAY_FAIL || rc == status::REPLAY_OLD,
                "{suite}: libsrtp2 took a replay of {i}: {rc}"
            );
            let (_, mut b) = ref_pkts[i].clone();
            assert_eq!(
                ours_rx.unprotect_rtp(&mut b),
                Err(Error::Replay),
                "{suite}: replay {i}"
            );
        }
    }
}

#[test]
fn rtcp_replays_rejected_by_both() {
    for suite in Suite::ALL {
        let keys = Keys::new(suite, 1, 0, 5);
        let policy = Policy::new(suite);
        let Endpoints {
            mut ours_tx,
            mut ref_tx,
            mut ours_rx,
            mut ref_rx,
        } = keys.endpoints(policy);
        let p = rtcp(SSRC, 24, 9);
        let mut a = with_room(&p);
        let la = ours_tx.protect_rtcp(&mut a, p.len()).unwrap();
        let mut b = with_room(&p);
        let lb = ref_tx.protect_rtcp(&mut b, p.len()).unwrap();
        let (a, b) = (a[..la].to_vec(), b[..lb].to_vec());
        ref_rx.unprotect_rtcp(&mut a.clone()).unwrap();
        assert!(
            ref_rx.unprotect_rtcp(&mut a.clone()).is_err(),
            "{suite}: libsrtp2 took an RTCP replay"
        );
        ours_rx.unprotect_rtcp(&mut b.clone()).unwrap();
        assert_eq!(
            ours_rx.unprotect_rtcp(&mut b.clone()),
            Err(Error::Replay),
            "{suite}"
        );
    }
}

#[test]
fn mki_selects_the_key_and_unknown_mki_is_refused_by_both() {
    for suite in Suite::ALL {
        let keys = Keys::new(suite, 3, 2, 6);
        let policy = Policy::new(suite);
        let Endpoints {
            mut ours_tx,
            mut ref_tx,
            mut ours_rx,
            mut ref_rx,
        } = keys.endpoints(policy);
        ours_tx
            .set_active_key(&Mki::new(&keys.mkis[2]).unwrap())
            .unwrap();
        let p = rtp(7, SSRC, 160, 0, None, 1);
        let mut a = with_room(&p);
        let la = ours_tx.protect_rtp(&mut a, p.len()).unwrap();
        let mut b = with_room(&p);
        let lb = ref_tx.protect_with_key(&mut b, p.len(), 2).unwrap();
        assert_eq!(&a[..la], &b[..lb], "{suite}: key 2 packets differ");
        let mut a2 = a[..la].to_vec();
        assert_eq!(ref_rx.unprotect(&mut a2), Ok(p.len()));
        let mut b2 = b[..lb].to_vec();
        assert_eq!(ours_rx.unprotect_rtp(&mut b2), Ok(p.len()));

        // A new packet with an MKI nobody knows.
        let p = rtp(8, SSRC, 160, 0, None, 1);
        let mut a = with_room(&p);
        let la = ours_tx.protect_rtp(&mut a, p.len()).unwrap();
        let mki_at = if suite.is_aead() {
            la - 2
        } else {
            la - suite.rtp_tag_len() - 2
        };
        let mut bad = a[..la].to_vec();
        bad[mki_at..mki_at + 2].copy_from_slice(&[0xee, 0xee]);
        assert_eq!(
            ref_rx.unprotect(&mut bad.clone()),
            Err(status::BAD_MKI),
            "{suite}"
        );
        assert_eq!(
            ours_rx.unprotect_rtp(&mut bad),
            Err(Error::UnknownMki),
            "{suite}"
        );
    }
}

#[test]
fn tampering_fails_authentication_in_both() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(8);
    for suite in Suite::ALL {
        let keys = Keys::new(suite, 1, 0, 9);
        let policy = Policy::new(suite);
        let mut tx = keys.ours(policy);
        let p = rtp(100, SSRC, 172, 1, None, 3);
        let mut a = with_room(&p);
        let la = tx.protect_rtp(&mut a, p.len()).unwrap();
        for _ in 0..200 {
            let mut ours_rx = keys.ours(policy);
            let mut ref_rx = keys.reference(Direction::Inbound, policy);
            let mut bad = a[..la].to_vec();
            // Any bit except the version bits (those give a header error first).
            let bit = rng.gen_range(2..la * 8);
            bad[bit / 8] ^= 0x80 >> (bit % 8);
            let ours = ours_rx.unprotect_rtp(&mut bad.clone());
            let theirs = ref_rx.unprotect(&mut bad.clone());
            assert!(
                ours.is_err(),
                "{suite}: bit {bit} flipped and we accepted it"
            );
            assert!(
                theirs.is_err(),
                "{suite}: bit {bit} flipped and libsrtp2 accepted it"
            );
        }
    }
}
