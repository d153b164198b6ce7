//! Asking the lab's Kamailio: its registrations (`kamcmd ul.dump`), and sending it one
//! out-of-dialog MESSAGE or OPTIONS from inside (`lab/clients/send-message.py`).

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use super::lab::LabInfo;

/// One registered contact, as `ul.dump` lists it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Contact {
    /// The AOR it is registered for (the user name: the lab's usrloc runs without domains).
    pub aor: String,
    /// The contact URI (`sip:alice-0x…@198.18.2.100:38109;transport=tcp`).
    pub address: String,
    /// Seconds left (`None`: `permanent`, `deleted`, `expired`).
    pub expires: Option<u64>,
    /// Where the REGISTER came from (`sip:198.18.2.10:54886;transport=tcp`), if recorded.
    pub received: Option<String>,
    /// The Path header (RFC 3327) stored with it: an edge in front of Kamailio.
    pub path: Option<String>,
    /// The client's User-Agent.
    pub user_agent: Option<String>,
    /// Kamailio's socket it came in on (`tcp:198.18.2.20:5060`).
    pub socket: Option<String>,
    /// The REGISTER's Call-ID.
    pub call_id: Option<String>,
    /// The last REGISTER's CSeq number (grows with each refresh).
    pub cseq: Option<u32>,
}

fn set(value: &str) -> Option<String> {
    (value != "[not set]" && !value.is_empty()).then(|| value.to_string())
}

/// Reads `kamcmd ul.dump` output (Kamailio 5.6, text): every contact of every AOR.
pub fn parse_ul_dump(text: &str) -> Vec<Contact> {
    let mut contacts = Vec::new();
    let mut aor = String::new();
    let mut current: Option<Contact> = None;
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix("AoR: ") {
            aor = name.to_string();
        } else if line == "Contact: {" {
            current = Some(Contact {
                aor: aor.clone(),
                ..Contact::default()
            });
        } else if let Some(c) = current.as_mut() {
            if line == "}" {
                contacts.extend(current.take());
            } else if let Some((key, value)) = line.split_once(": ") {
                let value = value.trim();
                match key {
                    "Address" => c.address = value.to_string(),
                    "Expires" => c.expires = value.parse().ok(),
                    "Received" => c.received = set(value),
                    "Path" => c.path = set(value),
                    "User-Agent" => c.user_agent = set(value),
                    "Socket" => c.socket = set(value),
                    "Call-ID" => c.call_id = set(value),
                    "CSeq" => c.cseq = value.parse().ok(),
                    _ => {}
                }
            }
        }
    }
    contacts
}

/// Runs `kamcmd -s CTL ul.dump` (`CTL` as lab.json's `kamailio.ctl`: `unix:/…/kamailio_ctl`)
/// and parses it. The ctl socket is a file: this works from any namespace.
pub fn ul_dump(ctl: &str) -> Result<Vec<Contact>, String> {
    let out = Command::new("kamcmd")
        .args(["-s", ctl, "ul.dump"])
        .output()
        .map_err(|e| format!("running kamcmd (is kamailio installed?): {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "kamcmd -s {ctl} ul.dump failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(parse_ul_dump(&String::from_utf8_lossy(&out.stdout)))
}

/// The lab Kamailio's registrations (`kamcmd ul.dump` on the ctl socket lab.json names).
pub fn kamailio_contacts(lab: &LabInfo) -> Result<Vec<Contact>, String> {
    ul_dump(&lab.kamailio.ctl)
}

/// How one [`SipRequest`] ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SipOutcome {
    /// The final status code (`None`: no final answer, or the request could not be sent).
    pub code: Option<u16>,
    /// Everything the script printed: each status line, then `final: CODE`.
    pub output: String,
}

/// One out-of-dialog MESSAGE or OPTIONS, sent by `lab/clients/send-message.py` from an address
/// in a lab namespace through a proxy, answering a 401/407 challenge once with digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SipRequest {
    /// The script (`<lab>/clients/send-message.py`).
    pub script: PathBuf,
    /// The namespace it runs in.
    pub namespace: String,
    /// Its source address.
    pub bind: Ipv4Addr,
    /// Where it is sent (Kamailio's UDP or TCP address).
    pub proxy: SocketAddrV4,
    /// Over TCP rather than UDP.
    pub tcp: bool,
    /// `MESSAGE` or `OPTIONS`.
    pub method: &'static str,
    /// The sender's user name and password (its From is `sip:USER@example.test`).
    pub auth: Option<(String, String)>,
    /// The Request-URI and To (`sip:alice@example.test`).
    pub target: String,
    /// The MESSAGE body (text/plain).
    pub text: String,
    /// How long to wait for each answer.
    pub timeout: Duration,
}

