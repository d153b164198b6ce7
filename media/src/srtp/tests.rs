//! RFC test vectors (RFC 3711 B.2/B.3, RFC 6188 §7, RFC 7714 §16–17), libsrtp's known answers,
//! and property tests of the whole context: round trips, every single-bit change rejected,
//! errors told apart, no panic on any input.

use super::aes_cm::{apply_keystream, derive, Aes, Label};
use super::gcm::Gcm;
use super::rfc_vectors::*;
use super::*;
use rand::{Rng, SeedableRng};

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn hex16(s: &str) -> [u8; 16] {
    hex(s).try_into().unwrap()
}

fn keystream_blocks(key: &str, blocks: &[(&str, &str)]) {
    let aes = Aes::new(&hex(key));
    for (counter, expected) in blocks {
        let mut out = [0u8; 16];
        apply_keystream(&aes, &hex16(counter), &mut out);
        assert_eq!(out.to_vec(), hex(expected), "counter {counter}");
    }
}

/// RFC 3711 Appendix B.2: AES-CM keystream.
#[test]
fn rfc3711_b2_aes_cm_keystream() {
    keystream_blocks(RFC3711_B2_SESSION_KEY, RFC3711_B2_BLOCKS);
    // The IV the context builds from salt, SSRC and index is the initial counter of B.2.
    let ctx = Context::from_session_keys(
        Policy::new(Suite::AesCm128HmacSha1_80),
        &hex(RFC3711_B2_SESSION_KEY),
        &hex(RFC3711_B2_SESSION_SALT),
        &[0; 20],
    );
    let ssrc = u32::from_be_bytes(hex(RFC3711_B2_SSRC).try_into().unwrap());
    let roc = u64::from(u32::from_be_bytes(hex(RFC3711_B2_ROC).try_into().unwrap()));
    let seq = u64::from(u16::from_be_bytes(hex(RFC3711_B2_SEQ).try_into().unwrap()));
    assert_eq!(
        ctx.cm_iv(false, ssrc, (roc << 16) | seq).to_vec(),
        hex(RFC3711_B2_INITIAL_COUNTER)
    );
    // Keystream across several blocks in one call equals the block-by-block table.
    let aes = Aes::new(&hex(RFC3711_B2_SESSION_KEY));
    let mut three = [0u8; 48];
    apply_keystream(&aes, &hex16(RFC3711_B2_INITIAL_COUNTER), &mut three);
    let table: Vec<u8> = RFC3711_B2_BLOCKS[..3]
        .iter()
        .flat_map(|(_, k)| hex(k))
        .collect();
    assert_eq!(three.to_vec(), table);
}

/// RFC 3711 Appendix B.3: key derivation.
#[test]
fn rfc3711_b3_key_derivation() {
    assert_eq!(
        hex(RFC3711_B3_INDEX_DIV_KDR),
        vec![0; 6],
        "vectors use r = 0"
    );
    let master = Aes::new(&hex(RFC3711_B3_MASTER_KEY));
    let salt = hex(RFC3711_B3_MASTER_SALT);
    let mut key = [0u8; 16];
    derive(&master, &salt, Label::RtpEncryption, &mut key);
    assert_eq!(key.to_vec(), hex(RFC3711_B3_CIPHER_KEY));
    let mut s = [0u8; 14];
    derive(&master, &salt, Label::RtpSalt, &mut s);
    assert_eq!(s.to_vec(), hex(RFC3711_B3_CIPHER_SALT));
    let mut auth = [0u8; 20];
    derive(&master, &salt, Label::RtpAuth, &mut auth);
    assert_eq!(auth.to_vec(), hex(RFC3711_B3_AUTH_KEY_20));
    let mut full = vec![0u8; hex(RFC3711_B3_AUTH_KEY_FULL).len()];
    derive(&master, &salt, Label::RtpAuth, &mut full);
    assert_eq!(full, hex(RFC3711_B3_AUTH_KEY_FULL));
    // The AES inputs the RFC prints are the counter blocks the KDF builds.
    let mut block = [0u8; 16];
    let aes_in = hex16(RFC3711_B3_CIPHER_SALT_AES_INPUT);
    apply_keystream(&master, &aes_in, &mut block);
    assert_eq!(block.to_vec(), hex(RFC3711_B3_CIPHER_SALT_AES_OUTPUT));
    for (input, label) in [
        (RFC3711_B3_CIPHER_KEY_AES_INPUT, 0u8),
        (RFC3711_B3_CIPHER_SALT_AES_INPUT, 2),
        (RFC3711_B3_AUTH_KEY_AES_INPUT, 1),
    ] {
        let mut expect = [0u8; 16];
        expect[..14].copy_from_slice(&salt);
        expect[7] ^= label;
        assert_eq!(hex(input), expect.to_vec(), "label {label}");
    }
}

