//! baresip 1.0 as a SIP client: configuration, the ctrl_tcp control connection, its console,
//! calls (dial, answer, hold, resume, hang up) and the audio it sent and received. What it needs
//! and why: the [module docs](super).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::process::{free_tcp_port, in_namespace, lock, poll, tail, Proc, ScratchDir};
use super::{ClientConfig, MediaEncryption, ReceivedMessage, SipClient};
use crate::audio::{wav_complete, G711_RATE};

/// Where Debian installs baresip's modules.
const MODULE_PATH: &str = "/usr/lib/baresip/modules";

/// How long start-up (ctrl_tcp answering, `uanew` answered) may take.
const START_LIMIT: Duration = Duration::from_secs(10);

/// One event baresip reported on ctrl_tcp.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CtrlEvent {
    /// `register`, `call`, …
    pub class: String,
    /// `REGISTERING`, `REGISTER_OK`, `REGISTER_FAIL`, `UNREGISTERING`, `CALL_INCOMING`, …
    pub kind: String,
    /// The account's AOR (`sip:alice@example.test`).
    pub account: String,
    /// Details (`200 OK`, a failure's status or error, a call's peer or why it closed).
    pub param: String,
    /// For call events: the peer's URI.
    pub peer: String,
    /// For call events: the Call-ID.
    pub call_id: String,
}

/// A command's answer on ctrl_tcp.
#[derive(Clone, Debug)]
struct CtrlResponse {
    token: String,
    ok: bool,
    data: String,
}

/// What came in on ctrl_tcp so far.
#[derive(Debug, Default)]
struct CtrlState {
    events: Vec<CtrlEvent>,
    responses: Vec<CtrlResponse>,
    /// Why the connection ended, once it has.
    closed: Option<String>,
    /// Messages that did not parse (kept for the log).
    garbage: Vec<String>,
}

#[derive(Debug, Default)]
struct CtrlShared {
    state: Mutex<CtrlState>,
    changed: Condvar,
}

/// Splits complete netstrings (`LEN:DATA,`) off the front of `buf`; `Err` on a malformed one.
fn take_netstrings(buf: &mut Vec<u8>) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    loop {
        let Some(colon) = buf.iter().position(|&b| b == b':') else {
            if buf.len() > 10 {
                return Err(format!(
                    "no netstring length in {:?}",
                    String::from_utf8_lossy(buf)
                ));
            }
            return Ok(out);
        };
        let len: usize = std::str::from_utf8(&buf[..colon])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad netstring length {:?}", &buf[..colon]))?;
        let end = colon + 1 + len;
        if buf.len() <= end {
            return Ok(out);
        }
        if buf[end] != b',' {
            return Err(format!("netstring of {len} bytes not ended by ','"));
        }
        out.push(buf[colon + 1..end].to_vec());
        buf.drain(..=end);
    }
}

fn json_str(v: &serde_json::Value, key: &str) -> String {
    v.get(key)
        .and_then(|x| x.as_str())
        .unwrap_or_default()
        .to_string()
}

impl CtrlShared {
    fn take(&self, message: &[u8]) {
        let mut st = lock(&self.state);
        match serde_json::from_slice::<serde_json::Value>(message) {
            Ok(v) if v.get("event").and_then(|e| e.as_bool()) == Some(true) => {
                st.events.push(CtrlEvent {
                    class: json_str(&v, "class"),
                    kind: json_str(&v, "type"),
                    account: json_str(&v, "accountaor"),
                    param: json_str(&v, "param"),
                    peer: json_str(&v, "peeruri"),
                    call_id: json_str(&v, "id"),
                });
            }
            Ok(v) if v.get("response").and_then(|e| e.as_bool()) == Some(true) => {
                st.responses.push(CtrlResponse {
                    token: json_str(&v, "token"),
                    ok: v.get("ok").and_then(|e| e.as_bool()) == Some(true),
                    data: json_str(&v, "data"),
                });
            }
            _ => st
                .garbage
                .push(String::from_utf8_lossy(message).into_owned()),
        }
        drop(st);
        self.changed.notify_all();
    }

