//! Automated intrusion protection, sans-IO: failures counted per source address and category,
//! and a ban when a source passes a category's threshold within its window (fail2ban's model,
//! which the guide's "Automated protection service" uses).
//!
//! The guide recommends enabling *HTTP proxy authorization failure*, *HTTP proxy protocol
//! violation* and *XMPP protocol violation*, and warns against *HTTP proxy resource access
//! failure* (a client retrying a missing resource bans itself): that category exists but is off
//! by default. *SIP authentication failure* is here for the SIP edge.
//!
//! The driver reports each failure with [`Protection::report`] and asks [`Protection::is_banned`]
//! before serving a new connection; where XDP is attached it also copies [`Event::Banned`] and
//! [`Event::Unbanned`] into the banned-sources map (else an nftables set, else nothing more).
//! Time is an argument; nothing here reads a clock.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// What a failure was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Category {
    /// Credentials refused at the HTTP proxy (401).
    HttpAuthFailure,
    /// A request the HTTP proxy could not read or refused as malformed (400, 403 on the allow
    /// list, smuggling attempts).
    HttpProtocolViolation,
    /// A resource not found through the HTTP proxy (404): off by default, as the guide says.
    HttpResourceAccessFailure,
    /// A malformed or refused XMPP stream.
    XmppProtocolViolation,
    /// A digest challenge answered wrongly at the SIP edge.
    SipAuthFailure,
}

impl Category {
    /// Every category.
    pub const ALL: [Category; 5] = [
        Category::HttpAuthFailure,
        Category::HttpProtocolViolation,
        Category::HttpResourceAccessFailure,
        Category::XmppProtocolViolation,
        Category::SipAuthFailure,
    ];

    /// The name in configuration files, counters and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::HttpAuthFailure => "http_auth_failure",
            Category::HttpProtocolViolation => "http_protocol_violation",
            Category::HttpResourceAccessFailure => "http_resource_access_failure",
            Category::XmppProtocolViolation => "xmpp_protocol_violation",
            Category::SipAuthFailure => "sip_auth_failure",
        }
    }

    /// The category with that name.
    pub fn from_name(name: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One category's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Counted and enforced.
    pub enabled: bool,
    /// Failures within `window` that ban the source.
    pub threshold: u32,
    /// The window failures are counted over.
    pub window: Duration,
    /// How long a ban lasts.
    pub ban: Duration,
}

impl Rule {
    /// Expressway's defaults for its categories: 5 failures in 60 s ban for 600 s (auth), 10 in
    /// 30 s for 600 s (protocol violations).
    pub fn default_for(c: Category) -> Rule {
        let (enabled, threshold, window, ban) = match c {
            Category::HttpAuthFailure | Category::SipAuthFailure => (true, 5, 60, 600),
            Category::HttpProtocolViolation | Category::XmppProtocolViolation => {
                (true, 10, 30, 600)
            }
            Category::HttpResourceAccessFailure => (false, 10, 30, 600),
        };
        Rule {
            enabled,
            threshold,
            window: Duration::from_secs(window),
            ban: Duration::from_secs(ban),
        }
    }
}

/// An address range exempt from banning (`addr/prefix`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exemption {
    /// The network address.
    pub addr: IpAddr,
    /// Its prefix length.
    pub prefix: u8,
}

impl Exemption {
    /// Parses `a.b.c.d/n`, `a.b.c.d`, `x::y/n` or `x::y`; the error says what is wrong.
    pub fn parse(s: &str) -> Result<Exemption, String> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a
            .trim()
            .parse()
            .map_err(|_| format!("{a:?} is not an IP address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|n| *n <= max)
                .ok_or_else(|| format!("prefix {p:?} is not 0 to {max}"))?,
        };
        Ok(Exemption { addr, prefix })
    }

