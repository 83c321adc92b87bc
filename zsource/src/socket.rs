//! The socket and what the loop thread keeps with it: the one place that
//! sends, and the bookkeeping that keeps ZMQ_FD's edges from being lost.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::ops::Deref;
use std::os::fd::RawFd;
use std::sync::Arc;
use std::time::Instant;

use crate::queue::Shared;
use crate::{Multipart, SendError};

/// The socket, with the state every handle on it shares. It lives on the
/// loop's thread (it is reached through `Rc`s), and everything that uses the
/// socket goes through it.
pub(crate) struct Core {
    pub(crate) socket: zmq::Socket,
    pub(crate) fd: RawFd,
    pub(crate) shared: Arc<Shared>,
    /// Whether the socket type can receive (PUB and PUSH cannot).
    pub(crate) receives: bool,
    /// Whether messages are routed to a peer by their first frame, and a full
    /// peer refuses them with `EAGAIN` while others take theirs (ROUTER with
    /// ZMQ_ROUTER_MANDATORY, STREAM).
    per_peer: bool,
    /// Whether the source's own dispatch is running: then it checks the
    /// socket again before it sleeps, whatever the callback did.
    pumping: Cell<bool>,
    /// Whether a wake-up has been sent since the source's dispatch last
    /// started, so that a burst of uses outside it costs one.
    wake_pending: Cell<bool>,
    /// Messages refused with `EAGAIN` by a full peer, in order per peer.
    parked: RefCell<Parked>,
    /// The batch being sent, kept to reuse its allocation.
    batch: RefCell<VecDeque<Multipart>>,
    /// For a socket that routes by peer: messages sent in this batch, kept
    /// until the queue's count of them by peer is brought down.
    gone: RefCell<Vec<Multipart>>,
    /// Held by the socket's [`Monitor`](crate::Monitor) while it lives:
    /// libzmq allows one monitor per socket, and a second would silently end
    /// the first.
    pub(crate) monitoring: std::rc::Rc<()>,
    /// Until when the close should linger, granted by a flush and voided by
    /// any later use.
    grant: Cell<Option<Instant>>,
    /// Messages sent straight to the socket, so far: whether a producer that
    /// was told of room could send tells whether the socket meant it.
    pub(crate) sent_directly: Cell<u64>,
}

/// What became of a message handed to the socket.
#[derive(Debug)]
pub(crate) enum Outcome {
    Sent,
    /// `EAGAIN`: nothing went out; try again later.
    NotNow,
    /// `EFSM`: a REQ or REP socket that must receive first.
    NotItsTurn,
    /// Trying again would not help.
    Refused(zmq::Error),
    /// The socket cannot go on (its context is terminated).
    Fatal(zmq::Error),
}

/// How a look at the queue went.
#[derive(Debug, Default)]
pub(crate) struct SendPass {
    /// How many messages left the queue, sent or refused.
    pub(crate) done: usize,
    /// How many of them were sent.
    pub(crate) sent: usize,
    /// Whether any send was tried (and so whether the socket was used).
    pub(crate) tried: bool,
    /// Whether the limit stopped it with messages left to try.
    pub(crate) limited: bool,
    /// Messages refused for good, with why, for the callback.
    pub(crate) refused: Vec<(zmq::Error, Multipart)>,
}

impl Core {
    pub(crate) fn new(socket: zmq::Socket, shared: Arc<Shared>) -> zmq::Result<Self> {
        let fd = socket.get_fd()?;
        let socket_type = socket.get_socket_type()?;
        // (Without ZMQ_ROUTER_MANDATORY a ROUTER drops what a full peer
        // refuses, and nothing is ever set aside.)
        let per_peer = matches!(socket_type, zmq::ROUTER | zmq::STREAM);
        Ok(Core {
            fd,
            receives: !matches!(socket_type, zmq::PUB | zmq::PUSH),
            per_peer,
            socket,
            shared,
            pumping: Cell::new(false),
            wake_pending: Cell::new(false),
            parked: RefCell::default(),
            batch: RefCell::default(),
            gone: RefCell::default(),
            monitoring: std::rc::Rc::new(()),
            grant: Cell::new(None),
            sent_directly: Cell::new(0),
        })
    }

