//! E's media for calls: its media plane allocates, for each stream C asks for on the traversal
//! control stream, a client-facing port pair from the media range and a leg on a multiplexed
//! traversal pair, joined in passthrough (E never decrypts: SRTP goes through as it came, C does
//! the SRTP work). Both legs latch to their first packet: the client's address is learnt from
//! the client, C's from C.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use media::relay::engine::LegConfig;
use media::relay::port_alloc::AllocError;
use media::runtime::{LegPorts, LegRef, LegRequest, MediaPlane, PlaneError};
use signaling::traversal::control::{
    MediaAllocator, MediaCall, MediaUsage, RefusalCode, StreamAllocation,
};

use crate::xdp::Xdp;

/// E's media plane behind the control stream.
/// One call's media at E.
struct ECall {
    legs: Vec<LegRef>,
    started: Instant,
    wall: SystemTime,
}

/// Ended calls E keeps for its status (the guide's "call history": the last 500).
const HISTORY: usize = 500;

pub(crate) struct EMedia {
    plane: MediaPlane,
    /// E's client-facing media address (what C writes into the SDP it sends outside).
    address: IpAddr,
    /// The legs of each call, to release them.
    calls: Mutex<HashMap<u64, ECall>>,
    /// The last calls ended, oldest first.
    history: Mutex<VecDeque<MediaCall>>,
    /// The XDP program in front of the plane, held as long as the plane runs.
    _xdp: Xdp,
}

impl EMedia {
    pub(crate) fn new(plane: MediaPlane, address: IpAddr, xdp: Xdp) -> Self {
        Self {
            plane,
            address,
            calls: Mutex::new(HashMap::new()),
            history: Mutex::new(VecDeque::new()),
            _xdp: xdp,
        }
    }

    fn release_legs(&self, legs: &[LegRef]) {
        for leg in legs {
            let _ = self.plane.release(*leg);
        }
    }
}

/// A `Retry-After` in milliseconds for an exhausted range (a second when nothing is in
/// quarantine: only a release helps, and the caller should not hammer).
fn retry_ms(e: &AllocError) -> u32 {
    let d = match e {
        AllocError::Exhausted { retry_after, .. } => *retry_after,
        _ => None,
    }
    .unwrap_or(Duration::from_secs(1));
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX).max(1)
}

impl MediaAllocator for EMedia {
    fn allocate(
        &self,
        call: u64,
        streams: u8,
    ) -> Result<(IpAddr, Vec<StreamAllocation>), (RefusalCode, u32)> {
        let mut calls = self
            .calls
            .lock()
            .map_err(|_| (RefusalCode::BadRequest, 0))?;
        if calls.contains_key(&call) {
            return Err((RefusalCode::BadRequest, 0));
        }
        let mut legs = Vec::new();
        let mut out = Vec::new();
        for _ in 0..streams {
            let client = LegRequest {
                ports: LegPorts::Allocate { rtcp_mux: false },
                leg: LegConfig::plain(0, None),
            };
            let traversal = LegRequest {
                ports: LegPorts::Mux {
                    pair: None,
                    id: None,
                },
                leg: LegConfig::plain(0, None),
            };
            match self.plane.allocate(client, traversal) {
                Ok(c) => {
                    let [client, traversal] = c.legs;
                    legs.push(client.leg);
                    out.push(StreamAllocation {
                        client_port: client.rtp_port,
                        mux_pair: traversal.rtp_port,
                        mux_id: traversal.mux_id.unwrap_or(0),
                    });
                }
                Err(e) => {
                    self.release_legs(&legs);
                    return Err(match e {
                        PlaneError::Exhausted(a) => (RefusalCode::Exhausted, retry_ms(&a)),
                        _ => (RefusalCode::BadRequest, 0),
                    });
                }
            }
        }
        calls.insert(
            call,
            ECall {
                legs,
                started: Instant::now(),
                wall: SystemTime::now(),
            },
        );
        Ok((self.address, out))
    }

