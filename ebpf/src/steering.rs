//! [`XdpSteering`]: the loaded program and its maps, and the safe API over them.

use std::collections::HashMap as StdHashMap;
use std::ffi::CString;
use std::net::IpAddr;
use std::time::Duration;

use aya::maps::{xdp::CpuMap, Array, HashMap, MapData, PerCpuArray};
use aya::programs::{ProgramError, TestRun, TestRunOptions, Xdp, XdpMode};
use aya::{Ebpf, EbpfLoader};

use crate::config::{validate_rate, AttachMode, AttachedMode, PortState, XdpConfig};
use crate::error::{chain, errno_in, XdpError};
use crate::maps::{
    ban_v4_key, BanEntry, Config, PortEntry, SrcAddr, VerdictCounter, MAP_BAN_V4, MAP_BAN_V6,
    MAP_CONFIG, MAP_COUNTERS, MAP_CPU_MAP, MAP_PORT_TABLE, STEERING_OFF, STEERING_ON,
};
use crate::program::{OBJECT, PROGRAM};
use crate::verdict::{Count, Counters, Reason, ReasonCounts, TestVerdict};

/// Smallest frame `BPF_PROG_TEST_RUN` takes for XDP: an Ethernet header.
pub const TEST_RUN_MIN_FRAME: usize = 14;

/// Longest interface name Linux accepts (`IFNAMSIZ` less the terminating zero).
const IFNAME_MAX: usize = 15;

/// The XDP program, loaded and configured, and the interfaces it is attached to.
///
/// Loading creates the maps and has the kernel verify the program; nothing is attached until
/// [`attach`](XdpSteering::attach). Dropping it detaches the program from every interface this
/// value attached it to and frees the program and its maps (the kernel keeps nothing pinned).
pub struct XdpSteering {
    /// The object: owns the program, its links, and the maps not taken out below.
    ebpf: Ebpf,
    port_table: Array<MapData, PortEntry>,
    cpu_map: CpuMap<MapData>,
    counters: PerCpuArray<MapData, VerdictCounter>,
    ban_v4: HashMap<MapData, u32, BanEntry>,
    ban_v6: HashMap<MapData, SrcAddr, BanEntry>,
    config_map: Array<MapData, Config>,
    /// What `config_map` holds.
    config: Config,
    /// The CPUMAP queue size for CPUs added later.
    cpumap_qsize: u32,
    /// Possible CPUs: the CPUMAP's size.
    possible_cpus: u32,
    /// Interfaces attached by this value.
    links: StdHashMap<String, (aya::programs::xdp::XdpLinkId, AttachedMode)>,
}

impl std::fmt::Debug for XdpSteering {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XdpSteering")
            .field("config", &self.config)
            .field("cpumap_qsize", &self.cpumap_qsize)
            .field("possible_cpus", &self.possible_cpus)
            .field("attached", &self.attached())
            .finish_non_exhaustive()
    }
}

// The media plane moves its XDP handle between threads (the edge's control thread owns it).
const _: fn() = || {
    fn is_send<T: Send>() {}
    is_send::<XdpSteering>();
};

/// Why this process cannot run the XDP program, or `None` when it can: loads it (with the
/// default configuration) and drops it again. For the edge's `running without XDP: <why>`.
pub fn unavailable_reason() -> Option<String> {
    match XdpSteering::load(&XdpConfig::default()) {
        Ok(_) => None,
        Err(e) => Some(e.to_string()),
    }
}

/// The XDP program in `ebpf`.
fn xdp_program(ebpf: &mut Ebpf) -> Result<&mut Xdp, XdpError> {
    ebpf.program_mut(PROGRAM)
        .ok_or_else(|| XdpError::Object(format!("no program {PROGRAM}")))?
        .try_into()
        .map_err(|e: ProgramError| XdpError::Object(format!("{PROGRAM}: {e}")))
}

