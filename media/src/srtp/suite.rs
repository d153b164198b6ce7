//! Crypto suites and master keying material.
//!
//! Suite names are the SDES names (RFC 4568 §6.2, RFC 6188 §7.1, RFC 7714 §14.2); lengths come from
//! the same sections.

use core::fmt;

/// An SRTP protection profile: cipher, key size and authentication tag size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Suite {
    /// AES-128 counter mode, HMAC-SHA1 with an 80-bit tag (RFC 3711, RFC 4568 §6.2.1).
    AesCm128HmacSha1_80,
    /// AES-128 counter mode, HMAC-SHA1 with a 32-bit tag on SRTP (80-bit on SRTCP).
    AesCm128HmacSha1_32,
    /// AES-256 counter mode, HMAC-SHA1 with an 80-bit tag (RFC 6188).
    AesCm256HmacSha1_80,
    /// AES-256 counter mode, HMAC-SHA1 with a 32-bit tag on SRTP (80-bit on SRTCP) (RFC 6188).
    AesCm256HmacSha1_32,
    /// AES-128 in Galois/counter mode, 16-byte tag (RFC 7714).
    AeadAes128Gcm,
    /// AES-256 in Galois/counter mode, 16-byte tag (RFC 7714).
    AeadAes256Gcm,
}

impl Suite {
    /// Every suite this crate implements, strongest first is not implied.
    pub const ALL: [Suite; 6] = [
        Suite::AesCm128HmacSha1_80,
        Suite::AesCm128HmacSha1_32,
        Suite::AesCm256HmacSha1_80,
        Suite::AesCm256HmacSha1_32,
        Suite::AeadAes128Gcm,
        Suite::AeadAes256Gcm,
    ];

    /// The name used in SDES `a=crypto` lines.
    pub const fn sdes_name(self) -> &'static str {
        match self {
            Suite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            Suite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
            Suite::AesCm256HmacSha1_80 => "AES_256_CM_HMAC_SHA1_80",
            Suite::AesCm256HmacSha1_32 => "AES_256_CM_HMAC_SHA1_32",
            Suite::AeadAes128Gcm => "AEAD_AES_128_GCM",
            Suite::AeadAes256Gcm => "AEAD_AES_256_GCM",
        }
    }

    /// Looks a suite up by its SDES name (exact, case-sensitive as RFC 4568 registers them).
    pub fn from_sdes_name(name: &str) -> Option<Suite> {
        Suite::ALL.into_iter().find(|s| s.sdes_name() == name)
    }

    /// Master (and session) encryption key length in bytes.
    pub const fn key_len(self) -> usize {
        match self {
            Suite::AesCm128HmacSha1_80 | Suite::AesCm128HmacSha1_32 | Suite::AeadAes128Gcm => 16,
            Suite::AesCm256HmacSha1_80 | Suite::AesCm256HmacSha1_32 | Suite::AeadAes256Gcm => 32,
        }
    }

    /// Master (and session) salt length in bytes: 112 bits for counter mode, 96 bits for GCM.
    pub const fn salt_len(self) -> usize {
        if self.is_aead() {
            12
        } else {
            14
        }
    }

    /// Length of the concatenated master key and salt, as carried in SDES `inline:`.
    pub const fn key_salt_len(self) -> usize {
        self.key_len() + self.salt_len()
    }

    /// Authentication tag length appended to SRTP packets.
    pub const fn rtp_tag_len(self) -> usize {
        match self {
            Suite::AesCm128HmacSha1_80 | Suite::AesCm256HmacSha1_80 => 10,
            Suite::AesCm128HmacSha1_32 | Suite::AesCm256HmacSha1_32 => 4,
            Suite::AeadAes128Gcm | Suite::AeadAes256Gcm => 16,
        }
    }

    /// Authentication tag length appended to SRTCP packets (always 80 bits for HMAC-SHA1 suites,
    /// RFC 4568 §6.2.2).
    pub const fn rtcp_tag_len(self) -> usize {
        if self.is_aead() {
            16
        } else {
            10
        }
    }

    /// True for the AEAD (GCM) suites of RFC 7714.
    pub const fn is_aead(self) -> bool {
        matches!(self, Suite::AeadAes128Gcm | Suite::AeadAes256Gcm)
    }
}

