//! Credentials at the HTTPS edge, sans-IO (issue 7, part 3): the `Authorization` header read,
//! the credential cache C keeps after the user data service accepted a user's password, and the
//! auth cookie issued after a successful sign-in.
//!
//! - **Cache.** C checks Basic credentials by calling the user data service with them; a 2xx
//!   is remembered as a salted, keyed hash of the password (HMAC-SHA256 under a key made at
//!   start and never written anywhere, over a per-entry random salt and the password): never
//!   the password. An entry younger than the refresh interval (default 480 min, the guide's)
//!   answers without asking the user data service; an older one asks again (and, if that
//!   service cannot be reached, the driver may still accept it until the cleanup interval,
//!   default 720 min, removes it). A password that does not match the entry is checked with the
//!   service like an unknown one (the user may have changed it).
//! - **Cookie.** After a successful `get_edge_config` the edge sets `X-Auth=<token>`; the token
//!   names the user and its expiry and carries an HMAC-SHA256 of both under the same key, so
//!   nothing is stored per cookie and a forged or expired one is refused.
//! - **Bearer** tokens are not checked here: they go to the inside server untouched.
//!
//! Time is an argument (`now`, and a wall-clock second count for cookies, which outlive the
//! process's monotonic clock only in theory but are compared as numbers).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

use super::target::{decode_base64, encode_base64_url};

/// What an `Authorization` header holds.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// `Basic base64(user:password)`.
    Basic {
        /// The user name.
        user: String,
        /// The password.
        password: String,
    },
    /// `Bearer <token>`: passed to the inside server as it is.
    Bearer(String),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Basic { user, .. } => write!(f, "Basic({user}, <password>)"),
            Credentials::Bearer(_) => f.write_str("Bearer(<token>)"),
        }
    }
}

/// Why an `Authorization` header was refused (the edge answers 401, counted as an
/// authorization failure).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthError {
    /// Neither `Basic` nor `Bearer`.
    UnknownScheme,
    /// The Basic value is not base64.
    BadBase64,
    /// The decoded value has no `:`, is not UTF-8, or has an empty user.
    BadBasic,
    /// An empty Bearer token.
    EmptyToken,
}

impl AuthError {
    /// For logs and counters.
    pub fn reason(self) -> &'static str {
        match self {
            AuthError::UnknownScheme => "authorization scheme is neither Basic nor Bearer",
            AuthError::BadBase64 => "Basic credentials are not base64",
            AuthError::BadBasic => "Basic credentials are not user:password",
            AuthError::EmptyToken => "empty Bearer token",
        }
    }
}

/// Reads an `Authorization` header value (RFC 7617 Basic, RFC 6750 Bearer; scheme names
/// without regard to case).
pub fn parse_authorization(value: &[u8]) -> Result<Credentials, AuthError> {
    let text = std::str::from_utf8(value).map_err(|_| AuthError::BadBasic)?;
    let text = text.trim();
    let (scheme, rest) = text.split_once(' ').ok_or(AuthError::UnknownScheme)?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        let raw = decode_base64(rest).map_err(|_| AuthError::BadBase64)?;
        let s = String::from_utf8(raw).map_err(|_| AuthError::BadBasic)?;
        let (user, password) = s.split_once(':').ok_or(AuthError::BadBasic)?;
        if user.is_empty() {
            return Err(AuthError::BadBasic);
        }
        Ok(Credentials::Basic {
            user: user.to_owned(),
            password: password.to_owned(),
        })
    } else if scheme.eq_ignore_ascii_case("bearer") {
        if rest.is_empty() {
            return Err(AuthError::EmptyToken);
        }
        Ok(Credentials::Bearer(rest.to_owned()))
    } else {
        Err(AuthError::UnknownScheme)
    }
}

/// The `WWW-Authenticate` value of a 401 (`realm` quoted, quotes and backslashes escaped).
pub fn www_authenticate(realm: &str) -> String {
    let escaped: String = realm
        .chars()
        .flat_map(|c| match c {
            '"' | '\\' => vec!['\\', c],
            c if c.is_control() => vec![],
            c => vec![c],
        })
        .collect();
    format!("Basic realm=\"{escaped}\"")
}

/// The cache's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheConfig {
    /// An entry younger than this answers without the user data service (default 480 min).
    pub refresh: Duration,
    /// An entry older than this is removed (default 720 min).
    pub cleanup: Duration,
    /// Entries at most; beyond, the oldest goes.
    pub max_entries: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            refresh: Duration::from_secs(480 * 60),
            cleanup: Duration::from_secs(720 * 60),
            max_entries: 100_000,
        }
    }
}

/// What the cache says of a user's credentials.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Accepted: the same password, checked less than the refresh interval ago.
    Fresh,
    /// The same password, checked longer ago: ask the user data service again (it may still
    /// be accepted if that service cannot be reached, until the entry is cleaned up).
    Stale,
    /// Not known, or another password: ask the user data service.
    Unknown,
}