/// RFC 6188 §7.1 (AES-256-CM keystream) and §7.2 (AES-256 key derivation).
#[test]
fn rfc6188_aes256() {
    keystream_blocks(RFC6188_7_1_SESSION_KEY, RFC6188_7_1_BLOCKS);
    let aes = Aes::new(&hex(RFC6188_7_1_SESSION_KEY));
    let mut iv = [0u8; 16];
    iv[..14].copy_from_slice(&hex(RFC6188_7_1_SESSION_SALT));
    assert_eq!(iv.to_vec(), hex(RFC6188_7_1_INITIAL_COUNTER));
    let mut ks = [0u8; 16];
    apply_keystream(&aes, &iv, &mut ks);
    assert_eq!(ks.to_vec(), hex(RFC6188_7_1_BLOCKS[0].1));

    assert_eq!(hex(RFC6188_7_2_INDEX_DIV_KDR), vec![0; 6]);
    let master = Aes::new(&hex(RFC6188_7_2_MASTER_KEY));
    let salt = hex(RFC6188_7_2_MASTER_SALT);
    let mut key = [0u8; 32];
    derive(&master, &salt, Label::RtpEncryption, &mut key);
    assert_eq!(key.to_vec(), hex(RFC6188_7_2_CIPHER_KEY));
    let mut s = [0u8; 14];
    derive(&master, &salt, Label::RtpSalt, &mut s);
    assert_eq!(s.to_vec(), hex(RFC6188_7_2_CIPHER_SALT));
    let mut auth = [0u8; 20];
    derive(&master, &salt, Label::RtpAuth, &mut auth);
    assert_eq!(auth.to_vec(), hex(RFC6188_7_2_AUTH_KEY_20));
}

fn gcm_ctx(suite: Suite, key: &str, salt: &str) -> Context {
    Context::from_session_keys(Policy::new(suite), &hex(key), &hex(salt), &[])
}

/// RFC 7714 §16.1 (AEAD_AES_128_GCM) and §16.2 (AEAD_AES_256_GCM): SRTP encryption, decryption
/// and the GMAC (authentication-only) tags.
#[test]
fn rfc7714_16_srtp_gcm() {
    assert_eq!(
        hex(RFC7714_16_ROC),
        vec![0; 4],
        "a fresh context starts at ROC 0"
    );
    let ssrc = u32::from_be_bytes(hex(RFC7714_16_SSRC).try_into().unwrap());
    let seq = u16::from_be_bytes(hex(RFC7714_16_SEQ).try_into().unwrap());
    for (suite, key, salt, plain, iv, aad, tag, cipher, ao_aad, ao_tag, ao_packet) in [
        (
            Suite::AeadAes128Gcm,
            RFC7714_16_1_KEY,
            RFC7714_16_1_SALT,
            RFC7714_16_1_PLAINTEXT,
            RFC7714_16_1_IV,
            RFC7714_16_1_AAD,
            RFC7714_16_1_TAG,
            RFC7714_16_1_CIPHERTEXT,
            RFC7714_16_1_AUTH_ONLY_AAD,
            RFC7714_16_1_AUTH_ONLY_TAG,
            RFC7714_16_1_AUTH_ONLY_PACKET,
        ),
        (
            Suite::AeadAes256Gcm,
            RFC7714_16_2_KEY,
            RFC7714_16_2_SALT,
            RFC7714_16_2_PLAINTEXT,
            RFC7714_16_2_IV,
            RFC7714_16_2_AAD,
            RFC7714_16_2_TAG,
            RFC7714_16_2_CIPHERTEXT,
            RFC7714_16_2_AUTH_ONLY_AAD,
            RFC7714_16_2_AUTH_ONLY_TAG,
            RFC7714_16_2_AUTH_ONLY_PACKET,
        ),
    ] {
        let mut tx = gcm_ctx(suite, key, salt);
        let mut tail = [0u8; 6];
        tail[4..].copy_from_slice(&seq.to_be_bytes());
        assert_eq!(tx.gcm_iv(false, ssrc, tail).to_vec(), hex(iv), "{suite} IV");
        let plain = hex(plain);
        assert_eq!(
            &plain[..12],
            &hex(aad)[..],
            "{suite}: the AAD is the header"
        );
        let mut buf = plain.clone();
        buf.resize(plain.len() + 16, 0);
        let n = tx.protect_rtp(&mut buf, plain.len()).unwrap();
        assert_eq!(buf[..n].to_vec(), hex(cipher), "{suite} encryption");
        assert_eq!(buf[n - 16..n].to_vec(), hex(tag), "{suite} tag");
        let mut rx = gcm_ctx(suite, key, salt);
        let m = rx.unprotect_rtp(&mut buf[..n]).unwrap();
        assert_eq!(buf[..m].to_vec(), plain, "{suite} decryption");

        // Authentication only (GMAC over the whole packet, RFC 7714 §16.x.3).
        let g = Gcm::new(&hex(key)).unwrap();
        let t = g
            .seal(hex(iv).try_into().unwrap(), &hex(ao_aad), &mut [])
            .unwrap();
        assert_eq!(t.to_vec(), hex(ao_tag), "{suite} GMAC tag");
        let mut p = hex(ao_aad);
        p.extend_from_slice(&t);
        assert_eq!(p, hex(ao_packet), "{suite} GMAC packet");
        let mut only_tag = t;
        assert_eq!(
            g.open(hex(iv).try_into().unwrap(), &hex(ao_aad), &mut only_tag),
            Some(0)
        );
        let _ = hex(RFC7714_16_1_H).len() + hex(RFC7714_16_2_H).len(); // H is internal to GCM.
    }
}

