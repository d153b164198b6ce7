//! linphonec 5.1 as a SIP client: its configuration file, its stdin commands, its core log.
//! What it needs and why: the [module docs](super).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::process::{poll, tail, Proc, ScratchDir};
use super::{ClientConfig, ReceivedMessage, SipClient, Transport};

/// The core log line of every successful REGISTER transaction (first or refresh).
const REGISTER_OK: &str = "Register refresher [200]";
/// The core log line of a failed registration.
const REGISTER_FAILED: &str = "to [LinphoneRegistrationFailed]";
/// The core log line once an unregistration is done.
const UNREGISTERED: &str = "to [LinphoneRegistrationCleared]";
/// What stdout says of an incoming MESSAGE.
const MESSAGE_RECEIVED: &str = "Message received from ";

/// A running linphonec with one account. See the [module docs](super).
#[derive(Debug)]
pub struct Linphone {
    config: ClientConfig,
    proc: Proc,
    core_log: PathBuf,
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

/// The linphonerc for `config`, databases in `dir`.
fn rc_file(config: &ClientConfig, dir: &Path) -> String {
    // -1: a random port for the transport in use; 0: that transport off.
    let port = |t: Transport| if config.transport == t { -1 } else { 0 };
    let (verify, root_ca) = match &config.tls {
        Some(t) => (1, format!("root_ca={}\n", t.ca_file.display())),
        None => (0, String::new()),
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
        let args = vec![
            "--pipe".to_string(),
            "-c".to_string(),
            rc.display().to_string(),
            "-d".to_string(),
            "6".to_string(),
            "-l".to_string(),
            core_log.display().to_string(),
        ];
        let proc = Proc::spawn(
            &format!("linphonec {}", config.user),
            &config.namespace,
            "linphonec",
            &args,
            &[("HOME", &home)],
            &dir.path().join("console.log"),
        )?;
        Ok(Linphone {
            config,
            proc,
            core_log,
            dir,
        })
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
