//! What the loader is told: the configuration, the attach modes and the port states.

use crate::error::XdpError;
use crate::maps::{
    Config, PortEntry, PORT_ALLOCATED, PORT_FREE, PORT_QUARANTINED, PORT_TRAVERSAL, STEERING_OFF,
    STEERING_ON,
};

/// The largest CPUMAP queue the kernel accepts per CPU (`kernel/bpf/cpumap.c`).
pub const MAX_CPUMAP_QSIZE: u32 = 16_384;

/// How the program is set up at [`crate::XdpSteering::load`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XdpConfig {
    /// The media range, first and last port inclusive (the media plane's `--range`).
    pub media_range: (u16, u16),
    /// Redirect steered packets to their owner's CPU (`true`), or pass them where they arrived.
    pub steering: bool,
    /// Packets per second one source may send to allocated ports of the media range; 0 = no
    /// limit.
    pub rate_pps: u32,
    /// Packets one source may send at once above its rate (at least 1 when `rate_pps` > 0).
    pub rate_burst: u32,
    /// The CPUs given CPUMAP entries: those of the media plane's workers.
    pub cpus: Vec<u32>,
    /// The CPUMAP queue size per CPU: frames queued for a CPU before the kernel drops them
    /// (1 to 16,384).
    pub cpumap_qsize: u32,
}

impl Default for XdpConfig {
    /// The media plane's default range 36002–59999, steering on, no rate limit, no CPUs yet,
    /// queues of 2,048.
    fn default() -> XdpConfig {
        XdpConfig {
            media_range: (36_002, 59_999),
            steering: true,
            rate_pps: 0,
            rate_burst: 0,
            cpus: Vec::new(),
            cpumap_qsize: 2_048,
        }
    }
}

impl XdpConfig {
    /// Checks every field; the error names the first one that is wrong.
    pub fn validate(&self) -> Result<(), XdpError> {
        let (first, last) = self.media_range;
        if first == 0 {
            return Err(XdpError::Config {
                field: "media_range",
                reason: "port 0 cannot be in the media range".into(),
            });
        }
        if first > last {
            return Err(XdpError::Config {
                field: "media_range",
                reason: format!("first ({first}) is after last ({last})"),
            });
        }
        validate_rate(self.rate_pps, self.rate_burst)?;
        if self.cpumap_qsize == 0 || self.cpumap_qsize > MAX_CPUMAP_QSIZE {
            return Err(XdpError::Config {
                field: "cpumap_qsize",
                reason: format!("{} is outside 1..={MAX_CPUMAP_QSIZE}", self.cpumap_qsize),
            });
        }
        Ok(())
    }

    /// The `config` map entry for this configuration.
    pub(crate) fn map_value(&self) -> Config {
        Config {
            media_first: self.media_range.0,
            media_last: self.media_range.1,
            steering: if self.steering {
                STEERING_ON
            } else {
                STEERING_OFF
            },
            rate_pps: self.rate_pps,
            rate_burst: self.rate_burst,
        }
    }
}

/// Checks a rate: no limit (`pps` 0), or a limit with a burst of at least one packet.
pub(crate) fn validate_rate(pps: u32, burst: u32) -> Result<(), XdpError> {
    if pps > 0 && burst == 0 {
        return Err(XdpError::Config {
            field: "rate_burst",
            reason: format!(
                "0 with a rate of {pps} packets/s: a limited source needs a burst of at least 1"
            ),
        });
    }
    Ok(())
}

/// How to attach the program to an interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AttachMode {
    /// In the driver (`XDP_FLAGS_DRV_MODE`): fails where the driver has no native XDP.
    Native,
    /// In the stack after the skb is built (`XDP_FLAGS_SKB_MODE`): works everywhere, costs more.
    Generic,
    /// Native, else generic.
    Auto,
}

/// How the program ended up attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AttachedMode {
    /// In the driver.
    Native,
    /// Generic (skb) mode.
    Generic,
}

impl AttachedMode {
    /// `native` or `generic`.
    pub fn label(self) -> &'static str {
        match self {
            AttachedMode::Native => "native",
            AttachedMode::Generic => "generic",
        }
    }
}

