//! The SRTP/SRTCP context: session keys, per-SSRC index state, protect and unprotect in place.

use super::aes_cm::{self, Aes, Label};
use super::gcm::{self, Gcm};
use super::hmac_sha1::{tags_equal, HmacSha1};
use super::replay::{estimate_index, ReplayWindow, MAX_REPLAY_WINDOW, MIN_REPLAY_WINDOW};
use super::{ConfigError, Error, MasterKey, Mki, Suite};
use crate::rtp::{HeaderError, RtcpHeader, RtpHeader, RTCP_HEADER_LEN, RTP_FIXED_HEADER_LEN};

/// Most master keys (each named by an MKI) one context holds.
pub const MAX_MASTER_KEYS: usize = 16;
/// HMAC-SHA1 session authentication key length (RFC 3711 §4.2.1: 160 bits).
const AUTH_KEY_LEN: usize = 20;
/// SRTCP E flag and index trailer length.
const SRTCP_INDEX_LEN: usize = 4;
/// Largest SRTP packet index (48 bits) and SRTCP index (31 bits).
const MAX_RTP_INDEX: u64 = (1 << 48) - 1;
const MAX_RTCP_INDEX: u32 = (1 << 31) - 1;

/// How a context protects and checks packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// The crypto suite; every master key must be for it.
    pub suite: Suite,
    /// Replay window in packets, 64..=32768 (default 128). Applies to SRTP and SRTCP.
    pub replay_window: usize,
    /// Let `protect_rtp` send an index again (a retransmission by the application). Off by
    /// default, as in libsrtp: reusing an index with other content breaks counter-mode secrecy.
    pub allow_repeat_tx: bool,
    /// Encrypt SRTCP (E flag set). Off means authenticated-only SRTCP (SDES
    /// `UNENCRYPTED_SRTCP`). Unprotect accepts both forms either way, as the E flag says.
    pub encrypt_rtcp: bool,
    /// Most SSRCs tracked per direction (default 32). A packet from one more SSRC is refused
    /// with [`Error::TooManyStreams`] after it authenticates; no state is kept for packets that
    /// do not authenticate.
    pub max_streams: usize,
}

impl Policy {
    /// The default policy for `suite`: window 128, no repeated transmit, encrypted SRTCP, 32
    /// streams.
    pub const fn new(suite: Suite) -> Policy {
        Policy {
            suite,
            replay_window: 128,
            allow_repeat_tx: false,
            encrypt_rtcp: true,
            max_streams: 32,
        }
    }
}

/// Session keys of one kind of packet (RTP or RTCP).
#[expect(
    clippy::large_enum_variant,
    reason = "built once per context and never moved on the packet path; boxing would add a pointer chase per packet"
)]
enum Transform {
    /// AES-CM with HMAC-SHA1 (RFC 3711, RFC 6188).
    Cm { aes: Aes, auth: HmacSha1 },
    /// AES-GCM (RFC 7714).
    Gcm(Gcm),
}

struct SessionKeys {
    transform: Transform,
    /// Session salt: 14 bytes for AES-CM, 12 for GCM (the rest zero).
    salt: [u8; 14],
}

impl SessionKeys {
    fn derive(master: &MasterKey, master_aes: &Aes, rtcp: bool) -> Option<SessionKeys> {
        let suite = master.suite();
        let (enc_label, auth_label, salt_label) = if rtcp {
            (Label::RtcpEncryption, Label::RtcpAuth, Label::RtcpSalt)
        } else {
            (Label::RtpEncryption, Label::RtpAuth, Label::RtpSalt)
        };
        let mut enc = [0u8; 32];
        let enc = &mut enc[..suite.key_len()];
        aes_cm::derive(master_aes, master.salt(), enc_label, enc);
        let mut salt = [0u8; 14];
        aes_cm::derive(
            master_aes,
            master.salt(),
            salt_label,
            &mut salt[..suite.salt_len()],
        );
        let transform = if suite.is_aead() {
            Transform::Gcm(Gcm::new(enc)?)
        } else {
            let mut auth = [0u8; AUTH_KEY_LEN];
            aes_cm::derive(master_aes, master.salt(), auth_label, &mut auth);
            let t = Transform::Cm {
                aes: Aes::new(enc),
                auth: HmacSha1::new(&auth),
            };
            auth.fill(0);
            t
        };
        enc.fill(0);
        Some(SessionKeys { transform, salt })
    }

