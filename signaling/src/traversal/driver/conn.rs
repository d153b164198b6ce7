//! One TLS connection running one [`Link`]: the only place where the link meets a socket and a
//! clock. Both roles use it; the application sees [`Stream`] handles.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, watch};

use crate::traversal::frame::{GoawayCode, ResetCode, StreamId, StreamKind};
use crate::traversal::link::{
    Event, Link, LinkError, LinkState, LinkStats, OpenError, StreamError,
};
use crate::traversal::status::{Failure, LinkCounters, LinkPhase, LinkStatus};

use super::tls;

/// How long a closing connection waits for its last frames to leave and for the peer to close.
const LINGER: Duration = Duration::from_secs(1);
/// Read buffer size.
const READ_CHUNK: usize = 16 * 1024;
/// Counters in a link's status are refreshed at most this often (state changes at once).
const COUNTER_PERIOD: Duration = Duration::from_millis(100);
/// Octets the driver holds for the writer before it stops pulling frames from the link.
const WRITE_HIGH_WATER: usize = 128 * 1024;

/// Why a stream operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamIoError {
    /// The stream was reset: by the peer, or by us because the peer broke flow control.
    Reset(ResetCode),
    /// The link under the stream is gone.
    LinkClosed,
    /// `send` or `close` after `close`.
    Closed,
}

impl fmt::Display for StreamIoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Reset(code) => write!(f, "stream reset: {code}"),
            Self::LinkClosed => f.write_str("traversal link closed"),
            Self::Closed => f.write_str("stream already closed for sending"),
        }
    }
}

impl std::error::Error for StreamIoError {}

/// Why a stream could not be opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenStreamError {
    /// No link is up (C: between links; E: the link closed).
    NotConnected,
    /// The link refused: draining, or the peer's stream limit is reached.
    Link(OpenError),
}

impl fmt::Display for OpenStreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotConnected => f.write_str("no traversal link up"),
            Self::Link(e) => write!(f, "traversal link: {e}"),
        }
    }
}

impl std::error::Error for OpenStreamError {}

/// Requests from handles to the connection task.
#[derive(Debug)]
pub(crate) enum Cmd {
    Open {
        kind: StreamKind,
        reply: oneshot::Sender<Result<Stream, OpenStreamError>>,
    },
    Send {
        id: StreamId,
        data: Vec<u8>,
        reply: oneshot::Sender<Result<(), StreamIoError>>,
    },
    Close {
        id: StreamId,
    },
    Reset {
        id: StreamId,
        code: ResetCode,
    },
    Consumed {
        id: StreamId,
        n: usize,
    },
    /// The handle was dropped; `closed`: it had called `close`, so queued data still goes out.
    Dropped {
        id: StreamId,
        closed: bool,
    },
    Goaway {
        code: GoawayCode,
    },
    /// (E) the application dropped its `Connection`: drain the link.
    ConnectionDropped,
}

pub(crate) async fn open_on(
    cmds: &mpsc::UnboundedSender<Cmd>,
    kind: StreamKind,
) -> Result<Stream, OpenStreamError> {
    let (reply, rx) = oneshot::channel();
    cmds.send(Cmd::Open { kind, reply })
        .map_err(|_| OpenStreamError::NotConnected)?;
    rx.await.unwrap_or(Err(OpenStreamError::NotConnected))
}

#[derive(Debug)]
enum ToStream {
    Data(Vec<u8>),
    Finished,
    Reset(ResetCode),
    LinkDown,
}

/// A logical stream over the traversal link, opened by either end.
///
/// Bytes arrive in [`recv`](Self::recv) in order; each chunk received gives its octets back to
/// the peer's flow-control window. [`send`](Self::send) waits while the stream's send buffer is
/// full. Dropping a stream that has not been [`close`](Self::close)d resets it (CANCEL); a
/// closed stream that is dropped still delivers what it queued.
#[derive(Debug)]
pub struct Stream {
    id: StreamId,
    kind: StreamKind,
    cmds: mpsc::UnboundedSender<Cmd>,
    rx: mpsc::UnboundedReceiver<ToStream>,
    send_closed: bool,
    recv_end: Option<Result<(), StreamIoError>>,
    released: bool,
}

