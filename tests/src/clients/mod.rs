//! Real SIP clients (baresip 1.0, linphonec 5.1) run from tests inside the lab's network
//! namespaces, and helpers to ask the lab's Kamailio what it saw.
//!
//! - [`Lab`]: the one lab of the machine (`cargo xtask lab up|down`, see `xtask/src/lab.rs`),
//!   serialised between tests by a file lock, its `lab.json` read into [`LabInfo`].
//! - [`Baresip`] and [`Linphone`]: one client process each, configured from a [`ClientConfig`]
//!   (account, password, outbound proxy address + transport + port, TLS trust, registration
//!   expiry, local address) in a [`ScratchDir`]; both implement [`SipClient`]
//!   (`wait_registered`, `registrations_seen`, `messages_received`, `log`, `stop`). Dropping one
//!   stops its process.
//! - [`ul_dump`] / [`kamailio_contacts`]: the registrations (`kamcmd ul.dump`) as [`Contact`]s.
//! - [`SipRequest`]: one out-of-dialog MESSAGE or OPTIONS sent from inside the lab
//!   (`lab/clients/send-message.py`), answering Kamailio's digest challenge; its final status.
//! - [`TestCa`] and [`TlsKamailio`]: a throwaway CA made with the `openssl` CLI and a second
//!   Kamailio with TLS, to check client TLS settings without the edge.
//! - Calls: [`Baresip::dial`], [`Baresip::answer`], [`Baresip::hold`], [`Baresip::resume`],
//!   [`Baresip::hangup`] and [`Baresip::wait_event`]; [`Linphone::call`], [`Linphone::answer`],
//!   [`Linphone::terminate`] and [`Linphone::wait_call`]. Each sends the WAV file of
//!   [`ClientConfig::audio_in`] and records what it receives ([`Baresip::received_audio`],
//!   [`Linphone::received_audio`]), for [`crate::audio`] to find the other side's tone in;
//!   [`ClientConfig::srtp_mandatory`] for SDES-SRTP, [`ClientConfig::auto_answer`].
//! - [`Capture`]: dumpcap on an interface of a namespace, then tshark on the [`CaptureFile`]: the
//!   SDP seen ([`CaptureFile::sdp`]), and whether UDP payloads hold given bytes (a tone's PCMU).
//!
//! Everything needs root (namespaces); [`Lab::up_or_skip`] says `SKIPPED …` loudly on stderr
//! and returns `None` without it. Errors are `String`s written to be read in a failed
//! assertion: what was expected, what was seen, and the end of the client's output.
//!
//! ```no_run
//! use std::time::Duration;
//! use tests::clients::{Baresip, Lab, SipClient, SipRequest, Transport};
//!
//! let Some(lab) = Lab::up_or_skip()? else { return Ok(()) };
//! let info = lab.info();
//! let alice = Baresip::start(info.client("phone", "alice", Transport::Tcp)?.expires(60))?;
//! alice.wait_registered(Duration::from_secs(10))?;
//! let sent = SipRequest::message(info, "phone", "bob", "sip:alice@example.test", "hi")?.send()?;
//! assert_eq!(sent.code, Some(200), "{}", sent.output);
//! alice.wait_message("hi", Duration::from_secs(5))?;
//! # Ok::<(), String>(())
//! ```
//!
//! # What each client needs (found on this machine; see also `shared/PEERS.md`)
//!
//! ## baresip 1.0 (`baresip -f DIR`, libre 1.1)
//!
//! `DIR/config` (written by [`Baresip::start`]):
//!
//! ```text
//! sip_listen        198.18.2.100:0        # the local address; port 0: the kernel picks UDP,
//!                                         # TCP and TLS listeners (TLS otherwise listens on +1)
//! net_interface     198.18.2.100          # an address, not an interface name
//! sip_cafile        /path/ca.pem          # TLS only; see "TLS" below
//! audio_player      aubridge,portico-null # calls: see "Calls" below
//! audio_alert       aubridge,portico-null
//! audio_source      aufile,/path/tone.wav # or ausine,440 without ClientConfig::audio_in
//! ausrc_srate       8000                  # aufile: the file's rate and channels, exactly
//! ausrc_channels    1
//! rtp_ports         20000-29999
//! jitter_buffer_delay 0-0                 # no jitter buffer: decode packets as they come
//! snd_path          DIR                   # sndfile: where the audio dumps go
//! module            stdio.so              # the console: where incoming MESSAGEs are printed
//! module            g711.so               # PCMU/PCMA (the account offers PCMU only)
//! module            ausine.so aufile.so aubridge.so sndfile.so srtp.so   # one line each
//! module_app        menu.so               # prints MESSAGEs, implements `uanew`, the call commands
//! module_app        ctrl_tcp.so
//! ctrl_tcp_listen   127.0.0.1:PORT        # a free port in the client's namespace
//! ```
//!
//! No account file: the account is added after start with the ctrl_tcp command `uanew`, so that
//! the harness is connected before the first REGISTER and sees every event. The account line:
//!
//! ```text
//! <sip:alice@example.test;transport=tcp>;auth_user=alice;auth_pass=PW;
//!     outbound="sip:198.18.2.20:5060;transport=tcp";regint=60;answermode=manual;
//!     audio_codecs=PCMU/8000/1[;mediaenc=srtp-mand]      # answermode=auto: auto_answer
//! ```
//!
//! - ctrl_tcp speaks netstrings of JSON: commands `{"command":"uanew","params":"…","token":"1"}`
//!   answered `{"response":true,"ok":true,"data":"…","token":"1"}`; events
//!   `{"event":true,"class":"register","type":"REGISTER_OK","accountaor":"sip:…","param":"200 OK"}`
//!   on the first registration *and on every refresh*; `REGISTER_FAIL` with the status or the
//!   error as `param`. [`SipClient::registrations_seen`] counts `REGISTER_OK`.
//! - The console prints a registration only when its status changes (`alice@example.test:
//!   {0/TCP/v4} 200 OK (…) [1 binding]`), not on refreshes: count on ctrl_tcp, not on the console.
//! - An incoming MESSAGE is printed by `menu` through the UI modules, so `stdio.so` must be loaded
//!   and its stdin must be a pipe (with `/dev/null` `stdio.so` fails to load: epoll refuses
//!   regular files): `\rsip:bob@example.test: "the text"`. It answers 200 by itself, and 200 to
//!   OPTIONS.
//! - `regint` is the REGISTER Expires; it refreshes before what the registrar granted runs out
//!   (with Kamailio's minimum, 60 s, the refresh comes within the minute).
//! - SIGTERM stops it cleanly (it unregisters first).
//!
//! ## linphonec 5.1 (`linphonec --pipe -c RC -d 6 -l CORE_LOG`, `HOME=DIR/home`)
//!
//! `RC` (written by [`Linphone::start`]):
//!
//! ```text
//! [sip]
//! auto_net_state_mon=0                 # see below: without it, it unregisters after 5 s
//! register_only_when_network_is_up=0   # with auto_net_state_mon=0, or it never registers
//! use_ipv6=0
//! bind_address=198.18.2.100
//! sip_port=0 | sip_tcp_port=-1 | sip_tls_port=0   # -1: a random port for the transport used,
//!                                                 # 0: transport off
//! verify_server_certs=1
//! verify_server_cn=1
//! root_ca=/path/ca.pem
//! [storage]
//! uri=DIR/linphone.db                  # or it gives up starting (see below)
//! call_logs_db_uri=DIR/call-history.db
//! [proxy_0]
//! reg_proxy=<sip:198.18.2.20:5060;transport=tcp>
//! reg_proxy=<sip:cucm.example.test:5061;maddr=198.18.2.20;transport=tls>   # TLS: name + IP
//! reg_identity=sip:bob@example.test
//! reg_expires=60
//! reg_sendregister=1
//! [auth_info_0]
//! username=bob
//! passwd=PW                            # it rewrites the file with ha1= and realm= after use
//! domain=example.test
//! ```
//!
//! - **The database.** Without a writable `~/.local/share/linphone/` the core does not start
//!   (`Unable to open linphone database`) and nothing listens: `No listening point matching for
//!   [tcp://…]`. The harness sets `HOME` to the scratch directory, makes that directory and
//!   names the databases in `[storage]`.
//! - **Network monitoring.** Every 5 s the core "checks the network" by connecting a UDP socket
//!   towards a public address; in a lab namespace (no default route) that fails, the core
//!   declares the network DOWN, unregisters and closes its listeners. `auto_net_state_mon=0`
//!   turns that off, and then `register_only_when_network_is_up=0` is needed for it to register.
//! - **Input.** `--pipe` (not in `--help`) reads commands from stdin with a thread and iterates
//!   the core every 20 ms, so a pipe works as stdin (without it, commands go through readline).
//!   It also opens a unix socket `/tmp/linphonec-<uid>` (a fixed name; two at once run fine).
//!   Commands: `status register` → `registered, identity=sip:… duration=60` or `registered=-1`;
//!   `unregister`; `quit`. On a wrong password its source prompts on stdin (`Password for …`)
//!   and stops iterating: do not test that with it.
//! - **Output.** Registration is not printed on stdout; the core log (`-d 6 -l FILE`) has
//!   `Register refresher [200] reason [OK] …` on every success, first or refresh (counted by
//!   [`SipClient::registrations_seen`]) and `… to [LinphoneRegistrationFailed]` on failure, with
//!   the cause above it (`SSL handshake failed …`, `Register refresher [503] reason [io error]`).
//!   An incoming MESSAGE is printed `Message received from sip:alice@example.test: the text`;
//!   it answers 200 to MESSAGE and OPTIONS.
//! - **Stopping.** In `--pipe` mode neither `quit` nor SIGTERM gets it out: both print
//!   `Terminating...` and hang joining the pipe thread (blocked in `accept`), before
//!   unregistering. The harness writes `unregister`, waits for `… to
//!   [LinphoneRegistrationCleared]` in the core log, then `quit`, SIGTERM and SIGKILL (0.5 s
//!   apart).
//!
//! ## The source address (both clients)
//!
//! UDP goes out from the bound address. **TCP and TLS connections are not bound** by either
//! client (libre 1.1 and belle-sip connect without `bind()`): they leave from the namespace's
//! primary address — client-a (198.18.1.10) in `portico-internet`, the C's 198.18.2.10 in
//! `portico-inside` — whatever `bind` says. Kamailio records that as `received`; baresip puts
//! the bound address in its Contact, linphonec the connection's. A TCP/TLS client-b
//! (198.18.1.11) therefore looks like client-a to the edge.
//!
//! ## TLS (checked against [`TlsKamailio`] on 198.18.2.20:15061 with a [`TestCa`] certificate)
//!
//! - linphonec: `root_ca=CA.pem` (that file only: a certificate from another CA fails with
//!   `flags=[not-trusted]`), `verify_server_certs=1`, `verify_server_cn=1`, and the name to check
//!   as the host of `reg_proxy` with the address in `maddr`:
//!   `<sip:cucm.example.test:15061;maddr=198.18.2.20;transport=tls>`. A wrong name fails with
//!   `flags=[CN-mismatch]`, `SSL handshake failed`, `Register refresher [503] reason [io error]`.
//!   The name checked is the host it connects to, so with an IP there (and certificates with DNS
//!   names only) the check fails: hence `maddr`.
//! - **linphonec answers a request that came over its TLS connection by the top Via** (RFC 3261
//!   §18.2.2): it reuses its registration connection only when the Via's sent-by is the
//!   `reg_proxy` host and port (`cucm.example.test:15061`); otherwise it opens a new TLS
//!   connection to the Via's host and checks the certificate against *that*. With
//!   `Via: SIP/2.0/TLS 198.18.2.20:15061` the check fails (`CN-mismatch`, cname 198.18.2.20),
//!   the 200 is never sent and the sender times out although the MESSAGE was printed. So
//!   [`TlsKamailio`] advertises its name on the TLS listener (`listen=tls:… advertise
//!   cucm.example.test:15061`), and **the edge must put the name the clients use
//!   (`expe.example.test:5061`) in the Via it adds towards them**.
//! - baresip 1.0: `sip_cafile CA.pem` loads the CA (`ua: adding SIP CA: …`), but **libre 1.1
//!   verifies nothing** on SIP TLS client connections (its verify callback accepts every
//!   certificate; there is no `sip_verify_server` in 1.0): it registers through a certificate
//!   from an unknown CA just as well (the TLS test keeps an eye on that). The outbound proxy is an
//!   address (`outbound="sip:198.18.2.20:15061;transport=tls"`) and no name is checked:
//!   [`TlsTrust::server_name`] is not used for it. Certificate checks of the edge must come from
//!   linphonec (or a test's own TLS client). It answers requests over its registration
//!   connection whatever the Via says.
//!
//! ## Kamailio (`lab/kamailio/kamailio.cfg`)
//!
//! - REGISTER is challenged with 401; any other request whose From is one of its users
//!   (`from_uri == myself`) with 407: [`SipRequest`] answers either with digest (MD5, qop=auth).
//! - `kamcmd -s unix:…/kamailio_ctl ul.dump` prints nested `Key: value` blocks (`AoR:`,
//!   `Contact: {`, `Address:`, `Expires:` (seconds left, or `permanent`), `Received:`, `Path:`,
//!   `User-Agent:`, `Socket:`, `[not set]` for nothing); [`parse_ul_dump`] reads them.
//! - A MESSAGE to a contact whose TCP connection is gone gets `477` (it tries to connect to the
//!   client's ephemeral port).
//! - The registrar's `min_expires` is its default, 60 s (shorter expiries are raised to it), so
//!   re-registration tests take about a minute.
//!
//! # Calls (checked against the lab's Kamailio: `tests/tests/clients_calls.rs`)
//!
//! Kamailio routes calls between its registered users as it is (`record_route`, `lookup`,
//! `t_relay`, the NAT/alias handling for TCP): INVITE, re-INVITEs, ACK and BYE all go through it.
//!
//! ## baresip 1.0
//!
//! - Commands (ctrl_tcp, `menu`): `dial URI`, `accept`, `hangup`, `hold`, `resume` (the last
//!   two exist only while a call does). Events (`class` `call`): `CALL_INCOMING` (answermode
//!   manual only: with `answermode=auto` it answers at once and reports `CALL_ESTABLISHED`
//!   alone), `CALL_RINGING`, `CALL_PROGRESS`, `CALL_ESTABLISHED`, `CALL_LOCAL_SDP` and
//!   `CALL_REMOTE_SDP` (`param` `offer`/`answer`: one of each per INVITE or re-INVITE),
//!   `CALL_MENC` (`0,audio,AES_CM_128_HMAC_SHA1_80` once SRTP runs), `CALL_RTPESTAB`,
//!   `CALL_RTCP` (often), `CALL_CLOSED` with the reason as `param` (`Connection reset by
//!   peer` is libre's ECONNRESET: **the peer hung up**, a BYE received). `peeruri` and `id`
//!   (Call-ID) are in [`CtrlEvent::peer`] and [`CtrlEvent::call_id`].
//! - Audio out: `aufile` (1.0 has it as a source only) loads the whole WAV at the call's start
//!   and sends it from the first sample, 20 ms per packet; it wants the file's rate and channels
//!   to be `ausrc_srate`/`ausrc_channels` (8000/1 here), and when the file runs out it **ends
//!   the call** (`CALL_CLOSED` `end of file`): make it longer than the call. With G.711 at 8 kHz
//!   nothing resamples: the PCMU on the wire is the file's samples μ-law encoded, packet by
//!   packet ([`crate::audio::pcmu_frame_runs`]).
//! - Audio in: 1.0 has no file player, and no null player (ALSA has no card here). The player
//!   is an `aubridge` device that no source pairs with (nobody ever reads it); what is received
//!   is recorded by the `sndfile` audio filter: `DIR/dump-<local time>-dec.wav` (received,
//!   decoded) and `-enc.wav` (sent), 16-bit mono at the codec rate, finished when the call is
//!   freed. `snd_path` plus the 33-character name must fit in 128 bytes (longer is cut
//!   silently). **A hold ends the recording** of received audio ([`Baresip::received_audio`]).
//! - Hold: `hold` sends a re-INVITE with `a=sendonly`; the peer answers `recvonly`; neither side
//!   sends RTP while held. `resume` sends `a=sendrecv` and both send again, the source going on
//!   where it was.
//! - **RTP leaves from the namespace's primary address** (198.18.2.10 inside, 198.18.1.10
//!   outside), like TCP: the RTP socket is not bound to `net_interface`, whereas the SDP's `c=`
//!   says the bound address. A relay that latches onto the source address sees the primary one.
//! - SRTP: `mediaenc=srtp-mand` (module `srtp.so`) offers `RTP/SAVP` with
//!   `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:…` and refuses a call without it.
//!
//! ## linphonec 5.1
//!
//! - Commands on stdin: `call URI`, `answer`, `terminate`; `-a` on the command line answers by
//!   itself. Its stdout says `Receiving new incoming call from sip:…, assigned id N`, `Call N
//!   with sip:… connected.`, `Media streams established with sip:… for call N (audio).`, `Call N
//!   with sip:… ended (reason).`, `Call N with sip:… error.` ([`LinphoneCallEvent`]); the core log
//!   has `CallSession [0x…] moving from state LinphoneCallX to LinphoneCallY`.
//! - Audio: `soundcard use files` (no sound card here: without it the core looks for ALSA),
//!   then `play FILE` sends the WAV (any rate: it resamples) and `record FILE` records what is
//!   received. **The record file set before a call is not opened when the call starts** (no
//!   `MSFileRec: recording into` in the core log, seen with liblinphone 5.1.65), but `record`
//!   during the call opens it at once: [`Linphone::wait_call`] sends it again when it sees the
//!   media start. The file is appended to by later calls; its header (written at the end of the
//!   call) counts its own 44 bytes in the data length, over the first 22 samples.
//! - `[rtp] audio_rtp_port=30000-39999`; SRTP: `[sip] media_encryption=srtp` and
//!   `media_encryption_mandatory=1` (it offers several crypto suites and takes baresip's).
//! - Its Contact has the address its TCP connection leaves from (198.18.2.10 inside).
//!
//! # Reading the outputs
//!
//! Each client has a [`ScratchDir`] (`$TMPDIR/portico-clients/<pid>-<n>-<client>-<user>/`):
//! `config` or `linphonerc` as written, `console.log` (stdout and stderr, also [`SipClient::log`]),
//! and for linphonec `core.log` ([`Linphone::core_log`]; grep `Register refresher`,
//! `Registration`, `SSL handshake`, `Found certificate … flags=[…]`, `channel … message sent`,
//! and the SIP messages themselves, printed whole). baresip's ctrl_tcp events are in
//! [`Baresip::events`]; its audio dumps in its directory, linphonec's `received.wav` in its. A
//! [`Capture`] keeps its pcap in `capture-<name>/` (open it with `tshark -r` or Wireshark). A failing test keeps the directories and says where on stderr; set
//! [`KEEP_ENV`] (`PORTICO_KEEP_CLIENT_DIRS=1`) to keep them for passing ones too. The errors of
//! [`SipClient::wait_registrations`] quote the events or the core log's registration lines and
//! the end of the console. [`TlsKamailio`] keeps `kamailio.log`; the lab's Kamailio logs to
//! `target/lab/logs/kamailio.log` (one line per REGISTER: `REGISTER sip:… from IP:PORT/proto`).