/// RFC 7714 §17: SRTCP with GCM, encrypted (17.1, 17.2) and authentication-only (17.3, 17.4).
#[test]
fn rfc7714_17_srtcp_gcm() {
    let ssrc = u32::from_be_bytes(hex(RFC7714_17_SSRC).try_into().unwrap());
    let index = u32::from_be_bytes(hex(RFC7714_17_SRTCP_INDEX).try_into().unwrap());
    assert_eq!(
        hex(RFC7714_17_1_ESRTCP_WORD),
        (0x8000_0000 | index).to_be_bytes()
    );
    assert_eq!(hex(RFC7714_17_3_ESRTCP_WORD), index.to_be_bytes());

    // 17.1: AES-128, encryption.
    let mut tx = gcm_ctx(Suite::AeadAes128Gcm, RFC7714_17_1_KEY, RFC7714_17_1_SALT);
    let mut tail = [0u8; 6];
    tail[2..].copy_from_slice(&index.to_be_bytes());
    assert_eq!(tx.gcm_iv(true, ssrc, tail).to_vec(), hex(RFC7714_17_1_IV));
    let plain = hex(RFC7714_17_1_PLAINTEXT);
    let mut aad = plain[..8].to_vec();
    aad.extend_from_slice(&hex(RFC7714_17_1_ESRTCP_WORD));
    assert_eq!(aad, hex(RFC7714_17_1_AAD));
    tx.set_tx_rtcp_index(ssrc, index);
    let mut buf = plain.clone();
    buf.resize(plain.len() + 20, 0);
    let n = tx.protect_rtcp(&mut buf, plain.len()).unwrap();
    assert_eq!(buf[..n].to_vec(), hex(RFC7714_17_1_CIPHERTEXT));
    assert_eq!(buf[n - 20..n - 4].to_vec(), hex(RFC7714_17_1_TAG));

    // 17.2: AES-256, decryption.
    let mut rx = gcm_ctx(Suite::AeadAes256Gcm, RFC7714_17_2_KEY, RFC7714_17_2_SALT);
    assert_eq!(rx.gcm_iv(true, ssrc, tail).to_vec(), hex(RFC7714_17_2_IV));
    assert_eq!(hex(RFC7714_17_2_ESRTCP_WORD), hex(RFC7714_17_1_ESRTCP_WORD));
    let mut c = hex(RFC7714_17_2_CIPHERTEXT);
    assert_eq!(c[c.len() - 20..c.len() - 4].to_vec(), hex(RFC7714_17_2_TAG));
    assert_eq!(&c[..8], &hex(RFC7714_17_2_AAD)[..8]);
    let m = rx.unprotect_rtcp(&mut c).unwrap();
    assert_eq!(c[..m].to_vec(), hex(RFC7714_17_2_PLAINTEXT));

    // 17.3: AES-128, authentication only (E = 0).
    let mut policy = Policy::new(Suite::AeadAes128Gcm);
    policy.encrypt_rtcp = false;
    let mut tx =
        Context::from_session_keys(policy, &hex(RFC7714_17_1_KEY), &hex(RFC7714_17_1_SALT), &[]);
    tx.set_tx_rtcp_index(ssrc, index);
    let plain = hex(RFC7714_17_3_PLAINTEXT);
    let mut aad = plain.clone();
    aad.extend_from_slice(&hex(RFC7714_17_3_ESRTCP_WORD));
    assert_eq!(aad, hex(RFC7714_17_3_AAD));
    let mut buf = plain.clone();
    buf.resize(plain.len() + 20, 0);
    let n = tx.protect_rtcp(&mut buf, plain.len()).unwrap();
    assert_eq!(buf[..n].to_vec(), hex(RFC7714_17_3_TAGGED_PACKET));
    assert_eq!(
        buf[plain.len()..plain.len() + 16].to_vec(),
        hex(RFC7714_17_3_TAG)
    );

    // 17.4: AES-256, verification of an authentication-only packet.
    let mut rx = gcm_ctx(Suite::AeadAes256Gcm, RFC7714_17_2_KEY, RFC7714_17_2_SALT);
    let mut p = hex(RFC7714_17_4_TAGGED_PACKET);
    let body = p.len() - 20;
    assert_eq!(p[body..body + 16].to_vec(), hex(RFC7714_17_4_TAG));
    assert_eq!(&hex(RFC7714_17_4_AAD)[..body], &p[..body]);
    let m = rx.unprotect_rtcp(&mut p).unwrap();
    assert_eq!(p[..m].to_vec(), hex(RFC7714_17_4_PLAINTEXT));
}