    /// AES-CM IV (RFC 3711 §4.1.1): `(salt * 2^16) XOR (SSRC * 2^64) XOR (index * 2^16)`.
    #[inline]
    fn cm_iv(&self, ssrc: u32, index: u64) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv[..14].copy_from_slice(&self.salt);
        for (d, s) in iv[4..8].iter_mut().zip(ssrc.to_be_bytes()) {
            *d ^= s;
        }
        for (d, s) in iv[8..14].iter_mut().zip(&index.to_be_bytes()[2..]) {
            *d ^= s;
        }
        iv
    }

    /// GCM IV (RFC 7714 §8.1 and §9.1): `(0x0000 || SSRC || word || low) XOR salt`, where for
    /// SRTP `word || low` is `ROC || SEQ` and for SRTCP it is `0x0000 || 0 || SRTCP index`.
    #[inline]
    fn gcm_iv(&self, ssrc: u32, tail: [u8; 6]) -> [u8; 12] {
        let mut iv = [0u8; 12];
        iv[2..6].copy_from_slice(&ssrc.to_be_bytes());
        iv[6..12].copy_from_slice(&tail);
        for (d, s) in iv.iter_mut().zip(&self.salt[..12]) {
            *d ^= s;
        }
        iv
    }
}

struct KeySet {
    mki: Option<Mki>,
    rtp: SessionKeys,
    rtcp: SessionKeys,
}

/// Index state of one SSRC in one direction.
struct Stream {
    ssrc: u32,
    rtp: ReplayWindow,
    rtcp: ReplayWindow,
    /// Next SRTCP index to send (transmit direction only).
    rtcp_next: u32,
}

/// The streams of one direction: a small list, searched linearly with the last hit first.
struct Streams {
    list: Vec<Stream>,
    max: usize,
    last: usize,
}

impl Streams {
    fn new(max: usize) -> Streams {
        Streams {
            list: Vec::with_capacity(max.min(64)),
            max,
            last: 0,
        }
    }

    #[inline]
    fn find(&mut self, ssrc: u32) -> Option<usize> {
        if self.list.get(self.last).is_some_and(|s| s.ssrc == ssrc) {
            return Some(self.last);
        }
        let i = self.list.iter().position(|s| s.ssrc == ssrc)?;
        self.last = i;
        Some(i)
    }

    fn has_room(&self) -> bool {
        self.list.len() < self.max
    }

    /// Adds a stream (allocates its replay windows: once per SSRC, never per packet).
    fn insert(&mut self, ssrc: u32, window: usize) -> Result<usize, Error> {
        if !self.has_room() {
            return Err(Error::TooManyStreams);
        }
        self.list.push(Stream {
            ssrc,
            rtp: ReplayWindow::new(window),
            rtcp: ReplayWindow::new(window),
            rtcp_next: 0,
        });
        self.last = self.list.len() - 1;
        Ok(self.last)
    }

    fn find_or_insert(&mut self, ssrc: u32, window: usize) -> Result<usize, Error> {
        match self.find(ssrc) {
            Some(i) => Ok(i),
            None => self.insert(ssrc, window),
        }
    }
}

/// An SRTP/SRTCP context: the session keys derived from one or more master keys, and the index
/// state of every SSRC seen, kept apart for the transmit and receive directions.
///
/// Every method works in place on the caller's buffer and allocates nothing, except the first
/// time an SSRC is seen (its replay windows).
///
/// ```
/// use media::srtp::{Context, MasterKey, Policy, Suite};
/// let suite = Suite::AesCm128HmacSha1_80;
/// let key = MasterKey::from_key_salt(suite, &[7u8; 30]).unwrap();
/// let mut tx = Context::new(Policy::new(suite), &[(key.clone(), None)]).unwrap();
/// let mut rx = Context::new(Policy::new(suite), &[(key, None)]).unwrap();
///
/// let mut buf = [0u8; 1500];
/// buf[0] = 0x80; // RTP version 2, then seq 0, timestamp 0, SSRC 0, and a 160-byte payload
/// let len = tx.protect_rtp(&mut buf, 12 + 160).unwrap();
/// assert_eq!(len, 12 + 160 + 10);
/// let len = rx.unprotect_rtp(&mut buf[..len]).unwrap();
/// assert_eq!(len, 12 + 160);
/// ```
pub struct Context {
    suite: Suite,
    keys: Vec<KeySet>,
    active: usize,
    mki_len: usize,
    policy: Policy,
    tx: Streams,
    rx: Streams,
}