#[derive(Clone, Debug)]
struct Entry {
    salt: [u8; 16],
    tag: Vec<u8>,
    checked: Instant,
}

/// Why the cache or the cookie key could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RandomError;

impl std::fmt::Display for RandomError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the system's random number generator failed")
    }
}

impl std::error::Error for RandomError {}

/// The credential cache and the cookie key.
pub struct CredentialCache {
    config: CacheConfig,
    key: hmac::Key,
    rng: SystemRandom,
    entries: HashMap<String, Entry>,
}

impl std::fmt::Debug for CredentialCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialCache")
            .field("config", &self.config)
            .field("entries", &self.entries.len())
            .finish_non_exhaustive()
    }
}

impl CredentialCache {
    /// An empty cache with a fresh random key.
    pub fn new(config: CacheConfig) -> Result<Self, RandomError> {
        let rng = SystemRandom::new();
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &rng).map_err(|_| RandomError)?;
        Ok(Self {
            config,
            key,
            rng,
            entries: HashMap::new(),
        })
    }

    /// What is signed for an entry: the salt, the user (length first) and the password.
    fn signed(salt: &[u8], user: &str, password: &str) -> Vec<u8> {
        let mut m = Vec::with_capacity(salt.len() + 8 + user.len() + password.len());
        m.extend_from_slice(salt);
        m.extend_from_slice(&(user.len() as u64).to_be_bytes());
        m.extend_from_slice(user.as_bytes());
        m.extend_from_slice(password.as_bytes());
        m
    }

    /// Users held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// What the cache knows of `user` with `password` at `now`.
    pub fn lookup(&self, user: &str, password: &str, now: Instant) -> Lookup {
        let Some(e) = self.entries.get(user) else {
            return Lookup::Unknown;
        };
        // ring's verify compares in constant time.
        let signed = Self::signed(&e.salt, user, password);
        if hmac::verify(&self.key, &signed, &e.tag).is_err() {
            return Lookup::Unknown;
        }
        let age = now.saturating_duration_since(e.checked);
        if age >= self.config.cleanup {
            Lookup::Unknown
        } else if age >= self.config.refresh {
            Lookup::Stale
        } else {
            Lookup::Fresh
        }
    }

    /// The user data service accepted `user` with `password` at `now`.
    pub fn accepted(
        &mut self,
        user: &str,
        password: &str,
        now: Instant,
    ) -> Result<(), RandomError> {
        let mut salt = [0u8; 16];
        self.rng.fill(&mut salt).map_err(|_| RandomError)?;
        let tag = hmac::sign(&self.key, &Self::signed(&salt, user, password))
            .as_ref()
            .to_vec();
        if !self.entries.contains_key(user) && self.entries.len() >= self.config.max_entries.max(1)
        {
            if let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.checked)
                .map(|(u, _)| u.clone())
            {
                self.entries.remove(&oldest);
            }
        }
        self.entries.insert(
            user.to_owned(),
            Entry {
                salt,
                tag,
                checked: now,
            },
        );
        Ok(())
    }

    /// The user data service refused `user`: whatever the cache held for it goes.
    pub fn refused(&mut self, user: &str) {
        self.entries.remove(user);
    }

    /// Removes entries older than the cleanup interval (call now and then).
    pub fn cleanup(&mut self, now: Instant) {
        let limit = self.config.cleanup;
        self.entries
            .retain(|_, e| now.saturating_duration_since(e.checked) < limit);
    }

    /// An auth cookie value for `user`, valid until `expires_unix` (seconds since the epoch):
    /// `base64url(expiry ":" user) "." base64url(hmac)`.
    pub fn issue_cookie(&self, user: &str, expires_unix: u64) -> String {
        let body = format!("{expires_unix}:{user}");
        let tag = hmac::sign(&self.key, body.as_bytes());
        format!(
            "{}.{}",
            encode_base64_url(body.as_bytes()),
            encode_base64_url(tag.as_ref())
        )
    }

    /// The user a cookie value names, if it was issued with this key and has not expired at
    /// `now_unix`.
    pub fn check_cookie(&self, value: &str, now_unix: u64) -> Option<String> {
        let (body, tag) = value.trim().split_once('.')?;
        let body = decode_base64(body).ok()?;
        let tag = decode_base64(tag).ok()?;
        hmac::verify(&self.key, &body, &tag).ok()?;
        let text = String::from_utf8(body).ok()?;
        let (expiry, user) = text.split_once(':')?;
        let expiry: u64 = expiry.parse().ok()?;
        (expiry > now_unix && !user.is_empty()).then(|| user.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(s: &str) -> Vec<u8> {
        format!("Basic {}", encode_base64_url(s.as_bytes())).into_bytes()
    }

    #[test]
    fn authorization_headers() {
        assert_eq!(
            parse_authorization(b"Basic YWxpY2U6c2VjcmV0"),
            Ok(Credentials::Basic {
                user: "alice".into(),
                password: "secret".into()
            })
        );
        // RFC 7617's example, scheme in another case, unpadded URL-safe base64 too.
        assert_eq!(
            parse_authorization(b"basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
            Ok(Credentials::Basic {
                user: "Aladdin".into(),
                password: "open sesame".into()
            })
        );
        assert!(matches!(
            parse_authorization(&basic("bob:pa:ss")),
            Ok(Credentials::Basic { ref password, .. }) if password == "pa:ss"
        ));
        assert_eq!(
            parse_authorization(b"Bearer abc.def"),
            Ok(Credentials::Bearer("abc.def".into()))
        );
        for (bad, why) in [
            (&b"Digest x"[..], AuthError::UnknownScheme),
            (b"Basic", AuthError::UnknownScheme),
            (b"Basic !!!", AuthError::BadBase64),
            (b"Basic YWxpY2U", AuthError::BadBasic),
            (b"Bearer  ", AuthError::UnknownScheme),
            (b"Basic OnNlY3JldA", AuthError::BadBasic),
        ] {
            assert_eq!(parse_authorization(bad), Err(why), "{bad:?}");
        }
        assert_eq!(
            www_authenticate("portico \"edge\""),
            "Basic realm=\"portico \\\"edge\\\"\""
        );
        let dbg = format!("{:?}", parse_authorization(b"Basic YWxpY2U6c2VjcmV0"));
        assert!(!dbg.contains("secret"), "{dbg}");
    }

    #[test]
    fn the_cache_answers_fresh_then_stale_then_forgets() {
        let mut c = CredentialCache::new(CacheConfig::default()).unwrap();
        let t0 = Instant::now();
        assert_eq!(c.lookup("alice", "pw", t0), Lookup::Unknown);
        c.accepted("alice", "pw", t0).unwrap();
        assert_eq!(
            c.lookup("alice", "pw", t0 + Duration::from_secs(60)),
            Lookup::Fresh
        );
        assert_eq!(c.lookup("alice", "other", t0), Lookup::Unknown);
        assert_eq!(c.lookup("Alice", "pw", t0), Lookup::Unknown, "names exact");
        let stale = t0 + Duration::from_secs(480 * 60);
        assert_eq!(c.lookup("alice", "pw", stale), Lookup::Stale);
        c.cleanup(stale);
        assert_eq!(c.len(), 1);
        let gone = t0 + Duration::from_secs(720 * 60);
        assert_eq!(c.lookup("alice", "pw", gone), Lookup::Unknown);
        c.cleanup(gone);
        assert!(c.is_empty());
        c.accepted("bob", "pw", t0).unwrap();
        c.refused("bob");
        assert_eq!(c.lookup("bob", "pw", t0), Lookup::Unknown);
        // The password is not kept: two caches hash it differently (salt and key).
        let mut d = CredentialCache::new(CacheConfig::default()).unwrap();
        d.accepted("alice", "pw", t0).unwrap();
        c.accepted("alice", "pw", t0).unwrap();
        assert_ne!(c.entries["alice"].tag, d.entries["alice"].tag);
        assert!(!format!("{c:?}").contains("pw"));
    }

    #[test]
    fn the_cache_is_bounded() {
        let cfg = CacheConfig {
            max_entries: 2,
            ..CacheConfig::default()
        };
        let mut c = CredentialCache::new(cfg).unwrap();
        let t0 = Instant::now();
        for (i, u) in ["a", "b", "c"].into_iter().enumerate() {
            c.accepted(u, "pw", t0 + Duration::from_secs(i as u64))
                .unwrap();
        }
        assert_eq!(c.len(), 2);
        assert_eq!(c.lookup("a", "pw", t0), Lookup::Unknown, "the oldest went");
    }

    #[test]
    fn cookies_name_their_user_until_they_expire_and_cannot_be_forged() {
        let c = CredentialCache::new(CacheConfig::default()).unwrap();
        let v = c.issue_cookie("alice", 1_000);
        assert_eq!(c.check_cookie(&v, 999).as_deref(), Some("alice"));
        assert_eq!(c.check_cookie(&v, 1_000), None, "expired");
        // Another key (another process) does not accept it.
        let other = CredentialCache::new(CacheConfig::default()).unwrap();
        assert_eq!(other.check_cookie(&v, 0), None);
        // Edited bodies and tags are refused.
        let (body, tag) = v.split_once('.').unwrap();
        let forged_body = encode_base64_url(b"9999999999:admin");
        assert_eq!(c.check_cookie(&format!("{forged_body}.{tag}"), 0), None);
        assert_eq!(c.check_cookie(&format!("{body}.AAAA"), 0), None);
        for junk in ["", ".", "x", "a.b.c", "!!!.!!!"] {
            assert_eq!(c.check_cookie(junk, 0), None, "{junk}");
        }
    }
}
