//! linphonec 5.1 as a SIP client: its configuration file, its stdin commands, its core log,
//! calls (call, answer, terminate) with WAV files as its sound card. What it needs and why: the
//! [module docs](super).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use super::process::{lock, poll, tail, Proc, ScratchDir};
use super::{ClientConfig, MediaEncryption, ReceivedMessage, SipClient, Transport};
use crate::audio::wav_complete;

/// The core log line of every successful REGISTER transaction (first or refresh).
const REGISTER_OK: &str = "Register refresher [200]";
/// The core log line of a failed registration.
const REGISTER_FAILED: &str = "to [LinphoneRegistrationFailed]";
/// The core log line once an unregistration is done.
const UNREGISTERED: &str = "to [LinphoneRegistrationCleared]";
/// What stdout says of an incoming MESSAGE.
const MESSAGE_RECEIVED: &str = "Message received from ";

/// Where it records the audio of its calls, in its directory.
const RECEIVED_WAV: &str = "received.wav";

/// What linphonec prints (stdout) of a call, for [`Linphone::wait_call`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LinphoneCallEvent {
    /// `Receiving new incoming call from <sip:…>, assigned id N`.
    Incoming,
    /// `Call N to <sip:…> ringing.`
    Ringing,
    /// `Call N with <sip:…> connected.`: answered (by either side).
    Connected,
    /// `Media streams established with <sip:…> for call N (audio).`: after the answer and after
    /// each re-INVITE.
    StreamsRunning,
    /// `Call N has been paused by <sip:…>.`: the peer put it on hold.
    PausedByRemote,
    /// `Call N with <sip:…> ended (reason).`
    Ended,
    /// `Call N with <sip:…> error.`: failed (a 4xx–6xx, SRTP refused, …).
    Error,
}

impl LinphoneCallEvent {
    /// Whether linphonec's output line `line` reports this.
    fn matches(self, line: &str) -> bool {
        let (start, end) = match self {
            LinphoneCallEvent::Incoming => ("Receiving new incoming call from ", ""),
            LinphoneCallEvent::Ringing => ("Call ", " ringing."),
            LinphoneCallEvent::Connected => ("Call ", " connected."),
            LinphoneCallEvent::StreamsRunning => ("Media streams established with ", ""),
            LinphoneCallEvent::PausedByRemote => ("Call ", ""),
            LinphoneCallEvent::Ended => ("Call ", ")."),
            LinphoneCallEvent::Error => ("Call ", " error."),
        };
        // After a `linphonec> ` prompt, maybe.
        let Some(at) = line.find(start) else {
            return false;
        };
        let rest = &line[at..];
        rest.ends_with(end)
            && match self {
                LinphoneCallEvent::PausedByRemote => rest.contains(" has been paused by "),
                LinphoneCallEvent::Ended => rest.contains(" ended ("),
                _ => true,
            }
    }
}

/// A running linphonec with one account. See the [module docs](super).
#[derive(Debug)]
pub struct Linphone {
    config: ClientConfig,
    proc: Proc,
    core_log: PathBuf,
    /// How many lines of each kind [`Linphone::wait_call`] has returned.
    taken: Mutex<HashMap<LinphoneCallEvent, usize>>,
    dir: ScratchDir,
}

/// The `reg_proxy` URI: for TLS with a name to verify, the name as host and the address in
/// `maddr` (linphonec checks the certificate against the host part).
fn reg_proxy(config: &ClientConfig) -> String {
    let (addr, port, t) = (config.proxy.ip(), config.proxy.port(), config.transport);
    match (&config.tls, t) {
        (Some(trust), Transport::Tls) => format!(
            "<sip:{}:{port};maddr={addr};transport=tls>",
            trust.server_name
        ),
        _ => format!("<sip:{addr}:{port};transport={t}>"),
    }
}

