//! SDES keying (RFC 4568): the `a=crypto` attribute.
//!
//! [`CryptoAttribute`] is the value of one `a=crypto:<tag> <crypto-suite> <key-params>
//! [<session-params>]` line. It parses with [`str::parse`] (the value after `a=crypto:`) or
//! [`parse_line`] (the whole SDP line), and [`Display`](fmt::Display) writes it back in canonical
//! form, so that parsing what was formatted gives back an equal value.
//!
//! What the parser accepts, beyond the letter of the RFC 4568 §9.1 grammar:
//!
//! - fields may be separated by one or more spaces or tabs (`1*WSP`), and trailing spaces or tabs
//!   are ignored; the tag must follow `a=crypto:` directly ([`SdesError::MissingTag`] otherwise);
//! - the key method (`inline`), the session-parameter names and the `FEC_ORDER` values are
//!   matched without regard to ASCII case, as ABNF string literals are;
//! - the base64 key||salt may be written with or without its `=` padding (standard alphabet only,
//!   no whitespace, no non-zero trailing bits).
//!
//! What it refuses although the grammar allows it:
//!
//! - suites this crate does not implement ([`SdesError::UnknownSuite`]);
//! - MKI lengths over [`MAX_MKI_LEN`] bytes (RFC 4568 allows 128; [`SdesError::MkiLength`]);
//! - more than [`MAX_KEYS`] key-params ([`SdesError::TooManyKeys`]);
//! - a lifetime of zero packets, or `2^n` with `n` over 63 ([`SdesError::BadLifetime`]);
//! - key-params whose MKIs are not all present with one length, or that repeat an MKI value
//!   (RFC 4568 §6.1: "the MKI length MUST be the same for all keys in a given crypto attribute";
//!   [`SdesError::MkiMismatch`]).
//!
//! Session parameters (RFC 4568 §6.3): `KDR`, `UNENCRYPTED_SRTP`, `UNENCRYPTED_SRTCP`,
//! `UNAUTHENTICATED_SRTP`, `FEC_ORDER` and `WSH` are parsed into [`SessionParams`]; a malformed
//! value or a repeated parameter is an error. Every other parameter — `FEC_KEY`, extensions, and
//! parameters marked optional with a leading `-` (§6.3.7) alike — is kept verbatim, in order, in
//! [`SessionParams::unknown`]. The parser does not refuse the attribute for an unknown parameter:
//! §6.3.7 says an answerer must treat an attribute carrying an unknown parameter without a leading
//! `-` as invalid, and [`SessionParams::has_unknown_mandatory`] tells the caller when that is so.
//! The value of `KDR` is not judged here either: the SRTP engine decides which rates it supports.
//!
//! No input makes the parser panic, and it allocates no more than the size of its input.

use core::fmt;
use core::str::FromStr;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;

use crate::srtp::{
    ConfigError, Context, KeyError, MasterKey, Mki, Policy, Suite, MAX_KEY_LEN, MAX_MKI_LEN,
    MAX_REPLAY_WINDOW, MAX_SALT_LEN, MIN_REPLAY_WINDOW,
};

/// Most key-params one attribute may carry.
pub const MAX_KEYS: usize = 16;

/// Standard alphabet, `=` padding optional, trailing bits must be zero.
const DECODER: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Longest key||salt, and its padded base64 length.
const MAX_KEY_SALT_LEN: usize = MAX_KEY_LEN + MAX_SALT_LEN;
const MAX_KEY_SALT_B64_LEN: usize = MAX_KEY_SALT_LEN.div_ceil(3) * 4;
/// Decimal digits enough for any MKI (each byte adds fewer than three).
const MAX_MKI_DIGITS: usize = MAX_MKI_LEN * 3;

/// Why an `a=crypto` attribute was refused. Each variant names the part of the attribute at fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SdesError {
    /// The attribute value is empty or only whitespace.
    Empty,
    /// The line is an SDP attribute (`a=`) other than `a=crypto:`.
    NotCrypto,
    /// The value does not begin with a tag (it begins with whitespace).
    MissingTag,
    /// The tag is not 1 to 9 decimal digits.
    BadTag,
    /// Nothing follows the tag.
    MissingSuite,
    /// The crypto-suite is unknown or not implemented by this crate.
    UnknownSuite,
    /// Nothing follows the crypto-suite.
    MissingKeyParams,
    /// One of the `;`-separated key-params is empty.
    EmptyKeyParam,
    /// A key-param does not start with the `inline:` key method.
    BadKeyMethod,
    /// The key||salt of a key-param is not valid standard base64.
    BadBase64,
    /// The decoded key||salt is not the length the crypto-suite needs.
    KeyLength {
        /// What the suite needs (key plus salt), in bytes.
        expected: usize,
        /// What was decoded, in bytes.
        got: usize,
    },
    /// A key lifetime is not `2^n` (n at most 63) or a non-zero decimal packet count that fits in
    /// 64 bits.
    BadLifetime,
    /// An MKI is not `<decimal value>:<1 to 3 digit length>`.
    BadMki,
    /// An MKI length is zero or over [`MAX_MKI_LEN`] bytes.
    MkiLength {
        /// The length that was given, in bytes.
        got: u16,
    },
    /// An MKI value does not fit in its declared length.
    MkiOverflow,
    /// Several key-params do not all carry an MKI of one length, or repeat an MKI value.
    MkiMismatch,
    /// A key-param has more `|`-separated fields than key, lifetime and MKI, or a field after the
    /// MKI.
    TrailingGarbage,
    /// More than [`MAX_KEYS`] key-params.
    TooManyKeys,
    /// A session parameter is malformed: a known one with a bad or missing value (named here), or
    /// one with characters other than visible ASCII (`"session-param"`).
    BadSessionParam(&'static str),
    /// A known session parameter (named here) appears more than once.
    DuplicateSessionParam(&'static str),
    /// The attribute is well formed but asks for something the SRTP engine does not do (named
    /// here): a key derivation rate, unencrypted or unauthenticated SRTP, a replay window out of
    /// range, or an unknown mandatory session parameter.
    Unsupported(&'static str),
}

impl fmt::Display for SdesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a=crypto: ")?;
        match self {
            SdesError::Empty => f.write_str("attribute value is empty"),
            SdesError::NotCrypto => f.write_str("line is not an a=crypto attribute"),
            SdesError::MissingTag => f.write_str("tag is missing"),
            SdesError::BadTag => f.write_str("tag must be 1 to 9 decimal digits"),
            SdesError::MissingSuite => f.write_str("crypto-suite is missing"),
            SdesError::UnknownSuite => f.write_str("crypto-suite is unknown or not supported"),
            SdesError::MissingKeyParams => f.write_str("key-params are missing"),
            SdesError::EmptyKeyParam => f.write_str("a key-param is empty"),
            SdesError::BadKeyMethod => f.write_str("key-param method must be \"inline\""),
            SdesError::BadBase64 => f.write_str("key||salt is not valid base64"),
            SdesError::KeyLength { expected, got } => write!(
                f,
                "key||salt must be {expected} bytes for this crypto-suite, got {got}"
            ),
            SdesError::BadLifetime => f.write_str(
                "key lifetime must be 2^n (n at most 63) or a non-zero decimal packet count",
            ),
            SdesError::BadMki => f.write_str("MKI must be <decimal value>:<length>"),
            SdesError::MkiLength { got } => {
                write!(f, "MKI length must be 1 to {MAX_MKI_LEN} bytes, got {got}")
            }
            SdesError::MkiOverflow => f.write_str("MKI value does not fit in its length"),
            SdesError::MkiMismatch => f.write_str(
                "key-params must all carry an MKI of the same length, with distinct values",
            ),
            SdesError::TrailingGarbage => f.write_str("unexpected field after the key-param MKI"),
            SdesError::TooManyKeys => write!(f, "more than {MAX_KEYS} key-params"),
            SdesError::BadSessionParam(name) => write!(f, "session parameter {name} is malformed"),
            SdesError::DuplicateSessionParam(name) => {
                write!(f, "session parameter {name} appears more than once")
            }
            SdesError::Unsupported(what) => write!(f, "{what} is not supported"),
        }
    }
}

