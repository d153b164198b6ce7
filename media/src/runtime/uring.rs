//! The io_uring backend: multishot `recvmsg` into one provided-buffer ring, `sendmsg` from the
//! same buffers, all sends of a drain pass handed to the kernel with one submission.
//!
//! # Memory
//!
//! Everything the kernel reads or writes is allocated once, in [`UringIo::new`], and stays put
//! until the ring is quiet (no receive armed, no send in flight):
//! - the buffer ring (`struct io_uring_buf` entries, page-aligned, `mmap`ed) and the data
//!   buffers it hands out (`mmap`ed, [`STRIDE`] bytes each);
//! - the `msghdr` template every multishot receive reads (`msg_namelen` = [`NAME_LEN`]);
//! - one send slot (`msghdr`, `iovec`, socket address) per buffer, so a send never waits for a
//!   slot: a send always holds a buffer, and there are as many slots as buffers.
//!
//! A buffer belongs to the kernel while it sits in the ring, to this struct from the completion
//! that names it until it is given back, and to the kernel again (read only) while a send from
//! it is in flight; it returns to the ring when that send completes.
//!
//! # Buffer layout
//!
//! With a multishot `recvmsg` the kernel writes, at the start of the buffer it picks, a
//! `struct io_uring_recvmsg_out` (16 bytes), then the source address (the `msg_namelen` of the
//! template: a `sockaddr_in6`, 28 bytes, which fits a `sockaddr_in` too), then the payload. So
//! the payload starts at [`PAYLOAD_OFFSET`] = 44, which leaves the relay's
//! [`HEADROOM`](crate::relay::engine::HEADROOM) free before it. The kernel is told each buffer
//! is [`RECV_LEN`] bytes long, just enough for a [`MAX_DATAGRAM`] payload: anything longer is
//! truncated (`MSG_TRUNC`) and dropped, and the [`TAILROOM`] after the payload is never written
//! by the kernel.
//!
//! # Shutdown
//!
//! [`Io::remove`] cancels the port's receive and waits (briefly) for its last completion before
//! it closes the socket, so the port can be bound again as soon as it returns. Completions that
//! arrive for other ports meanwhile are kept, in order, and handled by the next [`Io::poll`].
//! Dropping a `UringIo` cancels every receive and waits for the kernel to finish with every
//! buffer; should the kernel not confirm that in time, the memory it might still touch is
//! leaked rather than freed.

use std::collections::VecDeque;
use std::io;
use std::mem::{size_of, ManuallyDrop};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::AsRawFd;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use io_uring::types::{Fd, RecvMsgOut, SubmitArgs, Timespec};
use io_uring::{cqueue, opcode, squeue, IoUring, Probe};

use super::batch::{
    gro_segment_size, gso_unsupported, order_by_flow, run_len, write_udp_segment, Staged,
    GRO_BUFFER, GSO_MAX_SEGMENTS,
};
use super::sockets::{set_int_option, ControlBuf};
use super::{Datagram, Io, IoCounters, MAX_DATAGRAM};
use crate::relay::engine::{Transmit, HEADROOM, TAILROOM};

/// `size_of::<struct io_uring_recvmsg_out>()`: `namelen`, `controllen`, `payloadlen`, `flags`.
const RECVMSG_OUT_LEN: usize = 16;
/// Room for the source address the kernel writes after the header (IPv6 or IPv4).
const NAME_LEN: usize = size_of::<libc::sockaddr_in6>();
/// Where a received payload starts in its buffer.
const PAYLOAD_OFFSET: usize = RECVMSG_OUT_LEN + NAME_LEN;
/// The length of each buffer as the kernel sees it: header, name and a [`MAX_DATAGRAM`] payload.
const RECV_LEN: usize = PAYLOAD_OFFSET + MAX_DATAGRAM;
/// The distance between two buffers: what the kernel sees, the relay's tailroom, rounded up to
/// a cache line.
const STRIDE: usize = (RECV_LEN + TAILROOM).next_multiple_of(64);

const _: () = assert!(PAYLOAD_OFFSET >= HEADROOM);
const _: () = assert!(STRIDE >= RECV_LEN + TAILROOM);
const _: () = assert!(size_of::<RingEntry>() == 16);
const _: () = assert!(RECV_LEN <= u32::MAX as usize);

/// Submission queue entries.
const SQ_ENTRIES: u32 = 512;
/// The one buffer group.
const BGID: u16 = 0;
/// The kernel's limit on the entries of a buffer ring.
const MAX_BUFFERS: usize = 32768;
/// Drain passes per [`Io::poll`], so a flood cannot keep the worker from its control requests.
const MAX_PASSES: usize = 4;
/// How long [`Io::remove`] waits for the kernel to confirm a cancelled receive.
const REMOVE_WAIT: Duration = Duration::from_secs(1);
/// How long dropping waits for the kernel to finish with every buffer.
const DROP_WAIT: Duration = Duration::from_secs(2);
/// One wait inside those.
const WAIT_STEP: Duration = Duration::from_millis(10);
/// Cancels sent for one receive before giving up on the kernel confirming it.
const MAX_CANCELS: u8 = 8;

/// `user_data` kinds, in the top byte.
const KIND_SHIFT: u32 = 56;
const KIND_RECV: u64 = 1;
const KIND_SEND: u64 = 2;
const KIND_CANCEL: u64 = 3;
const KIND_GSO: u64 = 4;
const KIND_WAKE: u64 = 5;
/// Buffers outside the ring that the datagrams of a GRO receive are copied into (each with the
/// relay's headroom and tailroom); they go back to their own free list, not to the ring.
const BOUNCE_BUFFERS: usize = 2048;
/// GSO sends in flight at most; beyond that a run goes out as single sends.
const GSO_SLOTS: usize = 256;
/// A slot's generation keeps 24 bits in `user_data`.
const GEN_MASK: u32 = 0x00ff_ffff;
/// No slot for this port.
const NO_SLOT: u32 = u32::MAX;

/// A `user_data` for the receive (or the cancel of the receive) of slot `slot`, generation `gen`.
fn slot_ud(kind: u64, slot: u32, gen: u32) -> u64 {
    (kind << KIND_SHIFT) | (u64::from(gen & GEN_MASK) << 32) | u64::from(slot)
}

/// A `user_data` for a send from send slot `send`, of buffer `bid`.
fn send_ud(send: u32, bid: u16) -> u64 {
    (KIND_SEND << KIND_SHIFT) | (u64::from(send) << 16) | u64::from(bid)
}

fn ud_kind(ud: u64) -> u64 {
    ud >> KIND_SHIFT
}

/// (slot, generation) of a receive or cancel `user_data`.
fn ud_slot(ud: u64) -> (u32, u32) {
    (ud as u32, ((ud >> 32) as u32) & GEN_MASK)
}

/// (send slot, buffer id) of a send `user_data`.
fn ud_send(ud: u64) -> (u32, u16) {
    (((ud >> 16) & 0xffff_ffff) as u32, ud as u16)
}

/// `struct io_uring_buf` of the kernel ABI. The `resv` field of entry 0 is the ring's tail.
#[repr(C)]
struct RingEntry {
    addr: u64,
    len: u32,
    bid: u16,
    resv: u16,
}

/// An anonymous private mapping: page-aligned, zeroed, never moved.
struct Region {
    ptr: NonNull<u8>,
    len: usize,
    /// Leave it mapped when dropped: the kernel may still use it.
    leak: bool,
}

impl Region {
    fn new(len: usize) -> io::Result<Region> {
        // SAFETY: an anonymous private mapping at an address the kernel picks: it touches no
        // existing memory. The result is checked before use.
        let p = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(p.cast::<u8>()).ok_or_else(|| io::Error::other("mmap gave null"))?;
        Ok(Region {
            ptr,
            len,
            leak: false,
        })
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        if !self.leak {
            // SAFETY: ptr/len are exactly what mmap returned; the owner guarantees (field order
            // in `UringIo`, and `leak` when it cannot) that neither the kernel nor any
            // reference still uses the mapping.
            unsafe {
                libc::munmap(self.ptr.as_ptr().cast(), self.len);
            }
        }
    }
}

/// A C socket address for a send: IPv4 or IPv6.
#[repr(C)]
#[derive(Clone, Copy)]
union SockAddr {
    v4: libc::sockaddr_in,
    v6: libc::sockaddr_in6,
}

impl SockAddr {
    /// All zero (no family): every byte initialised.
    const ZERO: SockAddr = SockAddr {
        v6: libc::sockaddr_in6 {
            sin6_family: 0,
            sin6_port: 0,
            sin6_flowinfo: 0,
            sin6_addr: libc::in6_addr { s6_addr: [0; 16] },
            sin6_scope_id: 0,
        },
    };
}

