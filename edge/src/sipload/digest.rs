//! HTTP Digest authentication for SIP (RFC 2617, as RFC 3261 §22.4 uses it): MD5 (RFC 1321),
//! the challenge a registrar sends in `WWW-Authenticate` or `Proxy-Authenticate`, and the
//! `Authorization` / `Proxy-Authorization` value that answers it, with `qop=auth` or without.
//!
//! MD5 lives here because nothing else in the edge needs it and the digest scheme is the only
//! user: it is not used for anything that must resist collisions. Sans-IO: the caller supplies
//! the client nonce.

use std::fmt::Write as _;

/// MD5 of `data` (RFC 1321).
pub(crate) fn md5(data: &[u8]) -> [u8; 16] {
    // RFC 1321 §3.4: the per-round shift amounts and the sine-derived constants.
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5,
        9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10,
        15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];
    const K: [u32; 64] = [
        0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613,
        0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193,
        0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d,
        0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
        0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122,
        0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
        0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244,
        0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
        0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
        0xeb86d391,
    ];
    let mut state: [u32; 4] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
    // §3.1–3.2: pad with 0x80, zeros to 56 mod 64, then the bit length little-endian.
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64).wrapping_mul(8)).to_le_bytes());
    for block in msg.chunks_exact(64) {
        let mut m = [0u32; 16];
        for (w, b) in m.iter_mut().zip(block.chunks_exact(4)) {
            *w = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        }
        let [mut a, mut b, mut c, mut d] = state;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let rotated = a
                .wrapping_add(f)
                .wrapping_add(K[i])
                .wrapping_add(m[g])
                .rotate_left(S[i]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(rotated);
        }
        for (s, v) in state.iter_mut().zip([a, b, c, d]) {
            *s = s.wrapping_add(v);
        }
    }
    let mut out = [0u8; 16];
    for (o, s) in out.chunks_exact_mut(4).zip(state) {
        o.copy_from_slice(&s.to_le_bytes());
    }
    out
}

/// Lower-case hex of MD5 of `data` (RFC 2617 §3.1.3 `H`, then `LHEX`).
pub(crate) fn md5_hex(data: &[u8]) -> String {
    let mut s = String::with_capacity(32);
    for b in md5(data) {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// A Digest challenge (RFC 2617 §3.2.1), the fields a client needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Challenge {
    pub(crate) realm: String,
    pub(crate) nonce: String,
    pub(crate) opaque: Option<String>,
    /// `algorithm`, when given (only `MD5` is answered).
    pub(crate) algorithm: Option<String>,
    /// Whether the server offers `qop=auth`.
    pub(crate) qop_auth: bool,
    /// `stale=true`: the nonce expired but the credentials were right.
    pub(crate) stale: bool,
}

/// Why a challenge is not answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChallengeError {
    /// Not the Digest scheme.
    NotDigest,
    /// Malformed: an unterminated quote, a parameter without `=`, no realm or no nonce.
    Malformed,
    /// An algorithm other than MD5 (`MD5-sess`, `SHA-256`), or only `qop=auth-int`.
    Unsupported,
}

impl Challenge {
    /// Parses a `WWW-Authenticate` / `Proxy-Authenticate` value.
    pub(crate) fn parse(value: &[u8]) -> Result<Challenge, ChallengeError> {
        let text = std::str::from_utf8(value).map_err(|_| ChallengeError::Malformed)?;
        let text = text.trim();
        let (scheme, rest) = text.split_once([' ', '\t']).unwrap_or((text, ""));
        if !scheme.eq_ignore_ascii_case("digest") {
            return Err(ChallengeError::NotDigest);
        }
        let mut c = Challenge::default();
        let (mut realm, mut nonce, mut qop_given) = (None, None, false);
        for (name, value) in auth_params(rest)? {
            match name.to_ascii_lowercase().as_str() {
                "realm" => realm = Some(value),
                "nonce" => nonce = Some(value),
                "opaque" => c.opaque = Some(value),
                "algorithm" => c.algorithm = Some(value),
                "stale" => c.stale = value.eq_ignore_ascii_case("true"),
                "qop" => {
                    qop_given = true;
                    c.qop_auth = value
                        .split(',')
                        .any(|q| q.trim().eq_ignore_ascii_case("auth"));
                }
                _ => {}
            }
        }
        c.realm = realm.ok_or(ChallengeError::Malformed)?;
        c.nonce = nonce.ok_or(ChallengeError::Malformed)?;
        if c.algorithm
            .as_deref()
            .is_some_and(|a| !a.eq_ignore_ascii_case("md5"))
            || (qop_given && !c.qop_auth)
        {
            return Err(ChallengeError::Unsupported);
        }
        Ok(c)
    }
}