fn master(suite: Suite, key: &str, salt: &str) -> MasterKey {
    MasterKey::new(suite, &hex(key), &hex(salt)).unwrap()
}

/// libsrtp's known-answer packets (its test driver): full master-key contexts.
#[test]
fn libsrtp_known_answers() {
    let ssrc = u32::from_be_bytes(hex(LIBSRTP_SSRC).try_into().unwrap());
    let seq = u16::from_be_bytes(hex(LIBSRTP_SEQ).try_into().unwrap());
    let rtcp_index = u32::from_be_bytes(hex(LIBSRTP_SRTCP_INDEX).try_into().unwrap());
    let rtp = hex(LIBSRTP_RTP_PLAINTEXT);
    assert_eq!(u16::from_be_bytes([rtp[2], rtp[3]]), seq);
    let rtcp = hex(LIBSRTP_RTCP_PLAINTEXT);
    let cases: [(Suite, MasterKey, &str, Option<&str>); 3] = [
        (
            Suite::AesCm128HmacSha1_80,
            master(
                Suite::AesCm128HmacSha1_80,
                LIBSRTP_AES128_SHA1_80_MASTER_KEY,
                LIBSRTP_AES128_SHA1_80_MASTER_SALT,
            ),
            LIBSRTP_AES128_SHA1_80_SRTP,
            Some(LIBSRTP_AES128_SHA1_80_SRTCP),
        ),
        (
            Suite::AesCm256HmacSha1_80,
            master(
                Suite::AesCm256HmacSha1_80,
                LIBSRTP_AES256_SHA1_80_MASTER_KEY,
                LIBSRTP_AES256_SHA1_80_MASTER_SALT,
            ),
            LIBSRTP_AES256_SHA1_80_SRTP,
            None,
        ),
        (
            Suite::AeadAes128Gcm,
            master(
                Suite::AeadAes128Gcm,
                LIBSRTP_GCM128_MASTER_KEY,
                LIBSRTP_GCM128_MASTER_SALT,
            ),
            LIBSRTP_GCM128_SRTP,
            Some(LIBSRTP_GCM128_SRTCP),
        ),
    ];
    for (suite, key, srtp, srtcp) in cases {
        let mut tx = Context::new(Policy::new(suite), &[(key.clone(), None)]).unwrap();
        let mut buf = rtp.clone();
        buf.resize(rtp.len() + 16, 0);
        let n = tx.protect_rtp(&mut buf, rtp.len()).unwrap();
        assert_eq!(buf[..n].to_vec(), hex(srtp), "{suite} SRTP");
        let mut rx = Context::new(Policy::new(suite), &[(key, None)]).unwrap();
        assert_eq!(rx.unprotect_rtp(&mut buf[..n]), Ok(rtp.len()));
        assert_eq!(buf[..rtp.len()], rtp[..]);
        if let Some(srtcp) = srtcp {
            tx.set_tx_rtcp_index(ssrc, rtcp_index);
            let mut buf = rtcp.clone();
            buf.resize(rtcp.len() + 24, 0);
            let n = tx.protect_rtcp(&mut buf, rtcp.len()).unwrap();
            assert_eq!(buf[..n].to_vec(), hex(srtcp), "{suite} SRTCP");
            assert_eq!(rx.unprotect_rtcp(&mut buf[..n]), Ok(rtcp.len()));
            assert_eq!(buf[..rtcp.len()], rtcp[..]);
        }
    }
}

