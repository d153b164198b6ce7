//! The socket fallback backend: epoll over non-blocking UDP sockets, `recvmmsg` to receive a
//! batch, `sendmmsg` to send what the relay returns, grouped per source socket.
//!
//! Every buffer, `mmsghdr`, `iovec` and address is allocated once in [`SocketIo::new`]. The
//! receive buffers of a batch are sent from before the next batch is received into them.

use std::collections::HashMap;
use std::io;
use std::mem::{size_of, zeroed};
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use super::{Datagram, Io, IoCounters, BUF_SIZE};
use crate::relay::engine::{Transmit, HEADROOM};

/// Most epoll events read per wait.
const EVENTS: usize = 64;
/// Most `recvmmsg` rounds per ready socket per poll, so one busy socket cannot starve others.
const ROUNDS: usize = 4;

/// `n` `mmsghdr`s with their `iovec`s and address storage, allocated once. [`MsgArrays::set`]
/// points entry `i` at a buffer before each `recvmmsg`/`sendmmsg`.
struct MsgArrays {
    names: Box<[libc::sockaddr_storage]>,
    iov: Box<[libc::iovec]>,
    msgs: Box<[libc::mmsghdr]>,
}

/// Address length that lets the kernel write any address (receives).
const ANY_NAME: libc::socklen_t = size_of::<libc::sockaddr_storage>() as libc::socklen_t;

impl MsgArrays {
    fn new(n: usize) -> MsgArrays {
        // SAFETY: all-zero is a valid value for these plain C structs.
        let storage: libc::sockaddr_storage = unsafe { zeroed() };
        // SAFETY: as above.
        let msg: libc::mmsghdr = unsafe { zeroed() };
        let iov = libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        };
        MsgArrays {
            names: vec![storage; n].into_boxed_slice(),
            iov: vec![iov; n].into_boxed_slice(),
            msgs: vec![msg; n].into_boxed_slice(),
        }
    }

    /// Points entry `i` at `len` bytes at `buf`, with `name_len` bytes of its address storage
    /// ([`ANY_NAME`] to receive; what [`write_sockaddr`] returned to send).
    fn set(&mut self, i: usize, buf: *mut u8, len: usize, name_len: libc::socklen_t) {
        self.iov[i] = libc::iovec {
            iov_base: buf.cast(),
            iov_len: len,
        };
        let h = &mut self.msgs[i].msg_hdr;
        h.msg_name = (&mut self.names[i] as *mut libc::sockaddr_storage).cast();
        h.msg_namelen = name_len;
        h.msg_iov = &mut self.iov[i];
        h.msg_iovlen = 1;
        h.msg_control = std::ptr::null_mut();
        h.msg_controllen = 0;
        h.msg_flags = 0;
        self.msgs[i].msg_len = 0;
    }
}

pub(crate) struct SocketIo {
    epoll: OwnedFd,
    sockets: HashMap<u16, UdpSocket>,
    batch: usize,
    bufs: Box<[u8]>,
    rx: MsgArrays,
    /// Forwards of the current batch: (buffer index, transmit).
    out: Vec<(usize, Transmit)>,
    tx: MsgArrays,
    events: Box<[libc::epoll_event]>,
    counters: IoCounters,
}

// SAFETY: the raw pointers inside the iovec/mmsghdr arrays point only into this struct's own
// boxed buffers, which move with it; the struct is used by one thread at a time.
unsafe impl Send for SocketIo {}

impl SocketIo {
    pub(crate) fn new(batch: usize) -> io::Result<SocketIo> {
        // SAFETY: epoll_create1 takes a flag and returns a new fd or -1.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh, valid descriptor that nothing else owns.
        let epoll = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(SocketIo {
            epoll,
            sockets: HashMap::new(),
            batch,
            bufs: vec![0u8; batch * BUF_SIZE].into_boxed_slice(),
            rx: MsgArrays::new(batch),
            out: Vec::with_capacity(batch),
            tx: MsgArrays::new(batch),
            events: vec![libc::epoll_event { events: 0, u64: 0 }; EVENTS].into_boxed_slice(),
            counters: IoCounters::default(),
        })
    }

