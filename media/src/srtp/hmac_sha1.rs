//! HMAC-SHA1 (RFC 2104) as SRTP uses it (RFC 3711 §4.2.1).
//!
//! The inner and outer pad states are compressed once when the key is set. Per packet, the full
//! 64-byte blocks of the message are compressed straight from the caller's buffer; only the tail,
//! the 4-byte trailer (the ROC for SRTP) and the padding go through a small stack buffer. The SHA-1
//! compression function uses the SHA extensions when the CPU has them.

/// Runs the SHA-1 compression function over `blocks`.
///
/// `sha1` takes its blocks as `GenericArray`s; converting a block view is free, one call per
/// block costs a few cycles next to the compression itself.
#[inline]
fn compress(state: &mut [u32; 5], blocks: &[[u8; BLOCK]]) {
    for b in blocks {
        sha1::compress(
            state,
            core::slice::from_ref(sha1::digest::generic_array::GenericArray::from_slice(b)),
        );
    }
}

/// SHA-1 initial state (FIPS 180-4 §5.3.1).
const SHA1_INIT: [u32; 5] = [
    0x6745_2301,
    0xefcd_ab89,
    0x98ba_dcfe,
    0x1032_5476,
    0xc3d2_e1f0,
];
const BLOCK: usize = 64;

/// An HMAC-SHA1 key with its pad states precomputed.
#[derive(Clone)]
pub(crate) struct HmacSha1 {
    inner: [u32; 5],
    outer: [u32; 5],
}

impl HmacSha1 {
    /// Precomputes the pad states for `key` (SRTP keys are 20 bytes; anything up to 64 works, a
    /// longer key is hashed first as RFC 2104 says).
    pub(crate) fn new(key: &[u8]) -> HmacSha1 {
        let mut k = [0u8; BLOCK];
        if key.len() > BLOCK {
            let d = sha1_digest(key);
            k[..20].copy_from_slice(&d);
        } else {
            k[..key.len()].copy_from_slice(key);
        }
        let mut ipad = [0x36u8; BLOCK];
        let mut opad = [0x5cu8; BLOCK];
        for i in 0..BLOCK {
            ipad[i] ^= k[i];
            opad[i] ^= k[i];
        }
        let mut inner = SHA1_INIT;
        let mut outer = SHA1_INIT;
        compress(&mut inner, &[ipad]);
        compress(&mut outer, &[opad]);
        HmacSha1 { inner, outer }
    }

    /// HMAC-SHA1 over `msg || trailer` (`trailer` is at most 8 bytes: the ROC for SRTP, empty for
    /// SRTCP). Returns the full 20-byte MAC; callers truncate.
    #[inline]
    pub(crate) fn mac(&self, msg: &[u8], trailer: &[u8]) -> [u8; 20] {
        debug_assert!(trailer.len() <= 8);
        let mut state = self.inner;
        let (blocks, tail) = msg.as_chunks::<BLOCK>();
        if !blocks.is_empty() {
            compress(&mut state, blocks);
        }
        // tail (< 64) + trailer (<= 8) + 0x80 + length (8) fits in two blocks.
        let mut last = [[0u8; BLOCK]; 2];
        let flat = last.as_flattened_mut();
        let trailer = &trailer[..trailer.len().min(8)];
        let mut n = tail.len();
        flat[..n].copy_from_slice(tail);
        flat[n..n + trailer.len()].copy_from_slice(trailer);
        n += trailer.len();
        flat[n] = 0x80;
        let nblocks = if n + 1 + 8 <= BLOCK { 1 } else { 2 };
        let bits = ((BLOCK + msg.len() + trailer.len()) as u64) * 8;
        flat[nblocks * BLOCK - 8..nblocks * BLOCK].copy_from_slice(&bits.to_be_bytes());
        compress(&mut state, &last[..nblocks]);

        let mut outer_block = [0u8; BLOCK];
        for (chunk, word) in outer_block.chunks_exact_mut(4).zip(state) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        outer_block[20] = 0x80;
        outer_block[56..].copy_from_slice(&(((BLOCK + 20) as u64) * 8).to_be_bytes());
        let mut out_state = self.outer;
        compress(&mut out_state, &[outer_block]);
        let mut out = [0u8; 20];
        for (chunk, word) in out.chunks_exact_mut(4).zip(out_state) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        out
    }
}