impl Stream {
    fn new(
        id: StreamId,
        kind: StreamKind,
        cmds: mpsc::UnboundedSender<Cmd>,
        rx: mpsc::UnboundedReceiver<ToStream>,
    ) -> Self {
        Self {
            id,
            kind,
            cmds,
            rx,
            send_closed: false,
            recv_end: None,
            released: false,
        }
    }

    /// The stream id.
    pub fn id(&self) -> StreamId {
        self.id
    }

    /// What the stream carries.
    pub fn kind(&self) -> StreamKind {
        self.kind
    }

    /// Sends `data`; returns once the link has taken all of it into the stream's send buffer.
    pub async fn send(&mut self, data: &[u8]) -> Result<(), StreamIoError> {
        if self.send_closed {
            return Err(StreamIoError::Closed);
        }
        send_on(&self.cmds, self.id, data).await
    }

    /// Half-closes the stream (CLOSE): the peer sees the end after the data already sent; its
    /// data still arrives in [`recv`](Self::recv) until it closes too.
    pub fn close(&mut self) -> Result<(), StreamIoError> {
        if self.send_closed {
            return Err(StreamIoError::Closed);
        }
        self.send_closed = true;
        self.cmds
            .send(Cmd::Close { id: self.id })
            .map_err(|_| StreamIoError::LinkClosed)
    }

    /// The next chunk; `Ok(None)` once the peer has finished its side.
    pub async fn recv(&mut self) -> Result<Option<Vec<u8>>, StreamIoError> {
        recv_on(&mut self.rx, &self.cmds, self.id, &mut self.recv_end).await
    }

    /// Everything until the peer finishes.
    pub async fn read_to_end(&mut self) -> Result<Vec<u8>, StreamIoError> {
        let mut all = Vec::new();
        while let Some(chunk) = self.recv().await? {
            all.extend_from_slice(&chunk);
        }
        Ok(all)
    }

    /// Splits the stream into halves that can wait independently: a sender blocked on the
    /// peer's flow-control window must not keep its own side from reading, or two ends that
    /// both send hard wait for each other forever. The stream is released when both halves are
    /// dropped (reset, unless the writer closed it).
    pub fn split(mut self) -> (StreamWriter, StreamReader) {
        self.released = true;
        let release = std::sync::Arc::new(SplitRelease {
            id: self.id,
            cmds: self.cmds.clone(),
            closed: std::sync::atomic::AtomicBool::new(self.send_closed),
        });
        let (dummy_tx, dummy_rx) = mpsc::unbounded_channel();
        drop(dummy_tx);
        let rx = std::mem::replace(&mut self.rx, dummy_rx);
        let reader = StreamReader {
            id: self.id,
            cmds: self.cmds.clone(),
            rx,
            recv_end: self.recv_end,
            _release: release.clone(),
        };
        let writer = StreamWriter {
            id: self.id,
            cmds: self.cmds.clone(),
            release,
        };
        (writer, reader)
    }

    /// Abandons the stream in both directions.
    pub fn reset(mut self, code: ResetCode) {
        self.released = true;
        let _ = self.cmds.send(Cmd::Reset { id: self.id, code });
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        if !self.released {
            let _ = self.cmds.send(Cmd::Dropped {
                id: self.id,
                closed: self.send_closed,
            });
        }
    }
}

async fn send_on(
    cmds: &mpsc::UnboundedSender<Cmd>,
    id: StreamId,
    data: &[u8],
) -> Result<(), StreamIoError> {
    let (reply, rx) = oneshot::channel();
    cmds.send(Cmd::Send {
        id,
        data: data.to_vec(),
        reply,
    })
    .map_err(|_| StreamIoError::LinkClosed)?;
    rx.await.unwrap_or(Err(StreamIoError::LinkClosed))
}

