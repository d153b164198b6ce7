//! TLS without the edge: a throwaway CA made with the `openssl` CLI, and a second Kamailio with
//! TLS beside the lab's one, to check the clients' TLS settings.

use std::net::SocketAddrV4;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::kamailio::{ul_dump, Contact};
use super::lab::LabInfo;
use super::process::{in_namespace, poll, tail, Proc, ScratchDir};

/// `openssl args…` in `dir`; `Err` with what it said when it fails.
fn openssl(dir: &Path, args: &[&str]) -> Result<(), String> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("running openssl: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "openssl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// A certificate and its key (PEM files).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerCert {
    /// The certificate.
    pub cert: PathBuf,
    /// Its private key (unencrypted).
    pub key: PathBuf,
}

/// A CA for one test (P-256 keys, valid two days), made with the `openssl` CLI.
#[derive(Debug)]
pub struct TestCa {
    /// The CA certificate (what clients trust).
    pub cert: PathBuf,
    key: PathBuf,
    dir: ScratchDir,
}

impl TestCa {
    /// A new CA named `common_name`.
    pub fn new(common_name: &str) -> Result<TestCa, String> {
        let dir = ScratchDir::new("ca")?;
        openssl(
            dir.path(),
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                &format!("/CN={common_name}"),
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        )?;
        Ok(TestCa {
            cert: dir.path().join("ca.pem"),
            key: dir.path().join("ca.key"),
            dir,
        })
    }

    /// A server certificate for `names` (the first is the CN; all are DNS subjectAltNames),
    /// with both server and client authentication usages, files `<stem>.pem` / `<stem>.key`.
    pub fn issue(&self, stem: &str, names: &[&str]) -> Result<ServerCert, String> {
        let first = names.first().ok_or("a certificate needs a name")?;
        let dir = self.dir.path();
        let (key, csr, cert) = (
            format!("{stem}.key"),
            format!("{stem}.csr"),
            format!("{stem}.pem"),
        );
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &csr,
                "-subj",
                &format!("/CN={first}"),
            ],
        )?;
        let sans: Vec<String> = names.iter().map(|n| format!("DNS:{n}")).collect();
        let ext = self.dir.write(
            &format!("{stem}.ext"),
            &format!(
                "subjectAltName={}\nextendedKeyUsage=serverAuth,clientAuth\n\
                 basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n",
                sans.join(",")
            ),
        )?;
        let ca_cert = self.cert.display().to_string();
        let ca_key = self.key.display().to_string();
        let ext = ext.display().to_string();
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &ca_cert,
                "-CAkey",
                &ca_key,
                "-CAcreateserial",
                "-out",
                &cert,
                "-days",
                "2",
                "-extfile",
                &ext,
            ],
        )?;
        Ok(ServerCert {
            cert: dir.join(cert),
            key: dir.join(key),
        })
    }
}

/// A second Kamailio in the lab's Kamailio namespace and on its address, run from the lab's
/// own `kamailio.cfg` with the listen ports changed and TLS on (`-A WITH_TLS`), on the lab's
/// users (the same db_text tables) with its own registrations and ctl socket. Its TLS listener
/// advertises a name (`advertise NAME:PORT`: the name in its Via and Record-Route), which
/// linphonec needs to answer over its connection (see the [module docs](super)). Stopped when
/// dropped.
#[derive(Debug)]
pub struct TlsKamailio {
    /// Its UDP (and TCP) address: where [`super::SipRequest::via`] sends to reach its clients.
    pub udp: SocketAddrV4,
    /// Its TLS address.
    pub tls: SocketAddrV4,
    /// Its ctl socket (`unix:…`, for [`ul_dump`]).
    pub ctl: String,
    proc: Proc,
    dir: ScratchDir,
}