    /// Called before any use of the socket. Outside the source's dispatch,
    /// the use may swallow the edge that announces a message, so the source
    /// is woken to look for itself. Marking it before the use (rather than
    /// after) holds even if the caller never comes back: the loop cannot run
    /// the source until the caller returns.
    #[inline]
    pub(crate) fn touch(&self) {
        if !self.pumping.get() && !self.wake_pending.replace(true) {
            self.shared.wake();
        }
    }

    /// Marks the source's dispatch as running until the guard is dropped.
    pub(crate) fn pumping(&self) -> Pumping<'_> {
        self.pumping.set(true);
        self.wake_pending.set(false);
        Pumping(self)
    }

    /// A send or receive after a flush: the flush's linger no longer applies.
    #[inline]
    pub(crate) fn used(&self) {
        if self.grant.get().is_some() {
            self.grant.set(None);
        }
    }

    pub(crate) fn grant_linger(&self, until: Instant) {
        self.grant.set(Some(until));
    }

    /// Sets a message aside for its full peer, behind the ones already
    /// waiting for it. (The queue keeps any one peer to half of it.)
    fn park(&self, message: Multipart) {
        let mut parked = self.parked.borrow_mut();
        parked
            .lanes
            .entry(message.first().to_vec())
            .or_default()
            .push_back(message);
        parked.count += 1;
    }

    /// A message that left the queue, sent: a socket that routes by peer
    /// keeps it until the queue's count by peer is brought down.
    fn gone(&self, message: Multipart) {
        if self.per_peer {
            self.gone.borrow_mut().push(message);
        }
    }

    /// Brings the queue's count by peer down for the messages that left it.
    fn count_out(&self, queue: &mut crate::queue::Queue, pass: &SendPass, refused_before: usize) {
        if !self.per_peer {
            return;
        }
        for message in self.gone.borrow_mut().drain(..) {
            self.shared.count_out(queue, &message);
        }
        for (_, message) in &pass.refused[refused_before..] {
            self.shared.count_out(queue, message);
        }
    }

    /// Whether messages wait, in the queue or set aside for a full peer.
    pub(crate) fn pending(&self) -> bool {
        !self.shared.lock().fifo.is_empty() || self.parked.borrow().count > 0
    }

    /// Sends a message now if nothing queued must go before it, and queues it
    /// otherwise (also when the socket cannot take it yet).
    pub(crate) fn send_owned(&self, message: Multipart) -> Result<(), SendError> {
        if !self.may_send_directly(message.first()) {
            return self.shared.push(&mut self.shared.lock(), message);
        }
        self.touch();
        match self.send_now(message.frame_count(), message.frames()) {
            Outcome::Sent => Ok(()),
            Outcome::NotNow => self.shared.push(&mut self.shared.lock(), message),
            outcome => Err(refused(outcome, message)),
        }
    }

    /// As [`send_owned`](Core::send_owned), copying the frames into a message
    /// only if it must be queued or handed back. A single frame that may go
    /// straight to the socket (a publisher's update) takes the short path,
    /// inlined where it is called, and costs what a plain send does.
    #[inline]
    pub(crate) fn send_borrowed(&self, first: &[u8], rest: &[&[u8]]) -> Result<(), SendError> {
        if rest.is_empty() && self.shared.may_skip_the_queue() && self.parked.borrow().count == 0 {
            self.touch();
            return match send_frame(&self.socket, first, zmq::DONTWAIT) {
                Ok(()) => {
                    self.used();
                    self.sent_directly.set(self.sent_directly.get() + 1);
                    Ok(())
                }
                Err(error) => self.borrowed_not_sent(failure(error), first, rest),
            };
        }
        self.send_borrowed_slowly(first, rest)
    }

    #[cold]
    fn send_borrowed_slowly(&self, first: &[u8], rest: &[&[u8]]) -> Result<(), SendError> {
        if !self.may_send_directly(first) {
            return self.shared.push(&mut self.shared.lock(), copy(first, rest));
        }
        self.touch();
        let frames = std::iter::once(first).chain(rest.iter().copied());
        match self.send_now(1 + rest.len(), frames) {
            Outcome::Sent => Ok(()),
            outcome => self.borrowed_not_sent(outcome, first, rest),
        }
    }

    /// A borrowed message the socket did not take: queued, or handed back.
    #[cold]
    fn borrowed_not_sent(
        &self,
        outcome: Outcome,
        first: &[u8],
        rest: &[&[u8]],
    ) -> Result<(), SendError> {
        match outcome {
            Outcome::Sent => Ok(()),
            Outcome::NotNow => self.shared.push(&mut self.shared.lock(), copy(first, rest)),
            outcome => {
                if let Outcome::Fatal(_) = outcome {
                    // The source's next dispatch meets the failure and reports it.
                    self.shared.wake();
                }
                Err(refused(outcome, copy(first, rest)))
            }
        }
    }

    /// Whether a message may skip the queue: nothing is queued before it (for
    /// a per-peer socket, nothing for the same peer).
    fn may_send_directly(&self, peer: &[u8]) -> bool {
        if !self.shared.may_skip_the_queue() {
            return false;
        }
        let parked = self.parked.borrow();
        parked.count == 0 || !parked.lanes.contains_key(peer)
    }

    fn send_now<'a>(&self, count: usize, frames: impl Iterator<Item = &'a [u8]>) -> Outcome {
        let outcome = send_frames(&self.socket, count, frames);
        match outcome {
            Outcome::Sent => {
                self.used();
                self.sent_directly.set(self.sent_directly.get() + 1);
            }
            // The source's next dispatch meets the failure and reports it.
            Outcome::Fatal(_) => self.shared.wake(),
            _ => {}
        }
        outcome
    }

    /// Sends queued messages, up to `limit`, until the socket refuses one
    /// with `EAGAIN` (or, for a REQ or REP socket, with `EFSM`). For a
    /// per-peer socket, a message its peer refuses is set aside in that
    /// peer's lane, and the others go on; set-aside messages are tried first.
    ///
    /// No callback runs in here: refused messages are collected for the
    /// caller, so that a callback that sends cannot overtake messages that
    /// are on their way.
    pub(crate) fn send_queued(&self, limit: usize, until: Until) -> Result<SendPass, zmq::Error> {
        let mut pass = SendPass::default();
        if self.per_peer {
            self.send_parked(limit, until, &mut pass)?;
        }
        let stop = |pass: &SendPass| until == Until::Refused && !pass.refused.is_empty();
        let mut first_look = true;
        let mut batch = self.batch.borrow_mut();
        while pass.done < limit && !stop(&pass) {
            {
                let mut queue = self.shared.lock();
                if first_look {
                    // From here on, a message that lands in an empty queue
                    // must wake the source: this may be its last look.
                    queue.scheduled = false;
                    first_look = false;
                }
                if queue.fifo.is_empty() {
                    break;
                }
                // Take the whole queue at once; senders meanwhile fill the
                // empty one in its place.
                std::mem::swap(&mut *batch, &mut queue.fifo);
                queue.held += batch.len();
                self.shared.settle(&queue);
            }
            let before = pass.done;
            let refused_before = pass.refused.len();
            let mut fatal = None;
            let mut blocked = false;
            while pass.done < limit && !stop(&pass) {
                let Some(message) = batch.pop_front() else {
                    break;
                };
                if self.per_peer && self.parked.borrow().holds(message.first()) {
                    // Behind the messages its peer has not taken yet.
                    self.park(message);
                    continue;
                }
                pass.tried = true;
                let outcome = match message.single() {
                    Some(frame) => send_frame(&self.socket, frame, zmq::DONTWAIT)
                        .map_or_else(failure, |()| Outcome::Sent),
                    None => send_frames(&self.socket, message.frame_count(), message.frames()),
                };
                match outcome {
                    Outcome::Sent => {
                        pass.done += 1;
                        pass.sent += 1;
                        self.gone(message);
                    }
                    Outcome::NotNow if self.per_peer => self.park(message),
                    Outcome::NotNow | Outcome::NotItsTurn => {
                        batch.push_front(message);
                        blocked = true;
                        break;
                    }
                    Outcome::Refused(error) => {
                        pass.done += 1;
                        pass.refused.push((error, message));
                    }
                    Outcome::Fatal(error) => {
                        batch.push_front(message);
                        fatal = Some(error);
                        break;
                    }
                }
            }
            let mut queue = self.shared.lock();
            // What the batch took and is still held is parked now; the rest
            // goes back to the front of the queue, before what came meanwhile.
            queue.held -= batch.len();
            batch.append(&mut queue.fifo);
            std::mem::swap(&mut *batch, &mut queue.fifo);
            self.shared.settle(&queue);
            self.count_out(&mut queue, &pass, refused_before);
            self.shared.finished(&mut queue, pass.done - before);
            drop(queue);
            if let Some(error) = fatal {
                return Err(error);
            }
            if blocked || stop(&pass) {
                break;
            }
        }
        pass.limited |= pass.done >= limit && !self.shared.lock().fifo.is_empty();
        if pass.sent > 0 {
            self.used();
        }
        Ok(pass)
    }

    /// Tries each full peer's oldest message again, and the ones behind it
    /// while the peer takes them.
    fn send_parked(
        &self,
        limit: usize,
        until: Until,
        pass: &mut SendPass,
    ) -> Result<(), zmq::Error> {
        let mut parked = self.parked.borrow_mut();
        if parked.count == 0 {
            return Ok(());
        }
        let before = pass.done;
        let refused_before = pass.refused.len();
        let mut fatal = None;
        'lanes: for lane in parked.lanes.values_mut() {
            while let Some(message) = lane.front() {
                if pass.done >= limit {
                    pass.limited = true;
                    break 'lanes;
                }
                pass.tried = true;
                match send_frames(&self.socket, message.frame_count(), message.frames()) {
                    Outcome::Sent => {
                        if let Some(message) = lane.pop_front() {
                            self.gone(message);
                        }
                        pass.done += 1;
                        pass.sent += 1;
                    }
                    Outcome::NotNow | Outcome::NotItsTurn => break,
                    Outcome::Refused(error) => {
                        if let Some(message) = lane.pop_front() {
                            pass.refused.push((error, message));
                        }
                        pass.done += 1;
                        if until == Until::Refused {
                            break 'lanes;
                        }
                    }
                    Outcome::Fatal(error) => {
                        fatal = Some(error);
                        break 'lanes;
                    }
                }
            }
        }
        let finished = pass.done - before;
        parked.count -= finished;
        parked.lanes.retain(|_, lane| !lane.is_empty());
        drop(parked);
        let mut queue = self.shared.lock();
        self.count_out(&mut queue, pass, refused_before);
        self.shared.finished(&mut queue, finished);
        drop(queue);
        match fatal {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// Takes back every message that waits: those set aside for full peers
    /// first (they are older), then the queue, each peer's in order.
    pub(crate) fn take_queued(&self) -> Vec<Multipart> {
        let mut parked = self.parked.borrow_mut();
        let mut taken: Vec<Multipart> = parked.lanes.drain().flat_map(|(_, lane)| lane).collect();
        let held = std::mem::take(&mut parked.count);
        drop(parked);
        let mut queue = self.shared.lock();
        taken.extend(queue.fifo.drain(..));
        queue.held -= held;
        for message in &taken {
            self.shared.count_out(&mut queue, message);
        }
        self.shared.settle(&queue);
        self.shared.finished(&mut queue, 0);
        drop(queue);
        if self.shared.refused_full() {
            // Whoever met a full queue hears of room on the source's next
            // turn.
            self.shared.wake();
        }
        taken
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        // A flush granted the close that follows it time to deliver.
        if let Some(until) = self.grant.get() {
            let left = crate::source::millis(until.saturating_duration_since(Instant::now()));
            let linger = self.socket.get_linger().unwrap_or(0);
            if left > 0 && linger >= 0 && linger < left {
                let _ = self.socket.set_linger(left);
            }
        }
    }
}