impl std::error::Error for SdesError {}

/// The master key lifetime of a key-param: how many packets the key may protect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lifetime {
    /// `2^n` packets, written `2^n`.
    PowerOfTwo(u8),
    /// A packet count written in decimal.
    Packets(u64),
}

impl Lifetime {
    /// The number of packets, when it fits in 64 bits.
    pub fn packets(self) -> Option<u64> {
        match self {
            Lifetime::PowerOfTwo(n) => 1u64.checked_shl(u32::from(n)),
            Lifetime::Packets(n) => Some(n),
        }
    }
}

impl fmt::Display for Lifetime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lifetime::PowerOfTwo(n) => write!(f, "2^{n}"),
            Lifetime::Packets(n) => write!(f, "{n}"),
        }
    }
}

/// The `FEC_ORDER` session parameter (RFC 4568 §6.3.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FecOrder {
    /// `FEC_SRTP`: FEC is applied before SRTP processing by the sender.
    FecSrtp,
    /// `SRTP_FEC`: FEC is applied after SRTP processing by the sender.
    SrtpFec,
}

impl FecOrder {
    /// The name written after `FEC_ORDER=`.
    pub const fn sdes_name(self) -> &'static str {
        match self {
            FecOrder::FecSrtp => "FEC_SRTP",
            FecOrder::SrtpFec => "SRTP_FEC",
        }
    }
}

impl fmt::Display for FecOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.sdes_name())
    }
}

/// One key-param: `inline:<base64 key||salt>[|<lifetime>][|<MKI value>:<MKI length>]`.
///
/// `Debug` does not show the key (see [`MasterKey`]); `Display` writes it, base64-encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyParams {
    /// The master key and salt.
    pub key: MasterKey,
    /// The master key lifetime, when given.
    pub lifetime: Option<Lifetime>,
    /// The master key identifier, when given.
    pub mki: Option<Mki>,
}

impl fmt::Display for KeyParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("inline:")?;
        write_key_salt_b64(f, &self.key)?;
        if let Some(lifetime) = self.lifetime {
            write!(f, "|{lifetime}")?;
        }
        if let Some(mki) = &self.mki {
            f.write_str("|")?;
            write_mki_decimal(f, mki)?;
            write!(f, ":{}", mki.len())?;
        }
        Ok(())
    }
}

/// The SRTP session parameters of RFC 4568 §6.3.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionParams {
    /// `KDR=n`: the key derivation rate, written as its base-2 exponent n in 0..=24 (§6.3.1).
    pub kdr: Option<u8>,
    /// `UNENCRYPTED_SRTP` (§6.3.2).
    pub unencrypted_srtp: bool,
    /// `UNENCRYPTED_SRTCP` (§6.3.2).
    pub unencrypted_srtcp: bool,
    /// `UNAUTHENTICATED_SRTP` (§6.3.3).
    pub unauthenticated_srtp: bool,
    /// `FEC_ORDER=FEC_SRTP|SRTP_FEC` (§6.3.4).
    pub fec_order: Option<FecOrder>,
    /// `WSH=n`: SRTP replay window size hint, at least 64 (§6.3.6).
    pub wsh: Option<u32>,
    /// Every other parameter, verbatim and in order: `FEC_KEY=...`, extensions, and parameters
    /// marked optional with a leading `-` (§6.3.7). Each is visible ASCII without whitespace and
    /// none of the parameters above.
    pub unknown: Vec<String>,
}

impl SessionParams {
    /// True when no parameter is set.
    pub fn is_empty(&self) -> bool {
        *self == SessionParams::default()
    }

    /// The unknown parameters that do not start with `-`. RFC 4568 §6.3.7: an attribute carrying
    /// one of them must be treated as invalid by whoever does not understand it.
    pub fn unknown_mandatory(&self) -> impl Iterator<Item = &str> {
        self.unknown
            .iter()
            .map(String::as_str)
            .filter(|p| !p.starts_with('-'))
    }

    /// True when [`unknown_mandatory`](Self::unknown_mandatory) yields anything.
    pub fn has_unknown_mandatory(&self) -> bool {
        self.unknown_mandatory().next().is_some()
    }
}

impl fmt::Display for SessionParams {
    /// The parameters separated by single spaces, known ones first in a fixed order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        let mut next = |f: &mut fmt::Formatter<'_>| {
            let s = sep;
            sep = " ";
            f.write_str(s)
        };
        if let Some(kdr) = self.kdr {
            next(f)?;
            write!(f, "KDR={kdr}")?;
        }
        if self.unencrypted_srtp {
            next(f)?;
            f.write_str("UNENCRYPTED_SRTP")?;
        }
        if self.unencrypted_srtcp {
            next(f)?;
            f.write_str("UNENCRYPTED_SRTCP")?;
        }
        if self.unauthenticated_srtp {
            next(f)?;
            f.write_str("UNAUTHENTICATED_SRTP")?;
        }
        if let Some(order) = self.fec_order {
            next(f)?;
            write!(f, "FEC_ORDER={order}")?;
        }
        if let Some(wsh) = self.wsh {
            next(f)?;
            write!(f, "WSH={wsh}")?;
        }
        for p in &self.unknown {
            next(f)?;
            f.write_str(p)?;
        }
        Ok(())
    }
}

/// The value of an `a=crypto` attribute.
///
/// Values from the parser always format back to a string that parses to an equal value. A value
/// built by hand formats the same way, but parses back only if it obeys the rules the parser
/// checks (at least one key, one suite for all keys, lengths and ranges as documented).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CryptoAttribute {
    /// Identifies this attribute among the offer's `a=crypto` lines.
    pub tag: u32,
    /// The crypto-suite; every key in [`keys`](Self::keys) is for it.
    pub suite: Suite,
    /// The key-params, at least one and at most [`MAX_KEYS`].
    pub keys: Vec<KeyParams>,
    /// The session parameters.
    pub session_params: SessionParams,
}

impl fmt::Display for CryptoAttribute {
    /// The attribute value (without `a=crypto:`), fields separated by single spaces.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.tag, self.suite.sdes_name())?;
        let mut sep = " ";
        for key in &self.keys {
            f.write_str(sep)?;
            sep = ";";
            write!(f, "{key}")?;
        }
        if !self.session_params.is_empty() {
            write!(f, " {}", self.session_params)?;
        }
        Ok(())
    }
}

impl FromStr for CryptoAttribute {
    type Err = SdesError;

    /// Parses the attribute value: what follows `a=crypto:`.
    fn from_str(value: &str) -> Result<Self, SdesError> {
        if value.trim_matches(is_wsp).is_empty() {
            return Err(SdesError::Empty);
        }
        if value.starts_with(is_wsp) {
            return Err(SdesError::MissingTag);
        }
        let mut fields = value.split(is_wsp).filter(|s| !s.is_empty());
        let tag = parse_tag(fields.next().ok_or(SdesError::Empty)?)?;
        let suite_name = fields.next().ok_or(SdesError::MissingSuite)?;
        let suite = Suite::from_sdes_name(suite_name).ok_or(SdesError::UnknownSuite)?;
        let keys = parse_key_params(suite, fields.next().ok_or(SdesError::MissingKeyParams)?)?;
        let session_params = parse_session_params(fields)?;
        Ok(CryptoAttribute {
            tag,
            suite,
            keys,
            session_params,
        })
    }
}

