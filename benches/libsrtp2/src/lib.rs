//! Dev-only bindings to libsrtp2, the SRTP reference implementation (Debian `libsrtp2-dev`).
//!
//! The interop tests and the benches measure `media::srtp` against it. A C shim (`src/shim.c`)
//! builds the `srtp_policy_t` from the installed header, so no struct layout is mirrored here.

use std::ffi::{c_int, c_uint, c_ulong, c_void};
use std::sync::Once;

/// libsrtp2 status codes the tests look for (`srtp_err_status_t`).
pub mod status {
    /// Authentication failure.
    pub const AUTH_FAIL: i32 = 7;
    /// Index already seen.
    pub const REPLAY_FAIL: i32 = 9;
    /// Index older than the window.
    pub const REPLAY_OLD: i32 = 10;
    /// MKI names no key.
    pub const BAD_MKI: i32 = 25;
    /// Returned by this wrapper (never by libsrtp2) when the buffer has no room for the trailer.
    pub const NO_ROOM: i32 = -2;
    /// Returned by this wrapper for arguments the shim refuses.
    pub const BAD_ARGS: i32 = -1;
}

/// Room libsrtp2 may write after the packet: largest tag, MKI and SRTCP index
/// (`SRTP_MAX_TRAILER_LEN` + 4).
pub const MAX_TRAILER: usize = 16 + 128 + 4;

type SrtpT = *mut c_void;

extern "C" {
    fn ref_init() -> c_int;
    fn ref_create(
        out: *mut SrtpT,
        suite: c_int,
        inbound: c_int,
        key_salts: *const u8,
        key_salt_len: c_int,
        n_keys: c_int,
        mkis: *const u8,
        mki_len: c_int,
        window: c_ulong,
        allow_repeat_tx: c_int,
        rtcp_encrypt: c_int,
    ) -> c_int;
    fn ref_protect(s: SrtpT, buf: *mut u8, len: *mut c_int, use_mki: c_int, idx: c_uint) -> c_int;
    fn ref_unprotect(s: SrtpT, buf: *mut u8, len: *mut c_int, use_mki: c_int) -> c_int;
    fn ref_protect_rtcp(
        s: SrtpT,
        buf: *mut u8,
        len: *mut c_int,
        use_mki: c_int,
        idx: c_uint,
    ) -> c_int;
    fn ref_unprotect_rtcp(s: SrtpT, buf: *mut u8, len: *mut c_int, use_mki: c_int) -> c_int;
    fn ref_dealloc(s: SrtpT) -> c_int;
}

/// Which way a session works: libsrtp2 keeps sender and receiver state in separate contexts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Protects (`ssrc_any_outbound`).
    Outbound,
    /// Unprotects (`ssrc_any_inbound`).
    Inbound,
}

/// What a libsrtp2 session is made with.
#[derive(Clone, Copy, Debug)]
pub struct Config<'a> {
    /// SDES suite name, e.g. `AES_CM_128_HMAC_SHA1_80`.
    pub suite: &'a str,
    /// Sender or receiver.
    pub direction: Direction,
    /// Master key || master salt of each key.
    pub keys: &'a [&'a [u8]],
    /// The MKI of each key (empty for no MKI; then exactly one key).
    pub mkis: &'a [&'a [u8]],
    /// Replay window in packets.
    pub window: u64,
    /// Allow the sender to protect an index twice.
    pub allow_repeat_tx: bool,
    /// Encrypt SRTCP (else authentication only).
    pub rtcp_encrypt: bool,
}