/// Through an edge (TLS with a name to verify), every request goes to the edge, calls too:
/// `reg_route` makes the proxy the outbound proxy (a loose route). Registered directly at call
/// control, none (Kamailio refuses a preloaded Route naming itself).
fn reg_route(config: &ClientConfig) -> String {
    match (&config.tls, config.transport) {
        (Some(_), Transport::Tls) => {
            let proxy = reg_proxy(config);
            format!("reg_route={};lr>\n", proxy.trim_end_matches('>'))
        }
        _ => String::new(),
    }
}

/// The linphonerc for `config`, databases in `dir`.
fn rc_file(config: &ClientConfig, dir: &Path) -> String {
    // -1: a random port for the transport in use; 0: that transport off.
    let port = |t: Transport| if config.transport == t { -1 } else { 0 };
    let (verify, root_ca) = match &config.tls {
        Some(t) => (1, format!("root_ca={}\n", t.ca_file.display())),
        None => (0, String::new()),
    };
    let srtp = match config.media_encryption {
        MediaEncryption::None => "media_encryption=none\nmedia_encryption_mandatory=0\n",
        MediaEncryption::SrtpMandatory => "media_encryption=srtp\nmedia_encryption_mandatory=1\n",
    };
    format!(
        "# written by tests::clients::Linphone for {aor}\n\
         [sip]\n\
         auto_net_state_mon=0\n\
         register_only_when_network_is_up=0\n\
         use_ipv6=0\n\
         bind_address={bind}\n\
         sip_port={udp}\n\
         sip_tcp_port={tcp}\n\
         sip_tls_port={tls}\n\
         default_proxy=0\n\
         verify_server_certs={verify}\n\
         verify_server_cn={verify}\n\
         {root_ca}\
         {srtp}\
         \n\
         [rtp]\n\
         audio_rtp_port=30000-39999\n\
         \n\
         [sound]\n\
         echocancellation=0\n\
         \n\
         [video]\n\
         enabled=0\n\
         capture=0\n\
         display=0\n\
         \n\
         [storage]\n\
         uri={db}\n\
         call_logs_db_uri={calls}\n\
         \n\
         [proxy_0]\n\
         reg_proxy={proxy}\n\
         {route}\
         reg_identity={aor}\n\
         reg_expires={expires}\n\
         reg_sendregister=1\n\
         publish=0\n\
         \n\
         [auth_info_0]\n\
         username={user}\n\
         passwd={password}\n\
         domain={domain}\n",
        aor = config.aor(),
        bind = config.bind,
        udp = port(Transport::Udp),
        tcp = port(Transport::Tcp),
        tls = port(Transport::Tls),
        db = dir.join("linphone.db").display(),
        calls = dir.join("call-history.db").display(),
        proxy = reg_proxy(config),
        route = reg_route(config),
        expires = config.expires,
        user = config.user,
        password = config.password,
        domain = config.domain,
    )
}

/// The MESSAGEs in linphonec's stdout: `Message received from sip:alice@example.test: text`
/// (possibly after a `linphonec> ` prompt).
fn parse_messages(output: &str) -> Vec<ReceivedMessage> {
    output
        .lines()
        .filter_map(|line| {
            let (_, rest) = line.split_once(MESSAGE_RECEIVED)?;
            let (from, text) = rest.split_once(": ")?;
            Some(ReceivedMessage {
                from: from.to_string(),
                text: text.trim_end_matches('\r').to_string(),
            })
        })
        .collect()
}