mod baresip;
mod capture;
mod kamailio;
mod lab;
mod linphone;
mod process;
mod tls;

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::time::Duration;

pub use baresip::{Baresip, CtrlEvent};
pub use capture::{Capture, CaptureFile, SdpSeen, UdpDatagram, UdpHit};
pub use kamailio::{kamailio_contacts, parse_ul_dump, ul_dump, Contact, SipOutcome, SipRequest};
pub use lab::{KamailioInfo, Lab, LabHost, LabInfo, LabUser};
pub use linphone::{Linphone, LinphoneCallEvent};
pub use process::{ScratchDir, KEEP_ENV};
pub use tls::{ServerCert, TestCa, TlsKamailio};

/// A SIP transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// SIP over UDP.
    Udp,
    /// SIP over TCP.
    Tcp,
    /// SIP over TLS (over TCP).
    Tls,
}

impl Transport {
    /// `udp`, `tcp` or `tls`, as in a `transport=` URI parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
        }
    }
}

impl core::fmt::Display for Transport {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a TLS client trusts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsTrust {
    /// The CA certificate (PEM) the server's certificate must chain to.
    pub ca_file: PathBuf,
    /// The name the server's certificate must carry (linphonec checks it; baresip 1.0 cannot).
    pub server_name: String,
}

/// How to configure one client: who it is, where it registers, from where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    /// The network namespace it runs in (`portico-internet`, `portico-inside`).
    pub namespace: String,
    /// Its local address (listeners and UDP; see the module docs for TCP/TLS).
    pub bind: Ipv4Addr,
    /// The user part of its AOR, also its digest user name.
    pub user: String,
    /// Its digest password.
    pub password: String,
    /// The domain of its AOR (`example.test`).
    pub domain: String,
    /// The outbound proxy / registrar it sends everything to (an address: nothing is resolved).
    pub proxy: SocketAddrV4,
    /// The transport to the proxy.
    pub transport: Transport,
    /// For TLS: the CA and the name to verify (`None`: no verification where the client allows).
    pub tls: Option<TlsTrust>,
    /// The registration expiry it asks for, seconds.
    pub expires: u32,
    /// Whether its calls must use SRTP.
    pub media_encryption: MediaEncryption,
    /// The WAV file it sends in calls (16-bit mono; 8 kHz for baresip, see
    /// [`crate::audio::write_tone_wav`]); `None`: baresip sends a 440 Hz sine, linphonec silence.
    pub audio_in: Option<PathBuf>,
    /// Whether it answers incoming calls by itself.
    pub auto_answer: bool,
}

