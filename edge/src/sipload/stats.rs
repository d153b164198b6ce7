//! What `edge sipload` counts and how its summary is computed: registrations per phase,
//! failures by reason, latency percentiles, rates, and the keepalive bookkeeping of one flow.
//! No clock and no I/O here: durations and latencies come from the driver.

use std::collections::BTreeMap;

use serde_json::{json, Value};

/// Registrations of one kind: the first of each user (`initial`, over a new TLS connection), or
/// the later ones on the held flows (`refresh`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Bucket {
    /// Registrations started (a challenge answered does not start another).
    pub(crate) attempted: u64,
    /// Ended with a 2xx.
    pub(crate) succeeded: u64,
    /// Ended otherwise, by reason: the status code (`"403"`), or `timeout` (no final response
    /// within the transaction timeout), `connect` / `connect_timeout` / `tls` (the flow could not
    /// be opened), `closed` (the flow went away with the registration in flight), `write`,
    /// `busy` (a refresh slot came while the previous registration was still in flight: it is
    /// skipped, RFC 3261 §10.2).
    pub(crate) failed: BTreeMap<String, u64>,
    /// Latency of each successful registration, µs, from its scheduled time (so that the
    /// generator's own lateness counts against it) to the 2xx.
    pub(crate) latencies_us: Vec<u64>,
}

impl Bucket {
    pub(crate) fn fail(&mut self, reason: &str) {
        *self.failed.entry(reason.to_owned()).or_default() += 1;
    }

    pub(crate) fn failures(&self) -> u64 {
        self.failed.values().sum()
    }

    /// The bucket as JSON, `seconds` being the window the rate is taken over.
    pub(crate) fn summary(&self, seconds: f64, offered: Option<u64>) -> Value {
        let mut lat = self.latencies_us.clone();
        lat.sort_unstable();
        let ms = |q: f64| percentile(&lat, q).map(|us| us as f64 / 1000.0);
        let mut v = json!({
            "attempted": self.attempted,
            "succeeded": self.succeeded,
            "failed": self.failures(),
            "failed_by_reason": self.failed,
            "window_s": round3(seconds),
            "per_second": round3(rate(self.succeeded, seconds)),
            "latency_ms": {
                "p50": ms(0.50),
                "p90": ms(0.90),
                "p99": ms(0.99),
                "max": lat.last().map(|us| *us as f64 / 1000.0),
            },
        });
        if let Some(o) = offered {
            v["offered"] = json!(o);
            v["failure_ratio"] = json!(round6(failure_ratio(o, self.succeeded)));
        } else {
            v["failure_ratio"] = json!(round6(failure_ratio(self.attempted, self.succeeded)));
        }
        v
    }
}

/// The value at quantile `q` of sorted samples (nearest rank: the smallest sample with at least
/// `q` of the samples at or below it); `None` without samples.
pub(crate) fn percentile(sorted: &[u64], q: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    sorted
        .get(rank.saturating_sub(1).min(sorted.len() - 1))
        .copied()
}

/// Events per second; 0 over an empty window.
pub(crate) fn rate(count: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

/// The share of `offered` that did not succeed (0 when nothing was offered).
pub(crate) fn failure_ratio(offered: u64, succeeded: u64) -> f64 {
    if offered == 0 {
        0.0
    } else {
        offered.saturating_sub(succeeded) as f64 / offered as f64
    }
}

/// Refresh slots in a hold of `seconds` at `rate` per second over `users` phones: phone `j` has
/// its slots at `j/rate + k·users/rate` (k = 0, 1, …) after the hold starts, so the whole
/// population is swept once every `users/rate` seconds and the offered rate is exactly `rate`.
pub(crate) fn refresh_slot(j: u32, users: u32, rate: f64, k: u64) -> f64 {
    (f64::from(j) + k as f64 * f64::from(users)) / rate
}

/// How many refresh slots fall inside the hold window (the offered refreshes).
pub(crate) fn refresh_offered(users: u32, rate: f64, seconds: f64) -> u64 {
    if rate <= 0.0 || users == 0 || seconds <= 0.0 {
        return 0;
    }
    let period = f64::from(users) / rate;
    (0..users)
        .map(|j| {
            let first = f64::from(j) / rate;
            if first >= seconds {
                0
            } else {
                ((seconds - first) / period).ceil() as u64
            }
        })
        .sum()
}

/// CRLF keepalives of one flow (RFC 5626 §3.5.1). The client pings with `CRLF CRLF` and the
/// edge answers with one `CRLF`; the framer (client role) hands every CRLF over as a pong. A
/// CRLF while no ping is outstanding is the edge pinging us: two in a row are a ping, answered
/// with a CRLF.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Keepalive {
    outstanding: u32,
    unsolicited: u8,
    pub(crate) pings_sent: u64,
    pub(crate) pongs: u64,
    pub(crate) pings_answered: u64,
}

