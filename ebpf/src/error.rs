//! Errors of the XDP loader.
//!
//! Each says what failed and where (which map, which interface), and keeps the kernel's or
//! aya's error as its source. [`XdpError::is_unavailable`] tells "XDP cannot run here" (no
//! privilege, a kernel without the feature) from a bug or a bad argument, so that the edge can
//! log "running without XDP: …" and go on.

use std::error::Error;
use std::fmt;
use std::io;

/// Why an XDP operation failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum XdpError {
    /// API misuse: a configuration value out of range. Names the field.
    Config {
        /// The field, as in [`crate::XdpConfig`] or the method's argument.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The process may not do this: BPF needs `CAP_BPF` (or `CAP_SYS_ADMIN`) and attaching
    /// needs `CAP_NET_ADMIN`; root has both. Says what was tried.
    NotPermitted {
        /// What was tried (loading the program, creating map `x`, attaching to `eth0`).
        what: String,
        /// The kernel's refusal.
        source: Box<dyn Error + Send + Sync>,
    },
    /// The kernel lacks something the program needs (the `bpf` system call, a map type,
    /// BTF, CPUMAP). Says what was tried.
    Unsupported {
        /// What was tried.
        what: String,
        /// The kernel's answer.
        source: Box<dyn Error + Send + Sync>,
    },
    /// The object could not be loaded: a map could not be created, or its ELF or BTF was
    /// refused.
    Load {
        /// What was tried.
        what: String,
        /// aya's error.
        source: Box<aya::EbpfError>,
    },
    /// The embedded object is not what this crate expects (a program or map missing or of
    /// another type): a build problem, not a run-time one.
    Object(String),
    /// The kernel's verifier (or `BPF_PROG_LOAD`) refused the program; the error carries the
    /// verifier's log.
    Verifier {
        /// aya's error, with the verifier log.
        source: Box<aya::programs::ProgramError>,
    },
    /// A map operation failed. Names the map and the operation.
    Map {
        /// The map (`port_table`, `cpu_map`, `counters`, `ban_v4`, `ban_v6`, `config`).
        map: &'static str,
        /// What was done (`set port 40000`, `ban 192.0.2.1`, …).
        op: String,
        /// aya's error.
        source: Box<dyn Error + Send + Sync>,
    },
    /// A CPU number that is not a possible CPU of this machine (it can have no CPUMAP entry).
    CpuOutOfRange {
        /// The CPU asked for.
        cpu: u32,
        /// How many CPUs are possible (`/sys/devices/system/cpu/possible`).
        possible: u32,
    },
    /// No such network interface (or an unusable name).
    NoSuchInterface {
        /// The interface.
        iface: String,
    },
    /// The program is already attached to this interface by this [`crate::XdpSteering`].
    AlreadyAttached {
        /// The interface.
        iface: String,
    },
    /// The program is not attached to this interface by this [`crate::XdpSteering`].
    NotAttached {
        /// The interface.
        iface: String,
    },
    /// Attaching to an interface failed (another XDP program is there, the driver has no
    /// native XDP, …).
    Attach {
        /// The interface.
        iface: String,
        /// The mode or modes tried and what each said.
        detail: String,
    },
    /// Detaching from an interface failed.
    Detach {
        /// The interface.
        iface: String,
        /// aya's error.
        source: Box<aya::programs::ProgramError>,
    },
    /// `BPF_PROG_TEST_RUN` failed or was given an unusable frame.
    TestRun {
        /// What went wrong.
        detail: String,
        /// aya's error, when the kernel refused.
        source: Option<Box<aya::programs::ProgramError>>,
    },
    /// Reading the system (the possible CPUs, `CLOCK_MONOTONIC`) failed.
    System {
        /// What was read.
        what: &'static str,
        /// The error.
        source: io::Error,
    },
}

impl XdpError {
    /// Whether this error means XDP cannot run in this process or on this kernel (no
    /// privilege, a missing kernel feature), as opposed to a bad argument or a bug.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            XdpError::NotPermitted { .. } | XdpError::Unsupported { .. }
        )
    }

    /// Sorts an aya error from loading: a refusal for lack of privilege, a missing feature, or
    /// any other failure (`other`).
    pub(crate) fn classify(
        what: impl Into<String>,
        source: Box<dyn Error + Send + Sync>,
        other: impl FnOnce(String, Box<dyn Error + Send + Sync>) -> XdpError,
    ) -> XdpError {
        let what = what.into();
        match errno_in(source.as_ref()) {
            Some(libc::EPERM | libc::EACCES) => XdpError::NotPermitted { what, source },
            Some(libc::ENOSYS | libc::EOPNOTSUPP) => XdpError::Unsupported { what, source },
            _ => other(what, source),
        }
    }
}

/// The first OS error number in `e`'s chain of sources.
pub(crate) fn errno_in(e: &(dyn Error + 'static)) -> Option<i32> {
    let mut cur: Option<&(dyn Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            if let Some(n) = io.raw_os_error() {
                return Some(n);
            }
        }
        cur = err.source();
    }
    None
}