async fn recv_on(
    rx: &mut mpsc::UnboundedReceiver<ToStream>,
    cmds: &mpsc::UnboundedSender<Cmd>,
    id: StreamId,
    recv_end: &mut Option<Result<(), StreamIoError>>,
) -> Result<Option<Vec<u8>>, StreamIoError> {
    if let Some(end) = *recv_end {
        return end.map(|()| None);
    }
    let end = match rx.recv().await {
        Some(ToStream::Data(data)) => {
            let _ = cmds.send(Cmd::Consumed { id, n: data.len() });
            return Ok(Some(data));
        }
        Some(ToStream::Finished) => Ok(()),
        Some(ToStream::Reset(code)) => Err(StreamIoError::Reset(code)),
        Some(ToStream::LinkDown) | None => Err(StreamIoError::LinkClosed),
    };
    *recv_end = Some(end);
    end.map(|()| None)
}

/// Releases a split stream once both halves are gone (as dropping a [`Stream`] does).
#[derive(Debug)]
struct SplitRelease {
    id: StreamId,
    cmds: mpsc::UnboundedSender<Cmd>,
    closed: std::sync::atomic::AtomicBool,
}

impl Drop for SplitRelease {
    fn drop(&mut self) {
        let _ = self.cmds.send(Cmd::Dropped {
            id: self.id,
            closed: self.closed.load(std::sync::atomic::Ordering::Relaxed),
        });
    }
}

/// The receiving half of a [`Stream`] ([`Stream::split`]).
#[derive(Debug)]
pub struct StreamReader {
    id: StreamId,
    cmds: mpsc::UnboundedSender<Cmd>,
    rx: mpsc::UnboundedReceiver<ToStream>,
    recv_end: Option<Result<(), StreamIoError>>,
    _release: std::sync::Arc<SplitRelease>,
}

impl StreamReader {
    /// As [`Stream::recv`].
    pub async fn recv(&mut self) -> Result<Option<Vec<u8>>, StreamIoError> {
        recv_on(&mut self.rx, &self.cmds, self.id, &mut self.recv_end).await
    }
}

/// The sending half of a [`Stream`] ([`Stream::split`]).
#[derive(Debug)]
pub struct StreamWriter {
    id: StreamId,
    cmds: mpsc::UnboundedSender<Cmd>,
    release: std::sync::Arc<SplitRelease>,
}

impl StreamWriter {
    /// As [`Stream::send`].
    pub async fn send(&mut self, data: &[u8]) -> Result<(), StreamIoError> {
        if self
            .release
            .closed
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            return Err(StreamIoError::Closed);
        }
        send_on(&self.cmds, self.id, data).await
    }

    /// As [`Stream::close`].
    pub fn close(&mut self) -> Result<(), StreamIoError> {
        if self
            .release
            .closed
            .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            return Err(StreamIoError::Closed);
        }
        self.cmds
            .send(Cmd::Close { id: self.id })
            .map_err(|_| StreamIoError::LinkClosed)
    }
}

struct PendingSend {
    data: Vec<u8>,
    at: usize,
    reply: oneshot::Sender<Result<(), StreamIoError>>,
}

/// The driver's side of one stream.
struct Slot {
    /// `None` once the handle is gone (data that still arrives is consumed and dropped).
    tx: Option<mpsc::UnboundedSender<ToStream>>,
    pending: VecDeque<PendingSend>,
    close_requested: bool,
    close_sent: bool,
    reset: Option<ResetCode>,
}

impl Slot {
    fn new(tx: mpsc::UnboundedSender<ToStream>) -> Self {
        Self {
            tx: Some(tx),
            pending: VecDeque::new(),
            close_requested: false,
            close_sent: false,
            reset: None,
        }
    }

    fn fail_pending(&mut self, err: StreamIoError) {
        for p in self.pending.drain(..) {
            let _ = p.reply.send(Err(err));
        }
    }
}

/// Called once when the link authenticates, with the user (server side).
pub(crate) type OnUp = Box<dyn FnOnce(Option<String>) + Send>;

/// Everything a connection task needs.
pub(crate) struct LinkRun<IO> {
    pub(crate) io: IO,
    pub(crate) link: Link,
    /// The peer, for failures (`name:port` or the client's address).
    pub(crate) peer: String,
    pub(crate) cmds: mpsc::UnboundedReceiver<Cmd>,
    pub(crate) cmd_tx: mpsc::UnboundedSender<Cmd>,
    pub(crate) incoming: mpsc::UnboundedSender<Stream>,
    pub(crate) status: watch::Sender<LinkStatus>,
    pub(crate) on_up: Option<OnUp>,
    /// Called once if the peer starts a graceful drain (GOAWAY NO_ERROR).
    pub(crate) on_drain: Option<Box<dyn FnOnce() + Send>>,
}

