//! The socket fallback backend: epoll over non-blocking UDP sockets, `recvmmsg` to receive a
//! batch, `sendmmsg` to send what the relay returns, grouped per source socket; one `sendmsg`
//! with `UDP_SEGMENT` for each run of datagrams to one destination from one socket (GSO, see
//! [`super::batch`]), and `UDP_GRO` receives on the multiplexed ports.
//!
//! Every buffer, `mmsghdr`, `iovec` and address is allocated once in [`SocketIo::new`]. A poll
//! receives from every ready socket into the receive slots and sends what the relay forwarded
//! when the slots run out and when it ends, before the slots are received into again.

use std::collections::HashMap;
use std::io;
use std::mem::{size_of, zeroed};
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use super::batch::{
    gro_segment_size, gso_unsupported, order_by_flow, run_len, write_udp_segment, Staged,
    GRO_BUFFER, GSO_MAX_BYTES, GSO_MAX_SEGMENTS,
};
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

/// One socket of the backend.
struct Sock {
    socket: UdpSocket,
    /// A multiplexed port: receives with `UDP_GRO`.
    gro: bool,
    /// GSO sends are allowed (cleared when the path refused one).
    gso: bool,
}

/// The reusable header of one GSO `sendmsg`: up to [`GSO_MAX_SEGMENTS`] iovecs, the destination,
/// the `UDP_SEGMENT` control message.
struct GsoMsg {
    hdr: libc::msghdr,
    iov: Box<[libc::iovec]>,
    name: libc::sockaddr_storage,
    control: ControlBuf<32>,
}

/// Control message storage, aligned for `cmsghdr`.
#[repr(C, align(8))]
pub(crate) struct ControlBuf<const N: usize>(pub(crate) [u8; N]);

/// The reusable parts of one GRO `recvmsg`: a buffer for the largest coalesced datagram, the
/// source address, room for the `UDP_GRO` control message.
struct GroRecv {
    buf: Box<[u8]>,
    name: libc::sockaddr_storage,
    control: ControlBuf<64>,
}

/// What one GRO `recvmsg` brought: `total` bytes in the buffer, datagrams of `seg` bytes (the
/// last may be shorter) from `src`.
struct GroReceived {
    src: Option<SocketAddr>,
    total: usize,
    seg: usize,
    truncated: bool,
}

impl GroRecv {
    fn new() -> GroRecv {
        // SAFETY: all-zero is a valid sockaddr_storage.
        let name: libc::sockaddr_storage = unsafe { zeroed() };
        GroRecv {
            buf: vec![0u8; GRO_BUFFER].into_boxed_slice(),
            name,
            control: ControlBuf([0; 64]),
        }
    }

    /// One `recvmsg` on `fd` into the buffer, without waiting; `None` when nothing waits.
    fn receive(&mut self, fd: RawFd) -> io::Result<Option<GroReceived>> {
        let mut iov = libc::iovec {
            iov_base: self.buf.as_mut_ptr().cast(),
            iov_len: self.buf.len(),
        };
        // SAFETY: all-zero is a valid msghdr.
        let mut hdr: libc::msghdr = unsafe { zeroed() };
        hdr.msg_name = (&mut self.name as *mut libc::sockaddr_storage).cast();
        hdr.msg_namelen = ANY_NAME;
        hdr.msg_iov = &mut iov;
        hdr.msg_iovlen = 1;
        hdr.msg_control = self.control.0.as_mut_ptr().cast();
        hdr.msg_controllen = self.control.0.len();
        // SAFETY: hdr points at this struct's buffer, name and control storage, with their true
        // lengths; all outlive the call.
        let r = unsafe { libc::recvmsg(fd, &mut hdr, libc::MSG_DONTWAIT) };
        if r < 0 {
            return would_block_as(None);
        }
        let total = (r as usize).min(self.buf.len());
        let control_len = hdr.msg_controllen.min(self.control.0.len());
        let seg = gro_segment_size(&self.control.0[..control_len])
            .unwrap_or(total)
            .max(1);
        Ok(Some(GroReceived {
            src: read_sockaddr(&self.name, hdr.msg_namelen),
            total,
            seg,
            truncated: hdr.msg_flags & libc::MSG_TRUNC != 0,
        }))
    }
}