/// Media encryption of a client's calls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MediaEncryption {
    /// Plain RTP (`RTP/AVP`).
    #[default]
    None,
    /// SDES-SRTP, mandatory (`RTP/SAVP` with `a=crypto`; a call without it fails): baresip
    /// `mediaenc=srtp-mand`, linphonec `media_encryption=srtp` + `media_encryption_mandatory=1`.
    SrtpMandatory,
}

impl ClientConfig {
    /// `user@example.test` in `namespace` at `bind`, registering through `proxy` over
    /// `transport`, expiry 3600 s, no TLS trust; calls in plain RTP, the client's own audio,
    /// answered by hand.
    pub fn new(
        namespace: &str,
        bind: Ipv4Addr,
        user: &str,
        password: &str,
        proxy: SocketAddrV4,
        transport: Transport,
    ) -> ClientConfig {
        ClientConfig {
            namespace: namespace.to_string(),
            bind,
            user: user.to_string(),
            password: password.to_string(),
            domain: "example.test".to_string(),
            proxy,
            transport,
            tls: None,
            expires: 3600,
            media_encryption: MediaEncryption::None,
            audio_in: None,
            auto_answer: false,
        }
    }

    /// The same with mandatory SRTP for its calls.
    pub fn srtp_mandatory(mut self) -> ClientConfig {
        self.media_encryption = MediaEncryption::SrtpMandatory;
        self
    }