    fn close(&self, why: String) {
        lock(&self.state).closed = Some(why);
        self.changed.notify_all();
    }

    /// Waits until `check` finds something, the connection closes, or `timeout` passes.
    fn wait_for<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&CtrlState) -> Option<T>,
    ) -> Option<T> {
        let deadline = Instant::now() + timeout;
        let mut st = lock(&self.state);
        loop {
            if let Some(v) = check(&st) {
                return Some(v);
            }
            let now = Instant::now();
            if now >= deadline || st.closed.is_some() {
                return None;
            }
            let wait = (deadline - now).min(Duration::from_millis(200));
            st = self
                .changed
                .wait_timeout(st, wait)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

/// Reads netstrings from ctrl_tcp until it closes.
fn ctrl_reader(mut stream: TcpStream, shared: Arc<CtrlShared>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return shared.close("closed by baresip".into()),
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                match take_netstrings(&mut buf) {
                    Ok(messages) => messages.iter().for_each(|m| shared.take(m)),
                    Err(e) => return shared.close(format!("ctrl_tcp: {e}")),
                }
            }
            Err(e) => return shared.close(format!("ctrl_tcp: {e}")),
        }
    }
}

/// A running baresip with one account, driven through ctrl_tcp. See the [module docs](super).
#[derive(Debug)]
pub struct Baresip {
    config: ClientConfig,
    proc: Proc,
    ctrl: Mutex<TcpStream>,
    shared: Arc<CtrlShared>,
    next_token: AtomicU64,
    /// How many events of each kind [`Baresip::wait_event`] has returned.
    taken: Mutex<HashMap<String, usize>>,
    dir: ScratchDir,
}

/// The null audio device: an `aubridge` device with no source of the same name, which nobody
/// ever reads (baresip 1.0 has no null player, and ALSA may have no card here).
const NULL_PLAYER: &str = "aubridge,portico-null";

/// `DIR/config` for a client bound to `bind` with ctrl_tcp on `ctrl_port`, recording received
/// audio into `dir`.
fn config_file(config: &ClientConfig, ctrl_port: u16, dir: &std::path::Path) -> String {
    let cafile = match &config.tls {
        Some(t) => format!("sip_cafile\t\t{}\n", t.ca_file.display()),
        None => String::new(),
    };
    // aufile wants the file's rate and channels to be the source's.
    let source = match &config.audio_in {
        Some(wav) => format!(
            "audio_source\t\taufile,{}\nausrc_srate\t\t{G711_RATE}\nausrc_channels\t\t1\n",
            wav.display()
        ),
        None => {
            "audio_source\t\tausine,440\nausrc_srate\t\t48000\nausrc_channels\t\t2\n".to_string()
        }
    };
    let bind = config.bind;
    format!(
        "# written by tests::clients::Baresip for {aor}\n\
         poll_method\t\tepoll\n\
         sip_listen\t\t{bind}:0\n\
         {cafile}\
         net_interface\t\t{bind}\n\
         call_local_timeout\t120\n\
         call_max_calls\t\t4\n\
         audio_player\t\t{NULL_PLAYER}\n\
         audio_alert\t\t{NULL_PLAYER}\n\
         {source}\
         rtp_ports\t\t20000-29999\n\
         jitter_buffer_delay\t0-0\n\
         snd_path\t\t{snd_path}\n\
         module_path\t\t{MODULE_PATH}\n\
         module\t\t\tstdio.so\n\
         module\t\t\tg711.so\n\
         module\t\t\tausine.so\n\
         module\t\t\taufile.so\n\
         module\t\t\taubridge.so\n\
         module\t\t\tsndfile.so\n\
         module\t\t\tsrtp.so\n\
         module_app\t\tmenu.so\n\
         module_app\t\tctrl_tcp.so\n\
         ctrl_tcp_listen\t\t127.0.0.1:{ctrl_port}\n",
        aor = config.aor(),
        snd_path = dir.display(),
    )
}