    /// Whether `ip` is inside.
    pub fn contains(&self, ip: IpAddr) -> bool {
        fn bits(ip: IpAddr) -> (u128, u32) {
            match ip {
                IpAddr::V4(v) => (u128::from(u32::from(v)), 32),
                IpAddr::V6(v) => (u128::from(v), 128),
            }
        }
        let ((net, width), (x, xw)) = (bits(self.addr), bits(ip));
        if width != xw {
            return false;
        }
        let shift = width - u32::from(self.prefix);
        shift >= width || (net >> shift) == (x >> shift)
    }
}

/// Settings.
#[derive(Clone, Debug)]
pub struct ProtectionConfig {
    /// Per category.
    pub rules: HashMap<Category, Rule>,
    /// Sources never banned.
    pub exemptions: Vec<Exemption>,
    /// Sources tracked at most (memory bound): beyond, the oldest records are dropped.
    pub max_sources: usize,
}

impl Default for ProtectionConfig {
    fn default() -> Self {
        Self {
            rules: Category::ALL
                .into_iter()
                .map(|c| (c, Rule::default_for(c)))
                .collect(),
            exemptions: Vec::new(),
            max_sources: 100_000,
        }
    }
}

/// What changed, for the enforcement (XDP map, nftables set) and the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A source is banned until the instant given.
    Banned {
        /// The source.
        source: IpAddr,
        /// The category whose threshold it passed.
        category: Category,
        /// Until when.
        until: Instant,
    },
    /// A ban ended (expired, or lifted by the operator).
    Unbanned {
        /// The source.
        source: IpAddr,
    },
}

/// A ban in force, for the operator interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ban {
    /// The source.
    pub source: IpAddr,
    /// Why.
    pub category: Category,
    /// Until when.
    pub until: Instant,
}

/// Counters (Prometheus names under `portico_protection_`).
#[derive(Clone, Debug, Default)]
pub struct ProtectionStats {
    /// Failures reported, per category.
    pub failures: HashMap<Category, u64>,
    /// Bans made, per category.
    pub bans: HashMap<Category, u64>,
    /// Failures from exempt sources (counted, never banned).
    pub exempt: u64,
    /// Source records dropped at the memory bound.
    pub evicted: u64,
}

/// The protection state.
#[derive(Debug)]
pub struct Protection {
    config: ProtectionConfig,
    /// Per source and category: the times of the failures in the window.
    failures: HashMap<(IpAddr, Category), VecDeque<Instant>>,
    /// Sources in the order first seen (for the memory bound).
    order: VecDeque<(IpAddr, Category)>,
    bans: HashMap<IpAddr, Ban>,
    events: Vec<Event>,
    stats: ProtectionStats,
}

impl Protection {
    /// Nothing counted, nobody banned.
    pub fn new(config: ProtectionConfig) -> Self {
        Self {
            config,
            failures: HashMap::new(),
            order: VecDeque::new(),
            bans: HashMap::new(),
            events: Vec::new(),
            stats: ProtectionStats::default(),
        }
    }

    /// The counters.
    pub fn stats(&self) -> &ProtectionStats {
        &self.stats
    }