impl Linphone {
    /// Writes the configuration and starts `linphonec --pipe` in the configured namespace; it
    /// registers at once.
    pub fn start(config: ClientConfig) -> Result<Linphone, String> {
        let dir = ScratchDir::new(&format!("linphone-{}", config.user))?;
        let home = dir.path().join("home");
        let data = home.join(".local/share/linphone");
        std::fs::create_dir_all(&data).map_err(|e| format!("creating {}: {e}", data.display()))?;
        let rc = dir.write("linphonerc", &rc_file(&config, dir.path()))?;
        let core_log = dir.path().join("core.log");
        let mut args = vec![
            "--pipe".to_string(),
            "-c".to_string(),
            rc.display().to_string(),
            "-d".to_string(),
            "6".to_string(),
            "-l".to_string(),
            core_log.display().to_string(),
        ];
        if config.auto_answer {
            args.push("-a".to_string());
        }
        let proc = Proc::spawn(
            &format!("linphonec {}", config.user),
            &config.namespace,
            "linphonec",
            &args,
            &[("HOME", &home)],
            &dir.path().join("console.log"),
        )?;
        let client = Linphone {
            config,
            proc,
            core_log,
            taken: Mutex::new(HashMap::new()),
            dir,
        };
        // No sound card here: WAV files instead, for every call from now on.
        client.command("soundcard use files")?;
        client.command(&format!("record {}", client.received_path().display()))?;
        if let Some(wav) = &client.config.audio_in {
            client.command(&format!("play {}", wav.display()))?;
        }
        Ok(client)
    }

    /// Calls `uri` (`call sip:alice@example.test`); see [`Linphone::wait_call`].
    pub fn call(&self, uri: &str) -> Result<(), String> {
        self.command(&format!("call {uri}"))
    }

    /// Answers the incoming call (`answer`; after [`LinphoneCallEvent::Incoming`]).
    pub fn answer(&self) -> Result<(), String> {
        self.command("answer")
    }

    /// Ends the current call (`terminate`).
    pub fn terminate(&self) -> Result<(), String> {
        self.command("terminate")
    }

    /// Waits for the next output line reporting `event` and returns it: the first such line the
    /// first time, the second the next time, and so on. Waiting for another event fails at once
    /// when an [`LinphoneCallEvent::Ended`] or [`LinphoneCallEvent::Error`] not returned yet is
    /// there; it fails too when linphonec exits or `timeout` passes.
    pub fn wait_call(&self, event: LinphoneCallEvent, timeout: Duration) -> Result<String, String> {
        use LinphoneCallEvent::{Ended, Error};
        let taken = |e: LinphoneCallEvent| lock(&self.taken).get(&e).copied().unwrap_or(0);
        let n = taken(event);
        let (ended, failed) = (taken(Ended), taken(Error));
        let verdict = poll(timeout, Duration::from_millis(50), || {
            let out = self.proc.output().text();
            let nth = |e: LinphoneCallEvent, k: usize| {
                out.lines()
                    .filter(|l| e.matches(l))
                    .nth(k)
                    .map(str::to_string)
            };
            if let Some(line) = nth(event, n) {
                return Some(Ok(line));
            }
            if event != Ended && event != Error {
                if let Some(line) = nth(Ended, ended).or_else(|| nth(Error, failed)) {
                    return Some(Err(format!("the call is over: {line}")));
                }
            }
            self.proc.check_running().err().map(Err)
        });
        let why = match verdict {
            Some(Ok(line)) => {
                *lock(&self.taken).entry(event).or_insert(0) += 1;
                if event == LinphoneCallEvent::StreamsRunning {
                    // The file set before the call is not opened when its streams start (seen
                    // with liblinphone 5.1.65): set it again now, which opens it at once.
                    self.command(&format!("record {}", self.received_path().display()))?;
                }
                return Ok(line);
            }
            Some(Err(why)) => why,
            None => format!("not seen in {timeout:?}"),
        };
        Err(format!(
            "{}: waiting for {event:?} number {}: {why}\ncall lines of the core log:\n{}\n\
             console ends:\n{}",
            self.name(),
            n + 1,
            self.call_lines(),
            tail(&self.log(), 30)
        ))
    }

    /// Where it records what it receives in calls: `received.wav` in its directory.
    pub fn received_path(&self) -> PathBuf {
        self.dir.path().join(RECEIVED_WAV)
    }