    fn usage(&self) -> MediaUsage {
        let st = self.plane.plane_stats();
        MediaUsage {
            calls: self.calls.lock().map_or(0, |c| c.len()),
            legs: st.calls * 2,
            ports_in_use: st.ports_in_use,
        }
    }

    fn release(&self, call: u64) -> Result<(), RefusalCode> {
        let c = self
            .calls
            .lock()
            .map_err(|_| RefusalCode::BadRequest)?
            .remove(&call)
            .ok_or(RefusalCode::UnknownCall)?;
        self.release_legs(&c.legs);
        if let Ok(mut h) = self.history.lock() {
            h.push_back(MediaCall {
                call,
                streams: c.legs.len(),
                started: c.wall,
                duration: c.started.elapsed(),
            });
            while h.len() > HISTORY {
                h.pop_front();
            }
        }
        Ok(())
    }

    fn calls(&self) -> (Vec<MediaCall>, Vec<MediaCall>) {
        let current = self
            .calls
            .lock()
            .map(|m| {
                m.iter()
                    .map(|(id, c)| MediaCall {
                        call: *id,
                        streams: c.legs.len(),
                        started: c.wall,
                        duration: c.started.elapsed(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let history = self
            .history
            .lock()
            .map(|h| h.iter().rev().cloned().collect())
            .unwrap_or_default();
        (current, history)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use media::relay::port_alloc::PortRange;
    use media::runtime::{BackendChoice, PlaneConfig};

    /// A plane with room for three client pairs (below the ephemeral ports), one traversal pair.
    fn plane() -> MediaPlane {
        let mut cfg = PlaneConfig {
            backend: BackendChoice::Sockets,
            bind_ip: IpAddr::from([127, 0, 0, 1]),
            mux_pairs: vec![21300],
            ..PlaneConfig::default()
        };
        cfg.ports.range = PortRange::new(21300, 21307).unwrap();
        cfg.ports.quarantine = Duration::from_secs(30);
        MediaPlane::spawn(cfg).unwrap()
    }

    #[test]
    fn streams_get_client_ports_and_mux_ids_and_come_back() {
        let m = EMedia::new(
            plane(),
            IpAddr::from([198, 18, 1, 1]),
            Xdp::Off("not in this test".into()),
        );
        let (addr, s) = m.allocate(1, 2).unwrap();
        assert_eq!(addr, IpAddr::from([198, 18, 1, 1]));
        assert_eq!(s.len(), 2);
        assert_ne!(s[0].client_port, s[1].client_port);
        assert!(s
            .iter()
            .all(|x| x.mux_pair == 21300 && x.client_port % 2 == 0));
        assert_ne!(s[0].mux_id, s[1].mux_id);
        assert_eq!(
            m.allocate(1, 1),
            Err((RefusalCode::BadRequest, 0)),
            "call id in use"
        );
        assert_eq!(m.plane.plane_stats().ports_in_use, 2, "two client pairs");
        // One pair left: two streams do not fit, and the half-made call is undone.
        let (code, retry) = m.allocate(2, 2).unwrap_err();
        assert_eq!(code, RefusalCode::Exhausted);
        assert!(retry >= 1);
        assert_eq!(m.plane.plane_stats().ports_in_use, 2, "two client pairs");
        let (current, _) = m.calls();
        assert_eq!(current.len(), 1);
        m.release(1).unwrap();
        assert_eq!(m.plane.plane_stats().ports_in_use, 0);
        let (current, history) = m.calls();
        assert!(current.is_empty());
        assert_eq!((history[0].call, history[0].streams), (1, 2));
        assert_eq!(m.release(1), Err(RefusalCode::UnknownCall));
        // Released pairs are in quarantine: the refusal says when to come back.
        let (code, retry) = m.allocate(3, 3).unwrap_err();
        assert_eq!(code, RefusalCode::Exhausted);
        assert!(retry > 20_000, "{retry}");
    }
}