    /// The same sending the WAV file `path` in calls.
    pub fn audio_in(mut self, path: impl Into<PathBuf>) -> ClientConfig {
        self.audio_in = Some(path.into());
        self
    }

    /// The same answering incoming calls by itself.
    pub fn auto_answer(mut self) -> ClientConfig {
        self.auto_answer = true;
        self
    }

    /// The same with registration expiry `secs` (Kamailio grants at least 60).
    pub fn expires(mut self, secs: u32) -> ClientConfig {
        self.expires = secs;
        self
    }

    /// The same with another AOR domain.
    pub fn domain(mut self, domain: &str) -> ClientConfig {
        self.domain = domain.to_string();
        self
    }

    /// The same over TLS to `proxy`, trusting `ca_file` for the name `server_name`.
    pub fn tls(
        mut self,
        proxy: SocketAddrV4,
        ca_file: impl Into<PathBuf>,
        server_name: &str,
    ) -> ClientConfig {
        self.proxy = proxy;
        self.transport = Transport::Tls;
        self.tls = Some(TlsTrust {
            ca_file: ca_file.into(),
            server_name: server_name.to_string(),
        });
        self
    }

    /// `sip:user@domain`.
    pub fn aor(&self) -> String {
        format!("sip:{}@{}", self.user, self.domain)
    }
}