/// A task that is aborted when this guard is dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How a connection ended.
#[derive(Debug)]
pub(crate) struct LinkOutcome {
    /// What to report, `None` for an orderly end we asked for.
    pub(crate) failure: Option<Failure>,
    pub(crate) was_up: bool,
    pub(crate) stats: LinkStats,
}

async fn write_loop<W: AsyncWrite>(
    mut w: tokio::io::WriteHalf<W>,
    mut rx: mpsc::Receiver<Vec<u8>>,
) -> io::Result<()> {
    while let Some(chunk) = rx.recv().await {
        w.write_all(&chunk).await?;
        w.flush().await?;
    }
    w.shutdown().await
}

fn phase_of(state: LinkState) -> LinkPhase {
    match state {
        LinkState::Authenticating => LinkPhase::Authenticating,
        LinkState::Up => LinkPhase::Up,
        LinkState::Draining => LinkPhase::Draining,
        LinkState::Closed => LinkPhase::Closed,
    }
}

/// Publishes the link's state at once and its counters at most every [`COUNTER_PERIOD`];
/// returns when counters not yet published should be.
fn publish(
    status: &watch::Sender<LinkStatus>,
    link: &Link,
    now: Instant,
    last_counters: &mut Instant,
) -> Option<Instant> {
    let stats = link.stats();
    let mut counters = LinkCounters::default();
    counters.add_link(stats);
    // "Closed" is published at the end, together with the failure.
    let phase = phase_of(link.state());
    let counters_due = now.saturating_duration_since(*last_counters) >= COUNTER_PERIOD;
    let mut held_back = false;
    status.send_if_modified(|s| {
        let before = (s.state, s.rtt);
        if phase != LinkPhase::Closed {
            s.set_state(phase);
        }
        s.rtt = stats.rtt;
        let changed = before != (s.state, s.rtt);
        if s.counters != counters {
            if changed || counters_due {
                s.counters = counters;
                *last_counters = now;
                return true;
            }
            held_back = true;
        }
        changed
    });
    held_back.then(|| *last_counters + COUNTER_PERIOD)
}