/// The account line given to `uanew`.
fn account_line(config: &ClientConfig) -> String {
    let t = config.transport;
    let mediaenc = match config.media_encryption {
        MediaEncryption::None => "",
        MediaEncryption::SrtpMandatory => ";mediaenc=srtp-mand",
    };
    format!(
        "<sip:{user}@{domain};transport={t}>;auth_user={user};auth_pass={pass};\
         outbound=\"sip:{proxy};transport={t}\";regint={exp};answermode={answer};\
         audio_codecs=PCMU/8000/1{mediaenc}",
        user = config.user,
        domain = config.domain,
        pass = config.password,
        proxy = config.proxy,
        exp = config.expires,
        answer = if config.auto_answer { "auto" } else { "manual" },
    )
}

/// Connects to ctrl_tcp on `127.0.0.1:port` inside the client's namespace, retrying while it
/// starts.
fn connect_ctrl(proc: &Proc, namespace: &str, port: u16) -> Result<TcpStream, String> {
    let deadline = Instant::now() + START_LIMIT;
    loop {
        proc.check_running()?;
        match in_namespace(namespace, || {
            TcpStream::connect_timeout(
                &(Ipv4Addr::LOCALHOST, port).into(),
                Duration::from_millis(500),
            )
        })? {
            Ok(s) => return Ok(s),
            Err(e) if Instant::now() >= deadline => {
                return Err(format!(
                    "baresip ctrl_tcp on 127.0.0.1:{port} in {namespace}: {e}; output:\n{}",
                    tail(&proc.output().text(), 30)
                ))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

impl Baresip {
    /// Writes the configuration, starts `baresip -f DIR` in the configured namespace, connects
    /// to ctrl_tcp and adds the account (`uanew`), which starts registering at once.
    pub fn start(config: ClientConfig) -> Result<Baresip, String> {
        let dir = ScratchDir::new(&format!("baresip-{}", config.user))?;
        let ctrl_port = free_tcp_port(&config.namespace, Ipv4Addr::LOCALHOST)?;
        dir.write("config", &config_file(&config, ctrl_port, dir.path()))?;
        dir.write("accounts", "")?;
        let args = vec!["-f".to_string(), dir.path().display().to_string()];
        let proc = Proc::spawn(
            &format!("baresip {}", config.user),
            &config.namespace,
            "baresip",
            &args,
            &[],
            &dir.path().join("console.log"),
        )?;
        let stream = connect_ctrl(&proc, &config.namespace, ctrl_port)?;
        let reader = stream
            .try_clone()
            .map_err(|e| format!("baresip ctrl_tcp: {e}"))?;
        let shared = Arc::new(CtrlShared::default());
        {
            let shared = shared.clone();
            std::thread::spawn(move || ctrl_reader(reader, shared));
        }
        let client = Baresip {
            config,
            proc,
            ctrl: Mutex::new(stream),
            shared,
            next_token: AtomicU64::new(1),
            taken: Mutex::new(HashMap::new()),
            dir,
        };
        client.command("uanew", &account_line(&client.config))?;
        Ok(client)
    }

    /// Sends a ctrl_tcp command (`uanew`, `reginfo`, `quit`, …) and waits for its answer: the
    /// answer's text, or `Err` when baresip says it failed or does not answer.
    pub fn command(&self, command: &str, params: &str) -> Result<String, String> {
        let token = self.next_token.fetch_add(1, Ordering::Relaxed).to_string();
        // Without params when there are none: ctrl_tcp would pass "accept " on.
        let body = if params.is_empty() {
            serde_json::json!({"command": command, "token": token})
        } else {
            serde_json::json!({"command": command, "params": params, "token": token})
        }
        .to_string();
        let frame = format!("{}:{body},", body.len());
        lock(&self.ctrl)
            .write_all(frame.as_bytes())
            .map_err(|e| format!("{}: sending {command}: {e}", self.name()))?;
        let answer = self.shared.wait_for(START_LIMIT, |st| {
            st.responses.iter().find(|r| r.token == token).cloned()
        });
        match answer {
            Some(r) if r.ok => Ok(r.data),
            Some(r) => Err(format!("{}: {command} failed: {}", self.name(), r.data)),
            None => Err(format!(
                "{}: no answer to {command} in {START_LIMIT:?}; output:\n{}",
                self.name(),
                tail(&self.log(), 30)
            )),
        }
    }

    /// The ctrl_tcp events so far.
    pub fn events(&self) -> Vec<CtrlEvent> {
        lock(&self.shared.state).events.clone()
    }

    /// Its scratch directory (`config`, `console.log`, the audio dumps).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn register_events(st: &CtrlState) -> impl Iterator<Item = &CtrlEvent> {
        st.events.iter().filter(|e| e.class == "register")
    }

    fn describe_events(&self) -> String {
        let st = lock(&self.shared.state);
        let mut lines: Vec<String> = st
            .events
            .iter()
            .map(|e| format!("  {} {} {} {}", e.kind, e.account, e.param, e.peer))
            .collect();
        lines.extend(
            st.garbage
                .iter()
                .map(|g| format!("  (not understood: {g})")),
        );
        if let Some(why) = &st.closed {
            lines.push(format!("  (ctrl_tcp: {why})"));
        }
        lines.join("\n")
    }
}

/// Calls: commands of baresip 1.0's `menu` module through ctrl_tcp, and their events.
impl Baresip {
    /// Calls `uri` (`sip:bob@example.test`; `dial`). How it goes comes as events:
    /// `CALL_PROGRESS`/`CALL_RINGING`, `CALL_ESTABLISHED` or `CALL_CLOSED` (with the reason).
    pub fn dial(&self, uri: &str) -> Result<(), String> {
        self.command("dial", uri).map(drop)
    }

    /// Answers the incoming call (`accept`; after a `CALL_INCOMING`).
    pub fn answer(&self) -> Result<(), String> {
        self.command("accept", "").map(drop)
    }

    /// Hangs up the current call (`hangup`; a BYE, or a CANCEL or 486 before it is answered).
    pub fn hangup(&self) -> Result<(), String> {
        self.command("hangup", "").map(drop)
    }

    /// Puts the current call on hold (`hold`): a re-INVITE whose SDP says `a=sendonly`. The
    /// peer sees a `CALL_REMOTE_SDP` (`offer`), this side one with `answer`.
    pub fn hold(&self) -> Result<(), String> {
        self.command("hold", "").map(drop)
    }

    /// Takes the current call off hold (`resume`): a re-INVITE with `a=sendrecv`.
    pub fn resume(&self) -> Result<(), String> {
        self.command("resume", "").map(drop)
    }

    /// Waits for the next ctrl_tcp event of `kind` (`CALL_INCOMING`, `CALL_ESTABLISHED`,
    /// `CALL_CLOSED`, `CALL_REMOTE_SDP`, `REGISTER_OK`, …) and returns it: the first one of that
    /// kind the first time, the second the next time, and so on, whether it came before the call
    /// or comes later. Waiting for another `CALL_…` event fails at once when a `CALL_CLOSED` not
    /// returned yet is there (saying why the call closed); it fails too when baresip exits or
    /// `timeout` passes.
    pub fn wait_event(&self, kind: &str, timeout: Duration) -> Result<CtrlEvent, String> {
        const CLOSED: &str = "CALL_CLOSED";
        let (n, closed) = {
            let taken = lock(&self.taken);
            let count = |k: &str| taken.get(k).copied().unwrap_or(0);
            (count(kind), count(CLOSED))
        };
        let watch_close = kind.starts_with("CALL_") && kind != CLOSED;
        let verdict = self.shared.wait_for(timeout, |st| {
            let nth = |k: &str, i: usize| st.events.iter().filter(|e| e.kind == k).nth(i);
            if let Some(e) = nth(kind, n) {
                return Some(Ok(e.clone()));
            }
            match nth(CLOSED, closed) {
                Some(e) if watch_close => Some(Err(format!("the call closed ({})", e.param))),
                _ => None,
            }
        });
        let why = match verdict {
            Some(Ok(event)) => {
                *lock(&self.taken).entry(kind.to_string()).or_insert(0) += 1;
                return Ok(event);
            }
            Some(Err(why)) => why,
            None => match self.proc.check_running() {
                Err(e) => e,
                Ok(()) => format!("not seen in {timeout:?}"),
            },
        };
        Err(format!(
            "{}: waiting for {kind} number {}: {why}\nctrl_tcp events:\n{}\nconsole ends:\n{}",
            self.name(),
            n + 1,
            self.describe_events(),
            tail(&self.log(), 30)
        ))
    }

    /// The WAV files baresip's `sndfile` module wrote in its directory, oldest first: one per
    /// call and direction, `dump-<time>-dec.wav` (what it received, decoded) when `received`,
    /// else `dump-<time>-enc.wav` (what it sent, before encoding). 16-bit mono at the codec's
    /// rate (8 kHz for PCMU). Named by the second the call's audio started: two calls started in
    /// the same second share one file.
    pub fn audio_dumps(&self, received: bool) -> Vec<PathBuf> {
        let suffix = if received { "-dec.wav" } else { "-enc.wav" };
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        p.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.starts_with("dump-") && n.ends_with(suffix))
                    })
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
    }

    /// The audio it received in its last call ([`Baresip::audio_dumps`]), once the file is
    /// complete: `sndfile` finishes it when baresip frees the call, just after `CALL_CLOSED`
    /// (hang up, or wait for that event, first).
    ///
    /// **Only up to the first hold**: baresip 1.0 rebuilds the receive side when a re-INVITE
    /// makes the stream other than `sendrecv` (`audio_decoder_set` flushes its filters) and does
    /// not set the filters up again (`aufilt_setup` sees the send side's still there), so the
    /// file is finished at the hold and nothing after it is recorded. Check audio after a
    /// resume on the wire ([`super::CaptureFile::udp_payloads_containing_any`]).
    pub fn received_audio(&self, timeout: Duration) -> Result<PathBuf, String> {
        self.finished_dump(true, timeout)
    }

    /// The audio it sent in its last call, as [`Baresip::received_audio`].
    pub fn sent_audio(&self, timeout: Duration) -> Result<PathBuf, String> {
        self.finished_dump(false, timeout)
    }

    fn finished_dump(&self, received: bool, timeout: Duration) -> Result<PathBuf, String> {
        poll(timeout, Duration::from_millis(50), || {
            self.audio_dumps(received).pop().filter(|p| wav_complete(p))
        })
        .ok_or_else(|| {
            format!(
                "{}: no finished {} audio file in {} after {timeout:?} (files: {:?}); \
                 console ends:\n{}",
                self.name(),
                if received { "received" } else { "sent" },
                self.dir.path().display(),
                self.audio_dumps(received),
                tail(&self.log(), 30)
            )
        })
    }
}