impl core::fmt::Debug for Context {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Context")
            .field("policy", &self.policy)
            .field("keys", &self.keys.len())
            .field("active", &self.active)
            .field("tx_streams", &self.tx.list.len())
            .field("rx_streams", &self.rx.list.len())
            .finish()
    }
}

fn header_error(e: HeaderError) -> Error {
    match e {
        HeaderError::TooShort => Error::TooShort,
        HeaderError::BadVersion | HeaderError::Truncated => Error::BadHeader,
    }
}

impl Context {
    /// Derives the session keys of every master key (RFC 3711 §4.3, key derivation rate 0).
    ///
    /// With one key the MKI is optional; with several, each needs a distinct MKI of the same
    /// length. The first key protects outgoing packets until [`Context::set_active_key`].
    pub fn new(policy: Policy, keys: &[(MasterKey, Option<Mki>)]) -> Result<Context, ConfigError> {
        if keys.is_empty() {
            return Err(ConfigError::NoKeys);
        }
        if keys.len() > MAX_MASTER_KEYS {
            return Err(ConfigError::TooManyKeys);
        }
        if !(MIN_REPLAY_WINDOW..=MAX_REPLAY_WINDOW).contains(&policy.replay_window) {
            return Err(ConfigError::ReplayWindow(policy.replay_window));
        }
        if policy.max_streams == 0 {
            return Err(ConfigError::MaxStreams);
        }
        let mki_len = keys[0].1.map_or(0, |m| m.len());
        for (i, (k, mki)) in keys.iter().enumerate() {
            if k.suite() != policy.suite {
                return Err(ConfigError::SuiteMismatch);
            }
            let this_len = mki.map_or(0, |m| m.len());
            if this_len != mki_len || (keys.len() > 1 && mki.is_none()) {
                return Err(ConfigError::MkiMismatch);
            }
            if keys[..i].iter().any(|(_, other)| other == mki) {
                return Err(ConfigError::MkiMismatch);
            }
        }
        let mut sets = Vec::with_capacity(keys.len());
        for (k, mki) in keys {
            let master_aes = Aes::new(k.key());
            let rtp =
                SessionKeys::derive(k, &master_aes, false).ok_or(ConfigError::SuiteMismatch)?;
            let rtcp =
                SessionKeys::derive(k, &master_aes, true).ok_or(ConfigError::SuiteMismatch)?;
            sets.push(KeySet {
                mki: *mki,
                rtp,
                rtcp,
            });
        }
        Ok(Context {
            suite: policy.suite,
            keys: sets,
            active: 0,
            mki_len,
            policy,
            tx: Streams::new(policy.max_streams),
            rx: Streams::new(policy.max_streams),
        })
    }

    /// The policy this context was made with.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Chooses the master key (by MKI) that protects outgoing packets from now on.
    pub fn set_active_key(&mut self, mki: &Mki) -> Result<(), Error> {
        let i = self
            .keys
            .iter()
            .position(|k| k.mki.as_ref() == Some(mki))
            .ok_or(Error::UnknownMki)?;
        self.active = i;
        Ok(())
    }

    /// Forgets the state of `ssrc` in both directions (the stream ended). Returns whether it was
    /// known.
    pub fn remove_stream(&mut self, ssrc: u32) -> bool {
        let mut found = false;
        for s in [&mut self.tx, &mut self.rx] {
            if let Some(i) = s.find(ssrc) {
                s.list.swap_remove(i);
                s.last = 0;
                found = true;
            }
        }
        found
    }

    /// Number of SSRCs tracked in the receive direction.
    pub fn rx_streams(&self) -> usize {
        self.rx.list.len()
    }