impl CryptoAttribute {
    /// An attribute offering one master key (optionally with an MKI), no lifetime, no session
    /// parameters.
    pub fn new(tag: u32, key: MasterKey, mki: Option<Mki>) -> CryptoAttribute {
        CryptoAttribute {
            tag,
            suite: key.suite(),
            keys: vec![KeyParams {
                key,
                lifetime: None,
                mki,
            }],
            session_params: SessionParams::default(),
        }
    }

    /// The SRTP policy this attribute asks for, starting from `base` (whose suite is replaced):
    /// `UNENCRYPTED_SRTCP` turns SRTCP encryption off, `WSH` sets the replay window. A key
    /// derivation rate (`KDR`, RFC 3711 §4.3.1: we derive once), `UNENCRYPTED_SRTP`,
    /// `UNAUTHENTICATED_SRTP`, a `WSH` outside 64..=32768 and unknown mandatory parameters are
    /// refused with [`SdesError::Unsupported`]. Key lifetimes are not enforced beyond the index
    /// limits of SRTP itself (2^48 SRTP, 2^31 SRTCP packets).
    pub fn policy(&self, base: Policy) -> Result<Policy, SdesError> {
        let sp = &self.session_params;
        if sp.kdr.is_some() {
            return Err(SdesError::Unsupported("KDR (key derivation rate)"));
        }
        if sp.unencrypted_srtp {
            return Err(SdesError::Unsupported("UNENCRYPTED_SRTP"));
        }
        if sp.unauthenticated_srtp {
            return Err(SdesError::Unsupported("UNAUTHENTICATED_SRTP"));
        }
        if sp.has_unknown_mandatory() {
            return Err(SdesError::Unsupported(
                "an unknown mandatory session parameter",
            ));
        }
        let mut policy = base;
        policy.suite = self.suite;
        if sp.unencrypted_srtcp {
            policy.encrypt_rtcp = false;
        }
        if let Some(wsh) = sp.wsh {
            let w = usize::try_from(wsh).map_err(|_| SdesError::Unsupported("WSH"))?;
            if !(MIN_REPLAY_WINDOW..=MAX_REPLAY_WINDOW).contains(&w) {
                return Err(SdesError::Unsupported("WSH outside 64..=32768"));
            }
            policy.replay_window = w;
        }
        Ok(policy)
    }

    /// An SRTP context keyed by this attribute, with [`CryptoAttribute::policy`] applied to
    /// `base`.
    pub fn context(&self, base: Policy) -> Result<Context, SdesError> {
        let policy = self.policy(base)?;
        let keys: Vec<(MasterKey, Option<Mki>)> =
            self.keys.iter().map(|k| (k.key.clone(), k.mki)).collect();
        Context::new(policy, &keys).map_err(|e| match e {
            ConfigError::MkiMismatch => SdesError::MkiMismatch,
            ConfigError::TooManyKeys => SdesError::TooManyKeys,
            ConfigError::ReplayWindow(_) => SdesError::Unsupported("replay window"),
            _ => SdesError::Unsupported("this key set"),
        })
    }
}

/// Parses an SDP line `a=crypto:<value>` (prefix matched without regard to ASCII case), with or
/// without its trailing CR/LF. A line that does not start with `a=` is parsed as a bare value.
pub fn parse_line(line: &str) -> Result<CryptoAttribute, SdesError> {
    const PREFIX: &str = "a=crypto:";
    let line = line.trim_end_matches(['\r', '\n']);
    match line.get(..PREFIX.len()) {
        Some(p) if p.eq_ignore_ascii_case(PREFIX) => line.get(PREFIX.len()..).unwrap_or("").parse(),
        _ if line.starts_with("a=") => Err(SdesError::NotCrypto),
        _ => line.parse(),
    }
}

/// Fuzzing entry point: parses `data` (skipped unless UTF-8) as a line and, when it parses,
/// checks that formatting and parsing again gives back the same value and the same text.
#[doc(hidden)]
pub fn fuzz_entry(data: &[u8]) {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    let parsed = [parse_line(text), text.parse::<CryptoAttribute>()];
    for attr in parsed.into_iter().flatten() {
        let formatted = attr.to_string();
        let again = formatted.parse::<CryptoAttribute>();
        assert_eq!(
            again.as_ref(),
            Ok(&attr),
            "{formatted:?} did not round-trip"
        );
        if let Ok(again) = again {
            assert_eq!(again.to_string(), formatted);
        }
        let line = format!("a=crypto:{formatted}\r\n");
        assert_eq!(parse_line(&line).as_ref(), Ok(&attr));
    }
}

