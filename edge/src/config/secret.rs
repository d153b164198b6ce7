//! Secrets in the configuration: the traversal password C sends, and the salted hashes E keeps.
//!
//! E never holds a traversal password in plain text once the configuration is loaded: its
//! credential store keeps PBKDF2-HMAC-SHA256 hashes (RFC 8018 §5.2) with a random 16-byte salt,
//! written as
//!
//! ```text
//! pbkdf2-sha256$ITERATIONS$SALT_HEX$HASH_HEX
//! ```
//!
//! e.g. `pbkdf2-sha256$600000$<32 hex digits>$<64 hex digits>`. 600,000 iterations is OWASP's
//! figure for PBKDF2-HMAC-SHA256 (2023); fewer than 100,000 are refused. A hash costs E a few
//! hundred milliseconds per traversal login, which happens once per connection C opens.

use std::fmt;
use std::num::NonZeroU32;

use ring::pbkdf2;
use ring::rand::{SecureRandom, SystemRandom};

/// Iterations of a hash made by [`PasswordHash::new`].
pub(crate) const PBKDF2_ITERATIONS: u32 = 600_000;

/// The fewest iterations a configured hash may have.
pub(crate) const PBKDF2_MIN_ITERATIONS: u32 = 100_000;

const SCHEME: &str = "pbkdf2-sha256";
const SALT_LEN: usize = 16;
const HASH_LEN: usize = 32;

/// A salted PBKDF2-HMAC-SHA256 hash of a password.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct PasswordHash {
    iterations: NonZeroU32,
    salt: [u8; SALT_LEN],
    hash: [u8; HASH_LEN],
}

impl PasswordHash {
    /// Hashes `password` with a fresh random salt and [`PBKDF2_ITERATIONS`].
    pub(crate) fn new(password: &str) -> Result<PasswordHash, String> {
        let mut salt = [0u8; SALT_LEN];
        SystemRandom::new()
            .fill(&mut salt)
            .map_err(|_| "the system random number generator failed".to_string())?;
        let iterations = NonZeroU32::new(PBKDF2_ITERATIONS)
            .ok_or_else(|| "PBKDF2_ITERATIONS is zero".to_string())?;
        Ok(PasswordHash::with_salt(password, salt, iterations))
    }

    /// Hashes `password` with the given salt and iteration count (tests, known answers).
    pub(crate) fn with_salt(
        password: &str,
        salt: [u8; SALT_LEN],
        iterations: NonZeroU32,
    ) -> PasswordHash {
        let mut hash = [0u8; HASH_LEN];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            iterations,
            &salt,
            password.as_bytes(),
            &mut hash,
        );
        PasswordHash {
            iterations,
            salt,
            hash,
        }
    }

    /// Parses `pbkdf2-sha256$ITERATIONS$SALT_HEX$HASH_HEX`.
    pub(crate) fn parse(s: &str) -> Result<PasswordHash, String> {
        let expected = format!(
            "expected {SCHEME}$ITERATIONS$SALT_HEX$HASH_HEX ({SALT_LEN}-byte salt, {HASH_LEN}-byte \
             hash, in hex)"
        );
        let parts: Vec<&str> = s.split('$').collect();
        let [scheme, iterations, salt, hash] = parts[..] else {
            return Err(format!("is not a password hash; {expected}"));
        };
        if scheme != SCHEME {
            return Err(format!(
                "uses the scheme {scheme:?}; only {SCHEME} is supported ({expected})"
            ));
        }
        let iterations: u32 = iterations
            .parse()
            .map_err(|_| format!("has {iterations:?} for the iteration count; {expected}"))?;
        if iterations < PBKDF2_MIN_ITERATIONS {
            return Err(format!(
                "has {iterations} iterations, too few to slow down guessing; use at least \
                 {PBKDF2_MIN_ITERATIONS} (new hashes use {PBKDF2_ITERATIONS})"
            ));
        }
        let iterations = NonZeroU32::new(iterations)
            .ok_or_else(|| format!("has zero iterations; {expected}"))?;
        let salt = unhex::<SALT_LEN>(salt)
            .ok_or_else(|| format!("has a salt that is not {SALT_LEN} bytes of hex; {expected}"))?;
        let hash = unhex::<HASH_LEN>(hash)
            .ok_or_else(|| format!("has a hash that is not {HASH_LEN} bytes of hex; {expected}"))?;
        Ok(PasswordHash {
            iterations,
            salt,
            hash,
        })
    }

    /// Whether `password` is the one hashed (in constant time with respect to the hash).
    #[must_use]
    pub(crate) fn verify(&self, password: &str) -> bool {
        pbkdf2::verify(
            pbkdf2::PBKDF2_HMAC_SHA256,
            self.iterations,
            &self.salt,
            password.as_bytes(),
            &self.hash,
        )
        .is_ok()
    }
}

/// The stored form, `pbkdf2-sha256$ITERATIONS$SALT_HEX$HASH_HEX`.
impl fmt::Display for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{SCHEME}${}${}${}",
            self.iterations,
            hex(&self.salt),
            hex(&self.hash)
        )
    }
}

/// Says the scheme and cost only: logs need not carry even a hash.
impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PasswordHash({SCHEME}, {} iterations)", self.iterations)
    }
}

/// A secret in plain text (the password C logs in to E with). `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(String);

impl Secret {
    pub(crate) fn new(s: String) -> Secret {
        Secret(s)
    }

    /// The secret itself, for the one place that sends it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != 2 * N || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answer() {
        // RFC 7914 §11, the PBKDF2-HMAC-SHA256 vector: P="passwd", S="salt", c=1, dkLen=64;
        // the first 32 bytes. (Our salt is 16 bytes; ring's derive takes any salt, so check
        // the primitive directly, then the format round trip.)
        let mut out = [0u8; 32];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            NonZeroU32::new(1).unwrap(),
            b"salt",
            b"passwd",
            &mut out,
        );
        assert_eq!(
            hex(&out),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
        );
    }

    #[test]
    fn round_trip_and_verify() {
        let h = PasswordHash::with_salt("ex4mpl3.c0m", [7; 16], NonZeroU32::new(100_000).unwrap());
        let s = h.to_string();
        assert!(s.starts_with("pbkdf2-sha256$100000$07070707"), "{s}");
        let back = PasswordHash::parse(&s).unwrap();
        assert_eq!(back, h);
        assert!(back.verify("ex4mpl3.c0m"));
        assert!(!back.verify("ex4mpl3.c0n"));
        assert!(!format!("{h:?}").contains("0707"));
        assert_eq!(format!("{:?}", Secret::new("x".into())), "Secret(…)");
    }

    #[test]
    fn parse_errors() {
        let salt = "00".repeat(16);
        let hash = "00".repeat(32);
        for (bad, says) in [
            ("ex4mpl3.c0m".to_string(), "is not a password hash"),
            (format!("bcrypt$600000${salt}${hash}"), "scheme \"bcrypt\""),
            (format!("pbkdf2-sha256$1000${salt}${hash}"), "too few"),
            (
                format!("pbkdf2-sha256$lots${salt}${hash}"),
                "iteration count",
            ),
            (format!("pbkdf2-sha256$600000$abc${hash}"), "salt"),
            (format!("pbkdf2-sha256$600000${salt}$zz"), "hash that"),
        ] {
            let e = PasswordHash::parse(&bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