    /// Bytes that [`Context::protect_rtp`] appends (MKI and tag).
    pub fn rtp_overhead(&self) -> usize {
        self.suite.rtp_tag_len() + self.mki_len
    }

    /// Bytes that [`Context::protect_rtcp`] appends (index, MKI and tag).
    pub fn rtcp_overhead(&self) -> usize {
        self.suite.rtcp_tag_len() + SRTCP_INDEX_LEN + self.mki_len
    }

    /// The highest SRTP index received from `ssrc` (ROC << 16 | SEQ), if any.
    pub fn rx_rtp_index(&self, ssrc: u32) -> Option<u64> {
        self.rx.list.iter().find(|s| s.ssrc == ssrc)?.rtp.highest()
    }

    fn key_for_mki(&self, mki: &[u8]) -> Result<usize, Error> {
        if self.mki_len == 0 {
            return Ok(0);
        }
        self.keys
            .iter()
            .position(|k| k.mki.as_ref().is_some_and(|m| m.as_bytes() == mki))
            .ok_or(Error::UnknownMki)
    }

    /// Protects the RTP packet in `buf[..len]` in place: encrypts the payload and appends the MKI
    /// (if any) and the tag. `buf` must have [`Context::rtp_overhead`] bytes of room after `len`.
    /// Returns the SRTP packet length.
    pub fn protect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Error> {
        let pkt = buf.get(..len).ok_or(Error::BufferTooSmall)?;
        let hdr = RtpHeader::new_checked(pkt).map_err(header_error)?;
        let (hdr_len, seq, ssrc) = (hdr.header_len(), hdr.sequence(), hdr.ssrc());
        let out_len = len + self.rtp_overhead();
        if out_len > buf.len() {
            return Err(Error::BufferTooSmall);
        }
        let si = self.tx.find_or_insert(ssrc, self.policy.replay_window)?;
        let stream = &mut self.tx.list[si];
        let index = estimate_index(stream.rtp.highest(), seq).ok_or(Error::Replay)?;
        if index > MAX_RTP_INDEX {
            return Err(Error::KeyExhausted);
        }
        if !self.policy.allow_repeat_tx {
            stream.rtp.check(index)?;
        }
        let roc = (index >> 16) as u32;
        let keys = &self.keys[self.active];
        let mki = keys.mki.as_ref().map_or(&[][..], |m| m.as_bytes());
        match &keys.rtp.transform {
            Transform::Cm { aes, auth } => {
                let iv = keys.rtp.cm_iv(ssrc, index);
                aes_cm::apply_keystream(aes, &iv, &mut buf[hdr_len..len]);
                let tag = auth.mac(&buf[..len], &roc.to_be_bytes());
                let (m, t) = buf[len..out_len].split_at_mut(mki.len());
                m.copy_from_slice(mki);
                t.copy_from_slice(&tag[..t.len()]);
            }
            Transform::Gcm(g) => {
                let mut tail = [0u8; 6];
                tail[..4].copy_from_slice(&roc.to_be_bytes());
                tail[4..].copy_from_slice(&seq.to_be_bytes());
                let iv = keys.rtp.gcm_iv(ssrc, tail);
                let (head, rest) = buf.split_at_mut(hdr_len);
                let tag = g
                    .seal(iv, head, &mut rest[..len - hdr_len])
                    .ok_or(Error::BufferTooSmall)?;
                // RFC 7714 §7.1 / libsrtp: the tag follows the ciphertext, the MKI follows the tag.
                let (t, m) = buf[len..out_len].split_at_mut(gcm::TAG_LEN);
                t.copy_from_slice(&tag);
                m.copy_from_slice(mki);
            }
        }
        stream.rtp.accept(index);
        Ok(out_len)
    }