impl fmt::Debug for Core {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Core")
            .field("socket_type", &self.socket.get_socket_type().ok())
            .field("fd", &self.fd)
            .field("queued", &self.shared.lock().len())
            .field("capacity", &self.shared.capacity())
            .finish_non_exhaustive()
    }
}

/// Marks the source's dispatch as running; see [`Core::pumping`].
pub(crate) struct Pumping<'a>(&'a Core);

impl Drop for Pumping<'_> {
    fn drop(&mut self) {
        // Also when a callback panics: a flag left set would stop uses
        // outside the dispatch from waking the source.
        self.0.pumping.set(false);
        if std::thread::panicking() {
            // The dispatch ended before its last look: senders must wake the
            // source again, and it must look on the loop's next turn.
            self.0.shared.lock().scheduled = false;
            self.0.shared.wake();
        }
    }
}

/// How far [`Core::send_queued`] goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Until {
    /// Until the limit, or the socket refuses for now.
    Blocked,
    /// As `Blocked`, or the first message refused for good, which it hands
    /// back with the ones behind it still queued (a flush).
    Refused,
}

/// Messages for full peers, by peer.
#[derive(Debug, Default)]
struct Parked {
    lanes: HashMap<Vec<u8>, VecDeque<Multipart>>,
    count: usize,
}

