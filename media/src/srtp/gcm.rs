//! AES-GCM as SRTP uses it (RFC 7714): a thin, allocation-free wrapper over ring's AEAD, which
//! uses AES-NI and carry-less multiplication where the CPU has them.

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM, AES_256_GCM};

/// GCM authentication tag length (RFC 7714 §7: 16 octets for the registered suites).
pub(crate) const TAG_LEN: usize = 16;

/// An expanded AES-GCM key.
pub(crate) struct Gcm {
    key: LessSafeKey,
}

impl Gcm {
    /// Expands a 16- or 32-byte key; `None` for any other length.
    pub(crate) fn new(key: &[u8]) -> Option<Gcm> {
        let alg = match key.len() {
            16 => &AES_128_GCM,
            32 => &AES_256_GCM,
            _ => return None,
        };
        let unbound = UnboundKey::new(alg, key).ok()?;
        Some(Gcm {
            key: LessSafeKey::new(unbound),
        })
    }

    /// Encrypts `data` in place and returns the tag. `None` only for inputs over GCM's length
    /// limit (about 64 GiB), which no datagram reaches.
    #[inline]
    pub(crate) fn seal(&self, iv: [u8; 12], aad: &[u8], data: &mut [u8]) -> Option<[u8; TAG_LEN]> {
        let tag = self
            .key
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(iv), Aad::from(aad), data)
            .ok()?;
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(tag.as_ref());
        Some(out)
    }

    /// Checks the tag at the end of `data_and_tag` and decrypts the rest in place. Returns the
    /// plaintext length, or `None` when authentication fails (the buffer is then unspecified).
    #[inline]
    pub(crate) fn open(&self, iv: [u8; 12], aad: &[u8], data_and_tag: &mut [u8]) -> Option<usize> {
        self.key
            .open_in_place(
                Nonce::assume_unique_for_key(iv),
                Aad::from(aad),
                data_and_tag,
            )
            .ok()
            .map(|p| p.len())
    }
}