/// Takes map `name` out of `ebpf` as `T`.
fn take<T>(ebpf: &mut Ebpf, name: &'static str) -> Result<T, XdpError>
where
    T: TryFrom<aya::maps::Map, Error = aya::maps::MapError>,
{
    let map = ebpf.take_map(name).ok_or_else(|| XdpError::Map {
        map: name,
        op: "open".into(),
        source: "not in the program object".into(),
    })?;
    T::try_from(map).map_err(|e| XdpError::Map {
        map: name,
        op: "open".into(),
        source: Box::new(e),
    })
}

/// The map error of `op` on `map`.
fn map_err(
    map: &'static str,
    op: impl Into<String>,
) -> impl FnOnce(aya::maps::MapError) -> XdpError {
    let op = op.into();
    move |e| {
        XdpError::classify(op, Box::new(e), |op, source| XdpError::Map {
            map,
            op,
            source,
        })
    }
}

/// The current `CLOCK_MONOTONIC` time in ns: the clock `bpf_ktime_get_ns` reads.
pub fn monotonic_now_ns() -> Result<u64, XdpError> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    if rc != 0 {
        return Err(XdpError::System {
            what: "CLOCK_MONOTONIC",
            source: std::io::Error::last_os_error(),
        });
    }
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(ts.tv_nsec).unwrap_or(0);
    Ok(secs.saturating_mul(1_000_000_000).saturating_add(nanos))
}

impl XdpSteering {
    /// Loads the program: checks `cfg`, creates the maps (the CPUMAP sized to the possible
    /// CPUs), has the kernel verify the program, writes the configuration and gives each CPU of
    /// `cfg.cpus` its CPUMAP entry. Every port starts free.
    pub fn load(cfg: &XdpConfig) -> Result<XdpSteering, XdpError> {
        cfg.validate()?;
        let possible = aya::util::nr_cpus().map_err(|(_, source)| XdpError::System {
            what: "the possible CPUs (/sys/devices/system/cpu/possible)",
            source,
        })?;
        let possible = u32::try_from(possible).unwrap_or(u32::MAX);
        for &cpu in &cfg.cpus {
            if cpu >= possible {
                return Err(XdpError::CpuOutOfRange { cpu, possible });
            }
        }

        let mut ebpf = EbpfLoader::new()
            .map_max_entries(MAP_CPU_MAP, possible)
            .load(OBJECT)
            .map_err(|e| {
                XdpError::classify(
                    "creating the XDP program's maps",
                    Box::new(e),
                    |what, source| match source.downcast::<aya::EbpfError>() {
                        Ok(source) => XdpError::Load { what, source },
                        Err(source) => XdpError::Unsupported { what, source },
                    },
                )
            })?;
        {
            let program = xdp_program(&mut ebpf)?;
            program.load().map_err(|e| {
                XdpError::classify("loading the XDP program", Box::new(e), |_, source| {
                    match source.downcast::<ProgramError>() {
                        Ok(source) => XdpError::Verifier { source },
                        Err(source) => XdpError::Unsupported {
                            what: "loading the XDP program".into(),
                            source,
                        },
                    }
                })
            })?;
        }

        let port_table = take(&mut ebpf, MAP_PORT_TABLE)?;
        let cpu_map = take(&mut ebpf, MAP_CPU_MAP)?;
        let counters = take(&mut ebpf, MAP_COUNTERS)?;
        let ban_v4 = take(&mut ebpf, MAP_BAN_V4)?;
        let ban_v6 = take(&mut ebpf, MAP_BAN_V6)?;
        let config_map = take(&mut ebpf, MAP_CONFIG)?;
        let mut xdp = XdpSteering {
            ebpf,
            port_table,
            cpu_map,
            counters,
            ban_v4,
            ban_v6,
            config_map,
            config: cfg.map_value(),
            cpumap_qsize: cfg.cpumap_qsize,
            possible_cpus: possible,
            links: StdHashMap::new(),
        };
        xdp.write_config(xdp.config)?;
        for &cpu in &cfg.cpus {
            xdp.add_cpu(cpu)?;
        }
        Ok(xdp)
    }