pub(crate) struct SocketIo {
    epoll: OwnedFd,
    sockets: HashMap<u16, Sock>,
    batch: usize,
    /// Receive buffers: `slots` of [`BUF_SIZE`] bytes. A poll fills them from every ready socket
    /// and sends what the relay forwards when they run out, and at the end.
    bufs: Box<[u8]>,
    slots: usize,
    /// Slots filled since the last flush.
    used: usize,
    rx: MsgArrays,
    /// Forwards since the last flush (`buf` = slot).
    staged: Vec<Staged>,
    tx: MsgArrays,
    gso: GsoMsg,
    gro: GroRecv,
    events: Box<[libc::epoll_event]>,
    counters: IoCounters,
}

// SAFETY: the raw pointers inside the iovec/mmsghdr/msghdr arrays point only into this struct's
// own boxed buffers, which move with it; the struct is used by one thread at a time.
unsafe impl Send for SocketIo {}

/// Receive slots per poll at least: enough that the datagrams of many ready sockets are
/// forwarded together, so GSO can group them.
const MIN_SLOTS: usize = 256;

impl SocketIo {
    pub(crate) fn new(batch: usize) -> io::Result<SocketIo> {
        // SAFETY: epoll_create1 takes a flag and returns a new fd or -1.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh, valid descriptor that nothing else owns.
        let epoll = unsafe { OwnedFd::from_raw_fd(fd) };
        let slots = batch.max(MIN_SLOTS);
        // SAFETY: all-zero is a valid value for these plain C structs (null pointers, zero
        // lengths).
        let (hdr, storage): (libc::msghdr, libc::sockaddr_storage) =
            unsafe { (zeroed(), zeroed()) };
        let iov = libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        };
        Ok(SocketIo {
            epoll,
            sockets: HashMap::new(),
            batch,
            bufs: vec![0u8; slots * BUF_SIZE].into_boxed_slice(),
            slots,
            used: 0,
            rx: MsgArrays::new(batch),
            staged: Vec::with_capacity(slots),
            tx: MsgArrays::new(slots),
            gso: GsoMsg {
                hdr,
                iov: vec![iov; GSO_MAX_SEGMENTS].into_boxed_slice(),
                name: storage,
                control: ControlBuf([0; 32]),
            },
            gro: GroRecv::new(),
            events: vec![libc::epoll_event { events: 0, u64: 0 }; EVENTS].into_boxed_slice(),
            counters: IoCounters::default(),
        })
    }

    /// Receives up to `n` datagrams on `fd` into the slots from `self.used` on (after the
    /// headroom). Returns how many.
    fn receive(&mut self, fd: RawFd, n: usize) -> io::Result<usize> {
        for i in 0..n {
            let buf = self.bufs[(self.used + i) * BUF_SIZE + HEADROOM..].as_mut_ptr();
            self.rx.set(i, buf, super::MAX_DATAGRAM, ANY_NAME);
        }
        // SAFETY: rx holds at least `n` initialised headers (n <= batch) whose name and iovec
        // pointers point into this struct's own buffers, each iovec no longer than its slot
        // (slots used + i < self.slots, checked by the caller).
        let r = unsafe {
            libc::recvmmsg(
                fd,
                self.rx.msgs.as_mut_ptr(),
                n as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(r as usize)
    }

    /// Hands the datagram in slot `slot` (`len` bytes after the headroom; `truncated`: cut off
    /// by the kernel) to the relay and stages what it forwards.
    fn deliver(
        &mut self,
        slot: usize,
        port: u16,
        src: SocketAddr,
        len: usize,
        truncated: bool,
        handle: &mut dyn FnMut(Datagram<'_>) -> Option<Transmit>,
    ) {
        self.counters.received += 1;
        let base = slot * BUF_SIZE;
        let buf = &mut self.bufs[base..base + BUF_SIZE];
        if let Some(t) = handle(Datagram {
            port,
            src,
            buf,
            start: HEADROOM,
            len: len.min(super::MAX_DATAGRAM),
            truncated,
        }) {
            let seq = self.staged.len() as u32;
            self.staged.push(Staged {
                seq,
                buf: slot as u32,
                t,
            });
        }
    }

    /// Receives on a plain socket: `recvmmsg` batches into the slots, a few rounds.
    fn poll_plain(
        &mut self,
        port: u16,
        fd: RawFd,
        handle: &mut dyn FnMut(Datagram<'_>) -> Option<Transmit>,
    ) {
        for _ in 0..ROUNDS {
            if self.used + self.batch > self.slots {
                self.flush();
            }
            let got = match self.receive(fd, self.batch) {
                Ok(k) => k,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
                Err(_) => {
                    self.counters.receive_errors += 1;
                    0
                }
            };
            let first = self.used;
            self.used += got;
            for i in 0..got {
                let m = &self.rx.msgs[i];
                let len = m.msg_len as usize;
                let truncated = m.msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
                let namelen = m.msg_hdr.msg_namelen;
                let Some(src) = read_sockaddr(&self.rx.names[i], namelen) else {
                    self.counters.receive_errors += 1;
                    continue;
                };
                // A datagram cut off by the kernel still goes to the relay, which counts it
                // against its leg.
                self.deliver(first + i, port, src, len, truncated, handle);
            }
            if got < self.batch {
                break;
            }
        }
    }

    /// Receives on a multiplexed (GRO) socket: one `recvmsg` may bring many datagrams of one
    /// flow; each is copied into a slot of its own and handed to the relay.
    fn poll_gro(
        &mut self,
        port: u16,
        fd: RawFd,
        handle: &mut dyn FnMut(Datagram<'_>) -> Option<Transmit>,
    ) {
        for _ in 0..ROUNDS * 4 {
            let got = match self.gro.receive(fd) {
                Ok(Some(g)) => g,
                Ok(None) => return,
                Err(_) => {
                    self.counters.receive_errors += 1;
                    return;
                }
            };
            let (Some(src), false) = (got.src, got.truncated) else {
                self.counters.receive_errors += 1;
                continue;
            };
            let (total, seg) = (got.total, got.seg);
            if total > seg {
                self.counters.gro_receives += 1;
            }
            let mut off = 0;
            while off < total {
                let len = seg.min(total - off);
                if len > super::MAX_DATAGRAM {
                    self.counters.receive_errors += 1;
                    off += len;
                    continue;
                }
                if self.used == self.slots {
                    self.flush();
                }
                let slot = self.used;
                self.used += 1;
                let base = slot * BUF_SIZE + HEADROOM;
                self.bufs[base..base + len].copy_from_slice(&self.gro.buf[off..off + len]);
                self.deliver(slot, port, src, len, false, handle);
                off += len;
            }
        }
    }

    /// Sends every staged forward: GSO runs with one `sendmsg` each, the rest with one
    /// `sendmmsg` per source socket, in flow order. Empties the slots.
    fn flush(&mut self) {
        let mut staged = std::mem::take(&mut self.staged);
        order_by_flow(&mut staged);
        let mut singles = 0; // staged[pending..pending + singles] wait for a sendmmsg
        let mut pending = 0;
        let mut i = 0;
        while i < staged.len() {
            let src = staged[i].t.src_port;
            let gso_ok = self.sockets.get(&src).is_some_and(|s| s.gso);
            let n = if gso_ok { run_len(&staged[i..]) } else { 1 };
            if n >= 2 {
                self.send_singles(&staged[pending..pending + singles]);
                if !self.send_gso(&staged[i..i + n]) {
                    // The path refused GSO: the same datagrams one by one.
                    self.send_singles(&staged[i..i + n]);
                }
                i += n;
                pending = i;
                singles = 0;
            } else {
                singles += 1;
                i += 1;
            }
        }
        self.send_singles(&staged[pending..pending + singles]);
        staged.clear();
        self.staged = staged;
        self.used = 0;
    }

    /// One `sendmsg` with a `UDP_SEGMENT` message for `run` (one flow, sizes as
    /// [`run_len`] allows). False if the path does not take GSO (nothing was sent; the socket
    /// gets no GSO sends again).
    fn send_gso(&mut self, run: &[Staged]) -> bool {
        let Some(first) = run.first() else {
            return true;
        };
        let Some(fd) = self
            .sockets
            .get(&first.t.src_port)
            .map(|s| s.socket.as_raw_fd())
        else {
            self.counters.send_errors += run.len() as u64;
            return true;
        };
        for (j, s) in run.iter().enumerate() {
            let buf = self.bufs[s.buf as usize * BUF_SIZE + s.t.start..].as_mut_ptr();
            self.gso.iov[j] = libc::iovec {
                iov_base: buf.cast(),
                iov_len: s.t.len,
            };
        }
        let namelen = write_sockaddr(&first.t.dst, &mut self.gso.name);
        let clen = write_udp_segment(&mut self.gso.control.0, first.t.len as u16);
        let h = &mut self.gso.hdr;
        h.msg_name = (&mut self.gso.name as *mut libc::sockaddr_storage).cast();
        h.msg_namelen = namelen;
        h.msg_iov = self.gso.iov.as_mut_ptr();
        h.msg_iovlen = run.len();
        h.msg_control = self.gso.control.0.as_mut_ptr().cast();
        h.msg_controllen = clen;
        h.msg_flags = 0;
        // SAFETY: the header points at this struct's iovec array (run.len() <= GSO_MAX_SEGMENTS
        // entries set above, each inside a slot), address and control storage.
        let r = unsafe { libc::sendmsg(fd, &self.gso.hdr, libc::MSG_DONTWAIT) };
        if r >= 0 {
            self.counters.sent += run.len() as u64;
            self.counters.gso_sends += 1;
            return true;
        }
        let errno = io::Error::last_os_error().raw_os_error().unwrap_or(0);
        if gso_unsupported(errno) {
            self.counters.gso_fallbacks += 1;
            if let Some(s) = self.sockets.get_mut(&first.t.src_port) {
                s.gso = false;
            }
            return false;
        }
        // Buffer full, unreachable: the run is lost, as single sends would be.
        self.counters.send_errors += run.len() as u64;
        true
    }

    /// `sendmmsg` for each run of forwards from the same socket.
    fn send_singles(&mut self, out: &[Staged]) {
        let mut done = 0;
        while done < out.len() {
            let src_port = out[done].t.src_port;
            let Some(fd) = self.sockets.get(&src_port).map(|s| s.socket.as_raw_fd()) else {
                self.counters.send_errors += 1;
                done += 1;
                continue;
            };
            let mut n = 0;
            while done + n < out.len() && out[done + n].t.src_port == src_port {
                let s = out[done + n];
                let len = write_sockaddr(&s.t.dst, &mut self.tx.names[n]);
                let buf = self.bufs[s.buf as usize * BUF_SIZE + s.t.start..].as_mut_ptr();
                self.tx.set(n, buf, s.t.len, len);
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
    }
}

impl Io for SocketIo {
    fn add(&mut self, port: u16, socket: UdpSocket, gro: bool) -> io::Result<()> {
        if gro {
            set_int_option(socket.as_raw_fd(), libc::SOL_UDP, libc::UDP_GRO, 1)?;
        }
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
        self.sockets.insert(
            port,
            Sock {
                socket,
                gro,
                gso: true,
            },
        );
        Ok(())
    }

    fn set_waker(&mut self, fd: RawFd) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: WAKE_TOKEN,
        };
        // SAFETY: both fds are valid; ev is a valid epoll_event.
        let r =
            unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn remove(&mut self, port: u16) {
        if let Some(s) = self.sockets.remove(&port) {
            // SAFETY: both fds are valid; a null event is allowed for EPOLL_CTL_DEL.
            unsafe {
                libc::epoll_ctl(
                    self.epoll.as_raw_fd(),
                    libc::EPOLL_CTL_DEL,
                    s.socket.as_raw_fd(),
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
            if self.events[e].u64 == WAKE_TOKEN {
                // A control request: the worker reads the waker after this poll.
                continue;
            }
            let port = self.events[e].u64 as u16;
            let Some((fd, gro)) = self
                .sockets
                .get(&port)
                .map(|s| (s.socket.as_raw_fd(), s.gro))
            else {
                continue;
            };
            if gro {
                self.poll_gro(port, fd, handle);
            } else {
                self.poll_plain(port, fd, handle);
            }
        }
        self.flush();
        Ok(())
    }

    fn counters(&self) -> IoCounters {
        self.counters
    }
}

/// An eventfd that control threads write to wake a worker waiting for datagrams; the worker
/// reads it empty before it looks at its control channel, so no request waits for the next
/// timeout.
#[derive(Debug)]
pub(crate) struct Waker {
    fd: OwnedFd,
}

impl Waker {
    pub(crate) fn new() -> io::Result<Waker> {
        // SAFETY: eventfd takes an initial value and flags and returns a new fd or -1.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh, valid descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Waker { fd })
    }

    /// Wakes the worker (a full counter, which cannot happen here, would mean it is awake).
    pub(crate) fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: the fd is a valid eventfd; the buffer is the 8 bytes eventfd expects.
        unsafe {
            libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8);
        }
    }

    /// Reads the counter empty.
    pub(crate) fn drain(&self) {
        let mut v: u64 = 0;
        // SAFETY: the fd is a valid non-blocking eventfd; the buffer is 8 writable bytes.
        unsafe {
            libc::read(self.fd.as_raw_fd(), (&mut v as *mut u64).cast(), 8);
        }
    }

    pub(crate) fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// The epoll token of the waker (ports are below 65,536).
const WAKE_TOKEN: u64 = u64::MAX;

/// Asks for `bytes` of kernel receive and send buffer on socket `fd` (as root beyond
/// `rmem_max`/`wmem_max`, with the FORCE options; otherwise up to those limits). Returns the
/// receive buffer size the kernel granted.
pub(crate) fn set_buffer_sizes(fd: RawFd, bytes: usize) -> io::Result<usize> {
    let v = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    for (force, plain) in [
        (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF),
        (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF),
    ] {
        if set_int_option(fd, libc::SOL_SOCKET, force, v).is_err() {
            set_int_option(fd, libc::SOL_SOCKET, plain, v)?;
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

/// The error of a failed non-blocking call: `Ok(nothing)` when it would have blocked (nothing to
/// read, or no room to send), the error otherwise.
fn would_block_as<T>(nothing: T) -> io::Result<T> {
    let e = io::Error::last_os_error();
    if e.kind() == io::ErrorKind::WouldBlock {
        Ok(nothing)
    } else {
        Err(e)
    }
}

/// `setsockopt(fd, level, name, &value)` for an `int` option.
pub(crate) fn set_int_option(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: fd is a valid socket; the option value is a c_int of the size given.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
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

/// Raises this process's soft limit on open files to its hard limit (every media leg holds a
/// socket or two, and the default soft limit is often 1,024). Returns (soft, hard) as they are
/// afterwards.
pub fn raise_open_files_limit() -> io::Result<(u64, u64)> {
    let mut l = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if l.rlim_cur < l.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: l.rlim_max,
            rlim_max: l.rlim_max,
        };
        // SAFETY: setrlimit reads one rlimit from the struct we pass.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
            return Err(io::Error::last_os_error());
        }
        l = raised;
    }
    Ok((l.rlim_cur, l.rlim_max))
}

/// The CPU on which the kernel last processed a datagram for `socket` (`SO_INCOMING_CPU`):
/// where the receive path ran, which XDP CPUMAP steering decides. UDP records it for
/// connected sockets only. For tests and diagnostics.
pub fn incoming_cpu(socket: &UdpSocket) -> io::Result<u32> {
    let mut cpu: libc::c_int = -1;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: the socket is valid; cpu and len are a c_int and its size.
    let r = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_INCOMING_CPU,
            (&mut cpu as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    u32::try_from(cpu).map_err(|_| io::Error::other("no datagram processed yet"))
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
    /// Set by [`UdpBatch::set_gro`]: receives may bring many datagrams at once.
    gro: Option<GroRecv>,
    /// The `UDP_SEGMENT` message of [`UdpBatch::send_segments`].
    segment: ControlBuf<32>,
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
            gro: None,
            segment: ControlBuf([0; 32]),
        })
    }

    /// Turns on `UDP_GRO`: the kernel may coalesce datagrams of one flow, which
    /// [`UdpBatch::recv`] splits again (one call then reads one coalesced receive).
    pub fn set_gro(&mut self) -> io::Result<()> {
        set_int_option(self.socket.as_raw_fd(), libc::SOL_UDP, libc::UDP_GRO, 1)?;
        self.gro = Some(GroRecv::new());
        Ok(())
    }

    /// Sends `segments` to `dst` in one UDP GSO send: all must have the length of the first,
    /// except the last, which may be shorter. One send carries at most the batch capacity, 64
    /// datagrams and 65,000 bytes: returns how many of the first it carried (0 when the kernel's
    /// buffer is full); the caller sends the rest.
    pub fn send_segments(&mut self, dst: SocketAddr, segments: &[&[u8]]) -> io::Result<usize> {
        let Some(first) = segments.first() else {
            return Ok(0);
        };
        let seg = first.len();
        let fit = (GSO_MAX_BYTES / seg.max(1)).clamp(1, self.capacity.min(GSO_MAX_SEGMENTS));
        let segments = &segments[..segments.len().min(fit)];
        let shape_ok = seg > 0
            && segments.iter().enumerate().all(|(i, s)| {
                s.len() == seg || (i + 1 == segments.len() && s.len() < seg && !s.is_empty())
            });
        let seg16 = u16::try_from(seg)
            .ok()
            .filter(|_| shape_ok)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "GSO segments must share the first one's length (the last may be shorter)",
                )
            })?;
        for (i, s) in segments.iter().enumerate() {
            // The kernel only reads a send's data: the cast to *mut is never written through.
            self.m.iov[i] = libc::iovec {
                iov_base: s.as_ptr() as *mut libc::c_void,
                iov_len: s.len(),
            };
        }
        let namelen = write_sockaddr(&dst, &mut self.m.names[0]);
        let clen = write_udp_segment(&mut self.segment.0, seg16);
        // SAFETY: all-zero is a valid msghdr.
        let mut hdr: libc::msghdr = unsafe { zeroed() };
        hdr.msg_name = (&mut self.m.names[0] as *mut libc::sockaddr_storage).cast();
        hdr.msg_namelen = namelen;
        hdr.msg_iov = self.m.iov.as_mut_ptr();
        hdr.msg_iovlen = segments.len();
        hdr.msg_control = self.segment.0.as_mut_ptr().cast();
        hdr.msg_controllen = clen;
        // SAFETY: the header points at our iovec array (segments.len() entries set above, over
        // the caller's slices, which outlive the call), address and control storage.
        let r = unsafe { libc::sendmsg(self.socket.as_raw_fd(), &hdr, libc::MSG_DONTWAIT) };
        if r < 0 {
            return would_block_as(0);
        }
        Ok(segments.len())
    }

    /// One GRO receive: calls `f` for each datagram it brought.
    fn recv_gro(&mut self, mut f: impl FnMut(SocketAddr, &[u8])) -> io::Result<usize> {
        let fd = self.socket.as_raw_fd();
        let Some(g) = self.gro.as_mut() else {
            return Ok(0);
        };
        let Some(got) = g.receive(fd)? else {
            return Ok(0);
        };
        let Some(src) = got.src else {
            return Ok(0);
        };
        let (total, seg) = (got.total, got.seg);
        let mut n = 0;
        let mut off = 0;
        while off < total {
            let len = seg.min(total - off);
            f(src, &g.buf[off..off + len]);
            off += len;
            n += 1;
        }
        Ok(n)
    }

    /// Asks for `bytes` of kernel receive and send buffer (as root beyond `rmem_max`/`wmem_max`,
    /// with the FORCE options; otherwise up to those limits). Returns the receive buffer size the
    /// kernel granted.
    pub fn set_buffers(&self, bytes: usize) -> io::Result<usize> {
        set_buffer_sizes(self.socket.as_raw_fd(), bytes)
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
            return would_block_as(0);
        }
        Ok(r as usize)
    }

    /// Receives up to `capacity` datagrams without waiting; calls `f(src, datagram)` for each
    /// and returns how many there were.
    pub fn recv(&mut self, mut f: impl FnMut(SocketAddr, &[u8])) -> io::Result<usize> {
        if self.gro.is_some() {
            return self.recv_gro(f);
        }
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
            return would_block_as(0);
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
    fn incoming_cpu_is_where_the_receive_path_ran() {
        // On loopback the receive path runs on the sending thread's CPU. (UDP records it for
        // connected sockets.)
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.connect(tx.local_addr().unwrap()).unwrap();
        let to = rx.local_addr().unwrap();
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        for cpu in 0..cpus.min(4) {
            let tx = tx.try_clone().unwrap();
            std::thread::spawn(move || {
                pin_to_core(cpu).unwrap();
                tx.send_to(b"x", to).unwrap();
            })
            .join()
            .unwrap();
            let mut b = [0u8; 8];
            rx.recv_from(&mut b).unwrap();
            assert_eq!(incoming_cpu(&rx).unwrap(), cpu as u32);
        }
    }

    #[test]
    fn gso_sends_stop_at_what_one_datagram_can_carry() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let mut tx = UdpBatch::new(UdpSocket::bind("127.0.0.1:0").unwrap(), 64).unwrap();
        let big: Vec<Vec<u8>> = (0..60u8).map(|i| vec![i; 1214]).collect();
        let refs: Vec<&[u8]> = big.iter().map(Vec::as_slice).collect();
        let mut sent = 0;
        while sent < refs.len() {
            let n = tx
                .send_segments(rx.local_addr().unwrap(), &refs[sent..])
                .unwrap();
            assert!(
                n * 1214 <= GSO_MAX_BYTES,
                "{n} segments of 1214 bytes in one send"
            );
            sent += n;
        }
        let mut b = [0u8; 2048];
        for i in 0..60u8 {
            let (n, _) = rx.recv_from(&mut b).unwrap();
            assert_eq!((n, b[0]), (1214, i), "in order, whole");
        }
        let odd: [&[u8]; 2] = [&[1; 10], &[2; 20]];
        assert!(
            tx.send_segments(rx.local_addr().unwrap(), &odd).is_err(),
            "a longer last one"
        );
    }

    #[test]
    fn oversized_datagrams_reach_the_handler_marked_truncated() {
        let mut io = SocketIo::new(32).unwrap();
        crate::runtime::backend_checks::oversized_datagrams_are_marked(&mut io);
    }

    #[test]
    fn gso_out_and_gro_in_on_a_multiplexed_port() {
        let mut io = SocketIo::new(32).unwrap();
        crate::runtime::backend_checks::gso_out_and_gro_in(&mut io);
    }

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