impl SipRequest {
    fn from_lab(
        lab: &LabInfo,
        method: &'static str,
        host: &str,
        user: &str,
        target: &str,
        text: &str,
    ) -> Result<SipRequest, String> {
        let host = lab.host(host)?;
        let user = lab.user(user)?;
        Ok(SipRequest {
            script: lab.config_dir.join("clients").join("send-message.py"),
            namespace: host.namespace.clone(),
            bind: host.address,
            proxy: lab.kamailio_addr(super::Transport::Udp),
            tcp: false,
            method,
            auth: Some((user.username.clone(), user.password.clone())),
            target: target.to_string(),
            text: text.to_string(),
            timeout: Duration::from_secs(5),
        })
    }

    /// A MESSAGE with `text` to `target`, from the lab host `host` (a lab.json `hosts` key:
    /// `phone`) as the lab user `user`, to the lab's Kamailio over UDP.
    pub fn message(
        lab: &LabInfo,
        host: &str,
        user: &str,
        target: &str,
        text: &str,
    ) -> Result<SipRequest, String> {
        SipRequest::from_lab(lab, "MESSAGE", host, user, target, text)
    }

    /// An OPTIONS to `target` (answered by the client registered for it), as [`Self::message`].
    pub fn options(
        lab: &LabInfo,
        host: &str,
        user: &str,
        target: &str,
    ) -> Result<SipRequest, String> {
        SipRequest::from_lab(lab, "OPTIONS", host, user, target, "")
    }

    /// The same, sent to `proxy` instead.
    pub fn via(mut self, proxy: SocketAddrV4) -> SipRequest {
        self.proxy = proxy;
        self
    }

    /// The same over TCP.
    pub fn tcp(mut self) -> SipRequest {
        self.tcp = true;
        self
    }

    /// Sends it and waits for the final answer. `Err` only when the script cannot run; a
    /// request without a final answer has `code: None`.
    pub fn send(&self) -> Result<SipOutcome, String> {
        let mut args: Vec<String> = vec![
            "netns".into(),
            "exec".into(),
            self.namespace.clone(),
            "python3".into(),
            self.script.display().to_string(),
            "--bind".into(),
            self.bind.to_string(),
            "--method".into(),
            self.method.into(),
            "--timeout".into(),
            format!("{}", self.timeout.as_secs_f64()),
        ];
        if self.tcp {
            args.push("--tcp".into());
        }
        if let Some((user, password)) = &self.auth {
            args.extend(["--auth".into(), user.clone(), password.clone()]);
        }
        args.extend([self.proxy.to_string(), self.target.clone()]);
        if self.method == "MESSAGE" {
            args.push(self.text.clone());
        }
        let out = Command::new("ip")
            .args(&args)
            .output()
            .map_err(|e| format!("running {}: {e}", self.script.display()))?;
        let output = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let code = output
            .lines()
            .find_map(|l| l.strip_prefix("final: "))
            .and_then(|c| c.trim().parse().ok());
        if code.is_none() && !output.contains("final: ") {
            return Err(format!(
                "{} did not run ({}): {output}",
                self.script.display(),
                out.status
            ));
        }
        Ok(SipOutcome { code, output })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `kamcmd ul.dump` of Kamailio 5.6 with one TCP registration, as seen in the lab.
    const DUMP: &str = "{
	Domains: {
		Domain: {
			Domain: location
			Size: 1024
			AoRs: {
				Info: {
					AoR: alice
					HashID: 1834153949
					Contacts: {
						Contact: {
							Address: sip:alice-0x560e24391290@198.18.2.100:38109;transport=tcp
							Expires: 56
							Q: -1
							Call-ID: 9905bc4d9968cd06
							CSeq: 43217
							User-Agent: baresip v1.0.0 (x86_64/linux)
							Received: sip:198.18.2.10:54886;transport=tcp
							Path: [not set]
							State: CS_NEW
							Flags: 0
							CFlags: 64
							Socket: tcp:198.18.2.20:5060
							Methods: 5087
						}
						Contact: {
							Address: sip:alice@198.18.2.100:5070
							Expires: permanent
							Path: <sip:198.18.2.10;lr>
						}
					}
				}
			}
			Stats: {
				Records: 1
				Max-Slots: 1
			}
		}
	}
}";

    #[test]
    fn ul_dump_contacts() {
        let c = parse_ul_dump(DUMP);
        assert_eq!(c.len(), 2);
        assert_eq!(
            c[0],
            Contact {
                aor: "alice".into(),
                address: "sip:alice-0x560e24391290@198.18.2.100:38109;transport=tcp".into(),
                expires: Some(56),
                received: Some("sip:198.18.2.10:54886;transport=tcp".into()),
                path: None,
                user_agent: Some("baresip v1.0.0 (x86_64/linux)".into()),
                socket: Some("tcp:198.18.2.20:5060".into()),
                call_id: Some("9905bc4d9968cd06".into()),
                cseq: Some(43217),
            }
        );
        assert_eq!(c[1].expires, None);
        assert_eq!(c[1].path.as_deref(), Some("<sip:198.18.2.10;lr>"));
        assert!(parse_ul_dump("{\n\tDomains: {\n\t}\n}").is_empty());
    }
}