/// A MESSAGE a client printed as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// The sender as the client printed it (`sip:bob@example.test`).
    pub from: String,
    /// The text.
    pub text: String,
}

/// What the tests ask of any SIP client.
pub trait SipClient {
    /// `baresip alice` and the like, for messages.
    fn name(&self) -> String;

    /// The client's process id.
    fn pid(&self) -> u32;

    /// How it was configured.
    fn config(&self) -> &ClientConfig;

    /// Successful registrations so far: the first and each refresh.
    fn registrations_seen(&self) -> usize;

    /// Waits until `n` registrations succeeded; `Err` (saying what was seen) on a failed
    /// registration before that, the process exiting, or `timeout`.
    fn wait_registrations(&self, n: usize, timeout: Duration) -> Result<(), String>;

    /// Waits for the first successful registration (see [`SipClient::wait_registrations`]).
    fn wait_registered(&self, timeout: Duration) -> Result<(), String> {
        self.wait_registrations(1, timeout)
    }

    /// The MESSAGEs it printed as received, in order.
    fn messages_received(&self) -> Vec<ReceivedMessage>;

    /// Waits for a received MESSAGE whose text contains `text`.
    fn wait_message(&self, text: &str, timeout: Duration) -> Result<ReceivedMessage, String> {
        process::poll(timeout, Duration::from_millis(100), || {
            self.messages_received()
                .into_iter()
                .find(|m| m.text.contains(text))
        })
        .ok_or_else(|| {
            format!(
                "{}: no MESSAGE containing {text:?} in {timeout:?}; received {:?}; output ends:\n{}",
                self.name(),
                self.messages_received(),
                process::tail(&self.log(), 30)
            )
        })
    }

    /// Everything it printed (stdout and stderr), for assertion messages.
    fn log(&self) -> String;

    /// Stops the process (politely first, then SIGKILL). Idempotent; drop does it too.
    fn stop(&mut self) -> Result<(), String>;
}