fn is_wsp(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Decimal digits only, at least one, at most `max_digits`, value fitting in a `u64`.
fn parse_decimal(s: &str, max_digits: usize) -> Option<u64> {
    if s.is_empty() || s.len() > max_digits {
        return None;
    }
    s.bytes().try_fold(0u64, |acc, b| {
        if !b.is_ascii_digit() {
            return None;
        }
        acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

fn parse_tag(s: &str) -> Result<u32, SdesError> {
    parse_decimal(s, 9)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or(SdesError::BadTag)
}

fn parse_key_params(suite: Suite, field: &str) -> Result<Vec<KeyParams>, SdesError> {
    let count = field.bytes().filter(|&b| b == b';').count() + 1;
    if count > MAX_KEYS {
        return Err(SdesError::TooManyKeys);
    }
    let mut keys = Vec::with_capacity(count);
    for param in field.split(';') {
        keys.push(parse_key_param(suite, param)?);
    }
    if keys.len() > 1 {
        check_mkis(&keys)?;
    }
    Ok(keys)
}

/// RFC 4568 §6.1: with several keys, every MKI has the same length; we also want each key to be
/// named by an MKI, and no two keys by the same one.
fn check_mkis(keys: &[KeyParams]) -> Result<(), SdesError> {
    let mut len = None;
    for (i, key) in keys.iter().enumerate() {
        let mki = key.mki.as_ref().ok_or(SdesError::MkiMismatch)?;
        if *len.get_or_insert(mki.len()) != mki.len() {
            return Err(SdesError::MkiMismatch);
        }
        let earlier = keys.get(..i).unwrap_or(&[]);
        if earlier.iter().any(|k| k.mki.as_ref() == Some(mki)) {
            return Err(SdesError::MkiMismatch);
        }
    }
    Ok(())
}

fn parse_key_param(suite: Suite, param: &str) -> Result<KeyParams, SdesError> {
    if param.is_empty() {
        return Err(SdesError::EmptyKeyParam);
    }
    let (method, info) = param.split_once(':').ok_or(SdesError::BadKeyMethod)?;
    if !method.eq_ignore_ascii_case("inline") {
        return Err(SdesError::BadKeyMethod);
    }
    let mut parts = info.split('|');
    let key = decode_key(suite, parts.next().unwrap_or(""))?;
    let mut next = parts.next();
    let lifetime = match next {
        // The lifetime never holds a colon; the MKI always does.
        Some(part) if !part.contains(':') => {
            next = parts.next();
            Some(parse_lifetime(part)?)
        }
        _ => None,
    };
    let mki = next.map(parse_mki).transpose()?;
    if parts.next().is_some() {
        return Err(SdesError::TrailingGarbage);
    }
    Ok(KeyParams { key, lifetime, mki })
}

fn decode_key(suite: Suite, b64: &str) -> Result<MasterKey, SdesError> {
    let mut bytes = DECODER.decode(b64).map_err(|_| SdesError::BadBase64)?;
    let key = MasterKey::from_key_salt(suite, &bytes).map_err(|e| match e {
        KeyError::WrongLength { expected, got } => SdesError::KeyLength { expected, got },
        _ => SdesError::KeyLength {
            expected: suite.key_salt_len(),
            got: bytes.len(),
        },
    });
    bytes.fill(0);
    core::hint::black_box(&bytes);
    key
}

fn parse_lifetime(s: &str) -> Result<Lifetime, SdesError> {
    if let Some(exp) = s.strip_prefix("2^") {
        match parse_decimal(exp, usize::MAX) {
            Some(n) if n <= 63 => Ok(Lifetime::PowerOfTwo(n as u8)),
            _ => Err(SdesError::BadLifetime),
        }
    } else {
        match parse_decimal(s, usize::MAX) {
            Some(n) if n > 0 => Ok(Lifetime::Packets(n)),
            _ => Err(SdesError::BadLifetime),
        }
    }
}

fn parse_mki(s: &str) -> Result<Mki, SdesError> {
    let (value, len) = s.split_once(':').ok_or(SdesError::BadMki)?;
    // mki-length = 1*3DIGIT
    let len = parse_decimal(len, 3).ok_or(SdesError::BadMki)?;
    let got = u16::try_from(len).map_err(|_| SdesError::BadMki)?;
    let len = usize::from(got);
    if len == 0 || len > MAX_MKI_LEN {
        return Err(SdesError::MkiLength { got });
    }
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SdesError::BadMki);
    }
    // Big-endian accumulator as wide as the longest MKI: value = value * 10 + digit.
    let mut acc = [0u8; MAX_MKI_LEN];
    for digit in value.bytes() {
        let mut carry = u16::from(digit - b'0');
        for byte in acc.iter_mut().rev() {
            let x = u16::from(*byte) * 10 + carry;
            *byte = (x & 0xff) as u8;
            carry = x >> 8;
        }
        if carry != 0 {
            return Err(SdesError::MkiOverflow);
        }
    }
    let (lead, bytes) = acc.split_at(MAX_MKI_LEN - len);
    if lead.iter().any(|&b| b != 0) {
        return Err(SdesError::MkiOverflow);
    }
    Mki::new(bytes).map_err(|_| SdesError::MkiLength { got })
}

fn parse_session_params<'a>(
    params: impl Iterator<Item = &'a str>,
) -> Result<SessionParams, SdesError> {
    fn set<T>(slot: &mut Option<T>, value: T, name: &'static str) -> Result<(), SdesError> {
        if slot.replace(value).is_some() {
            return Err(SdesError::DuplicateSessionParam(name));
        }
        Ok(())
    }
    fn flag(slot: &mut bool, value: Option<&str>, name: &'static str) -> Result<(), SdesError> {
        if value.is_some() {
            return Err(SdesError::BadSessionParam(name));
        }
        if core::mem::replace(slot, true) {
            return Err(SdesError::DuplicateSessionParam(name));
        }
        Ok(())
    }

    let mut out = SessionParams::default();
    for param in params {
        if !param.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(SdesError::BadSessionParam("session-param"));
        }
        let (name, value) = match param.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (param, None),
        };
        let is = |known: &str| name.eq_ignore_ascii_case(known);
        if is("KDR") {
            // srtp-kdr = "KDR=" 1*2(DIGIT) ; 0..24
            let kdr = value
                .and_then(|v| parse_decimal(v, 2))
                .filter(|&n| n <= 24)
                .ok_or(SdesError::BadSessionParam("KDR"))?;
            set(&mut out.kdr, kdr as u8, "KDR")?;
        } else if is("UNENCRYPTED_SRTP") {
            flag(&mut out.unencrypted_srtp, value, "UNENCRYPTED_SRTP")?;
        } else if is("UNENCRYPTED_SRTCP") {
            flag(&mut out.unencrypted_srtcp, value, "UNENCRYPTED_SRTCP")?;
        } else if is("UNAUTHENTICATED_SRTP") {
            flag(&mut out.unauthenticated_srtp, value, "UNAUTHENTICATED_SRTP")?;
        } else if is("FEC_ORDER") {
            let order = match value {
                Some(v) if v.eq_ignore_ascii_case("FEC_SRTP") => FecOrder::FecSrtp,
                Some(v) if v.eq_ignore_ascii_case("SRTP_FEC") => FecOrder::SrtpFec,
                _ => return Err(SdesError::BadSessionParam("FEC_ORDER")),
            };
            set(&mut out.fec_order, order, "FEC_ORDER")?;
        } else if is("WSH") {
            // srtp-wsh = "WSH=" 2*DIGIT ; minimum value is 64
            let wsh = value
                .and_then(|v| parse_decimal(v, usize::MAX))
                .and_then(|n| u32::try_from(n).ok())
                .filter(|&n| n >= 64)
                .ok_or(SdesError::BadSessionParam("WSH"))?;
            set(&mut out.wsh, wsh, "WSH")?;
        } else {
            out.unknown.push(param.to_owned());
        }
    }
    Ok(out)
}

/// Writes key||salt as padded standard base64, through stack buffers that are wiped afterwards.
fn write_key_salt_b64(f: &mut fmt::Formatter<'_>, key: &MasterKey) -> fmt::Result {
    fn write(
        f: &mut fmt::Formatter<'_>,
        key: &MasterKey,
        raw: &mut [u8; MAX_KEY_SALT_LEN],
        b64: &mut [u8; MAX_KEY_SALT_B64_LEN],
    ) -> fmt::Result {
        let n = key.write_key_salt(raw).ok_or(fmt::Error)?;
        let raw = raw.get(..n).ok_or(fmt::Error)?;
        let m = STANDARD.encode_slice(raw, b64).map_err(|_| fmt::Error)?;
        let text = b64.get(..m).ok_or(fmt::Error)?;
        f.write_str(core::str::from_utf8(text).map_err(|_| fmt::Error)?)
    }
    let mut raw = [0u8; MAX_KEY_SALT_LEN];
    let mut b64 = [0u8; MAX_KEY_SALT_B64_LEN];
    let result = write(f, key, &mut raw, &mut b64);
    raw.fill(0);
    b64.fill(0);
    core::hint::black_box((&raw, &b64));
    result
}