impl TlsKamailio {
    /// Starts it with `cert` (which should carry `name`) on `sip_port` (UDP and TCP) and
    /// `tls_port` (advertised as `name:tls_port`), and waits until it answers on ctl and accepts
    /// TCP on the TLS port.
    pub fn start(
        lab: &LabInfo,
        cert: &ServerCert,
        name: &str,
        sip_port: u16,
        tls_port: u16,
    ) -> Result<TlsKamailio, String> {
        let k = &lab.kamailio;
        let dir = ScratchDir::new("tls-kamailio")?;
        let original = std::fs::read_to_string(&k.config)
            .map_err(|e| format!("reading {}: {e}", k.config.display()))?;
        let mut cfg = original.clone();
        for (from, to) in [
            (
                format!("udp:{}:{}", k.address, k.udp),
                format!("udp:{}:{sip_port}", k.address),
            ),
            (
                format!("tcp:{}:{}", k.address, k.tcp),
                format!("tcp:{}:{sip_port}", k.address),
            ),
            (
                format!("tls:{}:{}", k.address, k.tls),
                format!("tls:{}:{tls_port} advertise {name}:{tls_port}", k.address),
            ),
        ] {
            let line = format!("\nlisten={from}\n");
            if !cfg.contains(&line) {
                return Err(format!(
                    "{} has no line `listen={from}` to move to another port",
                    k.config.display()
                ));
            }
            cfg = cfg.replace(&line, &format!("\nlisten={to}\n"));
        }
        let cfg_path = dir.write("kamailio.cfg", &cfg)?;
        let tls_cfg = dir.write(
            "tls.cfg",
            &format!(
                "[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\n\
                 require_certificate = no\nprivate_key = {}\ncertificate = {}\n\n\
                 [client:default]\nmethod = TLSv1.2+\nverify_certificate = no\n\
                 require_certificate = no\n",
                cert.key.display(),
                cert.cert.display()
            ),
        )?;
        let run = dir.path().join("run");
        std::fs::create_dir_all(&run).map_err(|e| format!("creating {}: {e}", run.display()))?;
        let ctl = format!("unix:{}", dir.path().join("ctl").display());
        let args = vec![
            "-DD".to_string(),
            "-E".to_string(),
            "-f".to_string(),
            cfg_path.display().to_string(),
            "-Y".to_string(),
            run.display().to_string(),
            "-A".to_string(),
            "WITH_TLS".to_string(),
            "-A".to_string(),
            format!("LAB_TLS_CFG=\"{}\"", tls_cfg.display()),
            "-A".to_string(),
            format!("LAB_DB_URL=\"text://{}\"", k.db.display()),
            "-A".to_string(),
            format!("LAB_CTL=\"{ctl}\""),
        ];
        let proc = Proc::spawn(
            "tls kamailio",
            &k.namespace,
            "kamailio",
            &args,
            &[],
            &dir.path().join("kamailio.log"),
        )?;
        let tls = SocketAddrV4::new(k.address, tls_port);
        let ready = poll(Duration::from_secs(15), Duration::from_millis(100), || {
            if proc.exited().is_some() {
                return Some(false);
            }
            let ctl_ok = ul_dump(&ctl).is_ok();
            let tls_ok = in_namespace(&k.namespace, || {
                std::net::TcpStream::connect_timeout(&tls.into(), Duration::from_millis(200))
                    .is_ok()
            })
            .unwrap_or(false);
            (ctl_ok && tls_ok).then_some(true)
        });
        if ready != Some(true) {
            return Err(format!(
                "the TLS Kamailio did not come up on {tls}; its log ends:\n{}",
                tail(&proc.output().text(), 30)
            ));
        }
        Ok(TlsKamailio {
            udp: SocketAddrV4::new(k.address, sip_port),
            tls,
            ctl,
            proc,
            dir,
        })
    }

    /// Its registrations.
    pub fn contacts(&self) -> Result<Vec<Contact>, String> {
        ul_dump(&self.ctl)
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        self.proc.output().text()
    }

    /// Its scratch directory (configuration, `kamailio.log`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for TlsKamailio {
    fn drop(&mut self) {
        if let Err(e) = self.proc.stop(None, Duration::from_secs(5)) {
            eprintln!("clients: {e}");
        }
    }
}