    /// Unprotects the SRTP packet `pkt` in place: checks the MKI, the replay window and the tag,
    /// then decrypts. Returns the RTP packet length (the trailer is left behind it). On error
    /// nothing is learnt from the packet; the buffer's contents are then unspecified.
    pub fn unprotect_rtp(&mut self, pkt: &mut [u8]) -> Result<usize, Error> {
        let len = pkt.len();
        let tag_len = self.suite.rtp_tag_len();
        let trailer = tag_len + self.mki_len;
        if len < RTP_FIXED_HEADER_LEN + trailer {
            return Err(Error::TooShort);
        }
        let body_len = len - trailer;
        let hdr = RtpHeader::new_checked(&pkt[..body_len]).map_err(header_error)?;
        let (hdr_len, seq, ssrc) = (hdr.header_len(), hdr.sequence(), hdr.ssrc());
        // AES-CM: body || MKI || tag. GCM: body || tag || MKI.
        let mki_at = if self.suite.is_aead() {
            len - self.mki_len
        } else {
            body_len
        };
        let ki = self.key_for_mki(&pkt[mki_at..mki_at + self.mki_len])?;
        let si = self.rx.find(ssrc);
        let highest = si.and_then(|i| self.rx.list[i].rtp.highest());
        let index = estimate_index(highest, seq).ok_or(Error::Replay)?;
        if index > MAX_RTP_INDEX {
            return Err(Error::KeyExhausted);
        }
        match si {
            Some(i) => self.rx.list[i].rtp.check(index)?,
            None if !self.rx.has_room() => return Err(Error::TooManyStreams),
            None => {}
        }
        let roc = (index >> 16) as u32;
        let keys = &self.keys[ki];
        match &keys.rtp.transform {
            Transform::Cm { aes, auth } => {
                let tag = auth.mac(&pkt[..body_len], &roc.to_be_bytes());
                if !tags_equal(&tag[..tag_len], &pkt[len - tag_len..]) {
                    return Err(Error::AuthFail);
                }
                let iv = keys.rtp.cm_iv(ssrc, index);
                aes_cm::apply_keystream(aes, &iv, &mut pkt[hdr_len..body_len]);
            }
            Transform::Gcm(g) => {
                let mut tail = [0u8; 6];
                tail[..4].copy_from_slice(&roc.to_be_bytes());
                tail[4..].copy_from_slice(&seq.to_be_bytes());
                let iv = keys.rtp.gcm_iv(ssrc, tail);
                let (head, rest) = pkt.split_at_mut(hdr_len);
                g.open(iv, head, &mut rest[..len - self.mki_len - hdr_len])
                    .ok_or(Error::AuthFail)?;
            }
        }
        let si = match si {
            Some(i) => i,
            None => self.rx.insert(ssrc, self.policy.replay_window)?,
        };
        self.rx.list[si].rtp.accept(index);
        Ok(body_len)
    }