/// What a UDP port is to the program (an entry of its port table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PortState {
    /// Nobody's: dropped inside the media range, passed outside it.
    Free,
    /// A flow's RTP or RTCP port, owned by the worker on `cpu`: RTP, RTCP and STUN to it are
    /// steered there; anything else is dropped.
    Allocated {
        /// The owning worker's CPU.
        cpu: u32,
    },
    /// A port whose datagrams carry the 4-byte multiplex id (a traversal port), owned by the
    /// worker on `cpu`: framed RTP/RTCP and keepalives are steered there; anything else is
    /// dropped. Not rate limited.
    Traversal {
        /// The owning worker's CPU.
        cpu: u32,
    },
    /// Released and waiting out its quarantine: dropped inside the media range.
    Quarantined,
}

impl PortState {
    /// The port-table entry.
    pub(crate) fn entry(self) -> PortEntry {
        match self {
            PortState::Free => PortEntry {
                cpu: 0,
                state: PORT_FREE,
            },
            PortState::Allocated { cpu } => PortEntry {
                cpu,
                state: PORT_ALLOCATED,
            },
            PortState::Traversal { cpu } => PortEntry {
                cpu,
                state: PORT_TRAVERSAL,
            },
            PortState::Quarantined => PortEntry {
                cpu: 0,
                state: PORT_QUARANTINED,
            },
        }
    }

    /// The state a port-table entry means to the program (an unknown state is free there).
    pub(crate) fn from_entry(e: PortEntry) -> PortState {
        match e.state {
            PORT_ALLOCATED => PortState::Allocated { cpu: e.cpu },
            PORT_TRAVERSAL => PortState::Traversal { cpu: e.cpu },
            PORT_QUARANTINED => PortState::Quarantined,
            _ => PortState::Free,
        }
    }

    /// The CPU that owns the port, when it is steered.
    pub fn cpu(self) -> Option<u32> {
        match self {
            PortState::Allocated { cpu } | PortState::Traversal { cpu } => Some(cpu),
            PortState::Free | PortState::Quarantined => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(e: XdpError) -> &'static str {
        match e {
            XdpError::Config { field, .. } => field,
            other => panic!("not a config error: {other}"),
        }
    }

    #[test]
    fn default_is_the_media_planes() {
        let c = XdpConfig::default();
        assert_eq!(c.media_range, (36_002, 59_999));
        assert!(c.steering);
        assert_eq!((c.rate_pps, c.rate_burst), (0, 0));
        assert!(c.cpus.is_empty());
        assert_eq!(c.cpumap_qsize, 2_048);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn bad_fields_are_named() {
        let mut c = XdpConfig {
            media_range: (50_000, 40_000),
            ..XdpConfig::default()
        };
        let e = c.validate().expect_err("first > last");
        assert!(
            e.to_string()
                .contains("first (50000) is after last (40000)"),
            "{e}"
        );
        assert_eq!(field_of(e), "media_range");

        c.media_range = (0, 10);
        assert_eq!(field_of(c.validate().expect_err("port 0")), "media_range");

        c.media_range = (40_000, 40_000);
        assert!(c.validate().is_ok(), "a one-port range is a range");

        c.rate_pps = 100;
        assert_eq!(field_of(c.validate().expect_err("burst 0")), "rate_burst");
        c.rate_burst = 10;
        assert!(c.validate().is_ok());

        for q in [0, MAX_CPUMAP_QSIZE + 1] {
            c.cpumap_qsize = q;
            assert_eq!(field_of(c.validate().expect_err("qsize")), "cpumap_qsize");
        }
    }

    #[test]
    fn config_map_value() {
        let c = XdpConfig {
            media_range: (40_000, 47_999),
            steering: false,
            rate_pps: 500,
            rate_burst: 50,
            ..XdpConfig::default()
        };
        assert_eq!(
            c.map_value(),
            Config {
                media_first: 40_000,
                media_last: 47_999,
                steering: STEERING_OFF,
                rate_pps: 500,
                rate_burst: 50,
            }
        );
    }

    #[test]
    fn port_states_round_trip() {
        for s in [
            PortState::Free,
            PortState::Allocated { cpu: 3 },
            PortState::Traversal { cpu: 1 },
            PortState::Quarantined,
        ] {
            assert_eq!(PortState::from_entry(s.entry()), s);
        }
        assert_eq!(
            PortState::from_entry(PortEntry { cpu: 5, state: 99 }),
            PortState::Free
        );
        assert_eq!(PortState::Traversal { cpu: 1 }.cpu(), Some(1));
        assert_eq!(PortState::Quarantined.cpu(), None);
    }
}