/// `name=value` pairs separated by commas, values as tokens or quoted strings (backslash
/// escapes undone).
fn auth_params(s: &str) -> Result<Vec<(String, String)>, ChallengeError> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            name.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') || name.is_empty() {
            return Err(ChallengeError::Malformed);
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err(ChallengeError::Malformed),
                    Some('"') => break,
                    Some('\\') => value.push(chars.next().ok_or(ChallengeError::Malformed)?),
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' || c.is_whitespace() {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        out.push((name, value));
    }
}

/// What a client knows to answer a challenge.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Credentials<'a> {
    pub(crate) username: &'a str,
    pub(crate) password: &'a str,
    /// The request's method (`REGISTER`).
    pub(crate) method: &'a str,
    /// The digest-uri: the Request-URI as sent.
    pub(crate) uri: &'a str,
}

/// The `response` value (RFC 2617 §3.2.2.1): with `qop=auth`,
/// `KD(H(A1), nonce:nc:cnonce:auth:H(A2))`, else RFC 2069's `KD(H(A1), nonce:H(A2))`.
pub(crate) fn response(c: &Challenge, cred: &Credentials<'_>, nc: u32, cnonce: &str) -> String {
    let ha1 = md5_hex(format!("{}:{}:{}", cred.username, c.realm, cred.password).as_bytes());
    let ha2 = md5_hex(format!("{}:{}", cred.method, cred.uri).as_bytes());
    if c.qop_auth {
        md5_hex(format!("{ha1}:{}:{nc:08x}:{cnonce}:auth:{ha2}", c.nonce).as_bytes())
    } else {
        md5_hex(format!("{ha1}:{}:{ha2}", c.nonce).as_bytes())
    }
}

/// The whole `Authorization` / `Proxy-Authorization` value answering `c`.
pub(crate) fn authorization(
    c: &Challenge,
    cred: &Credentials<'_>,
    nc: u32,
    cnonce: &str,
) -> String {
    let mut v = format!(
        "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\", response=\"{}\", \
         algorithm=MD5",
        quote(cred.username),
        quote(&c.realm),
        quote(&c.nonce),
        quote(cred.uri),
        response(c, cred, nc, cnonce)
    );
    if c.qop_auth {
        let _ = write!(v, ", qop=auth, nc={nc:08x}, cnonce=\"{}\"", quote(cnonce));
    }
    if let Some(o) = &c.opaque {
        let _ = write!(v, ", opaque=\"{}\"", quote(o));
    }
    v
}