    /// Receives up to a batch on `fd` into the buffers (after the headroom). Returns how many.
    fn receive(&mut self, fd: RawFd) -> io::Result<usize> {
        for i in 0..self.batch {
            let buf = self.bufs[i * BUF_SIZE + HEADROOM..].as_mut_ptr();
            self.rx.set(i, buf, super::MAX_DATAGRAM, ANY_NAME);
        }
        // SAFETY: rx holds `batch` initialised headers whose name and iovec pointers point
        // into this struct's own buffers, each iovec no longer than its buffer slot.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                self.rx.msgs.as_mut_ptr(),
                self.batch as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }

    /// Sends the batch's forwards, one `sendmmsg` per source socket.
    fn flush(&mut self) {
        let mut done = 0;
        while done < self.out.len() {
            let src_port = self.out[done].1.src_port;
            let Some(fd) = self.sockets.get(&src_port).map(AsRawFd::as_raw_fd) else {
                self.counters.send_errors += 1;
                done += 1;
                continue;
            };
            // The run of forwards from the same port (the relay groups nothing; a call's
            // packets usually come in runs, and the rest simply takes more calls).
            let mut n = 0;
            while done + n < self.out.len() && self.out[done + n].1.src_port == src_port {
                let (buf_index, t) = self.out[done + n];
                let base = buf_index * BUF_SIZE;
                let len = write_sockaddr(&t.dst, &mut self.tx.names[n]);
                let buf = self.bufs[base + t.start..].as_mut_ptr();
                self.tx.set(n, buf, t.len, len);
                n += 1;
            }
            let mut sent = 0;
            while sent < n {
                // SAFETY: tx.msgs[sent..n] are initialised headers pointing into our own
                // buffers (start + len within the slot, as the relay guarantees).
                let r = unsafe {
                    libc::sendmmsg(
                        fd,
                        self.tx.msgs[sent..].as_mut_ptr(),
                        (n - sent) as libc::c_uint,
                        libc::MSG_DONTWAIT,
                    )
                };
                if r <= 0 {
                    // The first message of the rest failed (buffer full, unreachable): count it
                    // and go on with the next.
                    self.counters.send_errors += 1;
                    sent += 1;
                } else {
                    self.counters.sent += r as u64;
                    sent += r as usize;
                }
            }
            done += n;
        }
        self.out.clear();
    }
}