    /// Protects the (compound) RTCP packet in `buf[..len]` in place: encrypts everything after
    /// the first 8 bytes (unless the policy says otherwise) and appends the E flag and SRTCP
    /// index, the MKI and the tag. `buf` must have [`Context::rtcp_overhead`] bytes of room after
    /// `len`. Returns the SRTCP packet length.
    pub fn protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Error> {
        let pkt = buf.get(..len).ok_or(Error::BufferTooSmall)?;
        let ssrc = RtcpHeader::new_checked(pkt).map_err(header_error)?.ssrc();
        let out_len = len + self.rtcp_overhead();
        if out_len > buf.len() {
            return Err(Error::BufferTooSmall);
        }
        let si = self.tx.find_or_insert(ssrc, self.policy.replay_window)?;
        let stream = &mut self.tx.list[si];
        let index = stream.rtcp_next;
        if index > MAX_RTCP_INDEX {
            return Err(Error::KeyExhausted);
        }
        let encrypt = self.policy.encrypt_rtcp;
        let e_index = (u32::from(encrypt) << 31 | index).to_be_bytes();
        let keys = &self.keys[self.active];
        let mki = keys.mki.as_ref().map_or(&[][..], |m| m.as_bytes());
        match &keys.rtcp.transform {
            Transform::Cm { aes, auth } => {
                if encrypt {
                    let iv = keys.rtcp.cm_iv(ssrc, u64::from(index));
                    aes_cm::apply_keystream(aes, &iv, &mut buf[RTCP_HEADER_LEN..len]);
                }
                // RFC 3711 §3.4: body || E+index || MKI || tag; the tag covers body || E+index.
                buf[len..len + SRTCP_INDEX_LEN].copy_from_slice(&e_index);
                let auth_len = len + SRTCP_INDEX_LEN;
                let tag = auth.mac(&buf[..auth_len], &[]);
                let (m, t) = buf[auth_len..out_len].split_at_mut(mki.len());
                m.copy_from_slice(mki);
                t.copy_from_slice(&tag[..t.len()]);
            }
            Transform::Gcm(g) => {
                let mut tail = [0u8; 6];
                tail[2..].copy_from_slice(&index.to_be_bytes());
                let iv = keys.rtcp.gcm_iv(ssrc, tail);
                // RFC 7714 §9: body || tag || E+index || MKI.
                let tag = if encrypt {
                    let mut aad = [0u8; RTCP_HEADER_LEN + SRTCP_INDEX_LEN];
                    aad[..RTCP_HEADER_LEN].copy_from_slice(&buf[..RTCP_HEADER_LEN]);
                    aad[RTCP_HEADER_LEN..].copy_from_slice(&e_index);
                    g.seal(iv, &aad, &mut buf[RTCP_HEADER_LEN..len])
                } else {
                    // Authentication only: the whole packet and the E+index are the AAD.
                    buf[len..len + SRTCP_INDEX_LEN].copy_from_slice(&e_index);
                    g.seal(iv, &buf[..len + SRTCP_INDEX_LEN], &mut [])
                }
                .ok_or(Error::BufferTooSmall)?;
                buf[len..len + gcm::TAG_LEN].copy_from_slice(&tag);
                let at = len + gcm::TAG_LEN;
                buf[at..at + SRTCP_INDEX_LEN].copy_from_slice(&e_index);
                buf[at + SRTCP_INDEX_LEN..out_len].copy_from_slice(mki);
            }
        }
        stream.rtcp_next = index + 1;
        Ok(out_len)
    }

    /// Unprotects the SRTCP packet `pkt` in place: checks the MKI, the replay window and the tag,
    /// then decrypts if the E flag is set. Returns the RTCP packet length. On error nothing is
    /// learnt from the packet; the buffer's contents are then unspecified.
    pub fn unprotect_rtcp(&mut self, pkt: &mut [u8]) -> Result<usize, Error> {
        let len = pkt.len();
        let tag_len = self.suite.rtcp_tag_len();
        let trailer = tag_len + SRTCP_INDEX_LEN + self.mki_len;
        if len < RTCP_HEADER_LEN + trailer {
            return Err(Error::TooShort);
        }
        let body_len = len - trailer;
        let ssrc = RtcpHeader::new_checked(&pkt[..body_len])
            .map_err(header_error)?
            .ssrc();
        let aead = self.suite.is_aead();
        // AES-CM: body || E+index || MKI || tag. GCM: body || tag || E+index || MKI.
        let (index_at, mki_at) = if aead {
            (body_len + tag_len, len - self.mki_len)
        } else {
            (body_len, body_len + SRTCP_INDEX_LEN)
        };
        let ki = self.key_for_mki(&pkt[mki_at..mki_at + self.mki_len])?;
        let mut e_index = [0u8; 4];
        e_index.copy_from_slice(&pkt[index_at..index_at + SRTCP_INDEX_LEN]);
        let word = u32::from_be_bytes(e_index);
        let encrypted = word >> 31 == 1;
        let index = word & MAX_RTCP_INDEX;
        let si = self.rx.find(ssrc);
        match si {
            Some(i) => self.rx.list[i].rtcp.check(u64::from(index))?,
            None if !self.rx.has_room() => return Err(Error::TooManyStreams),
            None => {}
        }
        let keys = &self.keys[ki];
        match &keys.rtcp.transform {
            Transform::Cm { aes, auth } => {
                let tag = auth.mac(&pkt[..body_len + SRTCP_INDEX_LEN], &[]);
                if !tags_equal(&tag[..tag_len], &pkt[len - tag_len..]) {
                    return Err(Error::AuthFail);
                }
                if encrypted {
                    let iv = keys.rtcp.cm_iv(ssrc, u64::from(index));
                    aes_cm::apply_keystream(aes, &iv, &mut pkt[RTCP_HEADER_LEN..body_len]);
                }
            }
            Transform::Gcm(g) => {
                let mut tail = [0u8; 6];
                tail[2..].copy_from_slice(&index.to_be_bytes());
                let iv = keys.rtcp.gcm_iv(ssrc, tail);
                if encrypted {
                    let mut aad = [0u8; RTCP_HEADER_LEN + SRTCP_INDEX_LEN];
                    aad[..RTCP_HEADER_LEN].copy_from_slice(&pkt[..RTCP_HEADER_LEN]);
                    aad[RTCP_HEADER_LEN..].copy_from_slice(&e_index);
                    g.open(iv, &aad, &mut pkt[RTCP_HEADER_LEN..body_len + tag_len])
                        .ok_or(Error::AuthFail)?;
                } else {
                    // The AAD is body || E+index but the wire has body || tag || E+index: swap
                    // the tag and the index in place so both are contiguous.
                    let mut tag = [0u8; gcm::TAG_LEN];
                    tag.copy_from_slice(&pkt[body_len..body_len + tag_len]);
                    pkt[body_len..body_len + SRTCP_INDEX_LEN].copy_from_slice(&e_index);
                    let aad_len = body_len + SRTCP_INDEX_LEN;
                    pkt[aad_len..aad_len + tag_len].copy_from_slice(&tag);
                    let (aad, rest) = pkt.split_at_mut(aad_len);
                    g.open(iv, aad, &mut rest[..tag_len])
                        .ok_or(Error::AuthFail)?;
                }
            }
        }
        let si = match si {
            Some(i) => i,
            None => self.rx.insert(ssrc, self.policy.replay_window)?,
        };
        self.rx.list[si].rtcp.accept(u64::from(index));
        Ok(body_len)
    }
}