impl<'a> Config<'a> {
    /// One key, no MKI, window 128, libsrtp2's defaults otherwise.
    pub fn new(suite: &'a str, direction: Direction, key: &'a [&'a [u8]]) -> Config<'a> {
        Config {
            suite,
            direction,
            keys: key,
            mkis: &[],
            window: 128,
            allow_repeat_tx: false,
            rtcp_encrypt: true,
        }
    }
}

fn suite_index(name: &str) -> Option<c_int> {
    [
        "AES_CM_128_HMAC_SHA1_80",
        "AES_CM_128_HMAC_SHA1_32",
        "AES_256_CM_HMAC_SHA1_80",
        "AES_256_CM_HMAC_SHA1_32",
        "AEAD_AES_128_GCM",
        "AEAD_AES_256_GCM",
    ]
    .iter()
    .position(|n| *n == name)
    .and_then(|i| c_int::try_from(i).ok())
}

/// A libsrtp2 context (`srtp_t`).
#[derive(Debug)]
pub struct Session {
    ctx: SrtpT,
    use_mki: bool,
}

// SAFETY: an srtp_t is plain heap state with no thread affinity; &mut self serialises use.
unsafe impl Send for Session {}

static INIT: Once = Once::new();

impl Session {
    /// Creates a libsrtp2 context; `Err` holds the libsrtp2 status (or [`status::BAD_ARGS`]).
    pub fn new(cfg: &Config<'_>) -> Result<Session, i32> {
        let suite = suite_index(cfg.suite).ok_or(status::BAD_ARGS)?;
        let n = cfg.keys.len();
        let ks_len = cfg.keys.first().map_or(0, |k| k.len());
        if n == 0 || cfg.keys.iter().any(|k| k.len() != ks_len) {
            return Err(status::BAD_ARGS);
        }
        let mki_len = cfg.mkis.first().map_or(0, |m| m.len());
        if !cfg.mkis.is_empty()
            && (cfg.mkis.len() != n || cfg.mkis.iter().any(|m| m.len() != mki_len))
        {
            return Err(status::BAD_ARGS);
        }
        let key_salts: Vec<u8> = cfg.keys.concat();
        let mkis: Vec<u8> = cfg.mkis.concat();
        let mut rc = 0;
        INIT.call_once(|| {
            // SAFETY: srtp_init takes no arguments; Once makes it run once per process.
            rc = unsafe { ref_init() };
        });
        if rc != 0 {
            return Err(rc);
        }
        let mut ctx: SrtpT = std::ptr::null_mut();
        // SAFETY: the pointers are valid for the lengths passed; the shim copies the keys
        // into the policy and libsrtp2 derives its own copies; `ctx` is written on success.
        let rc = unsafe {
            ref_create(
                &mut ctx,
                suite,
                c_int::from(cfg.direction == Direction::Inbound),
                key_salts.as_ptr(),
                c_int::try_from(ks_len).map_err(|_| status::BAD_ARGS)?,
                c_int::try_from(n).map_err(|_| status::BAD_ARGS)?,
                mkis.as_ptr(),
                c_int::try_from(mki_len).map_err(|_| status::BAD_ARGS)?,
                cfg.window as c_ulong,
                c_int::from(cfg.allow_repeat_tx),
                c_int::from(cfg.rtcp_encrypt),
            )
        };
        if rc != 0 {
            return Err(rc);
        }
        Ok(Session {
            ctx,
            use_mki: mki_len > 0,
        })
    }

    fn call(
        &mut self,
        f: unsafe extern "C" fn(SrtpT, *mut u8, *mut c_int, c_int, c_uint) -> c_int,
        buf: &mut [u8],
        len: usize,
        mki_index: u32,
    ) -> Result<usize, i32> {
        if len + MAX_TRAILER > buf.len() {
            return Err(status::NO_ROOM);
        }
        let mut l = c_int::try_from(len).map_err(|_| status::BAD_ARGS)?;
        // SAFETY: buf holds len bytes plus MAX_TRAILER spare, the most libsrtp2 appends; the
        // context is live until Drop.
        let rc = unsafe {
            f(
                self.ctx,
                buf.as_mut_ptr(),
                &mut l,
                c_int::from(self.use_mki),
                mki_index,
            )
        };
        if rc != 0 {
            return Err(rc);
        }
        usize::try_from(l).map_err(|_| status::BAD_ARGS)
    }

    fn call_in(
        &mut self,
        f: unsafe extern "C" fn(SrtpT, *mut u8, *mut c_int, c_int) -> c_int,
        pkt: &mut [u8],
    ) -> Result<usize, i32> {
        let mut l = c_int::try_from(pkt.len()).map_err(|_| status::BAD_ARGS)?;
        // SAFETY: unprotect only shrinks the packet; pkt is valid for its length.
        let rc = unsafe {
            f(
                self.ctx,
                pkt.as_mut_ptr(),
                &mut l,
                c_int::from(self.use_mki),
            )
        };
        if rc != 0 {
            return Err(rc);
        }
        usize::try_from(l).map_err(|_| status::BAD_ARGS)
    }

    /// Protects `buf[..len]` with the first key; `buf` needs [`MAX_TRAILER`] spare bytes.
    pub fn protect(&mut self, buf: &mut [u8], len: usize) -> Result<usize, i32> {
        self.call(ref_protect, buf, len, 0)
    }

    /// Protects `buf[..len]` with key `mki_index`.
    pub fn protect_with_key(
        &mut self,
        buf: &mut [u8],
        len: usize,
        mki_index: u32,
    ) -> Result<usize, i32> {
        self.call(ref_protect, buf, len, mki_index)
    }

    /// Unprotects an SRTP packet in place; returns the RTP length.
    pub fn unprotect(&mut self, pkt: &mut [u8]) -> Result<usize, i32> {
        self.call_in(ref_unprotect, pkt)
    }

    /// Protects `buf[..len]` as SRTCP with the first key; `buf` needs [`MAX_TRAILER`] spare bytes.
    pub fn protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, i32> {
        self.call(ref_protect_rtcp, buf, len, 0)
    }

    /// Unprotects an SRTCP packet in place; returns the RTCP length.
    pub fn unprotect_rtcp(&mut self, pkt: &mut [u8]) -> Result<usize, i32> {
        self.call_in(ref_unprotect_rtcp, pkt)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // SAFETY: ctx came from srtp_create and is freed once, here.
        unsafe {
            ref_dealloc(self.ctx);
        }
    }
}