impl Io for SocketIo {
    fn add(&mut self, port: u16, socket: UdpSocket) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: u64::from(port),
        };
        // SAFETY: both fds are valid; ev is a valid epoll_event.
        let r = unsafe {
            libc::epoll_ctl(
                self.epoll.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                socket.as_raw_fd(),
                &mut ev,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        self.sockets.insert(port, socket);
        Ok(())
    }

    fn remove(&mut self, port: u16) {
        if let Some(s) = self.sockets.remove(&port) {
            // SAFETY: both fds are valid; a null event is allowed for EPOLL_CTL_DEL.
            unsafe {
                libc::epoll_ctl(
                    self.epoll.as_raw_fd(),
                    libc::EPOLL_CTL_DEL,
                    s.as_raw_fd(),
                    std::ptr::null_mut(),
                );
            }
        }
    }

    fn poll(
        &mut self,
        timeout: Duration,
        handle: &mut dyn FnMut(Datagram<'_>) -> Option<Transmit>,
    ) -> io::Result<()> {
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: events has EVENTS entries; the epoll fd is valid.
        let n = unsafe {
            libc::epoll_wait(
                self.epoll.as_raw_fd(),
                self.events.as_mut_ptr(),
                EVENTS as i32,
                ms,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(())
            } else {
                Err(e)
            };
        }
        for e in 0..n as usize {
            let port = self.events[e].u64 as u16;
            let Some(fd) = self.sockets.get(&port).map(AsRawFd::as_raw_fd) else {
                continue;
            };
            for _ in 0..ROUNDS {
                let got = match self.receive(fd) {
                    Ok(k) => k,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
                    Err(_) => {
                        self.counters.receive_errors += 1;
                        0
                    }
                };
                for i in 0..got {
                    let m = &self.rx.msgs[i];
                    let len = m.msg_len as usize;
                    let truncated = m.msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
                    let namelen = m.msg_hdr.msg_namelen;
                    self.counters.received += 1;
                    let Some(src) = read_sockaddr(&self.rx.names[i], namelen) else {
                        continue;
                    };
                    if truncated {
                        continue;
                    }
                    let base = i * BUF_SIZE;
                    let buf = &mut self.bufs[base..base + BUF_SIZE];
                    if let Some(t) = handle(Datagram {
                        port,
                        src,
                        buf,
                        start: HEADROOM,
                        len,
                    }) {
                        self.out.push((i, t));
                    }
                }
                self.flush();
                if got < self.batch {
                    break;
                }
            }
        }
        Ok(())
    }

    fn counters(&self) -> IoCounters {
        self.counters
    }
}

/// Reads a socket address the kernel wrote.
pub(crate) fn read_sockaddr(
    s: &libc::sockaddr_storage,
    len: libc::socklen_t,
) -> Option<SocketAddr> {
    match i32::from(s.ss_family) {
        libc::AF_INET if len as usize >= size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family says the storage holds a sockaddr_in, and it is long enough.
            let a: &libc::sockaddr_in = unsafe { &*(s as *const libc::sockaddr_storage).cast() };
            Some(SocketAddr::V4(SocketAddrV4::new(
                u32::from_be(a.sin_addr.s_addr).into(),
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 if len as usize >= size_of::<libc::sockaddr_in6>() => {
            // SAFETY: the family says the storage holds a sockaddr_in6, and it is long enough.
            let a: &libc::sockaddr_in6 = unsafe { &*(s as *const libc::sockaddr_storage).cast() };
            Some(SocketAddr::V6(SocketAddrV6::new(
                a.sin6_addr.s6_addr.into(),
                u16::from_be(a.sin6_port),
                u32::from_be(a.sin6_flowinfo),
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// Writes `addr` as a C socket address; returns its length.
pub(crate) fn write_sockaddr(addr: &SocketAddr, s: &mut libc::sockaddr_storage) -> libc::socklen_t {
    match addr {
        SocketAddr::V4(a) => {
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            let out: &mut libc::sockaddr_in =
                unsafe { &mut *(s as *mut libc::sockaddr_storage).cast() };
            out.sin_family = libc::AF_INET as libc::sa_family_t;
            out.sin_port = a.port().to_be();
            out.sin_addr = libc::in_addr {
                s_addr: u32::from(*a.ip()).to_be(),
            };
            out.sin_zero = [0; 8];
            size_of::<libc::sockaddr_in>() as libc::socklen_t
        }
        SocketAddr::V6(a) => {
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            let out: &mut libc::sockaddr_in6 =
                unsafe { &mut *(s as *mut libc::sockaddr_storage).cast() };
            out.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            out.sin6_port = a.port().to_be();
            out.sin6_flowinfo = a.flowinfo().to_be();
            out.sin6_addr = libc::in6_addr {
                s6_addr: a.ip().octets(),
            };
            out.sin6_scope_id = a.scope_id();
            size_of::<libc::sockaddr_in6>() as libc::socklen_t
        }
    }
}

/// Pins the calling thread to `core`.
pub fn pin_to_core(core: usize) -> io::Result<()> {
    // SAFETY: cpu_set_t is a plain bit set; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { zeroed() };
    if core >= 8 * size_of::<libc::cpu_set_t>() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("no CPU {core}"),
        ));
    }
    // SAFETY: core is within the set's size, checked above.
    unsafe { libc::CPU_SET(core, &mut set) };
    // SAFETY: pid 0 is the calling thread; set is a valid cpu_set_t of the size given.
    let r = unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A UDP socket that sends and receives in batches (`sendmmsg`/`recvmmsg`), for load
/// generators and test peers. Buffers are allocated once.
pub struct UdpBatch {
    socket: UdpSocket,
    capacity: usize,
    bufs: Box<[u8]>,
    m: MsgArrays,
    lens: Box<[usize]>,
}

impl core::fmt::Debug for UdpBatch {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("UdpBatch")
            .field("socket", &self.socket)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

// SAFETY: the raw pointers in the iovec/mmsghdr arrays point only into this struct's own boxed
// buffers and are rewritten before each call; the struct is used by one thread at a time.
unsafe impl Send for UdpBatch {}

/// Longest datagram a [`UdpBatch`] receives.
pub const BATCH_DATAGRAM: usize = 2048;

impl UdpBatch {
    /// Wraps `socket` (made non-blocking) for batches of up to `capacity` datagrams.
    pub fn new(socket: UdpSocket, capacity: usize) -> io::Result<UdpBatch> {
        socket.set_nonblocking(true)?;
        let capacity = capacity.max(1);
        Ok(UdpBatch {
            socket,
            capacity,
            bufs: vec![0u8; capacity * BATCH_DATAGRAM].into_boxed_slice(),
            m: MsgArrays::new(capacity),
            lens: vec![0; capacity].into_boxed_slice(),
        })
    }

    /// Asks for `bytes` of kernel receive and send buffer (as root beyond `rmem_max`/`wmem_max`,
    /// with the FORCE options; otherwise up to those limits). Returns the receive buffer size the
    /// kernel granted.
    pub fn set_buffers(&self, bytes: usize) -> io::Result<usize> {
        let fd = self.socket.as_raw_fd();
        let v = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
        for (force, plain) in [
            (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF),
            (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF),
        ] {
            let set = |opt: libc::c_int| {
                // SAFETY: fd is a valid socket; the option value is a c_int of the size given.
                unsafe {
                    libc::setsockopt(
                        fd,
                        libc::SOL_SOCKET,
                        opt,
                        (&v as *const libc::c_int).cast(),
                        size_of::<libc::c_int>() as libc::socklen_t,
                    )
                }
            };
            if set(force) != 0 && set(plain) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        let mut got: libc::c_int = 0;
        let mut len = size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: fd is valid; got and len are a c_int and its size.
        let r = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&mut got as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(usize::try_from(got).unwrap_or(0))
    }

    /// The socket's local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Sends up to `capacity` datagrams in one `sendmmsg`; returns how many the kernel took
    /// (0 when its buffer is full).
    pub fn send(&mut self, datagrams: &[(SocketAddr, &[u8])]) -> io::Result<usize> {
        let n = datagrams.len().min(self.capacity);
        for (i, (dst, data)) in datagrams[..n].iter().enumerate() {
            let len = write_sockaddr(dst, &mut self.m.names[i]);
            // The kernel only reads a send's data: the cast to *mut is never written through.
            self.m.set(i, data.as_ptr() as *mut u8, data.len(), len);
        }
        if n == 0 {
            return Ok(0);
        }
        // SAFETY: msgs[..n] are initialised; their iovecs point at the caller's slices, which
        // outlive this call, and are only read by the kernel.
        let r = unsafe {
            libc::sendmmsg(
                self.socket.as_raw_fd(),
                self.m.msgs.as_mut_ptr(),
                n as libc::c_uint,
                libc::MSG_DONTWAIT,
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::WouldBlock {
                Ok(0)
            } else {
                Err(e)
            };
        }
        Ok(r as usize)
    }

    /// Receives up to `capacity` datagrams without waiting; calls `f(src, datagram)` for each
    /// and returns how many there were.
    pub fn recv(&mut self, mut f: impl FnMut(SocketAddr, &[u8])) -> io::Result<usize> {
        for i in 0..self.capacity {
            let buf = self.bufs[i * BATCH_DATAGRAM..].as_mut_ptr();
            self.m.set(i, buf, BATCH_DATAGRAM, ANY_NAME);
        }
        // SAFETY: msgs holds `capacity` initialised headers pointing into our own buffers, each
        // iovec exactly one buffer slot long.
        let r = unsafe {
            libc::recvmmsg(
                self.socket.as_raw_fd(),
                self.m.msgs.as_mut_ptr(),
                self.capacity as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::WouldBlock {
                Ok(0)
            } else {
                Err(e)
            };
        }
        let n = r as usize;
        for i in 0..n {
            self.lens[i] = self.m.msgs[i].msg_len as usize;
        }
        for i in 0..n {
            let Some(src) = read_sockaddr(&self.m.names[i], self.m.msgs[i].msg_hdr.msg_namelen)
            else {
                continue;
            };
            let len = self.lens[i].min(BATCH_DATAGRAM);
            f(
                src,
                &self.bufs[i * BATCH_DATAGRAM..i * BATCH_DATAGRAM + len],
            );
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockaddr_round_trip() {
        for a in ["198.18.0.1:36000", "[2001:db8::7]:5004", "127.0.0.1:1"] {
            let addr: SocketAddr = a.parse().unwrap();
            // SAFETY: all-zero is a valid sockaddr_storage.
            let mut s: libc::sockaddr_storage = unsafe { zeroed() };
            let len = write_sockaddr(&addr, &mut s);
            assert_eq!(read_sockaddr(&s, len), Some(addr));
            assert_eq!(read_sockaddr(&s, 2), None, "too short");
        }
    }
}