    /// What it recorded of its calls ([`Linphone::received_path`]): 16-bit mono at the codec's
    /// rate, from the moment [`Linphone::wait_call`] saw [`LinphoneCallEvent::StreamsRunning`]
    /// (linphonec 5.1 records only when told during the call; the harness tells it then), later
    /// calls appended. Complete once the call has ended (wait for [`LinphoneCallEvent::Ended`]
    /// first).
    pub fn received_audio(&self, timeout: Duration) -> Result<PathBuf, String> {
        let path = self.received_path();
        poll(timeout, Duration::from_millis(50), || {
            wav_complete(&path).then_some(())
        })
        .map(|()| path.clone())
        .ok_or_else(|| {
            format!(
                "{}: {} is not a complete WAV file after {timeout:?} ({}); \
                 call lines of the core log:\n{}",
                self.name(),
                path.display(),
                std::fs::metadata(&path)
                    .map_or_else(|e| e.to_string(), |m| format!("{} bytes", m.len())),
                self.call_lines()
            )
        })
    }

    /// The core log lines about calls and their media, for failure messages.
    fn call_lines(&self) -> String {
        let keys = [
            "LinphoneCall",
            "MSFilePlayer",
            "MSFileRec",
            "srtp",
            "SRTP",
            "Cannot",
            "error",
        ];
        let log = self.core_log();
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| keys.iter().any(|k| l.contains(k)))
            .collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Writes a linphonec command (`status register`, `proxy list`, …) to its stdin; its answer
    /// shows in [`SipClient::log`].
    pub fn command(&self, line: &str) -> Result<(), String> {
        self.proc.write_line(line)
    }

    /// The core log (`-d 6`): belle-sip and liblinphone at every level.
    pub fn core_log(&self) -> String {
        std::fs::read_to_string(&self.core_log).unwrap_or_default()
    }

    /// Its scratch directory (`linphonerc`, `console.log`, `core.log`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The core log lines about registration and TLS, for failure messages.
    fn registration_lines(&self) -> String {
        let keys = [
            "Register refresher",
            "RegistrationFailed",
            "RegistrationOk",
            "SSL handshake",
            "Found certificate",
            "Cannot connect",
            "No listening point",
            "network reachability",
            "database",
        ];
        let log = self.core_log();
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| keys.iter().any(|k| l.contains(k)))
            .collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl SipClient for Linphone {
    fn name(&self) -> String {
        format!(
            "linphonec {} ({} {})",
            self.config.user, self.config.transport, self.config.bind
        )
    }

    fn pid(&self) -> u32 {
        self.proc.pid()
    }

    fn config(&self) -> &ClientConfig {
        &self.config
    }

    fn registrations_seen(&self) -> usize {
        self.core_log().matches(REGISTER_OK).count()
    }

    fn wait_registrations(&self, n: usize, timeout: Duration) -> Result<(), String> {
        let verdict = poll(timeout, Duration::from_millis(100), || {
            let log = self.core_log();
            // The log is in time order: whichever comes first decides.
            let mut ok = 0;
            for line in log.lines() {
                if line.contains(REGISTER_OK) {
                    ok += 1;
                    if ok >= n {
                        return Some(Ok(()));
                    }
                } else if line.contains(REGISTER_FAILED) {
                    return Some(Err("a registration failed".to_string()));
                }
            }
            self.proc.check_running().err().map(Err)
        });
        let why = match verdict {
            Some(Ok(())) => return Ok(()),
            Some(Err(why)) => why,
            None => format!(
                "{n} registration(s) not seen in {timeout:?} ({} seen)",
                self.registrations_seen()
            ),
        };
        Err(format!(
            "{}: {why}\ncore log ({}), registration lines:\n{}\nconsole ends:\n{}",
            self.name(),
            self.core_log.display(),
            self.registration_lines(),
            tail(&self.log(), 20)
        ))
    }

    fn messages_received(&self) -> Vec<ReceivedMessage> {
        parse_messages(&self.proc.output().text())
    }

    fn log(&self) -> String {
        self.proc.output().text()
    }

    fn stop(&mut self) -> Result<(), String> {
        // `quit` would unregister, but in --pipe mode linphonec then hangs joining its pipe
        // thread (blocked in accept) before it gets there, and SIGTERM runs the same code: so
        // `unregister` first and wait for it, then `quit` and the signals.
        if self.proc.exited().is_none()
            && self.registrations_seen() > 0
            && self.proc.write_line("unregister").is_ok()
        {
            poll(Duration::from_secs(3), Duration::from_millis(50), || {
                self.core_log().contains(UNREGISTERED).then_some(())
            });
        }
        self.proc.stop(Some("quit"), Duration::from_millis(500))
    }
}

impl Drop for Linphone {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("clients: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn config() -> ClientConfig {
        ClientConfig::new(
            "portico-inside",
            Ipv4Addr::new(198, 18, 2, 100),
            "bob",
            "pw",
            "198.18.2.20:5060".parse().unwrap(),
            Transport::Tcp,
        )
    }