// ----- properties -----------------------------------------------------------------------------

fn random_key(suite: Suite, rng: &mut impl Rng) -> MasterKey {
    let ks: Vec<u8> = (0..suite.key_salt_len()).map(|_| rng.gen()).collect();
    MasterKey::from_key_salt(suite, &ks).unwrap()
}

fn pair(suite: Suite, mki: Option<Mki>, rng: &mut impl Rng) -> (Context, Context) {
    let k = random_key(suite, rng);
    let p = Policy::new(suite);
    (
        Context::new(p, &[(k.clone(), mki)]).unwrap(),
        Context::new(p, &[(k, mki)]).unwrap(),
    )
}

fn random_rtp(seq: u16, ssrc: u32, rng: &mut impl Rng) -> Vec<u8> {
    let csrcs = rng.gen_range(0..3u8);
    let ext = rng.gen_bool(0.3);
    let mut p = vec![
        0x80 | csrcs | if ext { 0x10 } else { 0 },
        rng.gen_range(0..128),
    ];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&rng.gen::<u32>().to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    for _ in 0..csrcs {
        p.extend_from_slice(&rng.gen::<u32>().to_be_bytes());
    }
    if ext {
        let words = rng.gen_range(0..3u16);
        p.extend_from_slice(&[0xbe, 0xde]);
        p.extend_from_slice(&words.to_be_bytes());
        p.extend((0..words * 4).map(|_| rng.gen::<u8>()));
    }
    let payload = rng.gen_range(0..300);
    p.extend((0..payload).map(|_| rng.gen::<u8>()));
    p
}

fn random_rtcp(ssrc: u32, rng: &mut impl Rng) -> Vec<u8> {
    let words = rng.gen_range(1..40u16);
    let mut p = vec![0x80, 200];
    p.extend_from_slice(&words.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend((0..(words as usize - 1) * 4).map(|_| rng.gen::<u8>()));
    p
}

const ROOM: usize = 64;

#[test]
fn protect_then_unprotect_is_identity() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    for suite in Suite::ALL {
        for mki in [None, Some(Mki::new(&[1, 2, 3]).unwrap())] {
            let (mut tx, mut rx) = pair(suite, mki, &mut rng);
            let ssrc = rng.gen();
            let start: u16 = rng.gen();
            for i in 0..500u16 {
                let p = random_rtp(start.wrapping_add(i), ssrc, &mut rng);
                let mut b = p.clone();
                b.resize(p.len() + ROOM, 0);
                let n = tx.protect_rtp(&mut b, p.len()).unwrap();
                assert_eq!(n, p.len() + tx.rtp_overhead());
                assert_eq!(rx.unprotect_rtp(&mut b[..n]), Ok(p.len()), "{suite}");
                assert_eq!(b[..p.len()], p[..]);

                let c = random_rtcp(ssrc, &mut rng);
                let mut b = c.clone();
                b.resize(c.len() + ROOM, 0);
                let n = tx.protect_rtcp(&mut b, c.len()).unwrap();
                assert_eq!(n, c.len() + tx.rtcp_overhead());
                if c.len() >= 12 {
                    assert_ne!(b[8..c.len()], c[8..], "{suite}: SRTCP body encrypted");
                }
                assert_eq!(rx.unprotect_rtcp(&mut b[..n]), Ok(c.len()), "{suite}");
                assert_eq!(b[..c.len()], c[..]);
            }
        }
    }
}