/// Writes the MKI bytes as one big-endian unsigned decimal number.
fn write_mki_decimal(f: &mut fmt::Formatter<'_>, mki: &Mki) -> fmt::Result {
    let mut num = [0u8; MAX_MKI_LEN];
    for (dst, src) in num.iter_mut().zip(mki.as_bytes()) {
        *dst = *src;
    }
    let used = mki.len().min(MAX_MKI_LEN);
    let num = num.get_mut(..used).ok_or(fmt::Error)?;
    let mut digits = [0u8; MAX_MKI_DIGITS];
    let mut count = 0;
    loop {
        // num = num / 10, remainder is the next (least significant) digit.
        let mut rem = 0u16;
        let mut nonzero = false;
        for byte in num.iter_mut() {
            let cur = (rem << 8) | u16::from(*byte);
            *byte = (cur / 10) as u8;
            rem = cur % 10;
            nonzero |= *byte != 0;
        }
        *digits.get_mut(count).ok_or(fmt::Error)? = b'0' + rem as u8;
        count += 1;
        if !nonzero {
            break;
        }
    }
    for &d in digits.get(..count).ok_or(fmt::Error)?.iter().rev() {
        fmt::Write::write_char(f, char::from(d))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// RFC 4568 key||salt examples (30 bytes each: AES_CM_128 suites).
    const K1: &str = "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR";
    const K2: &str = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";
    const K3: &str = "MTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5QUJjZGVm";
    const K4: &str = "QUJjZGVmMTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5";
    const K5: &str = "YUJDZGVmZ2hpSktMbW9QUXJzVHVWd3l6MTIzNDU2";

    fn parse(s: &str) -> Result<CryptoAttribute, SdesError> {
        s.parse()
    }

    fn round_trip(a: &CryptoAttribute) {
        let s = a.to_string();
        assert_eq!(parse(&s).as_ref(), Ok(a), "{s}");
        assert_eq!(parse_line(&format!("a=crypto:{s}\r\n")).as_ref(), Ok(a));
    }

    fn key_for(suite: Suite, fill: u8) -> MasterKey {
        let ks: Vec<u8> = (0..suite.key_salt_len())
            .map(|i| fill.wrapping_add(i as u8))
            .collect();
        MasterKey::from_key_salt(suite, &ks).unwrap()
    }

    #[test]
    fn rfc4568_section4_example_has_an_mki_too_long_for_us() {
        let line = format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{K1}|2^20|1:32");
        assert_eq!(parse_line(&line), Err(SdesError::MkiLength { got: 32 }));
        const { assert!(32 > MAX_MKI_LEN) };
    }

    #[test]
    fn rfc4568_section4_example_with_short_mki() {
        let line = format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{K1}|2^20|1:4\r\n");
        let a = parse_line(&line).unwrap();
        assert_eq!(a.tag, 1);
        assert_eq!(a.suite, Suite::AesCm128HmacSha1_80);
        assert_eq!(a.keys.len(), 1);
        let k = &a.keys[0];
        let raw = DECODER.decode(K1).unwrap();
        assert_eq!(k.key.key(), &raw[..16]);
        assert_eq!(k.key.salt(), &raw[16..]);
        assert_eq!(k.lifetime, Some(Lifetime::PowerOfTwo(20)));
        assert_eq!(k.lifetime.unwrap().packets(), Some(1 << 20));
        let mki = k.mki.unwrap();
        assert_eq!(mki.as_bytes(), &[0, 0, 0, 1]);
        assert!(a.session_params.is_empty());
        assert_eq!(
            a.to_string(),
            format!("1 AES_CM_128_HMAC_SHA1_80 inline:{K1}|2^20|1:4")
        );
        round_trip(&a);
    }

    #[test]
    fn rfc4568_two_key_example() {
        let value = format!(
            "2 F8_128_HMAC_SHA1_80 inline:{K3}|2^20|1:4;inline:{K4}|2^20|2:4 FEC_ORDER=FEC_SRTP"
        );
        // F8 is registered by RFC 4568 but not implemented here.
        assert_eq!(parse(&value), Err(SdesError::UnknownSuite));

        let value = value.replace("F8_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_80");
        let a = parse(&value).unwrap();
        assert_eq!(a.tag, 2);
        assert_eq!(a.keys.len(), 2);
        assert_eq!(a.keys[0].mki.unwrap().value(), Some(1));
        assert_eq!(a.keys[1].mki.unwrap().value(), Some(2));
        assert_eq!(a.keys[1].key.key(), &DECODER.decode(K4).unwrap()[..16]);
        assert_eq!(a.session_params.fec_order, Some(FecOrder::FecSrtp));
        assert_eq!(a.to_string(), value);
        round_trip(&a);
    }

    #[test]
    fn rfc4568_examples_without_lifetime_and_with_srtp_fec() {
        let a = parse_line(&format!(
            "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{K5}|1066:4"
        ))
        .unwrap();
        assert_eq!(a.keys[0].lifetime, None);
        assert_eq!(a.keys[0].mki.unwrap().value(), Some(1066));
        assert_eq!(a.keys[0].mki.unwrap().len(), 4);
        round_trip(&a);

        let a = parse_line(&format!(
            "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{K2}|2^20|1:4 FEC_ORDER=SRTP_FEC"
        ))
        .unwrap();
        assert_eq!(a.session_params.fec_order, Some(FecOrder::SrtpFec));
        round_trip(&a);
    }

    #[test]
    fn minimal_attribute() {
        let a = parse(&format!("1 AES_CM_128_HMAC_SHA1_32 inline:{K2}")).unwrap();
        assert_eq!(a.suite, Suite::AesCm128HmacSha1_32);
        assert_eq!(a.keys[0].lifetime, None);
        assert_eq!(a.keys[0].mki, None);
        assert_eq!(
            a.to_string(),
            format!("1 AES_CM_128_HMAC_SHA1_32 inline:{K2}")
        );
    }

    #[test]
    fn every_suite_round_trips() {
        for (i, suite) in Suite::ALL.into_iter().enumerate() {
            let a = CryptoAttribute {
                tag: i as u32 + 1,
                suite,
                keys: vec![KeyParams {
                    key: key_for(suite, i as u8 * 37),
                    lifetime: Some(Lifetime::PowerOfTwo(31)),
                    mki: Some(Mki::from_value(7, 2).unwrap()),
                }],
                session_params: SessionParams::default(),
            };
            let s = a.to_string();
            assert!(s.starts_with(&format!("{} {} inline:", i + 1, suite.sdes_name())));
            assert!(s.ends_with("|2^31|7:2"));
            round_trip(&a);
            // Unpadded base64 is accepted too and gives the same key.
            let unpadded = s.replace('=', "");
            if unpadded != s {
                assert_eq!(parse(&unpadded), Ok(a.clone()));
            }
            // A key for another length of suite is refused with both lengths named.
            let other = Suite::ALL
                .into_iter()
                .find(|o| o.key_salt_len() != suite.key_salt_len())
                .unwrap();
            let wrong = s.replace(suite.sdes_name(), other.sdes_name());
            assert_eq!(
                parse(&wrong),
                Err(SdesError::KeyLength {
                    expected: other.key_salt_len(),
                    got: suite.key_salt_len()
                })
            );
        }
    }

    #[test]
    fn lifetimes() {
        let with = |lt: &str| parse(&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{K1}|{lt}"));
        let lt = |lt: &str| with(lt).map(|a| a.keys[0].lifetime);
        assert_eq!(lt("2^0"), Ok(Some(Lifetime::PowerOfTwo(0))));
        assert_eq!(lt("2^48"), Ok(Some(Lifetime::PowerOfTwo(48))));
        assert_eq!(lt("2^63"), Ok(Some(Lifetime::PowerOfTwo(63))));
        assert_eq!(lt("1048576"), Ok(Some(Lifetime::Packets(1 << 20))));
        assert_eq!(
            lt("18446744073709551615"),
            Ok(Some(Lifetime::Packets(u64::MAX)))
        );
        for bad in [
            "",
            "2^",
            "2^64",
            "2^-1",
            "2^x",
            "3^4",
            "0",
            "18446744073709551616",
            "1e6",
            "+5",
            "2^ 3",
            "٣",
        ] {
            assert_eq!(with(bad), Err(SdesError::BadLifetime), "{bad:?}");
        }
        assert_eq!(Lifetime::PowerOfTwo(64).packets(), None);
        assert_eq!(Lifetime::PowerOfTwo(63).to_string(), "2^63");
        assert_eq!(Lifetime::Packets(1000).to_string(), "1000");
        for lt in ["2^0", "2^48", "1", "1048576", "18446744073709551615"] {
            round_trip(&with(lt).unwrap());
        }
    }

    #[test]
    fn mkis() {
        let with = |m: &str| parse(&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{K1}|2^20|{m}"));
        let mki = |m: &str| with(m).map(|a| a.keys[0].mki.unwrap());
        assert_eq!(mki("0:1").unwrap().as_bytes(), &[0]);
        assert_eq!(mki("255:1").unwrap().as_bytes(), &[255]);
        assert_eq!(mki("256:2").unwrap().as_bytes(), &[1, 0]);
        assert_eq!(mki("007:001").unwrap().as_bytes(), &[7]);
        let full = "340282366920938463463374607431768211455"; // 2^128 - 1
        assert_eq!(mki(&format!("{full}:16")).unwrap().as_bytes(), &[0xff; 16]);
        assert_eq!(mki(&format!("{full}:16")).unwrap().value(), None);
        round_trip(&with(&format!("{full}:16")).unwrap());
        round_trip(&with("18446744073709551616:9").unwrap());
        round_trip(&with("0:16").unwrap());

        assert_eq!(with("256:1"), Err(SdesError::MkiOverflow));
        assert_eq!(
            with("340282366920938463463374607431768211456:16"),
            Err(SdesError::MkiOverflow)
        );
        assert_eq!(
            with("99999999999999999999999999999999999999999999:16"),
            Err(SdesError::MkiOverflow)
        );
        assert_eq!(with("1:0"), Err(SdesError::MkiLength { got: 0 }));
        assert_eq!(with("1:17"), Err(SdesError::MkiLength { got: 17 }));
        assert_eq!(with("1:128"), Err(SdesError::MkiLength { got: 128 }));
        assert_eq!(with("1:999"), Err(SdesError::MkiLength { got: 999 }));
        for bad in [
            "1:", ":4", "1:0004", "x:4", "1:4x", "1:2:3", "-1:4", "1:+4", " 1:4",
        ] {
            assert_eq!(with(bad), Err(SdesError::BadMki), "{bad:?}");
        }
        // Lifetime may be left out while the MKI is present.
        let a = parse(&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{K1}|5:1")).unwrap();
        assert_eq!(a.keys[0].lifetime, None);
        assert_eq!(a.keys[0].mki.unwrap().as_bytes(), &[5]);
    }

    #[test]
    fn several_keys_need_distinct_mkis_of_one_length() {
        let two = |a: &str, b: &str| {
            parse(&format!(
                "1 AES_CM_128_HMAC_SHA1_80 inline:{K1}{a};inline:{K2}{b}"
            ))
        };
        assert!(two("|1:2", "|2:2").is_ok());
        assert!(two("|2^10|1:2", "|2:2").is_ok());
        assert_eq!(two("", ""), Err(SdesError::MkiMismatch));
        assert_eq!(two("|1:2", ""), Err(SdesError::MkiMismatch));
        assert_eq!(two("", "|1:2"), Err(SdesError::MkiMismatch));
        assert_eq!(two("|1:2", "|2:3"), Err(SdesError::MkiMismatch));
        assert_eq!(two("|1:2", "|1:2"), Err(SdesError::MkiMismatch));
        let sixteen: Vec<String> = (0..MAX_KEYS)
            .map(|i| format!("inline:{K1}|{i}:1"))
            .collect();
        let a = parse(&format!("1 AES_CM_128_HMAC_SHA1_80 {}", sixteen.join(";"))).unwrap();
        assert_eq!(a.keys.len(), MAX_KEYS);
        round_trip(&a);
    }

    #[test]
    fn session_params() {
        let with = |p: &str| parse(&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{K1} {p}"));
        let a = with(
            "kdr=24 UNENCRYPTED_SRTP UNENCRYPTED_SRTCP UNAUTHENTICATED_SRTP \
             FEC_ORDER=fec_srtp WSH=64 -OPTIONAL=1 FEC_KEY=inline:abc MANDATORY",
        )
        .unwrap();
        let p = &a.session_params;
        assert_eq!(p.kdr, Some(24));
        assert!(p.unencrypted_srtp && p.unencrypted_srtcp && p.unauthenticated_srtp);
        assert_eq!(p.fec_order, Some(FecOrder::FecSrtp));
        assert_eq!(p.wsh, Some(64));
        assert_eq!(
            p.unknown,
            ["-OPTIONAL=1", "FEC_KEY=inline:abc", "MANDATORY"]
        );
        assert!(p.has_unknown_mandatory());
        assert_eq!(
            p.unknown_mandatory().collect::<Vec<_>>(),
            ["FEC_KEY=inline:abc", "MANDATORY"]
        );
        assert_eq!(
            p.to_string(),
            "KDR=24 UNENCRYPTED_SRTP UNENCRYPTED_SRTCP UNAUTHENTICATED_SRTP FEC_ORDER=FEC_SRTP \
             WSH=64 -OPTIONAL=1 FEC_KEY=inline:abc MANDATORY"
        );
        round_trip(&a);

        let a = with("-ignore_me KDR=0").unwrap();
        assert_eq!(a.session_params.kdr, Some(0));
        assert!(!a.session_params.has_unknown_mandatory());
        round_trip(&a);

        assert_eq!(
            with("WSH=4294967295").unwrap().session_params.wsh,
            Some(u32::MAX)
        );
        for (bad, name) in [
            ("KDR=25", "KDR"),
            ("KDR=", "KDR"),
            ("KDR", "KDR"),
            ("KDR=100", "KDR"),
            ("KDR=x", "KDR"),
            ("WSH=63", "WSH"),
            ("WSH=4294967296", "WSH"),
            ("WSH", "WSH"),
            ("FEC_ORDER=FEC", "FEC_ORDER"),
            ("FEC_ORDER", "FEC_ORDER"),
            ("UNENCRYPTED_SRTP=1", "UNENCRYPTED_SRTP"),
            ("UNENCRYPTED_SRTCP=", "UNENCRYPTED_SRTCP"),
            ("UNAUTHENTICATED_SRTP=yes", "UNAUTHENTICATED_SRTP"),
            ("caf\u{e9}", "session-param"),
            ("A\u{0}B", "session-param"),
            ("X\r", "session-param"),
        ] {
            assert_eq!(with(bad), Err(SdesError::BadSessionParam(name)), "{bad:?}");
        }
        for (dup, name) in [
            ("KDR=1 KDR=1", "KDR"),
            ("UNENCRYPTED_SRTP unencrypted_srtp", "UNENCRYPTED_SRTP"),
            ("UNENCRYPTED_SRTCP UNENCRYPTED_SRTCP", "UNENCRYPTED_SRTCP"),
            (
                "UNAUTHENTICATED_SRTP UNAUTHENTICATED_SRTP",
                "UNAUTHENTICATED_SRTP",
            ),
            ("FEC_ORDER=FEC_SRTP FEC_ORDER=SRTP_FEC", "FEC_ORDER"),
            ("WSH=64 WSH=128", "WSH"),
        ] {
            assert_eq!(
                with(dup),
                Err(SdesError::DuplicateSessionParam(name)),
                "{dup:?}"
            );
        }
    }

    #[test]
    fn whitespace_and_line_handling() {
        let canonical = format!("1 AES_CM_128_HMAC_SHA1_80 inline:{K1}|2^20|1:4 KDR=0");
        let expected = parse(&canonical).unwrap();
        for v in [
            format!("1  AES_CM_128_HMAC_SHA1_80\tinline:{K1}|2^20|1:4 \t KDR=0"),
            format!("1\tAES_CM_128_HMAC_SHA1_80 inline:{K1}|2^20|1:4 KDR=0  "),
            format!("1 AES_CM_128_HMAC_SHA1_80 INLINE:{K1}|2^20|1:4 KDR=0\t"),
        ] {
            assert_eq!(parse(&v).as_ref(), Ok(&expected), "{v:?}");
        }
        for line in [
            format!("a=crypto:{canonical}"),
            format!("a=crypto:{canonical}\r\n"),
            format!("a=crypto:{canonical}\n"),
            format!("A=CRYPTO:{canonical}\r"),
            canonical.clone(),
        ] {
            assert_eq!(parse_line(&line).as_ref(), Ok(&expected), "{line:?}");
        }
        assert_eq!(parse_line("a=crypto:"), Err(SdesError::Empty));
        assert_eq!(parse_line("a=crypto: \t\r\n"), Err(SdesError::Empty));
        assert_eq!(
            parse_line(&format!("a=crypto: {canonical}")),
            Err(SdesError::MissingTag)
        );
        assert_eq!(
            parse_line("a=rtpmap:0 PCMU/8000"),
            Err(SdesError::NotCrypto)
        );
        assert_eq!(parse_line("a=crypt\u{e9}:1"), Err(SdesError::NotCrypto));
        // A line break inside the value is not whitespace.
        assert_eq!(
            parse(&format!("1 AES_CM_128_HMAC_SHA1_80\ninline:{K1}")),
            Err(SdesError::UnknownSuite)
        );
        // Whitespace inside key-params splits them into a key-param and a session parameter.
        assert_eq!(
            parse(&format!(
                "1 AES_CM_128_HMAC_SHA1_80 inline:{K1}; inline:{K2}"
            )),
            Err(SdesError::EmptyKeyParam)
        );
    }

    #[test]
    fn every_error_variant_from_an_input() {
        let aes = "AES_CM_128_HMAC_SHA1_80";
        let cases: Vec<(String, SdesError)> = vec![
            (String::new(), SdesError::Empty),
            ("   ".into(), SdesError::Empty),
            ("a=fingerprint:sha-256 00".into(), SdesError::NotCrypto),
            (format!(" 1 {aes} inline:{K1}"), SdesError::MissingTag),
            (format!("x {aes} inline:{K1}"), SdesError::BadTag),
            (format!("1234567890 {aes} inline:{K1}"), SdesError::BadTag),
            (format!("-1 {aes} inline:{K1}"), SdesError::BadTag),
            ("1".into(), SdesError::MissingSuite),
            ("1 ".into(), SdesError::MissingSuite),
            (
                format!("1 AES_CM_128_HMAC_SHA1_81 inline:{K1}"),
                SdesError::UnknownSuite,
            ),
            (
                format!("1 aes_cm_128_hmac_sha1_80 inline:{K1}"),
                SdesError::UnknownSuite,
            ),
            (format!("1 {aes}"), SdesError::MissingKeyParams),
            (format!("1 {aes}\t "), SdesError::MissingKeyParams),
            (format!("1 {aes} inline:{K1};"), SdesError::EmptyKeyParam),
            (format!("1 {aes} ;inline:{K1}"), SdesError::EmptyKeyParam),
            (format!("1 {aes} uri:{K1}"), SdesError::BadKeyMethod),
            (format!("1 {aes} {K1}"), SdesError::BadKeyMethod),
            (format!("1 {aes} inline {K1}"), SdesError::BadKeyMethod),
            (format!("1 {aes} inline:{K1}*"), SdesError::BadBase64),
            (
                format!("1 {aes} inline:{}", K1.replace('P', "-")),
                SdesError::BadBase64,
            ),
            (format!("1 {aes} inline:{K1}===="), SdesError::BadBase64),
            (
                format!("1 {aes} inline:{K1}AA"),
                SdesError::KeyLength {
                    expected: 30,
                    got: 31,
                },
            ),
            (
                format!("1 {aes} inline:"),
                SdesError::KeyLength {
                    expected: 30,
                    got: 0,
                },
            ),
            (format!("1 {aes} inline:{K1}|"), SdesError::BadLifetime),
            (format!("1 {aes} inline:{K1}|2^99"), SdesError::BadLifetime),
            (format!("1 {aes} inline:{K1}|2^20|x:1"), SdesError::BadMki),
            (format!("1 {aes} inline:{K1}|2^20|2^20"), SdesError::BadMki),
            (
                format!("1 {aes} inline:{K1}|2^20|1:32"),
                SdesError::MkiLength { got: 32 },
            ),
            (
                format!("1 {aes} inline:{K1}|2^20|65536:2"),
                SdesError::MkiOverflow,
            ),
            (
                format!("1 {aes} inline:{K1}|1:1;inline:{K2}|2:2"),
                SdesError::MkiMismatch,
            ),
            (
                format!("1 {aes} inline:{K1}|2^20|1:4|x"),
                SdesError::TrailingGarbage,
            ),
            (
                format!("1 {aes} inline:{K1}|1:4|2^20"),
                SdesError::TrailingGarbage,
            ),
            (
                format!(
                    "1 {aes} {}",
                    vec![format!("inline:{K1}|1:1"); MAX_KEYS + 1].join(";")
                ),
                SdesError::TooManyKeys,
            ),
            (
                format!("1 {aes} {}", ";".repeat(100_000)),
                SdesError::TooManyKeys,
            ),
            (
                format!("1 {aes} inline:{K1} KDR=99"),
                SdesError::BadSessionParam("KDR"),
            ),
            (
                format!("1 {aes} inline:{K1} WSH=64 WSH=64"),
                SdesError::DuplicateSessionParam("WSH"),
            ),
        ];
        let mut seen: Vec<SdesError> = Vec::new();
        for (input, expected) in &cases {
            assert_eq!(parse_line(input).as_ref(), Err(expected), "{input:?}");
            let message = expected.to_string();
            assert!(message.starts_with("a=crypto: "), "{message}");
            if !seen.contains(expected) {
                seen.push(*expected);
            }
        }
        // Exhaustive match: adding a variant without a case above fails to compile here.
        for e in &seen {
            match e {
                SdesError::Empty
                | SdesError::NotCrypto
                | SdesError::MissingTag
                | SdesError::BadTag
                | SdesError::MissingSuite
                | SdesError::UnknownSuite
                | SdesError::MissingKeyParams
                | SdesError::EmptyKeyParam
                | SdesError::BadKeyMethod
                | SdesError::BadBase64
                | SdesError::KeyLength { .. }
                | SdesError::BadLifetime
                | SdesError::BadMki
                | SdesError::MkiLength { .. }
                | SdesError::MkiOverflow
                | SdesError::MkiMismatch
                | SdesError::TrailingGarbage
                | SdesError::TooManyKeys
                // Produced by CryptoAttribute::policy, tested in context_tests.
                | SdesError::Unsupported(_)
                | SdesError::BadSessionParam(_)
                | SdesError::DuplicateSessionParam(_) => {}
            }
        }
        let kinds: std::collections::HashSet<_> =
            seen.iter().map(core::mem::discriminant).collect();
        assert_eq!(kinds.len(), 20, "every variant is produced by some input");
    }

    #[test]
    fn error_messages_name_the_part() {
        let e = SdesError::KeyLength {
            expected: 30,
            got: 12,
        };
        assert_eq!(
            e.to_string(),
            "a=crypto: key||salt must be 30 bytes for this crypto-suite, got 12"
        );
        assert!(SdesError::BadSessionParam("WSH")
            .to_string()
            .contains("WSH"));
        assert!(SdesError::MkiLength { got: 32 }.to_string().contains("32"));
        let boxed: Box<dyn std::error::Error> = Box::new(SdesError::BadTag);
        assert!(boxed.to_string().contains("tag"));
    }

    #[test]
    fn tags() {
        let with = |t: &str| parse(&format!("{t} AES_CM_128_HMAC_SHA1_80 inline:{K1}"));
        assert_eq!(with("0").unwrap().tag, 0);
        assert_eq!(with("999999999").unwrap().tag, 999_999_999);
        assert_eq!(with("000000007").unwrap().tag, 7);
        assert_eq!(with("0000000007"), Err(SdesError::BadTag));
        assert_eq!(with("1a"), Err(SdesError::BadTag));
        assert_eq!(with("\u{661}"), Err(SdesError::BadTag));
    }

    #[test]
    fn debug_does_not_show_the_key() {
        let a = parse(&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{K1}")).unwrap();
        let debug = format!("{a:?}");
        assert!(!debug.contains(K1));
        assert!(debug.contains("MasterKey"));
    }

    fn random_attribute(rng: &mut StdRng) -> CryptoAttribute {
        let suite = Suite::ALL[rng.gen_range(0..Suite::ALL.len())];
        let n_keys = if rng.gen_bool(0.7) {
            1
        } else {
            rng.gen_range(1..=MAX_KEYS)
        };
        let mki_len = rng.gen_range(1..=MAX_MKI_LEN);
        let with_mki = n_keys > 1 || rng.gen_bool(0.5);
        let keys = (0..n_keys)
            .map(|i| {
                let mut ks = vec![0u8; suite.key_salt_len()];
                rng.fill(&mut ks[..]);
                let mki = with_mki.then(|| {
                    let mut bytes = vec![0u8; mki_len];
                    rng.fill(&mut bytes[..]);
                    // Distinct across keys: the last byte is the key index.
                    if n_keys > 1 {
                        bytes[mki_len - 1] = i as u8;
                    }
                    Mki::new(&bytes).unwrap()
                });
                let lifetime = match rng.gen_range(0..3) {
                    0 => None,
                    1 => Some(Lifetime::PowerOfTwo(rng.gen_range(0..=63))),
                    _ => Some(Lifetime::Packets(rng.gen_range(1..=u64::MAX))),
                };
                KeyParams {
                    key: MasterKey::from_key_salt(suite, &ks).unwrap(),
                    lifetime,
                    mki,
                }
            })
            .collect();
        let session_params = SessionParams {
            kdr: rng.gen_bool(0.3).then(|| rng.gen_range(0..=24)),
            unencrypted_srtp: rng.gen_bool(0.2),
            unencrypted_srtcp: rng.gen_bool(0.2),
            unauthenticated_srtp: rng.gen_bool(0.2),
            fec_order: rng
                .gen_bool(0.2)
                .then(|| [FecOrder::FecSrtp, FecOrder::SrtpFec][rng.gen_range(0..2)]),
            wsh: rng.gen_bool(0.3).then(|| rng.gen_range(64..=u32::MAX)),
            unknown: (0..rng.gen_range(0..3))
                .map(|i| format!("-X{i}=v;|:{}", rng.gen::<u16>()))
                .collect(),
        };
        CryptoAttribute {
            tag: rng.gen_range(0..=999_999_999),
            suite,
            keys,
            session_params,
        }
    }

    #[test]
    fn random_valid_attributes_round_trip() {
        let mut rng = StdRng::seed_from_u64(4568);
        for _ in 0..2_000 {
            let a = random_attribute(&mut rng);
            round_trip(&a);
        }
    }

    fn mutate(rng: &mut StdRng, s: &str) -> String {
        const PIECES: &[&str] = &[
            " ",
            "\t",
            "  ",
            "|",
            ":",
            ";",
            "^",
            "=",
            "-",
            "2^",
            "inline:",
            "0",
            "1",
            "9",
            "99999",
            "A",
            "/",
            "+",
            "==",
            "KDR=",
            "WSH=",
            "FEC_ORDER=",
            "\r",
            "\n",
            "\u{e9}",
            "\u{1f600}",
            "a=crypto:",
            "18446744073709551616",
            "1:16",
            "|2^63",
            "AES_256_CM_HMAC_SHA1_80",
        ];
        let mut chars: Vec<char> = s.chars().collect();
        for _ in 0..rng.gen_range(1..=4) {
            let at = rng.gen_range(0..=chars.len());
            match rng.gen_range(0..5) {
                0 if at < chars.len() => {
                    chars.remove(at);
                }
                1 if at < chars.len() => {
                    let end = rng.gen_range(at..=chars.len());
                    chars.drain(at..end);
                }
                2 if at < chars.len() => {
                    chars[at] = char::from(rng.gen_range(0x20u8..0x7f));
                }
                3 => {
                    let p = PIECES[rng.gen_range(0..PIECES.len())];
                    for (i, c) in p.chars().enumerate() {
                        chars.insert(at + i, c);
                    }
                }
                _ => {
                    // Duplicate a slice elsewhere.
                    let from = rng.gen_range(0..=chars.len());
                    let to = rng.gen_range(from..=chars.len().min(from + 48));
                    let copy: Vec<char> = chars[from..to].to_vec();
                    for (i, c) in copy.into_iter().enumerate() {
                        chars.insert(at + i, c);
                    }
                }
            }
        }
        chars.into_iter().collect()
    }

    #[test]
    fn randomized_inputs_never_panic_and_ok_results_round_trip() {
        let mut rng = StdRng::seed_from_u64(0x5de5);
        let seeds: Vec<String> = [
            format!("1 AES_CM_128_HMAC_SHA1_80 inline:{K1}|2^20|1:4"),
            format!("a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:{K3}|2^20|1:4;inline:{K4}|2^20|2:4 FEC_ORDER=FEC_SRTP\r\n"),
            format!("1 AES_CM_128_HMAC_SHA1_32 inline:{K5}|1066:4 KDR=3 WSH=128 -x UNENCRYPTED_SRTP"),
        ]
        .into_iter()
        .chain((0..20).map(|_| random_attribute(&mut rng).to_string()))
        .collect();
        let mut ok = 0usize;
        for i in 0..20_000 {
            let input = if i % 10 == 0 {
                // Fully random text over a small, syntax-heavy alphabet.
                const ALPHABET: &[u8] = b"0123456789 \t|:;^=-_AESCMHinlea+/2";
                let len = rng.gen_range(0..120);
                (0..len)
                    .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
                    .collect()
            } else {
                let seed = &seeds[rng.gen_range(0..seeds.len())];
                mutate(&mut rng, seed)
            };
            for a in [parse_line(&input), parse(&input)].into_iter().flatten() {
                ok += 1;
                let formatted = a.to_string();
                assert_eq!(
                    parse(&formatted).as_ref(),
                    Ok(&a),
                    "{input:?} -> {formatted:?}"
                );
            }
            fuzz_entry(input.as_bytes());
        }
        assert!(
            ok > 500,
            "mutations should leave some inputs valid, got {ok}"
        );
    }

    #[test]
    fn fuzz_entry_handles_odd_bytes() {
        fuzz_entry(b"");
        fuzz_entry(&[0xff, 0xfe, b'1']);
        fuzz_entry(format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{K1}|2^20|1:4").as_bytes());
        fuzz_entry(b"a=crypto:\xe9");
        let long = format!("1 AEAD_AES_256_GCM inline:{}", "A".repeat(1 << 16));
        fuzz_entry(long.as_bytes());
        assert_eq!(
            parse(&long),
            Err(SdesError::KeyLength {
                expected: 44,
                got: 49152
            })
        );
    }
}

#[cfg(test)]
mod context_tests {
    use super::*;

    #[test]
    fn attribute_keys_a_working_context() {
        for suite in Suite::ALL {
            let key = MasterKey::random(suite).unwrap();
            let line = format!("a=crypto:{}\r\n", CryptoAttribute::new(1, key, None));
            let offer = parse_line(&line).unwrap();
            let mut tx = offer.context(Policy::new(suite)).unwrap();
            let mut rx = parse_line(&line)
                .unwrap()
                .context(Policy::new(suite))
                .unwrap();
            let mut buf = [0u8; 64];
            buf[0] = 0x80;
            let n = tx.protect_rtp(&mut buf, 20).unwrap();
            assert_eq!(rx.unprotect_rtp(&mut buf[..n]), Ok(20), "{suite}");
        }
    }

    #[test]
    fn session_params_shape_the_policy() {
        let base = "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR";
        let p = |extra: &str| -> Result<Policy, SdesError> {
            format!("{base} {extra}")
                .parse::<CryptoAttribute>()?
                .policy(Policy::new(Suite::AeadAes128Gcm))
        };
        let q = p("UNENCRYPTED_SRTCP WSH=1024").unwrap();
        assert_eq!(q.suite, Suite::AesCm128HmacSha1_80);
        assert!(!q.encrypt_rtcp);
        assert_eq!(q.replay_window, 1024);
        assert!(matches!(p("KDR=3"), Err(SdesError::Unsupported(_))));
        assert!(matches!(
            p("UNENCRYPTED_SRTP"),
            Err(SdesError::Unsupported(_))
        ));
        assert!(matches!(
            p("UNAUTHENTICATED_SRTP"),
            Err(SdesError::Unsupported(_))
        ));
        assert!(matches!(p("WSH=100000"), Err(SdesError::Unsupported(_))));
        assert!(matches!(p("FOO=1"), Err(SdesError::Unsupported(_))));
        assert!(
            p("-FOO=1").is_ok(),
            "optional unknown parameters are ignored"
        );
    }
}