/// The MESSAGEs in baresip's console output: `\rsip:bob@example.test: "text"`.
fn parse_messages(output: &str) -> Vec<ReceivedMessage> {
    output
        .split(['\r', '\n'])
        .filter_map(|line| {
            let line = line.trim_end();
            if !(line.starts_with("sip:") || line.starts_with("sips:")) || !line.ends_with('"') {
                return None;
            }
            let (from, rest) = line.split_once(": \"")?;
            Some(ReceivedMessage {
                from: from.to_string(),
                text: rest.strip_suffix('"')?.to_string(),
            })
        })
        .collect()
}

impl SipClient for Baresip {
    fn name(&self) -> String {
        format!(
            "baresip {} ({} {})",
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
        Baresip::register_events(&lock(&self.shared.state))
            .filter(|e| e.kind == "REGISTER_OK")
            .count()
    }

    fn wait_registrations(&self, n: usize, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            let verdict = self.shared.wait_for(Duration::from_millis(500), |st| {
                let mut ok = 0;
                for e in Baresip::register_events(st) {
                    match e.kind.as_str() {
                        "REGISTER_OK" => ok += 1,
                        "REGISTER_FAIL" => return Some(Err(e.param.clone())),
                        _ => {}
                    }
                    if ok >= n {
                        return Some(Ok(()));
                    }
                }
                None
            });
            let why = match verdict {
                Some(Ok(())) => return Ok(()),
                Some(Err(param)) => format!("a registration failed: {param}"),
                None => match self.proc.check_running() {
                    Err(e) => e,
                    Ok(()) if Instant::now() < deadline => continue,
                    Ok(()) => format!("{n} registration(s) not seen in {timeout:?}"),
                },
            };
            return Err(format!(
                "{}: {why}\nctrl_tcp events:\n{}\nconsole ends:\n{}",
                self.name(),
                self.describe_events(),
                tail(&self.log(), 30)
            ));
        }
    }