impl Parked {
    fn holds(&self, peer: &[u8]) -> bool {
        self.count > 0 && self.lanes.contains_key(peer)
    }
}

/// The socket, borrowed: it derefs to the [`zmq::Socket`], to set options,
/// bind, connect or read its state.
///
/// Any use of a ZeroMQ socket can swallow the edge of ZMQ_FD that announces
/// a message, so taking this borrow outside the source's own callback also
/// tells the source to look at its socket again on the loop's next turn.
/// Nothing is lost, whatever you do with it.
pub struct SocketRef<'a> {
    core: &'a Core,
}

impl<'a> SocketRef<'a> {
    pub(crate) fn new(core: &'a Core) -> Self {
        core.touch();
        SocketRef { core }
    }
}

impl Deref for SocketRef<'_> {
    type Target = zmq::Socket;

    fn deref(&self) -> &zmq::Socket {
        &self.core.socket
    }
}

impl fmt::Debug for SocketRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocketRef")
            .field("socket_type", &self.core.socket.get_socket_type().ok())
            .finish()
    }
}

/// A borrowed message, copied to be queued or handed back.
fn copy(first: &[u8], rest: &[&[u8]]) -> Multipart {
    let mut message = Multipart::new(first);
    message.extend(rest.iter().copied());
    message
}