    #[test]
    fn proxy_uri_carries_the_name_to_verify() {
        assert_eq!(reg_proxy(&config()), "<sip:198.18.2.20:5060;transport=tcp>");
        let tls = config().tls(
            "198.18.1.1:5061".parse().unwrap(),
            "/ca.pem",
            "expe.example.test",
        );
        assert_eq!(
            reg_proxy(&tls),
            "<sip:expe.example.test:5061;maddr=198.18.1.1;transport=tls>"
        );
        let rc = rc_file(&tls, Path::new("/d"));
        assert!(rc.contains("sip_tls_port=-1\n"), "{rc}");
        assert!(rc.contains("sip_tcp_port=0\n"), "{rc}");
        assert!(rc.contains("root_ca=/ca.pem\n"), "{rc}");
        assert!(rc.contains("verify_server_cn=1\n"), "{rc}");
    }

    #[test]
    fn call_lines() {
        use LinphoneCallEvent::*;
        let seen =
            "linphonec> linphonec> Receiving new incoming call from sip:alice@example.test, \
                    assigned id 1\n\
                    Call 1 with sip:alice@example.test connected.\n\
                    Media streams established with sip:alice@example.test for call 1 (audio).\n\
                    linphonec> Call 1 with sip:alice@example.test ended (No error).\n\
                    Call 2 to sip:alice@example.test ringing.\n\
                    Call 2 has been paused by sip:alice@example.test.\n\
                    Call 3 with sip:bob@example.test error.\n\
                    Call 1 is fully encrypted and auth token is absent.\n";
        let kinds: Vec<Vec<LinphoneCallEvent>> = seen
            .lines()
            .map(|l| {
                [
                    Incoming,
                    Ringing,
                    Connected,
                    StreamsRunning,
                    PausedByRemote,
                    Ended,
                    Error,
                ]
                .into_iter()
                .filter(|e| e.matches(l))
                .collect()
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                vec![Incoming],
                vec![Connected],
                vec![StreamsRunning],
                vec![Ended],
                vec![Ringing],
                vec![PausedByRemote],
                vec![Error],
                vec![],
            ]
        );
        let rc = rc_file(&config().srtp_mandatory(), Path::new("/d"));
        assert!(
            rc.contains("media_encryption=srtp\nmedia_encryption_mandatory=1\n"),
            "{rc}"
        );
    }

    #[test]
    fn stdout_messages() {
        let out = "Warning: video is disabled in linphonec\n\
                   linphonec> Message received from sip:alice@example.test: hello: bob\n";
        assert_eq!(
            parse_messages(out),
            vec![ReceivedMessage {
                from: "sip:alice@example.test".into(),
                text: "hello: bob".into()
            }]
        );
    }
}
