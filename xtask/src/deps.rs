//! The Debian packages each task needs, installed when missing (the tasks run as root on the
//! project's machines; elsewhere they say what to install).

use std::process::Command;

/// A Debian package a task needs, and why.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Package {
    pub(crate) name: &'static str,
    pub(crate) why: &'static str,
}

const GCC: Package = Package {
    name: "gcc",
    why: "the ring crate compiles C and assembly",
};
const PKG_CONFIG: Package = Package {
    name: "pkg-config",
    why: "finds libsrtp2 for the reference FFI crate",
};
const LIBSRTP2_DEV: Package = Package {
    name: "libsrtp2-dev",
    why: "libsrtp2, the SRTP reference the interop tests and benches run against",
};

const IPROUTE2: Package = Package {
    name: "iproute2",
    why: "`ip netns`/`ip link`: the network-namespace lab of the end-to-end tests",
};
const NFTABLES: Package = Package {
    name: "nftables",
    why: "`nft`: the zone firewall rules of the network-namespace lab",
};

const CLANG: Package = Package {
    name: "clang",
    why: "compiles the XDP program (ebpf/bpf/portico_xdp.c) to BPF",
};
const LIBBPF_DEV: Package = Package {
    name: "libbpf-dev",
    why: "bpf_helpers.h and friends for the XDP program",
};
const LINUX_LIBC_DEV: Package = Package {
    name: "linux-libc-dev",
    why: "the kernel's UAPI headers (linux/bpf.h) for the XDP program",
};

const ETHTOOL: Package = Package {
    name: "ethtool",
    why: "veth offloads and GRO in the XDP bench's namespaces",
};

const RTPENGINE: Package = Package {
    name: "rtpengine-daemon",
    why: "rtpengine, the media relay the relay bench compares against",
};
const GNUPLOT: Package = Package {
    name: "gnuplot-nox",
    why: "draws the relay bench's loss plot",
};

const KAMAILIO: Package = Package {
    name: "kamailio",
    why: "Kamailio 5.6, the call control inside the lab (`cargo xtask lab`)",
};
const KAMAILIO_TLS: Package = Package {
    name: "kamailio-tls-modules",
    why: "TLS for the lab's Kamailio (SIP over TLS on 5061, once the lab has certificates)",
};
const DNSMASQ: Package = Package {
    name: "dnsmasq-base",
    why: "the lab's split-horizon DNS (one server per zone, no service installed)",
};
const DIG: Package = Package {
    name: "bind9-dnsutils",
    why: "`dig`: checks the lab's DNS answers by hand",
};
const PROCPS: Package = Package {
    name: "procps",
    why: "`kill` and `sysctl`: the lab stops its peers by pid and sets each zone's sysctls",
};
const PYTHON3: Package = Package {
    name: "python3",
    why: "runs `lab/sip-check.py`, the lab's SIP OPTIONS/REGISTER check",
};

const BARESIP: Package = Package {
    name: "baresip",
    why: "a real SIP client (TLS, SRTP) that registers through the edge in the demo and the tests",
};
const LINPHONE: Package = Package {
    name: "linphone-cli",
    why: "linphonec, the second SIP client implementation of the tests",
};
const TSHARK: Package = Package {
    name: "tshark",
    why:
        "dumpcap and tshark: packet captures of the tests' calls (SDP seen, media in clear or not)",
};

/// What `cargo xtask demo` needs (the lab's packages come with `lab up`).
pub(crate) const DEMO: &[Package] = &[GCC, CLANG, LIBBPF_DEV, LINUX_LIBC_DEV, BARESIP];
/// What `cargo xtask test` (and the benches) need.
pub(crate) const TEST: &[Package] = &[
    GCC,
    CLANG,
    LIBBPF_DEV,
    LINUX_LIBC_DEV,
    PKG_CONFIG,
    LIBSRTP2_DEV,
    IPROUTE2,
    NFTABLES,
    ETHTOOL,
    // The lab of the end-to-end tests (see LAB) and the clients registered through it.
    PROCPS,
    KAMAILIO,
    KAMAILIO_TLS,
    DNSMASQ,
    DIG,
    PYTHON3,
    BARESIP,
    LINPHONE,
    TSHARK,
];
/// What `cargo xtask bench relay` needs.
pub(crate) const BENCH_RELAY: &[Package] =
    &[GCC, CLANG, LIBBPF_DEV, LINUX_LIBC_DEV, RTPENGINE, GNUPLOT];
/// What `cargo xtask bench xdp` needs.
pub(crate) const BENCH_XDP: &[Package] =
    &[GCC, CLANG, LIBBPF_DEV, LINUX_LIBC_DEV, IPROUTE2, ETHTOOL];

/// What `cargo xtask lab up` needs.
pub(crate) const LAB: &[Package] = &[
    IPROUTE2,
    NFTABLES,
    PROCPS,
    KAMAILIO,
    KAMAILIO_TLS,
    DNSMASQ,
    DIG,
    PYTHON3,
];

fn installed(name: &str) -> Option<bool> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", name])
        .output()
        .ok()?;
    Some(
        out.status.success()
            && String::from_utf8_lossy(&out.stdout).contains("install ok installed"),
    )
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Installs the packages of `needs` that are missing, saying which and why. On a machine
/// without dpkg it only warns: the build will say what is missing.
pub(crate) fn ensure(needs: &[Package]) -> Result<(), String> {
    let mut missing = Vec::new();
    for p in needs {
        match installed(p.name) {
            Some(true) => {}
            Some(false) => missing.push(*p),
            None => {
                eprintln!(
                    "xtask: no dpkg-query here; make sure these are installed: {}",
                    needs.iter().map(|p| p.name).collect::<Vec<_>>().join(" ")
                );
                return Ok(());
            }
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = missing.iter().map(|p| p.name).collect();
    eprintln!("xtask: installing missing Debian packages:");
    for p in &missing {
        eprintln!("  {:<14} {}", p.name, p.why);
    }
    if !is_root() {
        return Err(format!(
            "not root: run `apt-get install -y --no-install-recommends {}` first",
            names.join(" ")
        ));
    }
    let apt = |args: &[&str]| -> Result<(), String> {
        let status = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .map_err(|e| format!("starting apt-get: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("`apt-get {}` failed ({status})", args.join(" ")))
        }
    };
    apt(&["update", "-q"])?;
    let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
    args.extend(&names);
    apt(&args)?;
    eprintln!("xtask: installed {}", names.join(" "));
    Ok(())
}