impl fmt::Display for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.sdes_name())
    }
}

/// Longest master key (AES-256).
pub const MAX_KEY_LEN: usize = 32;
/// Longest master salt (counter mode, 112 bits).
pub const MAX_SALT_LEN: usize = 14;
/// Longest MKI this crate carries. RFC 4568 allows up to 128 bytes; real deployments use 1–4.
pub const MAX_MKI_LEN: usize = 16;

/// Why keying material was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// The key and salt were not the length the suite needs.
    WrongLength {
        /// What the suite needs (key plus salt).
        expected: usize,
        /// What was given.
        got: usize,
    },
    /// An MKI was empty or longer than [`MAX_MKI_LEN`].
    MkiLength(usize),
    /// The system's random number generator failed.
    Random,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::WrongLength { expected, got } => {
                write!(f, "master key and salt must be {expected} bytes, got {got}")
            }
            KeyError::MkiLength(n) => {
                write!(f, "MKI must be 1 to {MAX_MKI_LEN} bytes, got {n}")
            }
            KeyError::Random => f.write_str("the system random number generator failed"),
        }
    }
}

impl std::error::Error for KeyError {}

/// A master key and master salt for one suite.
///
/// The bytes are wiped when the value is dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct MasterKey {
    suite: Suite,
    key: [u8; MAX_KEY_LEN],
    salt: [u8; MAX_SALT_LEN],
}

impl MasterKey {
    /// Builds a master key from the concatenated key and salt (the SDES `inline:` layout).
    pub fn from_key_salt(suite: Suite, key_salt: &[u8]) -> Result<Self, KeyError> {
        if key_salt.len() != suite.key_salt_len() {
            return Err(KeyError::WrongLength {
                expected: suite.key_salt_len(),
                got: key_salt.len(),
            });
        }
        let (k, s) = key_salt.split_at(suite.key_len());
        let mut key = [0u8; MAX_KEY_LEN];
        let mut salt = [0u8; MAX_SALT_LEN];
        key[..k.len()].copy_from_slice(k);
        salt[..s.len()].copy_from_slice(s);
        Ok(MasterKey { suite, key, salt })
    }

    /// A fresh master key and salt from the operating system's random number generator (for
    /// the offers our B2BUA makes).
    pub fn random(suite: Suite) -> Result<Self, KeyError> {
        use ring::rand::SecureRandom as _;
        let mut ks = [0u8; MAX_KEY_LEN + MAX_SALT_LEN];
        let ks = &mut ks[..suite.key_salt_len()];
        ring::rand::SystemRandom::new()
            .fill(ks)
            .map_err(|_| KeyError::Random)?;
        let key = Self::from_key_salt(suite, ks);
        ks.fill(0);
        key
    }

    /// Builds a master key from separate key and salt.
    pub fn new(suite: Suite, key: &[u8], salt: &[u8]) -> Result<Self, KeyError> {
        if key.len() != suite.key_len() || salt.len() != suite.salt_len() {
            return Err(KeyError::WrongLength {
                expected: suite.key_salt_len(),
                got: key.len() + salt.len(),
            });
        }
        let mut k = [0u8; MAX_KEY_LEN + MAX_SALT_LEN];
        k[..key.len()].copy_from_slice(key);
        k[key.len()..key.len() + salt.len()].copy_from_slice(salt);
        Self::from_key_salt(suite, &k[..key.len() + salt.len()])
    }

    /// The suite this key is for.
    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// The master key bytes.
    pub fn key(&self) -> &[u8] {
        &self.key[..self.suite.key_len()]
    }

    /// The master salt bytes.
    pub fn salt(&self) -> &[u8] {
        &self.salt[..self.suite.salt_len()]
    }