    /// Attaches the program to `iface` in `mode` and says how it ended up attached. The program
    /// stays attached until [`detach`](XdpSteering::detach) or drop.
    pub fn attach(&mut self, iface: &str, mode: AttachMode) -> Result<AttachedMode, XdpError> {
        if self.links.contains_key(iface) {
            return Err(XdpError::AlreadyAttached {
                iface: iface.to_owned(),
            });
        }
        check_iface(iface)?;
        let attempts: &[(XdpMode, AttachedMode)] = match mode {
            AttachMode::Native => &[(XdpMode::Driver, AttachedMode::Native)],
            AttachMode::Generic => &[(XdpMode::Skb, AttachedMode::Generic)],
            AttachMode::Auto => &[
                (XdpMode::Driver, AttachedMode::Native),
                (XdpMode::Skb, AttachedMode::Generic),
            ],
        };
        let mut failures = Vec::new();
        let mut refusal = None;
        for &(flags, attached) in attempts {
            let program = self.program_mut()?;
            match program.attach(iface, flags) {
                Ok(link) => {
                    self.links.insert(iface.to_owned(), (link, attached));
                    return Ok(attached);
                }
                Err(e) => {
                    let mut text = format!("{} mode: {}", attached.label(), chain(&e));
                    match errno_in(&e) {
                        Some(libc::EOPNOTSUPP) if attached == AttachedMode::Native => {
                            text.push_str(" (the driver has no native XDP: use Generic or Auto)")
                        }
                        Some(libc::EBUSY | libc::EEXIST) => {
                            text.push_str(" (another XDP program is attached there)")
                        }
                        Some(libc::EPERM | libc::EACCES) => refusal = Some(e),
                        _ => {}
                    }
                    failures.push(text);
                }
            }
        }
        let what = format!("attaching the XDP program to `{iface}`");
        if let Some(e) = refusal {
            return Err(XdpError::NotPermitted {
                what,
                source: Box::new(e),
            });
        }
        Err(XdpError::Attach {
            iface: iface.to_owned(),
            detail: failures.join("; "),
        })
    }

    /// Detaches the program from `iface` (attached by this value).
    pub fn detach(&mut self, iface: &str) -> Result<(), XdpError> {
        let Some((link, _)) = self.links.remove(iface) else {
            return Err(XdpError::NotAttached {
                iface: iface.to_owned(),
            });
        };
        let program = self.program_mut()?;
        program.detach(link).map_err(|source| XdpError::Detach {
            iface: iface.to_owned(),
            source: Box::new(source),
        })
    }