/// What one `sendmsg` reads: its header, its one `iovec`, its destination.
#[repr(C)]
struct SendSlot {
    hdr: libc::msghdr,
    iov: libc::iovec,
    addr: SockAddr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SlotState {
    /// Unused, on the free list.
    Free,
    /// Receiving.
    Active,
    /// Removed: the receive is cancelled, the socket closes when its last completion arrives.
    Closing,
}

/// One socket.
struct Slot {
    socket: Option<UdpSocket>,
    port: u16,
    /// Bumped each time the slot is reused, so a completion of an earlier user is recognised.
    gen: u32,
    state: SlotState,
    /// A multishot receive is queued or armed: its final completion (no `F_MORE`) is not seen.
    inflight: bool,
    /// Waiting (on `rearm`) to be armed again once the ring has buffers.
    arm_pending: bool,
    /// Cancels sent for the current receive (a missed cancel is retried a few times).
    cancels: u8,
    /// A multiplexed port: single-shot GRO receives into this buffer instead of the ring. Kept
    /// (and reused) until the slot serves a plain port or the backend is dropped; never freed
    /// while a receive into it may be in flight.
    gro: Option<Box<GroRecv>>,
    /// GSO sends allowed from this socket (cleared when the path refused one).
    gso: bool,
}

/// What a single-shot `recvmsg` on a GRO socket reads and writes: its header, one iovec over a
/// buffer for the largest coalesced datagram, the source address, the `UDP_GRO` message.
struct GroRecv {
    hdr: libc::msghdr,
    iov: libc::iovec,
    name: SockAddr,
    control: ControlBuf<64>,
    buf: Box<[u8]>,
}

/// One GSO send in flight: its header, an iovec per datagram, the destination, the
/// `UDP_SEGMENT` message, and the buffers and forwards it carries (to give the buffers back, or
/// to send the datagrams one by one if the path refuses GSO).
struct GsoSlot {
    hdr: libc::msghdr,
    iov: [libc::iovec; GSO_MAX_SEGMENTS],
    addr: SockAddr,
    control: ControlBuf<32>,
    bids: [u16; GSO_MAX_SEGMENTS],
    sends: [Transmit; GSO_MAX_SEGMENTS],
    n: usize,
}

/// A completion, as read from the queue.
type Cqe = (u64, i32, u32);

type Handler<'h> = dyn FnMut(Datagram<'_>) -> Option<Transmit> + 'h;

/// The io_uring backend (see the module documentation).
pub(crate) struct UringIo {
    // Field order matters: the ring is dropped (closed) before the memory it may use.
    ring: IoUring,
    slots: Vec<Slot>,
    free_slots: Vec<u32>,
    /// Local port -> slot, `NO_SLOT` when none (65,536 entries).
    ports: Box<[u32]>,
    /// The buffer ring entries (`nbufs` of them).
    ring_mem: Region,
    /// The buffers (`(nbufs + BOUNCE_BUFFERS) * STRIDE` bytes): the ring's, then the bounce
    /// buffers (ids from `nbufs` on).
    data: Region,
    nbufs: u16,
    /// Free bounce buffers.
    bounce_free: Vec<u16>,
    /// Our copy of the ring tail (published to entry 0's `resv`).
    tail: u16,
    /// `owned[bid]`: the kernel handed buffer `bid` to us and it is not back in the ring (a
    /// bounce buffer: it is in use, not on its free list).
    owned: Box<[bool]>,
    /// Ring buffers out of the ring.
    held: usize,
    /// The receive template the kernel reads; freed only when the ring is quiet.
    template: ManuallyDrop<Box<libc::msghdr>>,
    /// Our own copy of the template's lengths, for parsing (never shared with the kernel).
    parse_hdr: libc::msghdr,
    /// One per buffer; freed only when the ring is quiet.
    sends: ManuallyDrop<Box<[SendSlot]>>,
    free_sends: Vec<u32>,
    /// GSO sends; freed only when the ring is quiet.
    gso_slots: ManuallyDrop<Box<[GsoSlot]>>,
    free_gso: Vec<u32>,
    /// Forwards of the current drain pass, sent (GSO runs grouped) when the pass ends.
    staged: Vec<Staged>,
    /// The worker's waker (an eventfd), polled so that a control request ends a wait.
    waker: Option<i32>,
    /// Slots whose receive must be armed again (after `ENOBUFS` or a final completion).
    rearm: Vec<u32>,
    /// Completions read while no handler was at hand (in `remove`), handled by the next poll.
    backlog: VecDeque<Cqe>,
    /// Reused batch of completions.
    scratch: Vec<Cqe>,
    counters: IoCounters,
}

impl core::fmt::Debug for UringIo {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("UringIo")
            .field(
                "sockets",
                &self.slots.iter().filter(|s| s.socket.is_some()).count(),
            )
            .field("buffers", &self.nbufs)
            .field("held", &self.held)
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

fn unsupported(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!("io_uring: {what} not supported by this kernel"),
    )
}

/// Whether an `io_uring_enter` error only means "nothing happened yet / try again later".
fn transient(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ETIME | libc::EINTR | libc::EBUSY | libc::EAGAIN)
    )
}

/// The source address the kernel wrote (a `sockaddr_in` or `sockaddr_in6`).
fn parse_name(b: &[u8]) -> Option<SocketAddr> {
    let family = i32::from(u16::from_ne_bytes([*b.first()?, *b.get(1)?]));
    let port = u16::from_be_bytes([*b.get(2)?, *b.get(3)?]);
    match family {
        libc::AF_INET => {
            let a: [u8; 4] = b.get(4..8)?.try_into().ok()?;
            Some(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(a), port)))
        }
        libc::AF_INET6 => {
            let flow: [u8; 4] = b.get(4..8)?.try_into().ok()?;
            let a: [u8; 16] = b.get(8..24)?.try_into().ok()?;
            let scope: [u8; 4] = b.get(24..28)?.try_into().ok()?;
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(a),
                port,
                u32::from_be_bytes(flow),
                u32::from_ne_bytes(scope),
            )))
        }
        _ => None,
    }
}

/// Writes `dst` as a C socket address; returns its length.
fn write_addr(out: &mut SockAddr, dst: &SocketAddr) -> libc::socklen_t {
    match dst {
        SocketAddr::V4(a) => {
            out.v4 = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(*a.ip()).to_be(),
                },
                sin_zero: [0; 8],
            };
            size_of::<libc::sockaddr_in>() as libc::socklen_t
        }
        SocketAddr::V6(a) => {
            out.v6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo().to_be(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            size_of::<libc::sockaddr_in6>() as libc::socklen_t
        }
    }
}

fn zeroed_msghdr() -> libc::msghdr {
    // SAFETY: msghdr is a plain C struct of integers and raw pointers: all-zero (null pointers,
    // zero lengths) is a valid value.
    unsafe { std::mem::zeroed() }
}

fn build_ring(entries: u32, cq: u32) -> io::Result<IoUring> {
    // Cooperative task running (no interrupting the worker to post completions) and one
    // issuer (the worker thread) where the kernel offers them; a plain ring otherwise.
    IoUring::builder()
        .setup_cqsize(cq)
        .setup_coop_taskrun()
        .setup_single_issuer()
        .build(entries)
        .or_else(|_| IoUring::builder().setup_cqsize(cq).build(entries))
}

/// Receive buffers per worker at least. Every socket's multishot receive draws on the one ring;
/// when it runs dry the kernel ends those receives (`ENOBUFS`) and each must be armed again, which
/// under load costs more than the datagrams themselves. Measured with `edge loadgen`, SRTP↔RTP on
/// one core: with 256 buffers the relay lost 23 % at 1,250 calls at 10.9 µs CPU per packet; with
/// 16,384 it carried 2,000 calls without loss at 4.5 µs. 16,384 × 2,176 bytes = 35 MB per worker.
const MIN_BUFFERS: usize = 16_384;

impl UringIo {
    /// A ring with `max(MIN_BUFFERS, batch * 8)` receive buffers (rounded up to a power of
    /// two).
    pub(crate) fn new(batch: usize) -> io::Result<UringIo> {
        let n = batch
            .saturating_mul(8)
            .max(MIN_BUFFERS)
            .checked_next_power_of_two()
            .unwrap_or(MAX_BUFFERS)
            .min(MAX_BUFFERS);
        UringIo::with_buffers(n)
    }