/// Escapes `"` and `\` for a quoted-string.
fn quote(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 1321 appendix A.5, the test suite.
    #[test]
    fn md5_rfc1321_suite() {
        let cases: [(&[u8], &str); 7] = [
            (b"", "d41d8cd98f00b204e9800998ecf8427e"),
            (b"a", "0cc175b9c0f1b6a831c399e269772661"),
            (b"abc", "900150983cd24fb0d6963f7d28e17f72"),
            (b"message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            (
                b"abcdefghijklmnopqrstuvwxyz",
                "c3fcd3d76192e4007dfb496cca67e13b",
            ),
            (
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                "d174ab98d277d9f5a5611c2c9f419d9f",
            ),
            (
                b"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(md5_hex(input), want, "{:?}", String::from_utf8_lossy(input));
        }
        // Lengths around the padding boundary (55, 56, 63, 64 bytes) against known digests.
        assert_eq!(md5_hex(&[b'a'; 55]), "ef1772b6dff9a122358552954ad0df65");
        assert_eq!(md5_hex(&[b'a'; 56]), "3b0c8ac703f828b04c6c197006d17218");
        assert_eq!(md5_hex(&[b'a'; 64]), "014842d480b571495a4a0363793f7367");
    }

    /// RFC 2617 §3.5: the worked example (Mufasa), `qop=auth`.
    #[test]
    fn digest_rfc2617_example() {
        let challenge = Challenge::parse(
            b"Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", \
              nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", \
              opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
        )
        .unwrap();
        assert_eq!(challenge.realm, "testrealm@host.com");
        assert!(challenge.qop_auth && !challenge.stale);
        let cred = Credentials {
            username: "Mufasa",
            password: "Circle Of Life",
            method: "GET",
            uri: "/dir/index.html",
        };
        assert_eq!(
            response(&challenge, &cred, 1, "0a4f113b"),
            "6629fae49393a05397450978507c4ef1"
        );
        let v = authorization(&challenge, &cred, 1, "0a4f113b");
        assert!(v.starts_with("Digest username=\"Mufasa\", realm=\"testrealm@host.com\""));
        assert!(
            v.contains("response=\"6629fae49393a05397450978507c4ef1\""),
            "{v}"
        );
        assert!(
            v.contains("qop=auth, nc=00000001, cnonce=\"0a4f113b\""),
            "{v}"
        );
        assert!(
            v.ends_with("opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""),
            "{v}"
        );
    }

    /// Without qop: RFC 2069 compatibility, `H(H(A1):nonce:H(A2))` (RFC 2617 §3.2.2.1).
    #[test]
    fn digest_without_qop() {
        let c = Challenge::parse(b"Digest realm=\"example.test\", nonce=\"abc\"").unwrap();
        let cred = Credentials {
            username: "alice",
            password: "secret",
            method: "REGISTER",
            uri: "sip:example.test",
        };
        let ha1 = md5_hex(b"alice:example.test:secret");
        let ha2 = md5_hex(b"REGISTER:sip:example.test");
        assert_eq!(
            response(&c, &cred, 1, "x"),
            md5_hex(format!("{ha1}:abc:{ha2}").as_bytes())
        );
        assert!(!authorization(&c, &cred, 1, "x").contains("qop"));
    }

    #[test]
    fn challenges_refused_or_tolerated() {
        assert_eq!(
            Challenge::parse(b"Basic realm=\"x\""),
            Err(ChallengeError::NotDigest)
        );
        assert_eq!(
            Challenge::parse(b"Digest realm=\"x\""),
            Err(ChallengeError::Malformed)
        );
        assert_eq!(
            Challenge::parse(b"Digest realm=\"x, nonce=\"y\""),
            Err(ChallengeError::Malformed)
        );
        assert_eq!(
            Challenge::parse(b"Digest realm=\"x\", nonce=\"y\", algorithm=SHA-256"),
            Err(ChallengeError::Unsupported)
        );
        assert_eq!(
            Challenge::parse(b"Digest realm=\"x\", nonce=\"y\", qop=\"auth-int\""),
            Err(ChallengeError::Unsupported)
        );
        // Kamailio's form: token values, stale, escaped quote in a value, odd spacing.
        let c = Challenge::parse(
            b"Digest realm = \"ex\\\"ample\",nonce=\"n1\" ,qop=auth, algorithm=MD5, stale=TRUE",
        )
        .unwrap();
        assert_eq!(c.realm, "ex\"ample");
        assert!(c.qop_auth && c.stale);
        for junk in [&b"Digest"[..], b"Digest ,,,", b"Digest a", b"\xff\xfe", b""] {
            let _ = Challenge::parse(junk);
        }
    }
}