    /// Writes key then salt into `out`, returning the number of bytes written, or `None` when
    /// `out` is shorter than [`Suite::key_salt_len`].
    pub fn write_key_salt(&self, out: &mut [u8]) -> Option<usize> {
        let n = self.suite.key_salt_len();
        let out = out.get_mut(..n)?;
        let (k, s) = out.split_at_mut(self.suite.key_len());
        k.copy_from_slice(self.key());
        s.copy_from_slice(self.salt());
        Some(n)
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}

impl Drop for MasterKey {
    fn drop(&mut self) {
        self.key.fill(0);
        self.salt.fill(0);
        core::hint::black_box(&self.key);
        core::hint::black_box(&self.salt);
    }
}

/// A master key identifier (RFC 3711 §3.1): bytes carried after the payload that name the master
/// key in use.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mki {
    bytes: [u8; MAX_MKI_LEN],
    len: u8,
}

impl Mki {
    /// An MKI from its bytes (1 to [`MAX_MKI_LEN`]).
    pub fn new(bytes: &[u8]) -> Result<Self, KeyError> {
        if bytes.is_empty() || bytes.len() > MAX_MKI_LEN {
            return Err(KeyError::MkiLength(bytes.len()));
        }
        let mut b = [0u8; MAX_MKI_LEN];
        b[..bytes.len()].copy_from_slice(bytes);
        Ok(Mki {
            bytes: b,
            len: bytes.len() as u8,
        })
    }

    /// An MKI holding `value` big-endian in `len` bytes (the SDES `MKI:length` form). Fails when
    /// `len` is out of range or `value` does not fit in `len` bytes.
    pub fn from_value(value: u64, len: usize) -> Result<Self, KeyError> {
        if len == 0 || len > MAX_MKI_LEN {
            return Err(KeyError::MkiLength(len));
        }
        if len < 8 && value >> (8 * len) != 0 {
            return Err(KeyError::MkiLength(len));
        }
        let mut b = [0u8; MAX_MKI_LEN];
        let be = value.to_be_bytes();
        if len >= 8 {
            b[len - 8..len].copy_from_slice(&be);
        } else {
            b[..len].copy_from_slice(&be[8 - len..]);
        }
        Ok(Mki {
            bytes: b,
            len: len as u8,
        })
    }

    /// The MKI bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Number of MKI bytes on the wire.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Always false: an MKI has at least one byte. Present for API symmetry.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The MKI read as a big-endian integer, when it fits in 64 bits.
    pub fn value(&self) -> Option<u64> {
        let b = self.as_bytes();
        let lead = b.len().saturating_sub(8);
        if b[..lead].iter().any(|&x| x != 0) {
            return None;
        }
        Some(
            b[lead..]
                .iter()
                .fold(0u64, |acc, &x| (acc << 8) | u64::from(x)),
        )
    }
}

impl fmt::Debug for Mki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mki(")?;
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in Suite::ALL {
            assert_eq!(Suite::from_sdes_name(s.sdes_name()), Some(s));
        }
        assert_eq!(Suite::from_sdes_name("F8_128_HMAC_SHA1_80"), None);
        assert_eq!(Suite::from_sdes_name("aes_cm_128_hmac_sha1_80"), None);
    }

    #[test]
    fn master_key_lengths() {
        for s in Suite::ALL {
            let ks = vec![7u8; s.key_salt_len()];
            let mk = MasterKey::from_key_salt(s, &ks).unwrap();
            assert_eq!(mk.key().len(), s.key_len());
            assert_eq!(mk.salt().len(), s.salt_len());
            assert!(MasterKey::from_key_salt(s, &ks[1..]).is_err());
        }
    }

    #[test]
    fn random_keys_differ() {
        for s in Suite::ALL {
            let a = MasterKey::random(s).unwrap();
            let b = MasterKey::random(s).unwrap();
            assert_ne!(a, b);
            assert_eq!(a.key().len() + a.salt().len(), s.key_salt_len());
        }
    }

    #[test]
    fn mki_values() {
        let m = Mki::from_value(0x0102, 4).unwrap();
        assert_eq!(m.as_bytes(), &[0, 0, 1, 2]);
        assert_eq!(m.value(), Some(0x0102));
        assert!(Mki::from_value(256, 1).is_err());
        assert!(Mki::from_value(1, 0).is_err());
        assert!(Mki::from_value(1, MAX_MKI_LEN + 1).is_err());
        let big = Mki::from_value(u64::MAX, 12).unwrap();
        assert_eq!(&big.as_bytes()[..4], &[0, 0, 0, 0]);
        assert_eq!(big.value(), Some(u64::MAX));
    }
}