    /// A ring with `nbufs` receive buffers (a power of two, at most 32,768).
    fn with_buffers(nbufs: usize) -> io::Result<UringIo> {
        if !nbufs.is_power_of_two() || nbufs > MAX_BUFFERS {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "io_uring: the buffer count must be a power of two up to 32768",
            ));
        }
        let nbufs16 = u16::try_from(nbufs).unwrap_or(u16::MAX);
        let n32 = u32::try_from(nbufs).unwrap_or(u32::MAX);
        // The memory first: locals drop in reverse order, so on any error below the ring is
        // closed before these are unmapped.
        let ring_mem = Region::new(nbufs * size_of::<RingEntry>())?;
        let total = nbufs + BOUNCE_BUFFERS;
        let data = Region::new(total * STRIDE)?;
        // Room for a receive and a send completion per buffer, and then some.
        let cq = (2 * n32).max(2 * SQ_ENTRIES).next_power_of_two();
        let ring = build_ring(SQ_ENTRIES, cq)?;
        if !ring.params().is_feature_ext_arg() {
            return Err(unsupported("IORING_FEAT_EXT_ARG (timed waits)"));
        }
        if !ring.params().is_feature_nodrop() {
            return Err(unsupported("IORING_FEAT_NODROP"));
        }
        let mut probe = Probe::new();
        ring.submitter().register_probe(&mut probe)?;
        for (code, what) in [
            (opcode::RecvMsg::CODE, "IORING_OP_RECVMSG"),
            (opcode::SendMsg::CODE, "IORING_OP_SENDMSG"),
            (opcode::AsyncCancel::CODE, "IORING_OP_ASYNC_CANCEL"),
            // Multishot recvmsg came with Linux 6.0, as did zero-copy send: no probe says
            // "multishot" directly, this one dates the kernel.
            (opcode::SendZc::CODE, "multishot recvmsg (Linux 6.0)"),
        ] {
            if !probe.is_supported(code) {
                return Err(unsupported(what));
            }
        }
        // SAFETY: ring_mem is page-aligned (mmap), holds `nbufs` entries, is zeroed (tail 0),
        // and lives in the returned UringIo, which closes the ring (field order, and Drop
        // unregisters first) before unmapping it; on an early return here the ring (a later
        // local) is dropped first too.
        unsafe {
            ring.submitter().register_buf_ring_with_flags(
                ring_mem.ptr.as_ptr() as u64,
                nbufs16,
                BGID,
                0,
            )?;
        }
        let mut template = zeroed_msghdr();
        template.msg_namelen = NAME_LEN as libc::socklen_t;
        template.msg_controllen = 0;
        let zero_slot = || SendSlot {
            hdr: zeroed_msghdr(),
            iov: libc::iovec {
                iov_base: ptr::null_mut(),
                iov_len: 0,
            },
            addr: SockAddr::ZERO,
        };
        let sends: Box<[SendSlot]> = (0..total).map(|_| zero_slot()).collect();
        let zero_iov = libc::iovec {
            iov_base: ptr::null_mut(),
            iov_len: 0,
        };
        let no_send = Transmit {
            src_port: 0,
            dst: SocketAddr::from(([0, 0, 0, 0], 0)),
            start: 0,
            len: 0,
        };
        let gso_slots: Box<[GsoSlot]> = (0..GSO_SLOTS)
            .map(|_| GsoSlot {
                hdr: zeroed_msghdr(),
                iov: [zero_iov; GSO_MAX_SEGMENTS],
                addr: zero_slot().addr,
                control: ControlBuf([0; 32]),
                bids: [0; GSO_MAX_SEGMENTS],
                sends: [no_send; GSO_MAX_SEGMENTS],
                n: 0,
            })
            .collect();
        let total16 = u16::try_from(total).unwrap_or(u16::MAX);
        let mut io = UringIo {
            ring,
            slots: Vec::new(),
            free_slots: Vec::new(),
            ports: vec![NO_SLOT; 1 << 16].into_boxed_slice(),
            ring_mem,
            data,
            nbufs: nbufs16,
            bounce_free: (nbufs16..total16).rev().collect(),
            tail: 0,
            owned: (0..total).map(|b| b < nbufs).collect(),
            held: nbufs,
            template: ManuallyDrop::new(Box::new(template)),
            parse_hdr: template,
            sends: ManuallyDrop::new(sends),
            free_sends: (0..total as u32).rev().collect(),
            gso_slots: ManuallyDrop::new(gso_slots),
            free_gso: (0..GSO_SLOTS as u32).rev().collect(),
            staged: Vec::with_capacity(total),
            waker: None,
            rearm: Vec::new(),
            backlog: VecDeque::with_capacity(cq as usize),
            scratch: Vec::with_capacity(cq as usize),
            counters: IoCounters::default(),
        };
        for bid in 0..nbufs16 {
            io.give_back(bid);
        }
        Ok(io)
    }

    /// The start of buffer `bid`.
    fn buf_ptr(&self, bid: u16) -> *mut u8 {
        self.data
            .ptr
            .as_ptr()
            .wrapping_add(usize::from(bid) * STRIDE)
    }

    /// Marks buffer `bid`, named by a completion, as ours. False for an id that is not in the
    /// ring.
    fn claim(&mut self, bid: u16) -> bool {
        if bid >= self.nbufs {
            // Not a ring buffer: the kernel cannot have picked it.
            return false;
        }
        match self.owned.get_mut(usize::from(bid)) {
            Some(o) if !*o => {
                *o = true;
                self.held += 1;
                true
            }
            // Already ours (cannot happen: the kernel names each buffer it takes once), or out
            // of range: touch nothing, it may be in use.
            Some(_) | None => false,
        }
    }

    /// Takes a free bounce buffer.
    fn take_bounce(&mut self) -> Option<u16> {
        let bid = self.bounce_free.pop()?;
        if let Some(o) = self.owned.get_mut(usize::from(bid)) {
            *o = true;
        }
        Some(bid)
    }

    /// Puts buffer `bid` back in the ring (or a bounce buffer on its free list), if it is ours.
    fn give_back(&mut self, bid: u16) {
        match self.owned.get_mut(usize::from(bid)) {
            Some(o) if *o => *o = false,
            _ => return,
        }
        if bid >= self.nbufs {
            self.bounce_free.push(bid);
            return;
        }
        self.held -= 1;
        let base = self.ring_mem.ptr.as_ptr().cast::<RingEntry>();
        let index = usize::from(self.tail & (self.nbufs - 1));
        let entry = base.wrapping_add(index);
        // SAFETY: index < nbufs, so `entry` is inside the ring mapping, aligned (16-byte
        // entries from a page-aligned base). The kernel reads only the entries between its
        // head and the published tail; fewer than nbufs buffers are in the ring (this one is
        // not), so the entry at the tail is not among them. The tail itself (entry 0's `resv`)
        // is not written here.
        unsafe {
            ptr::addr_of_mut!((*entry).addr).write(self.buf_ptr(bid) as u64);
            ptr::addr_of_mut!((*entry).len).write(RECV_LEN as u32);
            ptr::addr_of_mut!((*entry).bid).write(bid);
        }
        self.tail = self.tail.wrapping_add(1);
        // SAFETY: entry 0's `resv` is the ring tail: inside the mapping, 2-byte aligned, valid
        // for the mapping's life; the kernel only reads it (with acquire semantics), and every
        // access from this side goes through this atomic.
        let tail = unsafe { AtomicU16::from_ptr(ptr::addr_of_mut!((*base).resv)) };
        // Release: the entry written above is visible before the tail that covers it.
        tail.store(self.tail, Ordering::Release);
    }

    /// Queues an SQE, handing queued ones to the kernel first if the queue is full.
    ///
    /// # Safety
    ///
    /// Whatever `sqe` points to must stay valid until its completion is reaped.
    unsafe fn push(&mut self, sqe: &squeue::Entry) -> io::Result<()> {
        for _ in 0..3 {
            // SAFETY: the caller keeps what the entry points to alive until its completion.
            if unsafe { self.ring.submission().push(sqe) }.is_ok() {
                return Ok(());
            }
            match self.ring.submit() {
                Ok(_) => {}
                Err(e) if transient(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::WouldBlock,
            "io_uring: submission queue full",
        ))
    }

    /// Submits queued SQEs, if any.
    fn submit(&mut self) -> io::Result<()> {
        if self.ring.submission().is_empty() {
            return Ok(());
        }
        match self.ring.submit() {
            Ok(_) => Ok(()),
            Err(e) if transient(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Queues the multishot receive of slot `idx`.
    fn arm(&mut self, idx: usize) -> io::Result<()> {
        let Some(slot) = self.slots.get(idx) else {
            return Ok(());
        };
        let Some(fd) = slot.socket.as_ref().map(AsRawFd::as_raw_fd) else {
            return Ok(());
        };
        let ud = slot_ud(KIND_RECV, idx as u32, slot.gen);
        let sqe = match self.slots.get_mut(idx).and_then(|s| s.gro.as_deref_mut()) {
            Some(g) => {
                g.iov = libc::iovec {
                    iov_base: g.buf.as_mut_ptr().cast(),
                    iov_len: g.buf.len(),
                };
                g.hdr.msg_name = ptr::addr_of_mut!(g.name).cast();
                g.hdr.msg_namelen = NAME_LEN as libc::socklen_t;
                g.hdr.msg_iov = ptr::addr_of_mut!(g.iov);
                g.hdr.msg_iovlen = 1;
                g.hdr.msg_control = g.control.0.as_mut_ptr().cast();
                g.hdr.msg_controllen = g.control.0.len();
                g.hdr.msg_flags = 0;
                let hdr: *mut libc::msghdr = &mut g.hdr;
                opcode::RecvMsg::new(Fd(fd), hdr).build().user_data(ud)
            }
            None => {
                let template: *const libc::msghdr = &**self.template;
                opcode::RecvMsgMulti::new(Fd(fd), template, BGID)
                    .build()
                    .user_data(ud)
            }
        };
        // SAFETY: a multishot receive reads the template, which lives (boxed, never moved or
        // written) until the ring is quiet, and writes into the ring's buffers, alive as long
        // as the ring. A GRO receive reads and writes the slot's boxed GroRecv (header, iovec,
        // name, control, buffer), which is neither moved nor freed while the receive is in
        // flight (the slot keeps it; Drop leaks it if the ring is not quiet). The socket lives
        // until this receive's final completion (slot state machine).
        unsafe { self.push(&sqe) }?;
        if let Some(slot) = self.slots.get_mut(idx) {
            slot.inflight = true;
        }
        Ok(())
    }

    /// Asks for slot `idx` to be armed again when the ring has buffers.
    fn schedule_arm(&mut self, idx: usize) {
        if let Some(slot) = self.slots.get_mut(idx) {
            if !slot.arm_pending {
                slot.arm_pending = true;
                self.rearm.push(idx as u32);
            }
        }
    }

    /// Arms the slots waiting for it, if the ring has a buffer to receive into.
    fn arm_pending_slots(&mut self) {
        if self.rearm.is_empty() {
            return;
        }
        let ring_empty = self.held >= usize::from(self.nbufs);
        let mut list = std::mem::take(&mut self.rearm);
        let mut keep = 0;
        for i in 0..list.len() {
            let idx = list[i] as usize;
            let ready = self
                .slots
                .get(idx)
                .is_some_and(|s| s.arm_pending && s.state == SlotState::Active && !s.inflight);
            // A multishot receive needs a buffer in the ring; a GRO receive has its own.
            let waits = ready && ring_empty && self.slots.get(idx).is_some_and(|s| s.gro.is_none());
            if waits {
                list[keep] = idx as u32;
                keep += 1;
                continue;
            }
            if !ready {
                if let Some(s) = self.slots.get_mut(idx) {
                    // Already armed, or closing: nothing left to do for it.
                    if s.state != SlotState::Active || s.inflight {
                        s.arm_pending = false;
                    }
                }
                continue;
            }
            if self.arm(idx).is_ok() {
                if let Some(s) = self.slots.get_mut(idx) {
                    s.arm_pending = false;
                }
            } else {
                list[keep] = idx as u32;
                keep += 1;
            }
        }
        list.truncate(keep);
        self.rearm = list;
    }

    /// Closes slot `idx` (its receive is over) and frees it.
    fn release_slot(&mut self, idx: usize) {
        if let Some(slot) = self.slots.get_mut(idx) {
            if slot.state == SlotState::Free {
                return;
            }
            slot.socket = None;
            slot.state = SlotState::Free;
            slot.inflight = false;
            slot.arm_pending = false;
            self.free_slots.push(idx as u32);
        }
    }

    /// Queues a multishot poll of the waker `fd`.
    fn arm_waker(&mut self, fd: i32) -> io::Result<()> {
        let sqe = opcode::PollAdd::new(Fd(fd), libc::POLLIN as u32)
            .multi(true)
            .build()
            .user_data(KIND_WAKE << KIND_SHIFT);
        // SAFETY: a poll points to no memory: the kernel holds its own reference to the file.
        unsafe { self.push(&sqe) }
    }

    /// Queues a cancel of slot `idx`'s receive.
    fn cancel(&mut self, idx: usize) -> io::Result<()> {
        let Some(slot) = self.slots.get_mut(idx) else {
            return Ok(());
        };
        slot.cancels = slot.cancels.saturating_add(1);
        let target = slot_ud(KIND_RECV, idx as u32, slot.gen);
        let sqe = opcode::AsyncCancel::new(target).build().user_data(slot_ud(
            KIND_CANCEL,
            idx as u32,
            slot.gen,
        ));
        // SAFETY: a cancel points to no memory: its target is named by value.
        unsafe { self.push(&sqe) }
    }

    /// Handles one completion. Without a handler, datagrams for live sockets are kept in the
    /// backlog for the next poll.
    fn complete(&mut self, cqe: Cqe, handle: Option<&mut Handler<'_>>) {
        let (ud, res, flags) = cqe;
        match ud_kind(ud) {
            KIND_RECV => self.complete_recv(cqe, handle),
            KIND_SEND => {
                let (send, bid) = ud_send(ud);
                if res >= 0 {
                    self.counters.sent += 1;
                } else {
                    self.counters.send_errors += 1;
                }
                if (send as usize) < self.sends.len() {
                    self.free_sends.push(send);
                }
                self.give_back(bid);
            }
            KIND_GSO => self.complete_gso(ud as u32, res),
            KIND_WAKE => {
                // A control request woke the wait; the worker reads the waker. A poll that
                // ended (no F_MORE) is armed again.
                if !cqueue::more(flags) {
                    if let Some(fd) = self.waker {
                        if self.arm_waker(fd).is_err() {
                            // Without it requests still get through, on the next timeout.
                        }
                    }
                }
            }
            KIND_CANCEL => {
                // The cancel missed (the receive was completing at that moment, or its final
                // completion is not read yet): ask again, a few times, while it is armed.
                if res < 0 {
                    let (idx, gen) = ud_slot(ud);
                    let again = self.slots.get(idx as usize).is_some_and(|s| {
                        s.gen == gen
                            && s.state == SlotState::Closing
                            && s.inflight
                            && s.cancels < MAX_CANCELS
                    });
                    if again && self.cancel(idx as usize).is_err() {
                        // The queue is stuck; the wait loops will notice the receive stays.
                    }
                }
            }
            _ => {
                // Not ours: ignore (a buffer, if any, is given back).
                if let Some(bid) = cqueue::buffer_select(flags) {
                    if self.claim(bid) {
                        self.give_back(bid);
                    }
                }
            }
        }
    }

    fn complete_recv(&mut self, cqe: Cqe, handle: Option<&mut Handler<'_>>) {
        let (ud, res, flags) = cqe;
        let (idx32, gen) = ud_slot(ud);
        let idx = idx32 as usize;
        let bid = cqueue::buffer_select(flags);
        let more = cqueue::more(flags);
        let state = match self.slots.get(idx) {
            Some(s) if s.gen == gen => s.state,
            // An earlier user of the slot (cannot happen: a slot is reused only after its final
            // completion) or no slot: give the buffer back, nothing else.
            _ => SlotState::Free,
        };
        if state == SlotState::Active && handle.is_none() {
            self.backlog.push_back(cqe);
            return;
        }
        let mut handle = handle;
        let gro = state != SlotState::Free && self.slots.get(idx).is_some_and(|s| s.gro.is_some());
        if gro && res > 0 && state == SlotState::Active {
            if let Some(h) = handle.as_deref_mut() {
                self.deliver_gro(idx, res as usize, h);
            }
        }
        if let Some(bid) = bid {
            if self.claim(bid) {
                match handle {
                    Some(h) if state == SlotState::Active && res >= 0 => self.deliver(idx, bid, h),
                    _ => self.give_back(bid),
                }
            }
        }
        if state == SlotState::Free {
            return;
        }
        if res == -libc::ENOBUFS {
            self.counters.buffers_exhausted += 1;
        } else if res < 0 && res != -libc::ECANCELED && state == SlotState::Active {
            self.counters.receive_errors += 1;
        }
        if !more {
            if let Some(s) = self.slots.get_mut(idx) {
                s.inflight = false;
            }
            match state {
                SlotState::Closing => self.release_slot(idx),
                // ENOBUFS included: armed again once buffers are back.
                SlotState::Active => self.schedule_arm(idx),
                SlotState::Free => {}
            }
        }
    }

    /// Hands the datagram in buffer `bid` (ours) to the handler, sends what it returns.
    fn deliver(&mut self, idx: usize, bid: u16, handle: &mut Handler<'_>) {
        let Some(port) = self.slots.get(idx).map(|s| s.port) else {
            self.give_back(bid);
            return;
        };
        let base = self.buf_ptr(bid);
        // SAFETY: bid < nbufs (claim checked it), so the STRIDE bytes at `base` are inside the
        // data mapping and belong to this buffer alone. The kernel handed the buffer to us with
        // this completion and does not touch it until we put it back in the ring or send from
        // it; no mutable reference to it exists while this one lives (it ends before the relay
        // gets the buffer).
        let buf: &[u8] = unsafe { std::slice::from_raw_parts(base, STRIDE) };
        let parsed = match RecvMsgOut::parse(&buf[..RECV_LEN], &self.parse_hdr) {
            Ok(p) => p,
            Err(()) => {
                self.counters.receive_errors += 1;
                self.give_back(bid);
                return;
            }
        };
        let truncated =
            parsed.is_payload_truncated() || parsed.incoming_payload_len() as usize > MAX_DATAGRAM;
        let src = parse_name(parsed.name_data()).filter(|_| !parsed.is_name_data_truncated());
        let start = (parsed.payload_data().as_ptr() as usize).wrapping_sub(base as usize);
        let len = parsed.payload_data().len().min(MAX_DATAGRAM);
        let Some(src) = src else {
            // No usable source address.
            self.counters.receive_errors += 1;
            self.give_back(bid);
            return;
        };
        if start < HEADROOM || start + len + TAILROOM > STRIDE {
            self.counters.receive_errors += 1;
            self.give_back(bid);
            return;
        }
        // A datagram cut off by the kernel still goes to the relay, which counts it against
        // its leg.
        self.handle_one(port, bid, src, start, len, truncated, handle);
    }

    /// Hands the datagram at `start..start + len` of buffer `bid` (ours) to the relay
    /// (`truncated`: cut off by the kernel, to be counted only); stages what it forwards, gives
    /// the buffer back otherwise.
    #[allow(clippy::too_many_arguments)]
    fn handle_one(
        &mut self,
        port: u16,
        bid: u16,
        src: SocketAddr,
        start: usize,
        len: usize,
        truncated: bool,
        handle: &mut Handler<'_>,
    ) {
        self.counters.received += 1;
        let base = self.buf_ptr(bid);
        // SAFETY: bid is a buffer of the data mapping (ring or bounce) that we own: the kernel
        // does not touch it until we put it back or send from it, and no other reference to it
        // exists while this one lives.
        let buf: &mut [u8] = unsafe { std::slice::from_raw_parts_mut(base, STRIDE) };
        match handle(Datagram {
            port,
            src,
            buf,
            start,
            len,
            truncated,
        }) {
            None => self.give_back(bid),
            Some(t) => {
                let seq = self.staged.len() as u32;
                self.staged.push(Staged {
                    seq,
                    buf: u32::from(bid),
                    t,
                });
            }
        }
    }

    /// Splits what a GRO receive of slot `idx` brought (`total` bytes in its buffer) into its
    /// datagrams, copies each into a bounce buffer and hands it to the relay.
    fn deliver_gro(&mut self, idx: usize, total: usize, handle: &mut Handler<'_>) {
        let Some(port) = self.slots.get(idx).map(|s| s.port) else {
            return;
        };
        let (src, seg, truncated) = {
            let Some(g) = self.slots.get(idx).and_then(|s| s.gro.as_deref()) else {
                return;
            };
            let namelen = (g.hdr.msg_namelen as usize).min(NAME_LEN);
            // SAFETY: SockAddr is a plain C union of NAME_LEN initialised bytes (zeroed when
            // made, written by the kernel since).
            let name: [u8; NAME_LEN] = unsafe { std::mem::transmute(g.name) };
            let controllen = g.hdr.msg_controllen.min(g.control.0.len());
            (
                parse_name(&name[..namelen]),
                gro_segment_size(&g.control.0[..controllen]),
                g.hdr.msg_flags & (libc::MSG_TRUNC | libc::MSG_CTRUNC) != 0,
            )
        };
        let (Some(src), false) = (src, truncated) else {
            self.counters.receive_errors += 1;
            return;
        };
        let total = total.min(GRO_BUFFER);
        let seg = seg.unwrap_or(total).max(1);
        if total > seg {
            self.counters.gro_receives += 1;
        }
        let mut off = 0;
        while off < total {
            let len = seg.min(total - off);
            off += len;
            if len > MAX_DATAGRAM {
                self.counters.receive_errors += 1;
                continue;
            }
            let Some(bid) = self.take_bounce() else {
                // Every bounce buffer is in flight: the datagram is lost, and counted.
                self.counters.buffers_exhausted += 1;
                continue;
            };
            let dst = self.buf_ptr(bid).wrapping_add(PAYLOAD_OFFSET);
            let Some(g) = self.slots.get(idx).and_then(|s| s.gro.as_deref()) else {
                self.give_back(bid);
                return;
            };
            let from = &g.buf[off - len..off];
            // SAFETY: bounce buffer `bid` is ours (just taken off the free list) and STRIDE
            // bytes long, so PAYLOAD_OFFSET + len (len <= MAX_DATAGRAM) fits; it does not
            // overlap the GRO buffer (a separate allocation).
            unsafe { ptr::copy_nonoverlapping(from.as_ptr(), dst, len) };
            self.handle_one(port, bid, src, PAYLOAD_OFFSET, len, false, handle);
        }
    }

    /// Sends the staged forwards: runs of one flow as one GSO send where the socket allows it,
    /// the rest one `sendmsg` each.
    fn flush_staged(&mut self) {
        if self.staged.is_empty() {
            return;
        }
        let mut staged = std::mem::take(&mut self.staged);
        order_by_flow(&mut staged);
        let mut i = 0;
        while i < staged.len() {
            let s = staged[i];
            let gso_ok = self.active_slot(s.t.src_port).is_some_and(|slot| slot.gso);
            let n = if gso_ok { run_len(&staged[i..]) } else { 1 };
            if n >= 2 && self.send_gso(&staged[i..i + n]) {
                i += n;
                continue;
            }
            for s in &staged[i..i + n] {
                self.send(s.buf as u16, s.t);
            }
            i += n;
        }
        staged.clear();
        self.staged = staged;
    }

    /// Queues one GSO send for `run` (one flow, sizes as [`run_len`] allows). False when no
    /// GSO slot is free or the socket is gone (the caller sends the datagrams one by one).
    fn send_gso(&mut self, run: &[Staged]) -> bool {
        let Some(first) = run.first().copied() else {
            return true;
        };
        let Some(fd) = self.active_fd(first.t.src_port) else {
            return false;
        };
        if run.len() > GSO_MAX_SEGMENTS || run.iter().any(|s| s.t.start + s.t.len > STRIDE) {
            return false;
        }
        let Some(gi) = self.free_gso.pop() else {
            return false;
        };
        let bases: [*mut u8; GSO_MAX_SEGMENTS] = {
            let mut b = [ptr::null_mut(); GSO_MAX_SEGMENTS];
            for (j, s) in run.iter().enumerate() {
                b[j] = self.buf_ptr(s.buf as u16).wrapping_add(s.t.start);
            }
            b
        };
        let Some(g) = self.gso_slots.get_mut(gi as usize) else {
            return false;
        };
        for (j, s) in run.iter().enumerate() {
            g.iov[j] = libc::iovec {
                iov_base: bases[j].cast(),
                iov_len: s.t.len,
            };
            g.bids[j] = s.buf as u16;
            g.sends[j] = s.t;
        }
        g.n = run.len();
        let namelen = write_addr(&mut g.addr, &first.t.dst);
        let clen = write_udp_segment(&mut g.control.0, first.t.len as u16);
        g.hdr.msg_name = ptr::addr_of_mut!(g.addr).cast();
        g.hdr.msg_namelen = namelen;
        g.hdr.msg_iov = g.iov.as_mut_ptr();
        g.hdr.msg_iovlen = run.len();
        g.hdr.msg_control = g.control.0.as_mut_ptr().cast();
        g.hdr.msg_controllen = clen;
        g.hdr.msg_flags = 0;
        let hdr: *const libc::msghdr = &g.hdr;
        let sqe = opcode::SendMsg::new(Fd(fd), hdr)
            .build()
            .user_data((KIND_GSO << KIND_SHIFT) | u64::from(gi));
        // SAFETY: the GSO slot (boxed, never moved) is off the free list until this send's
        // completion; its iovecs point into buffers that stay out of the ring until then, each
        // range inside its buffer (checked above).
        if unsafe { self.push(&sqe) }.is_err() {
            self.free_gso.push(gi);
            return false;
        }
        true
    }

    /// The completion of GSO send `gi`: the buffers go back; if the path refused GSO, the
    /// datagrams go again one by one and the socket gets no more GSO sends.
    fn complete_gso(&mut self, gi: u32, res: i32) {
        let Some(g) = self.gso_slots.get(gi as usize) else {
            return;
        };
        let n = g.n.min(GSO_MAX_SEGMENTS);
        let (bids, sends) = (g.bids, g.sends);
        self.free_gso.push(gi);
        if res >= 0 {
            self.counters.sent += n as u64;
            self.counters.gso_sends += 1;
            for &b in &bids[..n] {
                self.give_back(b);
            }
            return;
        }
        if gso_unsupported(-res) {
            self.counters.gso_fallbacks += 1;
            if let Some(&slot) = sends
                .first()
                .and_then(|t| self.ports.get(usize::from(t.src_port)))
            {
                if let Some(s) = self.slots.get_mut(slot as usize) {
                    s.gso = false;
                }
            }
            for j in 0..n {
                self.send(bids[j], sends[j]);
            }
            return;
        }
        // Buffer full, unreachable: lost, as single sends would be.
        self.counters.send_errors += n as u64;
        for &b in &bids[..n] {
            self.give_back(b);
        }
    }

    /// The slot of the socket on local port `port`, if it is receiving.
    fn active_slot(&self, port: u16) -> Option<&Slot> {
        let &s = self.ports.get(usize::from(port))?;
        self.slots
            .get(s as usize)
            .filter(|s| s.state == SlotState::Active)
    }

    /// The socket on local port `port`, if it is receiving.
    fn active_fd(&self, port: u16) -> Option<i32> {
        self.active_slot(port)?
            .socket
            .as_ref()
            .map(AsRawFd::as_raw_fd)
    }

    /// Queues the send `t` from buffer `bid`; the buffer returns to the ring on completion.
    fn send(&mut self, bid: u16, t: Transmit) {
        let fd = self.active_fd(t.src_port);
        let in_buffer = t.start.checked_add(t.len).is_some_and(|end| end <= STRIDE);
        let (Some(fd), true) = (fd, in_buffer) else {
            self.counters.send_errors += 1;
            self.give_back(bid);
            return;
        };
        let Some(si) = self.free_sends.pop() else {
            // Cannot happen: a send holds a buffer and there is a slot per buffer.
            self.counters.send_errors += 1;
            self.give_back(bid);
            return;
        };
        let iov_base = self.buf_ptr(bid).wrapping_add(t.start);
        let Some(slot) = self.sends.get_mut(si as usize) else {
            self.counters.send_errors += 1;
            self.give_back(bid);
            return;
        };
        let namelen = write_addr(&mut slot.addr, &t.dst);
        slot.iov = libc::iovec {
            iov_base: iov_base.cast(),
            iov_len: t.len,
        };
        slot.hdr.msg_name = ptr::addr_of_mut!(slot.addr).cast();
        slot.hdr.msg_namelen = namelen;
        slot.hdr.msg_iov = ptr::addr_of_mut!(slot.iov);
        slot.hdr.msg_iovlen = 1;
        slot.hdr.msg_control = ptr::null_mut();
        slot.hdr.msg_controllen = 0;
        slot.hdr.msg_flags = 0;
        let hdr: *const libc::msghdr = &slot.hdr;
        let sqe = opcode::SendMsg::new(Fd(fd), hdr)
            .build()
            .user_data(send_ud(si, bid));
        // SAFETY: the send slot (boxed, never moved) is taken off the free list until this
        // send's completion; the payload `buf[t.start..t.start + t.len]` is inside buffer `bid`
        // (checked above), which stays out of the ring until that completion. (The socket is
        // not memory: it is closed only after the queue is flushed, and the kernel holds its
        // own reference to it for a request in flight.)
        if unsafe { self.push(&sqe) }.is_err() {
            self.counters.send_errors += 1;
            self.free_sends.push(si);
            self.give_back(bid);
        }
    }

    /// Reads up to a batch of completions and handles them. Returns how many.
    fn drain_once(&mut self, mut handle: Option<&mut Handler<'_>>) -> usize {
        let mut batch = std::mem::take(&mut self.scratch);
        batch.clear();
        let room = batch.capacity();
        batch.extend(
            self.ring
                .completion()
                .take(room)
                .map(|e| (e.user_data(), e.result(), e.flags())),
        );
        for &cqe in &batch {
            self.complete(cqe, handle.as_deref_mut());
        }
        let n = batch.len();
        self.scratch = batch;
        n
    }

    /// Enters the kernel (submitting what is queued) and handles completions, without a
    /// handler, until `done` or `limit` passes.
    fn wait_until(&mut self, limit: Duration, done: impl Fn(&UringIo) -> bool) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            self.arm_pending_slots();
            if done(self) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            if self.step(deadline).is_err() {
                return done(self);
            }
        }
    }

    /// Enters the kernel once, waiting up to [`WAIT_STEP`] (never past `deadline`) for a
    /// completion, then handles completions without a handler. `Err` on a lasting error.
    fn step(&mut self, deadline: Instant) -> Result<(), ()> {
        let ts = Timespec::from(WAIT_STEP.min(deadline.saturating_duration_since(Instant::now())));
        let args = SubmitArgs::new().timespec(&ts);
        match self.ring.submitter().submit_with_args(1, &args) {
            Ok(_) => {}
            Err(e) if transient(&e) => {}
            Err(_) => return Err(()),
        }
        while self.drain_once(None) > 0 {}
        Ok(())
    }

    /// Hands every queued SQE to the kernel (reaping completions, without a handler, while it
    /// is busy), so that none still names a socket about to be closed: the kernel takes its own
    /// reference to a socket when it takes the request, but a number left in the queue could
    /// name another file by the time it is submitted. False if the queue stays stuck.
    fn flush_submissions(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            if self.submit().is_err() {
                return false;
            }
            if self.ring.submission().is_empty() {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            if self.step(deadline).is_err() {
                return false;
            }
        }
    }

    /// No receive armed, no send in flight: the kernel uses none of our memory.
    fn quiet(&self) -> bool {
        self.slots.iter().all(|s| !s.inflight)
            && self.free_sends.len() == self.sends.len()
            && self.free_gso.len() == self.gso_slots.len()
    }

    /// Buffers in the ring (test helper).
    #[cfg(test)]
    fn buffer_count(&self) -> usize {
        usize::from(self.nbufs)
    }
}

impl Io for UringIo {
    fn add(&mut self, port: u16, socket: UdpSocket, gro: bool) -> io::Result<()> {
        if self.ports[usize::from(port)] != NO_SLOT {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("io_uring: port {port} already added"),
            ));
        }
        if gro {
            set_int_option(socket.as_raw_fd(), libc::SOL_UDP, libc::UDP_GRO, 1)?;
        }
        self.rearm.reserve(1);
        let idx = match self.free_slots.pop() {
            Some(i) => i as usize,
            None => {
                self.slots.push(Slot {
                    socket: None,
                    port,
                    gen: 0,
                    state: SlotState::Free,
                    inflight: false,
                    arm_pending: false,
                    cancels: 0,
                    gro: None,
                    gso: true,
                });
                self.slots.len() - 1
            }
        };
        let Some(slot) = self.slots.get_mut(idx) else {
            return Err(io::Error::other("io_uring: slot table"));
        };
        slot.gen = slot.gen.wrapping_add(1) & GEN_MASK;
        slot.socket = Some(socket);
        slot.port = port;
        slot.state = SlotState::Active;
        slot.inflight = false;
        slot.arm_pending = false;
        slot.cancels = 0;
        slot.gso = true;
        // The slot is free: no receive is in flight, so its GRO buffer may be dropped or reused.
        match (gro, slot.gro.is_some()) {
            (true, false) => {
                slot.gro = Some(Box::new(GroRecv {
                    hdr: zeroed_msghdr(),
                    iov: libc::iovec {
                        iov_base: ptr::null_mut(),
                        iov_len: 0,
                    },
                    name: SockAddr::ZERO,
                    control: ControlBuf([0; 64]),
                    buf: vec![0u8; GRO_BUFFER].into_boxed_slice(),
                }))
            }
            (false, true) => slot.gro = None,
            _ => {}
        }
        if let Err(e) = self.arm(idx).and_then(|()| self.submit()) {
            let armed = self.slots.get(idx).is_some_and(|s| s.inflight);
            if armed {
                // Queued, but the submission failed: the receive may still run, so the slot
                // (and socket) stays until its final completion, like a removed port's.
                if let Some(s) = self.slots.get_mut(idx) {
                    s.state = SlotState::Closing;
                }
                let _ = self.cancel(idx);
            } else {
                self.release_slot(idx);
            }
            return Err(e);
        }
        self.ports[usize::from(port)] = idx as u32;
        Ok(())
    }

    fn set_waker(&mut self, fd: std::os::fd::RawFd) -> io::Result<()> {
        self.waker = Some(fd);
        self.arm_waker(fd)?;
        self.submit()
    }

    fn remove(&mut self, port: u16) {
        let idx = match self.ports.get(usize::from(port)) {
            Some(&s) if s != NO_SLOT => s as usize,
            _ => return,
        };
        self.ports[usize::from(port)] = NO_SLOT;
        let Some(slot) = self.slots.get_mut(idx) else {
            return;
        };
        if slot.state != SlotState::Active {
            return;
        }
        slot.state = SlotState::Closing;
        let gen = slot.gen;
        // Completions for this slot that wait in the backlog are settled now (their buffers
        // go back, a final one ends the receive); the others keep their order.
        for _ in 0..self.backlog.len() {
            let Some(cqe) = self.backlog.pop_front() else {
                break;
            };
            let (i, g) = ud_slot(cqe.0);
            if ud_kind(cqe.0) == KIND_RECV && i as usize == idx && g == gen {
                self.complete(cqe, None);
            } else {
                self.backlog.push_back(cqe);
            }
        }
        let still_armed = self.slots.get(idx).is_some_and(|s| s.inflight);
        if !still_armed {
            // Sends from this socket may still sit in the queue: hand them over first. (If
            // the queue is stuck for a whole second the ring is broken; close anyway.)
            self.flush_submissions(REMOVE_WAIT);
            self.release_slot(idx);
            return;
        }
        if self.cancel(idx).is_err() {
            // The queue is stuck (the ring is broken): the socket stays open until the receive
            // ends or the backend is dropped, which cancels again.
            return;
        }
        // Wait for the final completion, so the socket is closed (and the port free) when this
        // returns. If the kernel takes longer, the socket closes when it comes.
        let done = move |io: &UringIo| {
            io.slots
                .get(idx)
                .is_none_or(|s| s.gen != gen || s.state != SlotState::Closing)
        };
        self.wait_until(REMOVE_WAIT, done);
    }

    fn poll(&mut self, timeout: Duration, handle: &mut Handler<'_>) -> io::Result<()> {
        // What remove() set aside first, in order.
        let mut handled = 0;
        while let Some(cqe) = self.backlog.pop_front() {
            self.complete(cqe, Some(&mut *handle));
            handled += 1;
        }
        self.flush_staged();
        self.arm_pending_slots();
        if handled > 0 || timeout.is_zero() || !self.ring.completion().is_empty() {
            self.submit()?;
        } else {
            let ts = Timespec::from(timeout);
            let args = SubmitArgs::new().timespec(&ts);
            match self.ring.submitter().submit_with_args(1, &args) {
                Ok(_) => {}
                Err(e) if transient(&e) => {}
                Err(e) => return Err(e),
            }
        }
        for _ in 0..MAX_PASSES {
            let n = self.drain_once(Some(&mut *handle));
            self.flush_staged();
            self.arm_pending_slots();
            // One submission for all the sends (and re-arms) of the pass.
            self.submit()?;
            if n == 0 {
                break;
            }
        }
        // Sends handed over by the last submission have usually completed by now (a socket
        // with room sends inline): count them, so the counters are current when poll returns.
        // Datagrams read meanwhile wait in the backlog, in order, for the next poll (it was
        // emptied above and holds no more than a batch: no allocation).
        if self.free_sends.len() < self.sends.len() || self.free_gso.len() < self.gso_slots.len() {
            self.drain_once(None);
        }
        Ok(())
    }

    fn counters(&self) -> IoCounters {
        self.counters
    }
}