/// Any single-bit change anywhere in a protected packet is refused: as an authentication
/// failure, or, where the bit changes the header's structure or the MKI, as a bad header, a short
/// packet or an unknown MKI. Never accepted.
#[test]
fn every_single_bit_change_is_rejected() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(12);
    for suite in Suite::ALL {
        for mki in [None, Some(Mki::new(&[9, 9]).unwrap())] {
            let (mut tx, mut rx) = pair(suite, mki, &mut rng);
            let p = random_rtp(100, 0xabcd, &mut rng);
            let mut b = p.clone();
            b.resize(p.len() + ROOM, 0);
            let n = tx.protect_rtp(&mut b, p.len()).unwrap();
            let c = random_rtcp(0xabcd, &mut rng);
            let mut bc = c.clone();
            bc.resize(c.len() + ROOM, 0);
            let nc = tx.protect_rtcp(&mut bc, c.len()).unwrap();
            for (packet, is_rtp) in [(&b[..n], true), (&bc[..nc], false)] {
                for bit in 0..packet.len() * 8 {
                    let mut bad = packet.to_vec();
                    bad[bit / 8] ^= 0x80 >> (bit % 8);
                    let r = if is_rtp {
                        rx.unprotect_rtp(&mut bad)
                    } else {
                        rx.unprotect_rtcp(&mut bad)
                    };
                    match r {
                        Err(Error::AuthFail) => {}
                        Err(Error::BadHeader | Error::TooShort | Error::UnknownMki) => {}
                        other => panic!("{suite} rtp={is_rtp} bit {bit}: {other:?}"),
                    }
                }
            }
            // The untouched packets still pass afterwards: failures left no state behind.
            assert_eq!(rx.unprotect_rtp(&mut b[..n]), Ok(p.len()));
            assert_eq!(rx.unprotect_rtcp(&mut bc[..nc]), Ok(c.len()));
        }
    }
}

#[test]
fn errors_are_told_apart() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(13);
    let suite = Suite::AesCm128HmacSha1_80;
    let k = random_key(suite, &mut rng);
    let mki = Mki::new(&[7]).unwrap();
    let mut policy = Policy::new(suite);
    policy.max_streams = 2;
    let mut tx = Context::new(policy, &[(k.clone(), Some(mki))]).unwrap();
    let mut rx = Context::new(policy, &[(k, Some(mki))]).unwrap();
    let p = random_rtp(1, 1, &mut rng);
    let mut b = p.clone();
    b.resize(p.len() + ROOM, 0);

    assert_eq!(
        tx.protect_rtp(&mut b[..p.len() + 3], p.len()),
        Err(Error::BufferTooSmall)
    );
    let too_long = b.len() + 1;
    assert_eq!(tx.protect_rtp(&mut b, too_long), Err(Error::BufferTooSmall));
    let n = tx.protect_rtp(&mut b, p.len()).unwrap();
    assert_eq!(rx.unprotect_rtp(&mut b[..5]), Err(Error::TooShort));
    let mut v1 = b[..n].to_vec();
    v1[0] = 0x40;
    assert_eq!(rx.unprotect_rtp(&mut v1), Err(Error::BadHeader));
    let mut wrong_mki = b[..n].to_vec();
    wrong_mki[n - 11] ^= 1;
    assert_eq!(rx.unprotect_rtp(&mut wrong_mki), Err(Error::UnknownMki));
    let mut forged = b[..n].to_vec();
    forged[n - 1] ^= 1;
    assert_eq!(rx.unprotect_rtp(&mut forged), Err(Error::AuthFail));
    let copy = b[..n].to_vec();
    assert_eq!(rx.unprotect_rtp(&mut b[..n]), Ok(p.len()));
    assert_eq!(rx.unprotect_rtp(&mut copy.clone()), Err(Error::Replay));

    // Stream limit: two SSRCs fit, a third (authentic) one is refused, and a forged packet from
    // a fourth SSRC neither fits nor takes a place.
    for ssrc in [2u32, 3] {
        let p = random_rtp(1, ssrc, &mut rng);
        let mut b = p.clone();
        b.resize(p.len() + ROOM, 0);
        let n = tx.protect_rtp(&mut b, p.len());
        if ssrc == 2 {
            let n = n.unwrap();
            assert_eq!(rx.unprotect_rtp(&mut b[..n]), Ok(p.len()));
        } else {
            assert_eq!(n, Err(Error::TooManyStreams), "sender limit too");
        }
    }
    assert_eq!(rx.rx_streams(), 2);
    let mut tx2 = Context::new(
        Policy::new(suite),
        &[(random_key(suite, &mut rng), Some(mki))],
    )
    .unwrap();
    let p = random_rtp(1, 4, &mut rng);
    let mut b = p.clone();
    b.resize(p.len() + ROOM, 0);
    let n = tx2.protect_rtp(&mut b, p.len()).unwrap();
    assert_eq!(rx.unprotect_rtp(&mut b[..n]), Err(Error::TooManyStreams));
    assert!(rx.remove_stream(1));
    assert_eq!(
        rx.unprotect_rtp(&mut b[..n]),
        Err(Error::AuthFail),
        "room again, but forged"
    );
    assert_eq!(rx.rx_streams(), 1, "a forged packet creates no state");

    for e in [
        Error::TooShort,
        Error::BadHeader,
        Error::AuthFail,
        Error::Replay,
        Error::UnknownMki,
        Error::BufferTooSmall,
        Error::TooManyStreams,
        Error::KeyExhausted,
    ] {
        assert!(!e.to_string().is_empty());
        assert!(e
            .reason()
            .chars()
            .all(|c| c.is_ascii_lowercase() || c == '_'));
    }
}

