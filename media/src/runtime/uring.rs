//! Temporary stand-in: the io_uring backend is being written. Always unavailable.
use std::io;
use std::net::UdpSocket;
use std::time::Duration;

use super::{Datagram, Io, IoCounters};
use crate::relay::engine::Transmit;

pub(crate) struct UringIo;

impl UringIo {
    pub(crate) fn new(_batch: usize) -> io::Result<UringIo> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "io_uring backend not built yet",
        ))
    }
}

impl Io for UringIo {
    fn add(&mut self, _port: u16, _socket: UdpSocket) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "io_uring backend not built yet",
        ))
    }
    fn remove(&mut self, _port: u16) {}
    fn poll(
        &mut self,
        _t: Duration,
        _h: &mut dyn FnMut(Datagram<'_>) -> Option<Transmit>,
    ) -> io::Result<()> {
        Ok(())
    }
    fn counters(&self) -> IoCounters {
        IoCounters::default()
    }
}