/// The error for a message that was not sent and will not be queued.
fn refused(outcome: Outcome, message: Multipart) -> SendError {
    let error = match outcome {
        Outcome::NotItsTurn => zmq::Error::EFSM,
        Outcome::Refused(error) | Outcome::Fatal(error) => error,
        Outcome::Sent | Outcome::NotNow => zmq::Error::EAGAIN,
    };
    SendError::Refused { error, message }
}

/// Sends every frame of a message without blocking.
pub(crate) fn send_frames<'a>(
    socket: &zmq::Socket,
    count: usize,
    mut frames: impl Iterator<Item = &'a [u8]>,
) -> Outcome {
    if count == 1 {
        // Most messages have one frame.
        return match frames.next() {
            Some(frame) => match send_frame(socket, frame, zmq::DONTWAIT) {
                Ok(()) => Outcome::Sent,
                Err(error) => failure(error),
            },
            None => Outcome::Sent,
        };
    }
    let last = count.saturating_sub(1);
    let flags = |index| match index < last {
        true => zmq::DONTWAIT | zmq::SNDMORE,
        false => zmq::DONTWAIT,
    };
    let mut frames = frames.enumerate();
    while let Some((index, frame)) = frames.next() {
        if let Err(error) = send_frame(socket, frame, flags(index)) {
            if index > 0 {
                // Past the first frame, the peer has gone mid-message and
                // libzmq has dropped what was sent of it; it drops the frames
                // to come until the last. Send them, so that the next message
                // starts clean. Nothing of this one arrived anywhere, so it
                // may be sent again whole.
                for (later, frame) in frames {
                    let _ = send_frame(socket, frame, flags(later));
                }
            }
            return failure(error);
        }
    }
    Outcome::Sent
}

#[inline]
fn failure(error: zmq::Error) -> Outcome {
    match error {
        zmq::Error::EAGAIN => Outcome::NotNow,
        zmq::Error::EFSM => Outcome::NotItsTurn,
        zmq::Error::ETERM | zmq::Error::ENOTSOCK => Outcome::Fatal(error),
        error => Outcome::Refused(error),
    }
}

#[inline]
fn send_frame(socket: &zmq::Socket, frame: &[u8], flags: i32) -> Result<(), zmq::Error> {
    loop {
        match socket.send(frame, flags) {
            Err(zmq::Error::EINTR) => continue,
            outcome => return outcome,
        }
    }
}