impl Keepalive {
    /// A ping was sent.
    pub(crate) fn sent_ping(&mut self) {
        self.outstanding = self.outstanding.saturating_add(1);
        self.pings_sent += 1;
    }

    /// A CRLF arrived; `true` when the caller must answer it with a CRLF.
    #[must_use]
    pub(crate) fn on_crlf(&mut self) -> bool {
        if self.outstanding > 0 {
            self.outstanding -= 1;
            self.pongs += 1;
            return false;
        }
        self.unsolicited += 1;
        if self.unsolicited == 2 {
            self.unsolicited = 0;
            self.pings_answered += 1;
            return true;
        }
        false
    }

    /// A message arrived: a lone CRLF before it was a stray one, not half a ping.
    pub(crate) fn on_message(&mut self) {
        self.unsolicited = 0;
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_nearest_rank() {
        assert_eq!(percentile(&[], 0.5), None);
        assert_eq!(percentile(&[7], 0.99), Some(7));
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.50), Some(50));
        assert_eq!(percentile(&v, 0.99), Some(99));
        assert_eq!(percentile(&v, 1.0), Some(100));
        assert_eq!(percentile(&v, 0.0), Some(1));
        let v: Vec<u64> = (1..=1000).collect();
        assert_eq!(percentile(&v, 0.999), Some(999));
        assert_eq!(percentile(&[1, 2, 3], 0.5), Some(2));
    }

    #[test]
    fn rates_and_ratios() {
        assert_eq!(rate(1000, 2.0), 500.0);
        assert_eq!(rate(5, 0.0), 0.0);
        assert_eq!(failure_ratio(0, 0), 0.0);
        assert_eq!(failure_ratio(200, 198), 0.01);
        assert_eq!(
            failure_ratio(10, 12),
            0.0,
            "more successes than offered: none failed"
        );
    }

    #[test]
    fn refresh_slots_sweep_the_population_at_the_rate() {
        // 1000 phones at 500/s: a sweep every 2 s; in 5 s phones 0..499 get 3 slots (0, 2,
        // 4 s + j/500), the rest 2: 2500 slots, exactly rate × seconds.
        assert_eq!(refresh_offered(1000, 500.0, 5.0), 2500);
        assert_eq!(refresh_offered(1000, 500.0, 2.0), 1000);
        assert_eq!(refresh_offered(100, 1000.0, 1.0), 1000);
        assert_eq!(refresh_offered(0, 1000.0, 1.0), 0);
        assert_eq!(refresh_offered(10, 0.0, 1.0), 0);
        assert!((refresh_slot(3, 1000, 500.0, 2) - (3.0 + 2000.0) / 500.0).abs() < 1e-12);
    }

    #[test]
    fn bucket_summary() {
        let mut b = Bucket {
            attempted: 200,
            succeeded: 198,
            latencies_us: (1..=198).map(|i| i * 1000).collect(),
            ..Bucket::default()
        };
        b.fail("timeout");
        b.fail("503");
        assert_eq!(b.failures(), 2);
        let v = b.summary(2.0, None);
        assert_eq!(v["per_second"], 99.0);
        assert_eq!(v["failure_ratio"], 0.01);
        assert_eq!(v["failed_by_reason"]["503"], 1);
        assert_eq!(v["latency_ms"]["p50"], 99.0);
        assert_eq!(v["latency_ms"]["p99"], 197.0);
        assert_eq!(v["latency_ms"]["max"], 198.0);
        let v = b.summary(2.0, Some(400));
        assert_eq!(v["offered"], 400);
        assert_eq!(v["failure_ratio"], 0.505);
        let empty = Bucket::default().summary(0.0, None);
        assert_eq!(empty["latency_ms"]["p99"], Value::Null);
        assert_eq!(empty["per_second"], 0.0);
    }

    #[test]
    fn keepalive_pongs_and_pings() {
        let mut k = Keepalive::default();
        k.sent_ping();
        assert!(!k.on_crlf(), "the pong to our ping");
        assert_eq!(k.pongs, 1);
        // The edge pings: CRLF CRLF arrives as two CRLFs; answered once.
        assert!(!k.on_crlf());
        assert!(k.on_crlf());
        assert_eq!(k.pings_answered, 1);
        // A stray CRLF before a message is not half a ping.
        assert!(!k.on_crlf());
        k.on_message();
        assert!(!k.on_crlf());
        assert_eq!(k.pings_answered, 1);
    }
}