    /// The interfaces the program is attached to, and how.
    pub fn attached(&self) -> Vec<(String, AttachedMode)> {
        let mut v: Vec<_> = self
            .links
            .iter()
            .map(|(i, (_, m))| (i.clone(), *m))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Sets what `port` is. A steered port's CPU must be a possible CPU; one without a CPUMAP
    /// entry (see [`add_cpu`](XdpSteering::add_cpu)) is passed, counted as
    /// [`Reason::NoCpuEntry`].
    pub fn set_port(&mut self, port: u16, state: PortState) -> Result<(), XdpError> {
        if let Some(cpu) = state.cpu() {
            self.check_cpu(cpu)?;
        }
        self.port_table
            .set(u32::from(port), state.entry(), 0)
            .map_err(map_err(
                MAP_PORT_TABLE,
                format!("set port {port} to {state:?}"),
            ))
    }

    /// What `port` is.
    pub fn port(&self, port: u16) -> Result<PortState, XdpError> {
        self.port_table
            .get(&u32::from(port), 0)
            .map(PortState::from_entry)
            .map_err(map_err(MAP_PORT_TABLE, format!("read port {port}")))
    }

    /// Gives `cpu` a CPUMAP entry (with the configured queue size), so that ports it owns are
    /// redirected to it. Setting it again is harmless.
    pub fn add_cpu(&mut self, cpu: u32) -> Result<(), XdpError> {
        self.check_cpu(cpu)?;
        self.cpu_map
            .set(cpu, self.cpumap_qsize, None, 0)
            .map_err(|e| {
                XdpError::classify(
                    format!("CPUMAP entry for CPU {cpu} (queue {})", self.cpumap_qsize),
                    Box::new(e),
                    |op, source| XdpError::Map {
                        map: MAP_CPU_MAP,
                        op,
                        source,
                    },
                )
            })
    }

    /// Turns steering on (redirect to the owner's CPU) or off (pass where received). Drops are
    /// unchanged either way.
    pub fn set_steering(&mut self, on: bool) -> Result<(), XdpError> {
        let mut c = self.config;
        c.steering = if on { STEERING_ON } else { STEERING_OFF };
        self.write_config(c)
    }

    /// Sets the per-source rate limit to allocated ports of the media range: `pps` packets per
    /// second with bursts of `burst`; `pps` 0 lifts the limit. It applies from the next packet:
    /// a source's state left by a slower rate is reset when it would hold the source back
    /// longer than the new burst allows.
    pub fn set_rate(&mut self, pps: u32, burst: u32) -> Result<(), XdpError> {
        validate_rate(pps, burst)?;
        let mut c = self.config;
        c.rate_pps = pps;
        c.rate_burst = burst;
        self.write_config(c)
    }

    /// Bans `ip` for `for_` from now: every packet from it is dropped, whatever its protocol
    /// and port. A ban again replaces the earlier expiry. An IPv4-mapped IPv6 address bans the
    /// IPv4 address. When the ban table is full, expired bans are purged and the ban retried.
    pub fn ban(&mut self, ip: IpAddr, for_: Duration) -> Result<(), XdpError> {
        let now = monotonic_now_ns()?;
        let ns = u64::try_from(for_.as_nanos()).unwrap_or(u64::MAX);
        let entry = BanEntry {
            expires_ns: now.saturating_add(ns),
        };
        match self.insert_ban(ip, entry) {
            Err(XdpError::Map { source, .. }) if errno_in(source.as_ref()) == Some(libc::E2BIG) => {
                self.purge_expired_bans()?;
                self.insert_ban(ip, entry)
            }
            other => other,
        }
    }

    /// Lifts the ban on `ip`, if there is one.
    pub fn unban(&mut self, ip: IpAddr) -> Result<(), XdpError> {
        let r = match canonical(ip) {
            IpAddr::V4(v4) => self
                .ban_v4
                .remove(&ban_v4_key(v4))
                .map_err(map_err(MAP_BAN_V4, format!("unban {v4}"))),
            IpAddr::V6(v6) => self
                .ban_v6
                .remove(&SrcAddr::new(IpAddr::V6(v6)))
                .map_err(map_err(MAP_BAN_V6, format!("unban {v6}"))),
        };
        match r {
            Err(XdpError::Map { source, .. })
                if errno_in(source.as_ref()) == Some(libc::ENOENT) =>
            {
                Ok(())
            }
            other => other,
        }
    }

    /// The bans in force now and how long each has left.
    pub fn bans(&self) -> Result<Vec<(IpAddr, Duration)>, XdpError> {
        let now = monotonic_now_ns()?;
        let mut out = Vec::new();
        for item in self.ban_v4.iter() {
            let (k, v) = item.map_err(map_err(MAP_BAN_V4, "list"))?;
            if v.expires_ns > now {
                let ip = std::net::Ipv4Addr::from(k.to_ne_bytes());
                out.push((IpAddr::V4(ip), Duration::from_nanos(v.expires_ns - now)));
            }
        }
        for item in self.ban_v6.iter() {
            let (k, v) = item.map_err(map_err(MAP_BAN_V6, "list"))?;
            if v.expires_ns > now {
                let ip = std::net::Ipv6Addr::from(k.addr);
                out.push((IpAddr::V6(ip), Duration::from_nanos(v.expires_ns - now)));
            }
        }
        Ok(out)
    }

    /// Deletes expired bans (the program ignores them but does not delete them) and says how
    /// many.
    pub fn purge_expired_bans(&mut self) -> Result<usize, XdpError> {
        let now = monotonic_now_ns()?;
        let mut v4 = Vec::new();
        for item in self.ban_v4.iter() {
            let (k, v) = item.map_err(map_err(MAP_BAN_V4, "list"))?;
            if v.expires_ns <= now {
                v4.push(k);
            }
        }
        let mut v6 = Vec::new();
        for item in self.ban_v6.iter() {
            let (k, v) = item.map_err(map_err(MAP_BAN_V6, "list"))?;
            if v.expires_ns <= now {
                v6.push(k);
            }
        }
        let n = v4.len() + v6.len();
        for k in v4 {
            // Gone already (deleted by someone else) is as good as deleted.
            if let Err(e) = self.ban_v4.remove(&k) {
                if errno_in(&e) != Some(libc::ENOENT) {
                    return Err(map_err(MAP_BAN_V4, "purge")(e));
                }
            }
        }
        for k in v6 {
            if let Err(e) = self.ban_v6.remove(&k) {
                if errno_in(&e) != Some(libc::ENOENT) {
                    return Err(map_err(MAP_BAN_V6, "purge")(e));
                }
            }
        }
        Ok(n)
    }

    /// Every reason's counters: per CPU and their total.
    pub fn counters(&self) -> Result<Counters, XdpError> {
        let mut reasons = Vec::with_capacity(Reason::ALL.len());
        for reason in Reason::ALL {
            let values = self
                .counters
                .get(&reason.index(), 0)
                .map_err(map_err(MAP_COUNTERS, format!("read {}", reason.label())))?;
            let per_cpu: Vec<Count> = values
                .iter()
                .map(|c| Count {
                    packets: c.packets,
                    bytes: c.bytes,
                })
                .collect();
            let total = per_cpu.iter().fold(Count::default(), |a, c| Count {
                packets: a.packets.wrapping_add(c.packets),
                bytes: a.bytes.wrapping_add(c.bytes),
            });
            reasons.push(ReasonCounts {
                reason,
                total,
                per_cpu,
            });
        }
        Ok(Counters { reasons })
    }

    /// Runs the program once on `frame` (an Ethernet frame, 14 bytes or more) with
    /// `BPF_PROG_TEST_RUN` and returns its action. The maps are the live ones: the run is
    /// counted, and a redirect is only decided, not carried out.
    pub fn test_run(&self, frame: &[u8]) -> Result<TestVerdict, XdpError> {
        if frame.len() < TEST_RUN_MIN_FRAME {
            return Err(XdpError::TestRun {
                detail: format!(
                    "a frame of {} bytes: the kernel takes {TEST_RUN_MIN_FRAME} bytes (an \
                     Ethernet header) or more",
                    frame.len()
                ),
                source: None,
            });
        }
        let program = self.program()?;
        let opts = TestRunOptions {
            data_in: Some(frame),
            ..TestRunOptions::default()
        };
        let result = program.test_run(opts).map_err(|e| {
            XdpError::classify(
                format!("running the program on a {}-byte frame", frame.len()),
                Box::new(e),
                |detail, source| XdpError::TestRun {
                    detail,
                    source: source.downcast::<ProgramError>().ok(),
                },
            )
        })?;
        Ok(TestVerdict::from_action(result.return_value))
    }

    /// How many times the program ran and the time it spent, as the kernel counts them. The
    /// kernel counts only while `kernel.bpf_stats_enabled` is 1 (it costs a clock read per
    /// run); `(0, 0)` otherwise.
    pub fn run_stats(&self) -> Result<(u64, Duration), XdpError> {
        let program = self.program()?;
        let info = program
            .info()
            .map_err(|e| XdpError::Object(format!("{PROGRAM}: reading its info: {e}")))?;
        Ok((info.run_count(), info.run_time()))
    }

    /// The configuration as the program sees it.
    pub fn config(&self) -> Config {
        self.config
    }

    /// The number of possible CPUs (the CPUMAP's size).
    pub fn possible_cpus(&self) -> u32 {
        self.possible_cpus
    }

    fn program(&self) -> Result<&Xdp, XdpError> {
        self.ebpf
            .program(PROGRAM)
            .ok_or_else(|| XdpError::Object(format!("no program {PROGRAM}")))?
            .try_into()
            .map_err(|e: ProgramError| XdpError::Object(format!("{PROGRAM}: {e}")))
    }

    fn program_mut(&mut self) -> Result<&mut Xdp, XdpError> {
        xdp_program(&mut self.ebpf)
    }

    fn check_cpu(&self, cpu: u32) -> Result<(), XdpError> {
        if cpu >= self.possible_cpus {
            return Err(XdpError::CpuOutOfRange {
                cpu,
                possible: self.possible_cpus,
            });
        }
        Ok(())
    }

    fn write_config(&mut self, c: Config) -> Result<(), XdpError> {
        self.config_map
            .set(0, c, 0)
            .map_err(map_err(MAP_CONFIG, "write"))?;
        self.config = c;
        Ok(())
    }

    fn insert_ban(&mut self, ip: IpAddr, entry: BanEntry) -> Result<(), XdpError> {
        match canonical(ip) {
            IpAddr::V4(v4) => self
                .ban_v4
                .insert(ban_v4_key(v4), entry, 0)
                .map_err(map_err(MAP_BAN_V4, format!("ban {v4}"))),
            IpAddr::V6(v6) => self
                .ban_v6
                .insert(SrcAddr::new(IpAddr::V6(v6)), entry, 0)
                .map_err(map_err(MAP_BAN_V6, format!("ban {v6}"))),
        }
    }
}

impl Drop for XdpSteering {
    fn drop(&mut self) {
        let links: Vec<_> = self.links.drain().map(|(_, (l, _))| l).collect();
        if let Ok(program) = self.program_mut() {
            for link in links {
                // Nothing to do about a failure here; dropping the program below detaches
                // whatever is left (and the kernel does when the link's last fd closes).
                let _: Result<(), ProgramError> = program.detach(link);
            }
        }
    }
}

/// IPv4-mapped IPv6 addresses as IPv4: the program sees those sources as IPv4 packets.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// Checks `iface` is a name Linux could have and that an interface has it.
fn check_iface(iface: &str) -> Result<(), XdpError> {
    let bad = iface.is_empty()
        || iface.len() > IFNAME_MAX
        || iface
            .bytes()
            .any(|b| b == 0 || b == b'/' || b.is_ascii_whitespace());
    let no_such = || XdpError::NoSuchInterface {
        iface: iface.to_owned(),
    };
    if bad {
        return Err(no_such());
    }
    let name = CString::new(iface).map_err(|_| no_such())?;
    // SAFETY: `name` is a valid NUL-terminated string that outlives the call.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if index == 0 {
        return Err(no_such());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_addresses_are_ipv4() {
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(canonical(mapped), v4);
        assert_eq!(canonical(v4), v4);
        assert_eq!(canonical(v6), v6);
    }

    #[test]
    fn interface_names_are_checked() {
        for bad in ["", "a/b", "with space", "nul\0", "sixteen-chars-xx"] {
            assert!(
                matches!(check_iface(bad), Err(XdpError::NoSuchInterface { .. })),
                "{bad:?}"
            );
        }
        assert!(check_iface("lo").is_ok());
        assert!(matches!(
            check_iface("portico-none0"),
            Err(XdpError::NoSuchInterface { .. })
        ));
    }

    #[test]
    fn monotonic_clock_moves() {
        let a = monotonic_now_ns().unwrap();
        let b = monotonic_now_ns().unwrap();
        assert!(a > 0 && b >= a);
    }
}