    fn messages_received(&self) -> Vec<ReceivedMessage> {
        parse_messages(&self.proc.output().text())
    }

    fn log(&self) -> String {
        self.proc.output().text()
    }

    fn stop(&mut self) -> Result<(), String> {
        // SIGTERM: baresip unregisters and exits.
        self.proc.stop(None, Duration::from_secs(3))
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("clients: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::Transport;

    #[test]
    fn netstrings_split_across_reads() {
        let mut buf = b"5:hello,3:ab".to_vec();
        assert_eq!(take_netstrings(&mut buf), Ok(vec![b"hello".to_vec()]));
        assert_eq!(buf, b"3:ab");
        buf.extend_from_slice(b"c,");
        assert_eq!(take_netstrings(&mut buf), Ok(vec![b"abc".to_vec()]));
        assert!(buf.is_empty());
        let mut bad = b"3:abcd".to_vec();
        assert!(take_netstrings(&mut bad).is_err());
    }

    #[test]
    fn console_messages() {
        let out = "baresip is ready.\n\
                   alice@example.test: {0/TCP/v4} 200 OK (Kamailio) [1 binding]\n\
                   \rsip:bob@example.test: \"hello: alice\"\n\
                   ua: using best effort AF: af=AF_INET\n";
        assert_eq!(
            parse_messages(out),
            vec![ReceivedMessage {
                from: "sip:bob@example.test".into(),
                text: "hello: alice".into()
            }]
        );
    }

    #[test]
    fn account_line_names_the_outbound_proxy() {
        let c = ClientConfig::new(
            "portico-inside",
            Ipv4Addr::new(198, 18, 2, 100),
            "alice",
            "pw",
            "198.18.2.20:5060".parse().unwrap(),
            Transport::Tcp,
        )
        .expires(60);
        assert_eq!(
            account_line(&c),
            "<sip:alice@example.test;transport=tcp>;auth_user=alice;auth_pass=pw;\
             outbound=\"sip:198.18.2.20:5060;transport=tcp\";regint=60;answermode=manual;\
             audio_codecs=PCMU/8000/1"
        );
        let config = config_file(&c.clone().audio_in("/t/a.wav"), 4000, Path::new("/d"));
        for line in [
            "audio_source\t\taufile,/t/a.wav\n",
            "ausrc_srate\t\t8000\n",
            "ausrc_channels\t\t1\n",
            "snd_path\t\t/d\n",
            "module\t\t\tsndfile.so\n",
        ] {
            assert!(config.contains(line), "{line:?} in\n{config}");
        }
        let srtp = account_line(&c.auto_answer().srtp_mandatory());
        assert!(
            srtp.ends_with(";answermode=auto;audio_codecs=PCMU/8000/1;mediaenc=srtp-mand"),
            "{srtp}"
        );
    }
}
