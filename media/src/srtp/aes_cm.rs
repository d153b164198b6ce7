//! AES in counter mode as SRTP uses it (RFC 3711 §4.1.1), and the key derivation PRF built on it
//! (§4.3.1, §4.3.3).
//!
//! The counter block is the 128-bit IV; the low 16 bits count blocks within one packet. The AES key
//! schedule is expanded once, when the session keys are derived.

use aes::cipher::{BlockEncrypt, KeyInit};
use aes::{Aes128Enc, Aes256Enc, Block};

/// Blocks encrypted per call to the block cipher: enough for AES-NI to pipeline.
const PAR_BLOCKS: usize = 8;

/// An expanded AES encryption key of either size.
#[derive(Clone)]
#[expect(
    clippy::large_enum_variant,
    reason = "built once per context and never moved on the packet path"
)]
pub(crate) enum Aes {
    A128(Aes128Enc),
    A256(Aes256Enc),
}

impl Aes {
    /// Expands `key`, which is 16 or 32 bytes (callers hold suite lengths). Any other length
    /// is a bug in this crate; it is mapped to AES-128 over the first 16 bytes padded with zeros
    /// rather than panicking.
    pub(crate) fn new(key: &[u8]) -> Aes {
        if key.len() == 32 {
            let mut k = [0u8; 32];
            k.copy_from_slice(key);
            Aes::A256(Aes256Enc::new(&k.into()))
        } else {
            debug_assert_eq!(key.len(), 16, "AES key length");
            let mut k = [0u8; 16];
            let n = key.len().min(16);
            k[..n].copy_from_slice(&key[..n]);
            Aes::A128(Aes128Enc::new(&k.into()))
        }
    }

    #[inline]
    fn encrypt_blocks(&self, blocks: &mut [Block]) {
        match self {
            Aes::A128(c) => c.encrypt_blocks(blocks),
            Aes::A256(c) => c.encrypt_blocks(blocks),
        }
    }
}

/// XORs `data` with the AES-CM keystream that starts at counter block `iv`.
///
/// `data` may be up to 2^16 blocks long (the SRTP limit); the counter is incremented as a 128-bit
/// big-endian integer, which for an IV with zero low 16 bits is the RFC 3711 counter.
#[inline]
pub(crate) fn apply_keystream(aes: &Aes, iv: &[u8; 16], data: &mut [u8]) {
    let base = u128::from_be_bytes(*iv);
    let mut counter = base;
    let mut ks = [Block::default(); PAR_BLOCKS];
    for chunk in data.chunks_mut(PAR_BLOCKS * 16) {
        let nblocks = chunk.len().div_ceil(16);
        for b in ks[..nblocks].iter_mut() {
            b.copy_from_slice(&counter.to_be_bytes());
            counter = counter.wrapping_add(1);
        }
        aes.encrypt_blocks(&mut ks[..nblocks]);
        let (full, tail) = chunk.as_chunks_mut::<16>();
        for (d, k) in full.iter_mut().zip(ks.iter()) {
            let k: [u8; 16] = (*k).into();
            *d = (u128::from_ne_bytes(*d) ^ u128::from_ne_bytes(k)).to_ne_bytes();
        }
        if let Some(k) = ks.get(full.len()) {
            for (d, k) in tail.iter_mut().zip(k.iter()) {
                *d ^= k;
            }
        }
    }
}

/// Key derivation labels (RFC 3711 §4.3.2).
#[derive(Clone, Copy, Debug)]
#[repr(u8)]
pub(crate) enum Label {
    RtpEncryption = 0,
    RtpAuth = 1,
    RtpSalt = 2,
    RtcpEncryption = 3,
    RtcpAuth = 4,
    RtcpSalt = 5,
}

/// The SRTP key derivation function with key derivation rate 0 (RFC 3711 §4.3.1, §4.3.3):
/// `out = AES-CM(master key, IV = (master_salt XOR (label << 48)) * 2^16)` truncated to
/// `out.len()`.
///
/// A 96-bit master salt (the GCM suites, RFC 7714 §11) is padded on the right with zeros to 112
/// bits, as libsrtp does.
pub(crate) fn derive(master: &Aes, master_salt: &[u8], label: Label, out: &mut [u8]) {
    let mut iv = [0u8; 16];
    let n = master_salt.len().min(14);
    iv[..n].copy_from_slice(&master_salt[..n]);
    // key_id = label || r (48 bits, zero for rate 0), right-aligned in the 112-bit salt.
    iv[7] ^= label as u8;
    out.fill(0);
    apply_keystream(master, &iv, out);
}