/// `e` and its sources, joined with ": ".
pub(crate) fn chain(e: &(dyn Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(err) = cur {
        let t = err.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = err.source();
    }
    s
}

impl fmt::Display for XdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            XdpError::Config { field, reason } => write!(f, "XDP config `{field}`: {reason}"),
            XdpError::NotPermitted { what, source } => write!(
                f,
                "{what}: not permitted ({}); XDP needs CAP_BPF and CAP_NET_ADMIN (run as root)",
                chain(source.as_ref())
            ),
            XdpError::Unsupported { what, source } => write!(
                f,
                "{what}: the kernel does not support it ({})",
                chain(source.as_ref())
            ),
            XdpError::Load { what, source } => write!(f, "{what}: {}", chain(source.as_ref())),
            XdpError::Object(what) => write!(f, "the embedded XDP object: {what}"),
            XdpError::Verifier { source } => write!(
                f,
                "the kernel refused the XDP program portico_xdp: {}",
                chain(source.as_ref())
            ),
            XdpError::Map { map, op, source } => {
                write!(f, "map `{map}`: {op}: {}", chain(source.as_ref()))
            }
            XdpError::CpuOutOfRange { cpu, possible } => write!(
                f,
                "CPU {cpu} is not a possible CPU here (0..{possible}): it can have no CPUMAP entry"
            ),
            XdpError::NoSuchInterface { iface } => {
                write!(f, "no network interface named `{iface}`")
            }
            XdpError::AlreadyAttached { iface } => {
                write!(f, "the XDP program is already attached to `{iface}`")
            }
            XdpError::NotAttached { iface } => {
                write!(f, "the XDP program is not attached to `{iface}`")
            }
            XdpError::Attach { iface, detail } => {
                write!(f, "attaching the XDP program to `{iface}`: {detail}")
            }
            XdpError::Detach { iface, source } => write!(
                f,
                "detaching the XDP program from `{iface}`: {}",
                chain(source.as_ref())
            ),
            XdpError::TestRun { detail, source } => match source {
                Some(e) => write!(f, "BPF_PROG_TEST_RUN: {detail}: {}", chain(e.as_ref())),
                None => write!(f, "BPF_PROG_TEST_RUN: {detail}"),
            },
            XdpError::System { what, source } => write!(f, "reading {what}: {source}"),
        }
    }
}

impl Error for XdpError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            XdpError::NotPermitted { source, .. }
            | XdpError::Unsupported { source, .. }
            | XdpError::Map { source, .. } => Some(source.as_ref()),
            XdpError::Load { source, .. } => Some(source.as_ref()),
            XdpError::Verifier { source } | XdpError::Detach { source, .. } => {
                Some(source.as_ref())
            }
            XdpError::TestRun { source, .. } => {
                source.as_ref().map(|e| e as &(dyn Error + 'static))
            }
            XdpError::System { source, .. } => Some(source),
            XdpError::Config { .. }
            | XdpError::Object(_)
            | XdpError::CpuOutOfRange { .. }
            | XdpError::NoSuchInterface { .. }
            | XdpError::AlreadyAttached { .. }
            | XdpError::NotAttached { .. }
            | XdpError::Attach { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn privilege_and_feature_errors_are_unavailable() {
        let eperm = XdpError::classify(
            "loading the XDP program",
            Box::new(io::Error::from_raw_os_error(libc::EPERM)),
            |what, source| XdpError::Map {
                map: "x",
                op: what,
                source,
            },
        );
        assert!(eperm.is_unavailable());
        let text = eperm.to_string();
        assert!(
            text.starts_with("loading the XDP program: not permitted"),
            "{text}"
        );
        assert!(text.contains("CAP_BPF"), "{text}");

        let enosys = XdpError::classify(
            "creating map `cpu_map`",
            Box::new(io::Error::from_raw_os_error(libc::ENOSYS)),
            |what, source| XdpError::Map {
                map: "x",
                op: what,
                source,
            },
        );
        assert!(matches!(enosys, XdpError::Unsupported { .. }));

        let other = XdpError::classify(
            "set port 1",
            Box::new(io::Error::from_raw_os_error(libc::E2BIG)),
            |what, source| XdpError::Map {
                map: "port_table",
                op: what,
                source,
            },
        );
        assert!(!other.is_unavailable());
        assert!(other
            .to_string()
            .starts_with("map `port_table`: set port 1: "));
    }

    #[test]
    fn messages_name_the_place() {
        let e = XdpError::Config {
            field: "media_range",
            reason: "first (60000) is after last (50000)".into(),
        };
        assert_eq!(
            e.to_string(),
            "XDP config `media_range`: first (60000) is after last (50000)"
        );
        let e = XdpError::NoSuchInterface {
            iface: "eth9".into(),
        };
        assert!(e.to_string().contains("eth9"));
        let e = XdpError::CpuOutOfRange {
            cpu: 7,
            possible: 2,
        };
        assert!(e.to_string().contains("CPU 7"));
    }
}