/// Plain SHA-1 of a short message; used only to shorten over-long HMAC keys.
fn sha1_digest(msg: &[u8]) -> [u8; 20] {
    let mut state = SHA1_INIT;
    let (blocks, tail) = msg.as_chunks::<BLOCK>();
    compress(&mut state, blocks);
    let mut last = [[0u8; BLOCK]; 2];
    let flat = last.as_flattened_mut();
    flat[..tail.len()].copy_from_slice(tail);
    flat[tail.len()] = 0x80;
    let nblocks = if tail.len() + 9 <= BLOCK { 1 } else { 2 };
    let bits = (msg.len() as u64) * 8;
    flat[nblocks * BLOCK - 8..nblocks * BLOCK].copy_from_slice(&bits.to_be_bytes());
    compress(&mut state, &last[..nblocks]);
    let mut out = [0u8; 20];
    for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

/// Compares two tags in time that depends only on their length.
#[inline]
pub(crate) fn tags_equal(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    core::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 2202 §3 test cases 1, 2 and 6 (HMAC-SHA1).
    #[test]
    fn rfc2202_vectors() {
        let k1 = [0x0bu8; 20];
        assert_eq!(
            HmacSha1::new(&k1).mac(b"Hi There", &[]).to_vec(),
            hex("b617318655057264e28bc0b6fb378c8ef146be00")
        );
        assert_eq!(
            HmacSha1::new(b"Jefe")
                .mac(b"what do ya want for noth", b"ing?")
                .to_vec(),
            hex("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
            "trailer is appended to the message"
        );
        let k6 = [0xaau8; 80];
        assert_eq!(
            HmacSha1::new(&k6)
                .mac(
                    b"Test Using Larger Than Block-Size Key - Hash Key First",
                    &[]
                )
                .to_vec(),
            hex("aa4ae5e15272d00e95705637ce8a3b55ed402112")
        );
    }

    /// Every message length across the one/two padding-block boundary, against the plain
    /// definition HMAC = H(K^opad || H(K^ipad || m)).
    #[test]
    fn all_tail_lengths_match_definition() {
        let key = [0x42u8; 20];
        let h = HmacSha1::new(&key);
        let msg: Vec<u8> = (0..300u32).map(|i| (i * 7) as u8).collect();
        for len in 0..msg.len() {
            for tl in [0usize, 4] {
                let trailer = &[1u8, 2, 3, 4][..tl];
                let mut ikey = vec![0x36u8; 64];
                let mut okey = vec![0x5cu8; 64];
                for i in 0..20 {
                    ikey[i] ^= key[i];
                    okey[i] ^= key[i];
                }
                ikey.extend_from_slice(&msg[..len]);
                ikey.extend_from_slice(trailer);
                let inner = sha1_digest(&ikey);
                okey.extend_from_slice(&inner);
                assert_eq!(h.mac(&msg[..len], trailer), sha1_digest(&okey), "len {len}");
            }
        }
    }

    #[test]
    fn sha1_known_answer() {
        assert_eq!(
            sha1_digest(b"abc").to_vec(),
            hex("a9993e364706816aba3e25717850c26c9cd0d89d")
        );
        assert_eq!(
            sha1_digest(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq").to_vec(),
            hex("84983e441c3bd26ebaae4aa1f95129e5e54670f1")
        );
    }

    #[test]
    fn tag_compare() {
        assert!(tags_equal(b"abcd", b"abcd"));
        assert!(!tags_equal(b"abcd", b"abce"));
        assert!(!tags_equal(b"abc", b"abcd"));
    }
}