/// Runs `run.link` over `run.io` until the link dies; then flushes its last frames, closes TLS
/// (close_notify) and lingers briefly so the peer reads them.
pub(crate) async fn run_link<IO>(run: LinkRun<IO>) -> LinkOutcome
where
    IO: AsyncRead + AsyncWrite + Send + 'static,
{
    let LinkRun {
        io,
        mut link,
        peer,
        mut cmds,
        cmd_tx,
        incoming,
        status,
        mut on_up,
        mut on_drain,
    } = run;
    let (mut reader, writer) = tokio::io::split(io);
    let (wtx, wrx) = mpsc::channel::<Vec<u8>>(4);
    // Aborted when this future is dropped (the connection task aborted) or the linger runs out:
    // a writer stuck on a peer that stopped reading must not keep the socket open.
    let mut writer_task = AbortOnDrop(tokio::spawn(write_loop(writer, wrx)));
    let mut rbuf = vec![0u8; READ_CHUNK];
    let mut out: Vec<u8> = Vec::new();
    let mut slots: HashMap<StreamId, Slot> = HashMap::new();
    let mut io_error: Option<io::Error> = None;
    let mut dead: Option<LinkError> = None;
    let mut was_up = false;
    let mut peer_drained = false;
    let mut read_closed = false;
    let mut last_counters = Instant::now();

    loop {
        let now = Instant::now();
        // Drain rule: transmit, events, then what the handles queued, until quiet.
        loop {
            while out.len() < WRITE_HIGH_WATER && link.poll_transmit(now, &mut out) > 0 {}
            let mut progressed = false;
            while let Some(event) = link.poll_event() {
                progressed = true;
                match event {
                    Event::Authenticated { user } => {
                        was_up = true;
                        if let Some(f) = on_up.take() {
                            f(user);
                        }
                    }
                    Event::StreamOpened { id, kind } => {
                        let (tx, rx) = mpsc::unbounded_channel();
                        slots.insert(id, Slot::new(tx));
                        let stream = Stream::new(id, kind, cmd_tx.clone(), rx);
                        if let Err(refused) = incoming.send(stream) {
                            refused.0.reset(ResetCode::REFUSED);
                        }
                    }
                    Event::StreamData { id, data } => {
                        let n = data.len();
                        let delivered = slots
                            .get(&id)
                            .and_then(|s| s.tx.as_ref())
                            .is_some_and(|tx| tx.send(ToStream::Data(data)).is_ok());
                        if !delivered {
                            link.stream_consumed(id, n);
                        }
                    }
                    Event::StreamClosed { id } => {
                        if let Some(tx) = slots.get(&id).and_then(|s| s.tx.as_ref()) {
                            let _ = tx.send(ToStream::Finished);
                        }
                    }
                    Event::StreamReset { id, code, .. } => {
                        if let Some(slot) = slots.get_mut(&id) {
                            slot.reset = Some(code);
                            slot.fail_pending(StreamIoError::Reset(code));
                            if let Some(tx) = &slot.tx {
                                let _ = tx.send(ToStream::Reset(code));
                            }
                        }
                    }
                    Event::StreamWritable { .. } => {}
                    Event::GoingAway => {
                        peer_drained = true;
                        if let Some(f) = on_drain.take() {
                            f();
                        }
                    }
                    Event::Dead { reason } => dead = Some(reason),
                }
            }
            progressed |= flush_pending(&mut link, &mut slots);
            slots.retain(|id, s| s.tx.is_some() || link.is_open(*id));
            if !progressed {
                break;
            }
        }
        let publish_at = publish(&status, &link, now, &mut last_counters);
        if dead.is_some() {
            break;
        }

        let timer = link.poll_timeout();
        let deadline = match (timer, publish_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let sleep = tokio::time::sleep_until(tokio::time::Instant::from_std(
            deadline.unwrap_or_else(|| now + Duration::from_secs(3600)),
        ));
        tokio::select! {
            permit = wtx.reserve(), if !out.is_empty() => match permit {
                Ok(permit) => permit.send(std::mem::take(&mut out)),
                Err(_) => {
                    // The writer stopped: its error comes from the join below.
                    out.clear();
                    link.handle_eof(Instant::now());
                }
            },
            read = reader.read(&mut rbuf), if !read_closed => match read {
                Ok(0) => {
                    read_closed = true;
                    link.handle_eof(Instant::now());
                }
                Ok(n) => link.handle_input(Instant::now(), rbuf.get(..n).unwrap_or_default()),
                Err(e) => {
                    read_closed = true;
                    io_error = Some(e);
                    link.handle_eof(Instant::now());
                }
            },
            Some(cmd) = cmds.recv() => handle_cmd(cmd, &mut link, &mut slots, &cmd_tx),
            // The link's timers, or counters to publish (handle_timeout checks its own
            // deadlines).
            () = sleep, if deadline.is_some() => link.handle_timeout(Instant::now()),
        }
    }

    // The link is dead: its last frames (a GOAWAY) go out, then close_notify.
    let now = Instant::now();
    while link.poll_transmit(now, &mut out) > 0 {}
    if !out.is_empty() {
        let _ = tokio::time::timeout(LINGER, wtx.send(std::mem::take(&mut out))).await;
    }
    drop(wtx);
    let write_result = tokio::time::timeout(LINGER, &mut writer_task.0).await;
    if io_error.is_none() {
        if let Ok(Ok(Err(e))) = write_result {
            io_error = Some(e);
        }
    }
    if !read_closed {
        // Read until the peer closes, so that closing with unread input does not turn into a
        // TCP reset that could destroy our last frame before the peer reads it.
        let _ = tokio::time::timeout(LINGER, async {
            while let Ok(n) = reader.read(&mut rbuf).await {
                if n == 0 {
                    break;
                }
            }
        })
        .await;
    }
    for (_, mut slot) in slots {
        slot.fail_pending(StreamIoError::LinkClosed);
        if let Some(tx) = slot.tx {
            let _ = tx.send(ToStream::LinkDown);
        }
    }
    let reason = dead.unwrap_or(LinkError::ConnectionLost);
    let failure = match (reason, io_error) {
        // A transport error says more than "connection lost".
        (LinkError::ConnectionLost, Some(e)) => {
            let (kind, detail) = tls::classify(&e);
            Some(Failure::new(kind, detail, &peer))
        }
        (reason, _) => Failure::from_link(reason, &peer, peer_drained),
    };
    let mut counters = LinkCounters::default();
    counters.add_link(link.stats());
    status.send_modify(|s| {
        s.set_state(LinkPhase::Closed);
        s.counters = counters;
        s.last_error.clone_from(&failure);
    });
    LinkOutcome {
        failure,
        was_up,
        stats: *link.stats(),
    }
}

/// Moves queued handle data into the link; returns whether anything moved.
fn flush_pending(link: &mut Link, slots: &mut HashMap<StreamId, Slot>) -> bool {
    let mut progressed = false;
    for (id, slot) in slots.iter_mut() {
        while let Some(p) = slot.pending.front_mut() {
            match link.send(*id, p.data.get(p.at..).unwrap_or_default()) {
                Ok(n) => {
                    p.at += n;
                    progressed |= n > 0;
                    if p.at >= p.data.len() {
                        if let Some(done) = slot.pending.pop_front() {
                            let _ = done.reply.send(Ok(()));
                            progressed = true;
                        }
                    }
                }
                Err(StreamError::Blocked) => break,
                Err(_) => {
                    let err = slot
                        .reset
                        .map_or(StreamIoError::LinkClosed, StreamIoError::Reset);
                    slot.fail_pending(err);
                    break;
                }
            }
        }
        if slot.pending.is_empty() && slot.close_requested && !slot.close_sent {
            slot.close_sent = true;
            let _ = link.close(*id);
            progressed = true;
        }
    }
    progressed
}

fn handle_cmd(
    cmd: Cmd,
    link: &mut Link,
    slots: &mut HashMap<StreamId, Slot>,
    cmd_tx: &mpsc::UnboundedSender<Cmd>,
) {
    match cmd {
        Cmd::Open { kind, reply } => match link.open_stream(kind) {
            Ok(id) => {
                let (tx, rx) = mpsc::unbounded_channel();
                slots.insert(id, Slot::new(tx));
                // If the caller gave up, the stream handle is dropped and resets the stream.
                let _ = reply.send(Ok(Stream::new(id, kind, cmd_tx.clone(), rx)));
            }
            Err(e) => {
                let _ = reply.send(Err(OpenStreamError::Link(e)));
            }
        },
        Cmd::Send { id, data, reply } => match slots.get_mut(&id) {
            Some(slot) if slot.reset.is_none() && link.is_open(id) => {
                slot.pending.push_back(PendingSend { data, at: 0, reply });
            }
            Some(Slot {
                reset: Some(code), ..
            }) => {
                let _ = reply.send(Err(StreamIoError::Reset(*code)));
            }
            _ => {
                let _ = reply.send(Err(StreamIoError::LinkClosed));
            }
        },
        Cmd::Close { id } => {
            if let Some(slot) = slots.get_mut(&id) {
                slot.close_requested = true;
            }
        }
        Cmd::Reset { id, code } => {
            let _ = link.reset(id, code);
            if let Some(mut slot) = slots.remove(&id) {
                slot.fail_pending(StreamIoError::Reset(code));
            }
        }
        Cmd::Consumed { id, n } => link.stream_consumed(id, n),
        Cmd::Dropped { id, closed } => {
            if closed {
                if let Some(slot) = slots.get_mut(&id) {
                    slot.tx = None;
                }
            } else {
                let _ = link.reset(id, ResetCode::CANCEL);
                if let Some(mut slot) = slots.remove(&id) {
                    slot.fail_pending(StreamIoError::Reset(ResetCode::CANCEL));
                }
            }
        }
        Cmd::Goaway { code } => link.goaway(Instant::now(), code),
        Cmd::ConnectionDropped => link.goaway(Instant::now(), GoawayCode::NO_ERROR),
    }
}