    /// A failure of `category` from `source` at `now`. Returns whether the source is banned
    /// now (by this failure or before).
    pub fn report(&mut self, source: IpAddr, category: Category, now: Instant) -> bool {
        *self.stats.failures.entry(category).or_insert(0) += 1;
        if self.is_banned(source, now) {
            return true;
        }
        let Some(rule) = self.config.rules.get(&category).copied() else {
            return false;
        };
        if !rule.enabled {
            return false;
        }
        if self.config.exemptions.iter().any(|e| e.contains(source)) {
            self.stats.exempt += 1;
            return false;
        }
        let key = (source, category);
        if !self.failures.contains_key(&key) {
            while self.failures.len() >= self.config.max_sources.max(1) {
                let Some(old) = self.order.pop_front() else {
                    break;
                };
                if self.failures.remove(&old).is_some() {
                    self.stats.evicted += 1;
                }
            }
            self.order.push_back(key);
        }
        let times = self.failures.entry(key).or_default();
        times.push_back(now);
        while times
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) > rule.window)
        {
            times.pop_front();
        }
        if times.len() < rule.threshold.max(1) as usize {
            return false;
        }
        self.failures.remove(&key);
        self.order.retain(|k| *k != key);
        let until = now + rule.ban;
        self.bans.insert(
            source,
            Ban {
                source,
                category,
                until,
            },
        );
        *self.stats.bans.entry(category).or_insert(0) += 1;
        self.events.push(Event::Banned {
            source,
            category,
            until,
        });
        true
    }

    /// Whether `source` is banned at `now` (an expired ban is lifted here).
    pub fn is_banned(&mut self, source: IpAddr, now: Instant) -> bool {
        match self.bans.get(&source) {
            Some(b) if b.until > now => true,
            Some(_) => {
                self.bans.remove(&source);
                self.events.push(Event::Unbanned { source });
                false
            }
            None => false,
        }
    }

    /// The bans in force at `now`, soonest to end first.
    pub fn bans(&self, now: Instant) -> Vec<Ban> {
        let mut v: Vec<Ban> = self
            .bans
            .values()
            .filter(|b| b.until > now)
            .copied()
            .collect();
        v.sort_by_key(|b| b.until);
        v
    }

    /// Lifts the ban on `source` (the operator interface); whether there was one.
    pub fn unban(&mut self, source: IpAddr) -> bool {
        let was = self.bans.remove(&source).is_some();
        if was {
            self.events.push(Event::Unbanned { source });
        }
        was
    }

    /// Lifts expired bans and forgets failures older than their window (call about once a
    /// second).
    pub fn expire(&mut self, now: Instant) {
        let ended: Vec<IpAddr> = self
            .bans
            .values()
            .filter(|b| b.until <= now)
            .map(|b| b.source)
            .collect();
        for source in ended {
            self.bans.remove(&source);
            self.events.push(Event::Unbanned { source });
        }
        let rules = &self.config.rules;
        self.failures.retain(|(_, c), times| {
            let window = rules.get(c).map_or(Duration::ZERO, |r| r.window);
            times
                .back()
                .is_some_and(|t| now.saturating_duration_since(*t) <= window)
        });
        let failures = &self.failures;
        self.order.retain(|k| failures.contains_key(k));
    }

    /// What changed since the last call (drained).
    pub fn poll_event(&mut self) -> Option<Event> {
        if self.events.is_empty() {
            None
        } else {
            Some(self.events.remove(0))
        }
    }

    /// Prometheus text lines.
    pub fn metrics(&self, now: Instant, out: &mut String) {
        for c in Category::ALL {
            let f = self.stats.failures.get(&c).copied().unwrap_or(0);
            let b = self.stats.bans.get(&c).copied().unwrap_or(0);
            out.push_str(&format!(
                "portico_protection_failures_total{{category=\"{c}\"}} {f}\n\
                 portico_protection_bans_total{{category=\"{c}\"}} {b}\n"
            ));
        }
        out.push_str(&format!(
            "portico_protection_banned {}\nportico_protection_exempt_total {}\n\
             portico_protection_evicted_total {}\n",
            self.bans(now).len(),
            self.stats.exempt,
            self.stats.evicted
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn threshold_within_the_window_bans_and_the_ban_ends() {
        let mut p = Protection::new(ProtectionConfig::default());
        let t0 = Instant::now();
        let src = ip("198.18.1.10");
        for k in 0..4 {
            assert!(!p.report(src, Category::HttpAuthFailure, t0 + Duration::from_secs(k)));
        }
        assert!(p.report(src, Category::HttpAuthFailure, t0 + Duration::from_secs(5)));
        assert_eq!(
            p.poll_event(),
            Some(Event::Banned {
                source: src,
                category: Category::HttpAuthFailure,
                until: t0 + Duration::from_secs(605),
            })
        );
        assert!(p.is_banned(src, t0 + Duration::from_secs(604)));
        assert!(!p.is_banned(ip("198.18.1.11"), t0), "only that source");
        assert_eq!(p.bans(t0 + Duration::from_secs(10)).len(), 1);
        p.expire(t0 + Duration::from_secs(606));
        assert!(!p.is_banned(src, t0 + Duration::from_secs(606)));
        assert_eq!(p.poll_event(), Some(Event::Unbanned { source: src }));
        let mut m = String::new();
        p.metrics(t0, &mut m);
        assert!(m.contains("portico_protection_bans_total{category=\"http_auth_failure\"} 1"));
        assert!(m.contains("portico_protection_failures_total{category=\"http_auth_failure\"} 5"));
    }

    #[test]
    fn failures_outside_the_window_do_not_add_up() {
        let mut p = Protection::new(ProtectionConfig::default());
        let t0 = Instant::now();
        let src = ip("198.18.1.10");
        // One failure every 20 s: never 5 within 60 s.
        for k in 0..20 {
            assert!(!p.report(
                src,
                Category::HttpAuthFailure,
                t0 + Duration::from_secs(20 * k)
            ));
        }
        // Categories count apart.
        for k in 0..4 {
            p.report(src, Category::SipAuthFailure, t0 + Duration::from_secs(k));
        }
        assert!(!p.is_banned(src, t0 + Duration::from_secs(5)));
    }

    #[test]
    fn resource_access_failures_are_off_by_default_and_exemptions_hold() {
        let mut cfg = ProtectionConfig::default();
        cfg.exemptions
            .push(Exemption::parse("198.18.2.0/24").unwrap());
        let mut p = Protection::new(cfg);
        let t0 = Instant::now();
        for _ in 0..100 {
            assert!(!p.report(ip("198.18.1.10"), Category::HttpResourceAccessFailure, t0));
            assert!(!p.report(ip("198.18.2.10"), Category::HttpAuthFailure, t0));
        }
        assert_eq!(p.stats().exempt, 100);
        assert!(p.bans(t0).is_empty());
    }

    #[test]
    fn the_operator_lifts_a_ban() {
        let mut p = Protection::new(ProtectionConfig::default());
        let t0 = Instant::now();
        let src = ip("2001:db8::7");
        for _ in 0..10 {
            p.report(src, Category::HttpProtocolViolation, t0);
        }
        assert!(p.is_banned(src, t0));
        assert!(p.unban(src));
        assert!(!p.unban(src));
        assert!(!p.is_banned(src, t0));
    }

    #[test]
    fn memory_is_bounded() {
        let cfg = ProtectionConfig {
            max_sources: 3,
            ..ProtectionConfig::default()
        };
        let mut p = Protection::new(cfg);
        let t0 = Instant::now();
        for i in 0..50u8 {
            p.report(IpAddr::from([198, 18, 1, i]), Category::HttpAuthFailure, t0);
        }
        assert!(p.failures.len() <= 3);
        assert_eq!(p.stats().evicted, 47);
        p.expire(t0 + Duration::from_secs(61));
        assert!(p.failures.is_empty() && p.order.is_empty());
    }

    #[test]
    fn exemptions_parse_and_match() {
        let e = Exemption::parse("10.0.0.0/8").unwrap();
        assert!(e.contains(ip("10.200.1.1")) && !e.contains(ip("11.0.0.1")));
        assert!(!e.contains(ip("::ffff:10.0.0.1")), "families apart");
        let all = Exemption::parse("0.0.0.0/0").unwrap();
        assert!(all.contains(ip("203.0.113.9")));
        let one = Exemption::parse("2001:db8::1").unwrap();
        assert!(one.contains(ip("2001:db8::1")) && !one.contains(ip("2001:db8::2")));
        for bad in ["10.0.0.0/33", "x/8", "10.0.0.0/", "::/129"] {
            assert!(Exemption::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Category::from_name("xmpp_protocol_violation"),
            Some(Category::XmppProtocolViolation)
        );
        assert_eq!(Category::from_name("nope"), None);
    }
}