#[test]
fn config_errors() {
    let suite = Suite::AesCm128HmacSha1_80;
    let k = MasterKey::from_key_salt(suite, &[1; 30]).unwrap();
    let other = MasterKey::from_key_salt(Suite::AeadAes128Gcm, &[1; 28]).unwrap();
    let p = Policy::new(suite);
    assert_eq!(Context::new(p, &[]).unwrap_err(), ConfigError::NoKeys);
    assert_eq!(
        Context::new(p, &[(other, None)]).unwrap_err(),
        ConfigError::SuiteMismatch
    );
    let m1 = Mki::new(&[1]).unwrap();
    let m2 = Mki::new(&[2, 2]).unwrap();
    assert_eq!(
        Context::new(p, &[(k.clone(), None), (k.clone(), None)]).unwrap_err(),
        ConfigError::MkiMismatch
    );
    assert_eq!(
        Context::new(p, &[(k.clone(), Some(m1)), (k.clone(), Some(m2))]).unwrap_err(),
        ConfigError::MkiMismatch
    );
    assert_eq!(
        Context::new(p, &[(k.clone(), Some(m1)), (k.clone(), Some(m1))]).unwrap_err(),
        ConfigError::MkiMismatch
    );
    for w in [0usize, 63, 32769] {
        let mut q = p;
        q.replay_window = w;
        assert_eq!(
            Context::new(q, &[(k.clone(), None)]).unwrap_err(),
            ConfigError::ReplayWindow(w)
        );
    }
    let mut q = p;
    q.max_streams = 0;
    assert_eq!(
        Context::new(q, &[(k.clone(), None)]).unwrap_err(),
        ConfigError::MaxStreams
    );
    let many: Vec<_> = (0..=MAX_MASTER_KEYS as u8)
        .map(|i| (k.clone(), Some(Mki::new(&[i]).unwrap())))
        .collect();
    assert_eq!(
        Context::new(p, &many).unwrap_err(),
        ConfigError::TooManyKeys
    );
    let mut c = Context::new(p, &[(k.clone(), Some(m1))]).unwrap();
    assert_eq!(
        c.set_active_key(&Mki::new(&[3]).unwrap()),
        Err(Error::UnknownMki)
    );
}

/// A 1024-packet window (and the largest, 32768) accepts a packet that far back once.
#[test]
fn large_replay_windows() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(14);
    for window in [1024usize, 32768] {
        let suite = Suite::AeadAes128Gcm;
        let k = random_key(suite, &mut rng);
        let mut policy = Policy::new(suite);
        policy.replay_window = window;
        let mut tx = Context::new(policy, &[(k.clone(), None)]).unwrap();
        let mut rx = Context::new(policy, &[(k, None)]).unwrap();
        let mut packets = Vec::new();
        for i in 0..(window as u32 + 1) {
            let p = random_rtp(i as u16, 5, &mut rng);
            let mut b = p.clone();
            b.resize(p.len() + ROOM, 0);
            let n = tx.protect_rtp(&mut b, p.len()).unwrap();
            b.truncate(n);
            packets.push(b);
        }
        // Deliver the newest first, then the oldest still in the window, then one too old.
        let last = packets.len() - 1;
        rx.unprotect_rtp(&mut packets[0].clone()).unwrap();
        rx.unprotect_rtp(&mut packets[last].clone()).unwrap();
        assert!(
            rx.unprotect_rtp(&mut packets[last - (window - 1)].clone())
                .is_ok(),
            "{window}"
        );
        assert_eq!(
            rx.unprotect_rtp(&mut packets[last - (window - 1)].clone()),
            Err(Error::Replay)
        );
        assert_eq!(
            rx.unprotect_rtp(&mut packets[last - window].clone()),
            Err(Error::Replay)
        );
    }
}