impl Drop for UringIo {
    fn drop(&mut self) {
        // What is queued goes to the kernel first: no queued request may name a socket that is
        // closed below.
        self.flush_submissions(DROP_WAIT / 4);
        // Stop every receive; datagrams still arriving or set aside just give their buffer back.
        for idx in 0..self.slots.len() {
            let Some(s) = self.slots.get_mut(idx) else {
                continue;
            };
            match s.state {
                SlotState::Free => continue,
                SlotState::Active => {
                    s.state = SlotState::Closing;
                    if let Some(p) = self.ports.get_mut(usize::from(s.port)) {
                        *p = NO_SLOT;
                    }
                }
                SlotState::Closing => {}
            }
            if !s.inflight {
                self.release_slot(idx);
            } else if self.cancel(idx).is_err() {
                // Stuck queue: `quiet` stays false below and the memory is leaked.
            }
        }
        while let Some(cqe) = self.backlog.pop_front() {
            self.complete(cqe, None);
        }
        if self.wait_until(DROP_WAIT, UringIo::quiet) {
            // Nothing in the kernel uses the buffers, the template or the send slots any more.
            let _ = self.ring.submitter().unregister_buf_ring(BGID);
            // SAFETY: dropped exactly once, here; the ring is quiet, so the kernel no longer
            // reads them, and nothing else refers to them (fields are not used after this).
            unsafe {
                ManuallyDrop::drop(&mut self.template);
                ManuallyDrop::drop(&mut self.sends);
                ManuallyDrop::drop(&mut self.gso_slots);
            }
        } else {
            // The kernel may still read or write this memory after the ring closes: leave it.
            self.ring_mem.leak = true;
            self.data.leak = true;
            for s in &mut self.slots {
                if let Some(g) = s.gro.take() {
                    std::mem::forget(g);
                }
            }
        }
        // Then the fields drop in order: the ring (closed), the sockets, the mappings.
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    /// Generous: CI has two cores and other tests run beside these.
    const WAIT: Duration = Duration::from_secs(10);

    /// Whether this process may use io_uring at all (a container's seccomp profile may forbid
    /// it; then `new` must fail cleanly and the other tests have nothing to test).
    fn uring_allowed() -> bool {
        match IoUring::new(8) {
            Ok(_) => true,
            Err(e) => {
                eprintln!("io_uring is not available here ({e}): skipping");
                false
            }
        }
    }

    fn open(nbufs: usize) -> Option<UringIo> {
        if !uring_allowed() {
            return None;
        }
        Some(UringIo::with_buffers(nbufs).expect("io_uring backend"))
    }

    fn bound() -> (UdpSocket, u16) {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        let p = s.local_addr().unwrap().port();
        (s, p)
    }

    fn peer() -> UdpSocket {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        s
    }

    fn local(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// Datagram `i` of the burst: its length (1..=1500, one length per index) and content.
    fn burst_len(i: usize) -> usize {
        1 + i * 1499 / 999
    }

    fn burst_datagram(i: usize) -> Vec<u8> {
        (0..burst_len(i))
            .map(|j| (i.wrapping_mul(31) ^ j.wrapping_mul(7)) as u8)
            .collect()
    }

    /// Polls until `done` or WAIT passes.
    fn pump(io: &mut UringIo, handle: &mut Handler<'_>, mut done: impl FnMut(&UringIo) -> bool) {
        let until = Instant::now() + WAIT;
        while !done(io) && Instant::now() < until {
            io.poll(Duration::from_millis(10), handle).unwrap();
        }
    }

    fn echo(d: Datagram<'_>) -> Option<Transmit> {
        assert!(d.start >= HEADROOM, "headroom");
        assert!(d.start + d.len + TAILROOM <= d.buf.len(), "tailroom");
        Some(Transmit {
            src_port: d.port,
            dst: d.src,
            start: d.start,
            len: d.len,
        })
    }

    #[test]
    fn new_succeeds_where_io_uring_is_allowed() {
        let allowed = uring_allowed();
        match UringIo::new(32) {
            Ok(io) => {
                assert!(allowed);
                assert_eq!(io.buffer_count(), MIN_BUFFERS);
                assert_eq!(io.counters(), IoCounters::default());
            }
            Err(e) => assert!(!allowed, "io_uring works here, the backend does not: {e}"),
        }
        if allowed {
            assert_eq!(
                UringIo::new(3000).unwrap().buffer_count(),
                MAX_BUFFERS,
                "24,000 rounded up"
            );
            assert!(UringIo::with_buffers(100).is_err(), "not a power of two");
        }
    }

    #[test]
    fn gso_out_and_gro_in_on_a_multiplexed_port() {
        let Some(mut io) = open(256) else { return };
        crate::runtime::backend_checks::gso_out_and_gro_in(&mut io);
        assert_eq!(io.held, 0, "every ring buffer back");
        assert_eq!(
            io.bounce_free.len(),
            BOUNCE_BUFFERS,
            "every bounce buffer back"
        );
    }

    #[test]
    fn layout_leaves_headroom_and_tailroom() {
        // (HEADROOM and TAILROOM are checked at compile time, next to the constants.)
        assert_eq!(PAYLOAD_OFFSET, 44);
        assert_eq!(STRIDE % 64, 0);
    }

    #[test]
    fn names_parse_and_write_back() {
        for a in ["198.18.0.1:36000", "[2001:db8::7]:5004", "127.0.0.1:1"] {
            let addr: SocketAddr = a.parse().unwrap();
            let mut s = SockAddr::ZERO;
            let len = write_addr(&mut s, &addr) as usize;
            // SAFETY: SockAddr is a plain C union of 28 bytes, all initialised (v6 first).
            let bytes: [u8; 28] = unsafe { std::mem::transmute(s) };
            assert_eq!(parse_name(&bytes[..len]), Some(addr));
            assert_eq!(parse_name(&bytes[..3]), None, "too short");
        }
        assert_eq!(parse_name(&[0u8; 28]), None, "AF_UNSPEC");
    }

    #[test]
    fn burst_of_1000_comes_back_intact() {
        let Some(mut io) = open(256) else { return };
        let (s, port) = bound();
        io.add(port, s, false).unwrap();
        let client = peer();
        // The client keeps up to 64 datagrams in flight, reading the echoes as it goes.
        let sender = std::thread::spawn(move || -> Result<(), String> {
            const WINDOW: usize = 64;
            let mut seen = vec![false; 1000];
            let (mut next, mut back) = (0, 0);
            let mut b = [0u8; 2048];
            while back < 1000 {
                if next < 1000 && next - back < WINDOW {
                    client
                        .send_to(&burst_datagram(next), local(port))
                        .map_err(|e| e.to_string())?;
                    next += 1;
                    continue;
                }
                let (n, from) = client
                    .recv_from(&mut b)
                    .map_err(|e| format!("after {back} echoes: {e}"))?;
                if from != local(port) {
                    return Err(format!("echo from {from}"));
                }
                let i = (0..1000)
                    .find(|&i| burst_len(i) == n)
                    .ok_or(format!("no datagram of {n} bytes was sent"))?;
                if seen[i] {
                    return Err(format!("datagram {i} came back twice"));
                }
                if b[..n] != burst_datagram(i)[..] {
                    return Err(format!("datagram {i} came back altered"));
                }
                seen[i] = true;
                back += 1;
            }
            Ok(())
        });
        let until = Instant::now() + 3 * WAIT;
        while !sender.is_finished() && Instant::now() < until {
            io.poll(Duration::from_millis(10), &mut echo).unwrap();
        }
        assert!(
            sender.is_finished(),
            "echoes timed out: {:?}",
            io.counters()
        );
        sender.join().unwrap().unwrap();
        let c = io.counters();
        assert_eq!(
            c,
            IoCounters {
                received: 1000,
                sent: 1000,
                send_errors: 0,
                receive_errors: 0,
                buffers_exhausted: 0,
                ..IoCounters::default()
            }
        );
        assert_eq!(io.held, 0, "every buffer back in the ring");
    }

    #[test]
    fn forwards_from_another_port_using_headroom_and_tailroom() {
        let Some(mut io) = open(256) else { return };
        let (a, a_port) = bound();
        let (b, b_port) = bound();
        io.add(a_port, a, false).unwrap();
        io.add(b_port, b, false).unwrap();
        let from = peer();
        let to = peer();
        let dst = to.local_addr().unwrap();
        // In place, as the relay does: a 4-byte header before, a 16-byte trailer after.
        let mut forward = |d: Datagram<'_>| -> Option<Transmit> {
            assert_eq!(d.port, a_port);
            let (start, end) = (d.start - 4, d.start + d.len);
            d.buf[start..d.start].copy_from_slice(b"HDR!");
            d.buf[end..end + 16].fill(0xee);
            Some(Transmit {
                src_port: b_port,
                dst,
                start,
                len: d.len + 20,
            })
        };
        for n in [0usize, 1, 172, 1500, MAX_DATAGRAM] {
            let payload: Vec<u8> = (0..n).map(|j| j as u8).collect();
            from.send_to(&payload, local(a_port)).unwrap();
            let mut b = [0u8; 4096];
            let sent_before = io.counters().sent;
            pump(&mut io, &mut forward, |io| io.counters().sent > sent_before);
            let (got, src) = to.recv_from(&mut b).unwrap();
            assert_eq!(src, local(b_port), "sent from the other port");
            assert_eq!(got, n + 20);
            assert_eq!(&b[..4], b"HDR!");
            assert_eq!(&b[4..4 + n], &payload[..]);
            assert!(b[4 + n..got].iter().all(|&x| x == 0xee));
        }
        // A transmit from a port nobody added is a send error, and the buffer comes back.
        let mut nowhere = |d: Datagram<'_>| -> Option<Transmit> {
            Some(Transmit {
                src_port: 9,
                dst,
                start: d.start,
                len: d.len,
            })
        };
        from.send_to(b"x", local(a_port)).unwrap();
        pump(&mut io, &mut nowhere, |io| io.counters().send_errors == 1);
        assert_eq!(io.counters().send_errors, 1);
        assert_eq!(io.counters().sent, 5);
        assert_eq!(io.held, 0);
    }

