//! The media plane's port events written into the program's port table.
//!
//! [`XdpPortTable`] wraps an [`XdpSteering`] and implements the media plane's
//! [`PortObserver`]: a port with a leg's socket becomes [`PortState::Allocated`] on its worker's
//! CPU, a traversal port [`PortState::Traversal`], a released one [`PortState::Quarantined`].
//! Hand it to `MediaPlane::set_port_observer` after attaching; the plane replays the ports in
//! use, then reports each change, in order. A worker that is not pinned to a CPU has no CPU to
//! steer to: its ports are steered to CPU 0 and steering should be off (the packets then take
//! the kernel's path, still filtered).
//!
//! A failed map write cannot be answered (the plane is mid-allocation, and the call must not
//! fail because of its filter): it is counted ([`XdpPortTable::write_errors`]) and the port
//! keeps its previous state, so at worst the port's datagrams are dropped, which a call in
//! trouble shows at once. The steering is behind a mutex, taken on the control path only.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use media::runtime::{PortEvent, PortObserver};

use crate::{PortState, XdpSteering};

/// An [`XdpSteering`] kept in step with a media plane. See the [module docs](self).
#[derive(Debug)]
pub struct XdpPortTable {
    steering: Mutex<XdpSteering>,
    write_errors: AtomicU64,
}

impl XdpPortTable {
    /// Wraps a loaded (and usually attached) program.
    pub fn new(steering: XdpSteering) -> XdpPortTable {
        XdpPortTable {
            steering: Mutex::new(steering),
            write_errors: AtomicU64::new(0),
        }
    }

    /// The program, to attach, detach, ban or read counters. Do not hold it across a call into
    /// the media plane (the plane calls this table under its own lock).
    pub fn steering(&self) -> MutexGuard<'_, XdpSteering> {
        // A panic while holding the lock leaves the maps as the kernel has them: go on.
        self.steering.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Port events whose map write failed.
    pub fn write_errors(&self) -> u64 {
        self.write_errors.load(Ordering::Relaxed)
    }
}

/// The port table state for a plane event.
pub fn port_state(event: PortEvent) -> (u16, PortState) {
    let cpu = |c: Option<usize>| c.and_then(|c| u32::try_from(c).ok()).unwrap_or(0);
    match event {
        PortEvent::Open { port, cpu: c } => (port, PortState::Allocated { cpu: cpu(c) }),
        PortEvent::Traversal { port, cpu: c } => (port, PortState::Traversal { cpu: cpu(c) }),
        PortEvent::Quarantined { port } => (port, PortState::Quarantined),
    }
}

impl PortObserver for XdpPortTable {
    fn port_event(&self, event: PortEvent) {
        let (port, state) = port_state(event);
        if self.steering().set_port(port, state).is_err() {
            self.write_errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plane_events_become_port_states() {
        assert_eq!(
            port_state(PortEvent::Open {
                port: 40000,
                cpu: Some(3)
            }),
            (40000, PortState::Allocated { cpu: 3 })
        );
        assert_eq!(
            port_state(PortEvent::Traversal {
                port: 36000,
                cpu: None
            }),
            (36000, PortState::Traversal { cpu: 0 })
        );
        assert_eq!(
            port_state(PortEvent::Quarantined { port: 40001 }),
            (40001, PortState::Quarantined)
        );
    }
}