#[cfg(test)]
impl Context {
    /// A context whose RTP and RTCP session keys are given directly (the RFC 7714 §16–17
    /// vectors start from session keys, not master keys).
    pub(crate) fn from_session_keys(
        policy: Policy,
        enc_key: &[u8],
        salt: &[u8],
        auth_key: &[u8],
    ) -> Context {
        let make = || {
            let mut s = [0u8; 14];
            s[..salt.len()].copy_from_slice(salt);
            let transform = if policy.suite.is_aead() {
                Transform::Gcm(Gcm::new(enc_key).unwrap())
            } else {
                Transform::Cm {
                    aes: Aes::new(enc_key),
                    auth: HmacSha1::new(auth_key),
                }
            };
            SessionKeys { transform, salt: s }
        };
        Context {
            suite: policy.suite,
            keys: vec![KeySet {
                mki: None,
                rtp: make(),
                rtcp: make(),
            }],
            active: 0,
            mki_len: 0,
            policy,
            tx: Streams::new(policy.max_streams),
            rx: Streams::new(policy.max_streams),
        }
    }

    /// The AES-CM IV the first key builds for RTP (or RTCP) packet `index` of `ssrc`.
    pub(crate) fn cm_iv(&self, rtcp: bool, ssrc: u32, index: u64) -> [u8; 16] {
        let k = &self.keys[0];
        if rtcp { &k.rtcp } else { &k.rtp }.cm_iv(ssrc, index)
    }

    /// The GCM IV the first key builds for RTP (or RTCP) with the given IV tail.
    pub(crate) fn gcm_iv(&self, rtcp: bool, ssrc: u32, tail: [u8; 6]) -> [u8; 12] {
        let k = &self.keys[0];
        if rtcp { &k.rtcp } else { &k.rtp }.gcm_iv(ssrc, tail)
    }

    /// Sets the next SRTCP index `ssrc` sends with.
    pub(crate) fn set_tx_rtcp_index(&mut self, ssrc: u32, index: u32) {
        let i = self
            .tx
            .find_or_insert(ssrc, self.policy.replay_window)
            .unwrap();
        self.tx.list[i].rtcp_next = index;
    }

    /// Sets the highest SRTP index sent by `ssrc` (to start near a wrap or the end of the ROC).
    pub(crate) fn set_tx_rtp_index(&mut self, ssrc: u32, index: u64) {
        let i = self
            .tx
            .find_or_insert(ssrc, self.policy.replay_window)
            .unwrap();
        self.tx.list[i].rtp.accept(index);
    }
}