    #[test]
    fn oversized_datagrams_reach_the_handler_marked_truncated() {
        let Some(mut io) = open(256) else { return };
        crate::runtime::backend_checks::oversized_datagrams_are_marked(&mut io);
        assert_eq!(io.held, 0);
    }

    #[test]
    fn remove_then_add_on_the_same_port() {
        let Some(mut io) = open(256) else { return };
        let (s, port) = bound();
        io.add(port, s, false).unwrap();
        let client = peer();
        let mut b = [0u8; 64];
        for round in 0..3u8 {
            client.send_to(&[round; 10], local(port)).unwrap();
            pump(&mut io, &mut echo, |io| {
                io.counters().sent > u64::from(round)
            });
            let (n, _) = client.recv_from(&mut b).unwrap();
            assert_eq!(&b[..n], &[round; 10]);
            assert!(io
                .add(port, UdpSocket::bind("127.0.0.1:0").unwrap(), false)
                .is_err());
            io.remove(port);
            io.remove(port);
            // The socket is closed when remove returns: the port binds again at once.
            let again = UdpSocket::bind(local(port)).expect("port free after remove");
            io.add(port, again, false).unwrap();
        }
        io.remove(4); // never added: nothing happens
        assert_eq!(io.counters().sent, 3);
        assert_eq!(io.counters().receive_errors, 0);
        assert!(io.slots.len() <= 2, "slots are reused");
    }