/// The rollover counter: a sender that passes seq 65535 moves to ROC 1, and a receiver follows,
/// also when the packets around the wrap arrive out of order.
#[test]
fn rollover_and_reordering_across_the_wrap() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(15);
    for suite in Suite::ALL {
        let (mut tx, mut rx) = pair(suite, None, &mut rng);
        let mut packets = Vec::new();
        for i in 0..64u16 {
            let p = random_rtp(65_504u16.wrapping_add(i), 6, &mut rng);
            let mut b = p.clone();
            b.resize(p.len() + ROOM, 0);
            let n = tx.protect_rtp(&mut b, p.len()).unwrap();
            packets.push((p, b[..n].to_vec()));
        }
        let order = [0usize, 33, 31, 32, 30, 34, 1, 63, 2, 40, 20, 45, 3];
        for i in order {
            let (p, mut s) = packets[i].clone();
            assert_eq!(rx.unprotect_rtp(&mut s), Ok(p.len()), "{suite} packet {i}");
            assert_eq!(s[..p.len()], p[..]);
        }
        assert_eq!(rx.rx_rtp_index(6), Some((1 << 16) | 31));
    }
}

/// The sender refuses to run past 2^48 packets and refuses to reuse an index unless allowed.
#[test]
fn sender_index_limits() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(16);
    let suite = Suite::AesCm128HmacSha1_80;
    let k = random_key(suite, &mut rng);
    let mut tx = Context::new(Policy::new(suite), &[(k.clone(), None)]).unwrap();
    tx.set_tx_rtp_index(9, (1 << 48) - 1);
    let p = random_rtp(0, 9, &mut rng);
    let mut b = p.clone();
    b.resize(p.len() + ROOM, 0);
    assert_eq!(tx.protect_rtp(&mut b, p.len()), Err(Error::KeyExhausted));
    tx.set_tx_rtcp_index(9, 1 << 31);
    let c = random_rtcp(9, &mut rng);
    let mut bc = c.clone();
    bc.resize(c.len() + ROOM, 0);
    assert_eq!(tx.protect_rtcp(&mut bc, c.len()), Err(Error::KeyExhausted));

    let mut tx = Context::new(Policy::new(suite), &[(k.clone(), None)]).unwrap();
    let mut b1 = b.clone();
    tx.protect_rtp(&mut b1, p.len()).unwrap();
    let mut b2 = b.clone();
    assert_eq!(tx.protect_rtp(&mut b2, p.len()), Err(Error::Replay));
    let mut policy = Policy::new(suite);
    policy.allow_repeat_tx = true;
    let mut tx = Context::new(policy, &[(k, None)]).unwrap();
    tx.protect_rtp(&mut b.clone(), p.len()).unwrap();
    tx.protect_rtp(&mut b.clone(), p.len()).unwrap();
}

/// Random bytes of every length through every entry point, in every suite, with and without
/// MKI: errors, never a panic. (The fuzz targets cover the same entry points, coverage-guided.)
#[test]
fn random_input_never_panics() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(17);
    for suite in Suite::ALL {
        for mki in [None, Some(Mki::new(&[1, 2, 3, 4]).unwrap())] {
            let (mut tx, mut rx) = pair(suite, mki, &mut rng);
            for _ in 0..3000 {
                let len = rng.gen_range(0..120);
                let mut data: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
                if rng.gen_bool(0.7) {
                    if let Some(b) = data.first_mut() {
                        *b = (*b & 0x3f) | 0x80; // mostly version 2, to get past the header
                    }
                }
                let _ = rx.unprotect_rtp(&mut data.clone());
                let _ = rx.unprotect_rtcp(&mut data.clone());
                let room = rng.gen_range(0..40);
                let mut buf = data.clone();
                buf.resize(len + room, 0);
                let _ = tx.protect_rtp(&mut buf.clone(), len);
                let _ = tx.protect_rtcp(&mut buf, len);
            }
        }
    }
}