    #[test]
    fn remove_keeps_other_ports_datagrams_for_the_next_poll() {
        let Some(mut io) = open(256) else { return };
        let (a, a_port) = bound();
        let (b, b_port) = bound();
        io.add(a_port, a, false).unwrap();
        io.add(b_port, b, false).unwrap();
        let client = peer();
        for i in 0..20u8 {
            client.send_to(&[i], local(a_port)).unwrap();
        }
        // Let them arrive before b is removed: remove() reads their completions.
        std::thread::sleep(Duration::from_millis(50));
        io.remove(b_port);
        let mut got = Vec::new();
        let mut record = |d: Datagram<'_>| -> Option<Transmit> {
            got.push(d.buf[d.start]);
            None
        };
        pump(&mut io, &mut record, |io| io.counters().received >= 20);
        assert_eq!(got, (0..20).collect::<Vec<u8>>(), "all, in order");
        assert!(UdpSocket::bind(local(b_port)).is_ok());
        assert_eq!(io.held, 0);
    }

    #[test]
    fn buffers_come_back_when_the_handler_keeps_nothing() {
        let Some(mut io) = open(256) else { return };
        let (s, port) = bound();
        io.add(port, s, false).unwrap();
        let client = peer();
        let n = io.buffer_count();
        let mut dropped = 0usize;
        let mut drop_all = |_: Datagram<'_>| -> Option<Transmit> {
            dropped += 1;
            None
        };
        let total = 5 * n;
        let mut sent = 0;
        while sent < total {
            // Chunks the socket buffer holds, so nothing is lost on the way.
            for _ in 0..32 {
                client.send_to(&[1u8; 200], local(port)).unwrap();
            }
            sent += 32;
            pump(&mut io, &mut drop_all, |io| {
                io.counters().received >= sent as u64
            });
        }
        assert_eq!(dropped, total);
        // The ring still delivers, and sends.
        client.send_to(b"still here", local(port)).unwrap();
        pump(&mut io, &mut echo, |io| io.counters().sent == 1);
        let mut b = [0u8; 64];
        let (k, _) = client.recv_from(&mut b).unwrap();
        assert_eq!(&b[..k], b"still here");
        assert_eq!(io.counters().receive_errors, 0);
        assert_eq!(io.held, 0);
    }

    #[test]
    fn a_tiny_ring_runs_dry_and_recovers() {
        // Eight buffers, 64 datagrams queued at once: the multishot receive ends with ENOBUFS
        // and is armed again as buffers come back, whether the handler drops or sends.
        let Some(mut io) = open(8) else { return };
        let (s, port) = bound();
        io.add(port, s, false).unwrap();
        let client = peer();
        for i in 0..64u8 {
            client.send_to(&[i; 100], local(port)).unwrap();
        }
        let mut count = 0;
        let mut drop_all = |_: Datagram<'_>| -> Option<Transmit> {
            count += 1;
            None
        };
        pump(&mut io, &mut drop_all, |io| io.counters().received >= 64);
        assert_eq!(count, 64);
        for i in 0..64u8 {
            client.send_to(&[i; 100], local(port)).unwrap();
        }
        pump(&mut io, &mut echo, |io| io.counters().sent >= 64);
        let mut b = [0u8; 256];
        for _ in 0..64 {
            let (k, _) = client.recv_from(&mut b).unwrap();
            assert_eq!(k, 100);
        }
        let c = io.counters();
        assert_eq!(
            (c.received, c.sent, c.receive_errors),
            (128, 64, 0),
            "{c:?}"
        );
        assert_eq!(io.held, 0);
    }

    #[test]
    fn echoes_over_ipv6() {
        let Some(mut io) = open(256) else { return };
        let Ok(s) = UdpSocket::bind("[::1]:0") else {
            eprintln!("no IPv6 loopback here: skipping");
            return;
        };
        let port = s.local_addr().unwrap().port();
        io.add(port, s, false).unwrap();
        let client = UdpSocket::bind("[::1]:0").unwrap();
        client.set_read_timeout(Some(WAIT)).unwrap();
        let me = client.local_addr().unwrap();
        let mut seen = None;
        let mut echo_v6 = |d: Datagram<'_>| {
            seen = Some(d.src);
            echo(d)
        };
        client.send_to(b"over v6", ("::1", port)).unwrap();
        pump(&mut io, &mut echo_v6, |io| io.counters().sent == 1);
        assert_eq!(seen, Some(me), "the source address, as the kernel wrote it");
        let mut b = [0u8; 64];
        let (n, from) = client.recv_from(&mut b).unwrap();
        assert_eq!(&b[..n], b"over v6");
        assert_eq!(from.port(), port);
    }

    #[test]
    fn counters_are_current_when_poll_returns() {
        // A send to loopback completes as it is submitted: poll counts it before returning, so
        // a peer that got the datagram never sees a counter that has not.
        let Some(mut io) = open(256) else { return };
        let (s, port) = bound();
        io.add(port, s, false).unwrap();
        let client = peer();
        let mut b = [0u8; 64];
        for i in 1..=200u64 {
            client.send_to(b"ping", local(port)).unwrap();
            pump(&mut io, &mut echo, |io| io.counters().received == i);
            assert_eq!(io.counters().sent, i);
            assert_eq!(client.recv_from(&mut b).unwrap().0, 4);
        }
    }

    #[test]
    fn drop_closes_the_sockets_with_datagrams_pending() {
        let Some(mut io) = open(256) else { return };
        let (s, port) = bound();
        io.add(port, s, false).unwrap();
        let client = peer();
        for _ in 0..10 {
            client.send_to(&[0u8; 100], local(port)).unwrap();
        }
        io.poll(Duration::ZERO, &mut |_: Datagram<'_>| None)
            .unwrap();
        for _ in 0..10 {
            client.send_to(&[0u8; 100], local(port)).unwrap();
        }
        drop(io);
        assert!(UdpSocket::bind(local(port)).is_ok(), "port free after drop");
    }
}
