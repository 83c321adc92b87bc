//! [`ZmqSource`], the event source, with its [`Builder`], the [`Event`]s it
//! delivers and the [`SocketHandle`] its callback gets.

use std::fmt;
use std::os::fd::{AsFd, BorrowedFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use calloop::generic::Generic;
use calloop::ping::{PingSource, make_ping};
use calloop::{EventSource, Interest, Mode, Poll, PostAction, Readiness, Token, TokenFactory};

use crate::queue::Shared;
use crate::{Error, Multipart, SendError, Sender};

/// How many messages one dispatch handles by default, received and sent
/// together. See [`Builder::budget`].
pub const DEFAULT_BUDGET: usize = 256;

/// How many messages the outgoing queue holds by default, the same as
/// ZeroMQ's default high-water mark. See [`Builder::capacity`].
pub const DEFAULT_CAPACITY: usize = 1000;

/// What the source hands to its callback.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// A message arrived on the socket.
    Message(Multipart),
    /// A queued message was refused by ZeroMQ and trying again would not help
    /// (`EHOSTUNREACH` from a ROUTER with `ZMQ_ROUTER_MANDATORY`, say). It is
    /// handed back here because whoever queued it may be on another thread.
    SendFailed {
        /// The error libzmq reported.
        error: zmq::Error,
        /// The message that was not sent.
        message: Multipart,
    },
}

/// Settings for a [`ZmqSource`]; start from [`ZmqSource::builder`].
#[derive(Debug, Clone)]
pub struct Builder {
    budget: usize,
    capacity: usize,
    linger: Duration,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            budget: DEFAULT_BUDGET,
            capacity: DEFAULT_CAPACITY,
            linger: Duration::ZERO,
        }
    }
}

impl Builder {
    /// The most messages one dispatch handles, received and sent together
    /// (default [`DEFAULT_BUDGET`]; 0 counts as 1). When the budget runs out
    /// with work left, the source wakes itself up again after the loop's other
    /// sources have had their turn, so a flood on one socket cannot starve
    /// the rest of the program.
    #[must_use]
    pub fn budget(mut self, messages: usize) -> Self {
        self.budget = messages.max(1);
        self
    }

    /// The most messages the outgoing queue holds (default
    /// [`DEFAULT_CAPACITY`]). A full queue hands messages back instead of
    /// growing: that is the back pressure. With 0, messages are only ever
    /// sent directly with [`SocketHandle::send`], when the socket takes them
    /// at once.
    #[must_use]
    pub fn capacity(mut self, messages: usize) -> Self {
        self.capacity = messages;
        self
    }

    /// How long libzmq keeps trying to deliver messages it has accepted once
    /// the socket is closed (`ZMQ_LINGER`, default zero: drop them). The
    /// source sets it on the socket when it is built. Whatever is still in
    /// the source's own queue is dropped with the source; call
    /// [`ZmqSource::flush`] first to deliver it.
    #[must_use]
    pub fn linger(mut self, linger: Duration) -> Self {
        self.linger = linger;
        self
    }

    /// Wraps the socket. Set the socket's own options (subscriptions,
    /// high-water marks, `ZMQ_MAXMSGSIZE`) before or after; bind or connect
    /// it before or after too.
    pub fn build(self, socket: zmq::Socket) -> Result<ZmqSource, Error> {
        socket
            .set_linger(millis(self.linger))
            .map_err(Error::zmq("set ZMQ_LINGER"))?;
        let fd = socket.get_fd().map_err(Error::zmq("read ZMQ_FD"))?;
        let socket_type = socket
            .get_socket_type()
            .map_err(Error::zmq("read ZMQ_TYPE"))?;
        let (wake, wake_source) = make_ping().map_err(Error::io("create the wake-up ping"))?;
        Ok(ZmqSource {
            // ZMQ_FD only signals changes: a socket that has messages waiting
            // stays silent until something new happens. Edge mode says so to
            // the poller, and the source makes up for it (see `pump`).
            socket_fd: Generic::new(ZmqFd(fd), Interest::READ, Mode::Edge),
            wake_source,
            handle: SocketHandle {
                socket,
                shared: Arc::new(Shared::new(self.capacity, wake)),
            },
            budget: self.budget,
            // recv on these fails with ENOTSUP; they only ever send.
            receives: !matches!(socket_type, zmq::PUB | zmq::PUSH),
        })
    }
}

/// A calloop event source for a ZeroMQ socket of any type.
///
/// Insert it into an event loop with a callback; the callback gets an
/// [`Event`] for every message received (and for every queued message ZeroMQ
/// refused), a [`SocketHandle`] to reply or send through, and the loop's
/// shared data. Other code queues messages through a [`Sender`].
///
/// See the [crate documentation](crate) for what it guarantees and an example.
#[derive(Debug)]
pub struct ZmqSource {
    // Declared, and so dropped, before `handle`: the poller must forget
    // ZMQ_FD before the socket that owns it is closed.
    socket_fd: Generic<ZmqFd>,
    wake_source: PingSource,
    handle: SocketHandle,
    budget: usize,
    receives: bool,
}

impl ZmqSource {
    /// Wraps a socket with the default settings: a budget of
    /// [`DEFAULT_BUDGET`] messages per dispatch, a queue of
    /// [`DEFAULT_CAPACITY`] messages, and a linger of zero.
    pub fn new(socket: zmq::Socket) -> Result<Self, Error> {
        Builder::default().build(socket)
    }

    /// Settings to wrap a socket with.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// A new handle for queueing messages, for any thread.
    pub fn sender(&self) -> Sender {
        self.handle.sender()
    }

    /// The socket, to set options or bind and connect. Send through the
    /// source rather than on the socket itself, so that queued messages keep
    /// their order.
    pub fn socket(&self) -> &zmq::Socket {
        &self.handle.socket
    }

    /// Sends a message now, as [`SocketHandle::send`] does. Useful before the
    /// source is inserted into a loop.
    pub fn send(&self, message: impl Into<Multipart>) -> Result<(), SendError> {
        self.handle.send(message)
    }

    /// How many messages wait in the outgoing queue.
    pub fn queued(&self) -> usize {
        self.handle.queued()
    }

    /// Delivers the queued messages to ZeroMQ, waiting up to `timeout` for
    /// the socket to take them, then sets `ZMQ_LINGER` to the time left, so
    /// that libzmq goes on delivering after the socket is closed until the
    /// same deadline. Call it before dropping the source when the last
    /// messages matter (a ventilator's final tasks, say).
    ///
    /// It only sends: a REQ socket waiting for its reply, or a REP socket
    /// without a request, never gets to send and times out. Incoming messages
    /// stay in the socket for the loop to handle.
    ///
    /// To flush a source that is inside a loop, register it through a
    /// [`calloop::Dispatcher`] and reach it with
    /// [`Dispatcher::as_source_mut`](calloop::Dispatcher::as_source_mut).
    ///
    /// # Errors
    ///
    /// [`Error::FlushTimeout`] with the number of messages left when time ran
    /// out, [`Error::Refused`] with the message if ZeroMQ refused one, or
    /// [`Error::Zmq`] if the socket failed.
    pub fn flush(&mut self, timeout: Duration) -> Result<(), Error> {
        let deadline = Instant::now() + timeout;
        let outcome = loop {
            match self.handle.send_front()? {
                Outcome::Sent => continue,
                Outcome::Refused { error, message } => {
                    break Err(Error::Refused(SendError::Refused { error, message }));
                }
                Outcome::Empty => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    self.handle
                        .socket
                        .set_linger(millis(left))
                        .map_err(Error::zmq("set ZMQ_LINGER"))?;
                    break Ok(());
                }
                Outcome::Blocked => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break Err(Error::FlushTimeout {
                            unsent: self.queued(),
                        });
                    }
                    // zmq_poll deals with ZMQ_FD's edges itself.
                    match self
                        .handle
                        .socket
                        .poll(zmq::POLLOUT, i64::from(millis(left).max(1)))
                    {
                        Ok(_) | Err(zmq::Error::EINTR) => {}
                        Err(error) => return Err(Error::zmq("poll")(error)),
                    }
                }
            }
        };
        // Flushing used the socket and may have swallowed ZMQ_FD's edge for
        // messages that arrived meanwhile: let the loop look again.
        self.handle.shared.wake();
        outcome
    }

    /// Receives and sends until there is nothing left to do or the budget is
    /// spent. This is where ZMQ_FD's edge triggering is dealt with.
    ///
    /// ZMQ_FD fires when libzmq's command mailbox gets something, not when a
    /// message is ready, and every use of the socket may empty that mailbox.
    /// So the pump may go back to sleep only right after a call that emptied
    /// the mailbox and found nothing to do; then the next change fires ZMQ_FD
    /// again. Two calls do that: reading ZMQ_EVENTS, and a non-blocking recv
    /// that fails with EAGAIN (libzmq processes its mailbox before giving up,
    /// just as for ZMQ_EVENTS). The pump ends on one or the other:
    ///
    /// - a receive burst that ends in EAGAIN, with nothing queued to send:
    ///   done, at no extra cost (the common case, and the fast one);
    /// - otherwise ZMQ_EVENTS is read after the sends and receives, and the
    ///   pump goes round again while it reports work;
    /// - when the budget runs out first, no edge will come for the work left,
    ///   so the pump pings itself before returning.
    fn pump<F>(&mut self, callback: &mut F) -> Result<(), Error>
    where
        F: FnMut(Event, &mut SocketHandle),
    {
        let mut work = 0;
        loop {
            if work >= self.budget {
                self.handle.shared.wake();
                return Ok(());
            }
            // Leave half of what is left to the queue, if it has messages, so
            // that a busy socket still gets its replies out.
            let left = self.budget - work;
            let share = match self.handle.queued() > 0 {
                true => left.div_ceil(2),
                false => left,
            };
            let before = work;
            let (received, stop) = self.receive(share, callback)?;
            work += received;
            let queued = self.handle.queued() > 0;
            if stop == Stop::Drained && !queued {
                return Ok(());
            }
            if queued {
                work += self.send_queued(self.budget - work, callback)?;
            }
            let events = self.handle.events()?;
            let readable = events.contains(zmq::POLLIN);
            let writable = events.contains(zmq::POLLOUT) && self.handle.queued() > 0;
            if !readable && !writable {
                return Ok(());
            }
            if work == before {
                // ZMQ_EVENTS reports work that the socket just refused: try
                // again on the loop's next turn rather than spin here.
                self.handle.shared.wake();
                return Ok(());
            }
        }
    }

    /// Receives up to `limit` messages, and says why it stopped.
    fn receive<F>(&mut self, limit: usize, callback: &mut F) -> Result<(usize, Stop), Error>
    where
        F: FnMut(Event, &mut SocketHandle),
    {
        if !self.receives {
            return Ok((0, Stop::NotItsTurn));
        }
        let mut received = 0;
        while received < limit {
            // The hot path of a busy socket: the message is built where it is
            // received, and moved once, into the event.
            let mut first = zmq::Message::new();
            match self.handle.socket.recv(&mut first, zmq::DONTWAIT) {
                Ok(()) => {}
                Err(zmq::Error::EINTR) => continue,
                Err(zmq::Error::EAGAIN) => return Ok((received, Stop::Drained)),
                // A REQ socket after its reply, or a REP socket whose request
                // is still unanswered, cannot receive now.
                Err(zmq::Error::EFSM) => return Ok((received, Stop::NotItsTurn)),
                Err(error) => return Err(Error::zmq("recv")(error)),
            }
            let rest = match first.get_more() {
                true => recv_rest(&self.handle.socket).map_err(Error::zmq("recv"))?,
                false => Vec::new(),
            };
            received += 1;
            callback(
                Event::Message(Multipart::from_parts(first, rest)),
                &mut self.handle,
            );
        }
        Ok((received, Stop::Limit))
    }

    /// Sends up to `limit` queued messages, while the socket takes them.
    /// Returns how many left the queue, sent or refused.
    fn send_queued<F>(&mut self, limit: usize, callback: &mut F) -> Result<usize, Error>
    where
        F: FnMut(Event, &mut SocketHandle),
    {
        let mut sent = 0;
        while sent < limit {
            match self.handle.send_front()? {
                Outcome::Sent => sent += 1,
                Outcome::Refused { error, message } => {
                    sent += 1;
                    callback(Event::SendFailed { error, message }, &mut self.handle);
                }
                Outcome::Blocked | Outcome::Empty => break,
            }
        }
        Ok(sent)
    }
}

impl Drop for ZmqSource {
    fn drop(&mut self) {
        // Senders see `Closed` from now on, and any blocked in `send` wake up.
        // The socket itself closes right after, with the linger it was given.
        self.handle.shared.close();
    }
}

impl EventSource for ZmqSource {
    type Event = Event;
    type Metadata = SocketHandle;
    type Ret = ();
    type Error = Error;

    fn process_events<F>(
        &mut self,
        readiness: Readiness,
        token: Token,
        mut callback: F,
    ) -> Result<PostAction, Error>
    where
        F: FnMut(Event, &mut SocketHandle),
    {
        // Whichever of the two woke us, the work is the same: pump. The
        // sub-sources only check the token, and the ping drains its eventfd.
        self.socket_fd
            .process_events(readiness, token, |_, _| Ok(PostAction::Continue))
            .map_err(Error::io("poll ZMQ_FD"))?;
        self.wake_source
            .process_events(readiness, token, |(), &mut ()| {})
            .map_err(|error| Error::Io {
                operation: "drain the wake-up ping",
                source: std::io::Error::other(error),
            })?;
        self.pump(&mut callback)?;
        Ok(PostAction::Continue)
    }

    fn register(&mut self, poll: &mut Poll, tokens: &mut TokenFactory) -> calloop::Result<()> {
        self.socket_fd.register(poll, tokens)?;
        self.wake_source.register(poll, tokens)?;
        // Messages that arrived before now fired no edge we could see.
        self.handle.shared.wake();
        Ok(())
    }

    fn reregister(&mut self, poll: &mut Poll, tokens: &mut TokenFactory) -> calloop::Result<()> {
        self.socket_fd.reregister(poll, tokens)?;
        self.wake_source.reregister(poll, tokens)?;
        self.handle.shared.wake();
        Ok(())
    }

    fn unregister(&mut self, poll: &mut Poll) -> calloop::Result<()> {
        self.socket_fd.unregister(poll)?;
        self.wake_source.unregister(poll)?;
        Ok(())
    }
}

/// The socket, as the callback sees it: reply on it, queue on it, or reach
/// the `zmq::Socket` for its options.
pub struct SocketHandle {
    socket: zmq::Socket,
    shared: Arc<Shared>,
}

impl SocketHandle {
    /// Sends a message now if the socket takes it, or queues it behind the
    /// messages already waiting. A REP server replies this way from its
    /// callback, without a round trip through the queue.
    ///
    /// # Errors
    ///
    /// [`SendError::Refused`] with the message when ZeroMQ refuses it for
    /// good, such as `EFSM` for a REQ socket that sends twice without a
    /// reply in between; [`SendError::Full`] when the socket is busy and the
    /// queue is full.
    pub fn send(&self, message: impl Into<Multipart>) -> Result<(), SendError> {
        let message = message.into();
        let mut queue = self.shared.lock();
        if !queue.messages.is_empty() {
            // Earlier messages go first.
            return self.shared.push(&mut queue, message);
        }
        match send_message(&self.socket, &message) {
            Ok(()) => Ok(()),
            Err(Failure::NotNow) => self.shared.push(&mut queue, message),
            Err(Failure::Refused(error)) => Err(SendError::Refused { error, message }),
        }
    }

    /// A new handle for queueing messages, for any thread.
    pub fn sender(&self) -> Sender {
        Sender::new(Arc::clone(&self.shared))
    }

    /// The socket, to set options such as subscriptions. Send through
    /// [`send`](SocketHandle::send) rather than on the socket itself, so that
    /// queued messages keep their order.
    pub fn socket(&self) -> &zmq::Socket {
        &self.socket
    }

    /// How many messages wait in the outgoing queue.
    pub fn queued(&self) -> usize {
        self.shared.lock().messages.len()
    }

    /// ZMQ_EVENTS, read again on EINTR.
    fn events(&self) -> Result<zmq::PollEvents, Error> {
        loop {
            match self.socket.get_events() {
                Err(zmq::Error::EINTR) => continue,
                events => return events.map_err(Error::zmq("read ZMQ_EVENTS")),
            }
        }
    }

    /// Sends the message at the front of the queue if the socket says it can
    /// take one. Checking POLLOUT first is what lets a REQ client queue many
    /// requests up front: each waits for the previous reply.
    fn send_front(&self) -> Result<Outcome, Error> {
        if !self.events()?.contains(zmq::POLLOUT) {
            return Ok(Outcome::Blocked);
        }
        let mut queue = self.shared.lock();
        let Some(message) = queue.messages.front() else {
            return Ok(Outcome::Empty);
        };
        let refused = match send_message(&self.socket, message) {
            Ok(()) => None,
            Err(Failure::NotNow) => return Ok(Outcome::Blocked),
            Err(Failure::Refused(error)) => Some(error),
        };
        let message = self.shared.pop(&mut queue);
        Ok(match (refused, message) {
            (Some(error), Some(message)) => Outcome::Refused { error, message },
            _ => Outcome::Sent,
        })
    }
}

impl fmt::Debug for SocketHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocketHandle")
            .field("socket_type", &self.socket.get_socket_type().ok())
            .field("queued", &self.queued())
            .field("capacity", &self.shared.capacity())
            .finish()
    }
}

/// Why a receive burst stopped.
#[derive(Debug, PartialEq, Eq)]
enum Stop {
    /// EAGAIN: nothing more to receive, and libzmq's mailbox was emptied.
    Drained,
    /// EFSM, or a socket that never receives: not its turn to receive.
    NotItsTurn,
    /// The burst reached its share of the budget.
    Limit,
}

/// What became of the message at the front of the queue.
enum Outcome {
    Sent,
    /// The socket cannot take a message now; a POLLOUT edge will say when.
    Blocked,
    Empty,
    Refused {
        error: zmq::Error,
        message: Multipart,
    },
}

/// Why a message was not sent.
enum Failure {
    /// EAGAIN on the first frame: nothing went out, try again later.
    NotNow,
    /// Anything else: trying again would not help.
    Refused(zmq::Error),
}

/// Sends every frame of a message without blocking.
///
/// Each frame is copied into a fresh `zmq::Message` (free for frames up to 33
/// bytes, which libzmq stores inline), because zmq 0.10 frees a `Message` whose
/// send failed: sending from a borrowed copy is what keeps a message refused
/// with EAGAIN at the front of the queue, unharmed.
fn send_message(socket: &zmq::Socket, message: &Multipart) -> Result<(), Failure> {
    let last = message.frame_count() - 1;
    let flags = |index| match index < last {
        true => zmq::DONTWAIT | zmq::SNDMORE,
        false => zmq::DONTWAIT,
    };
    for (index, frame) in message.frames().enumerate() {
        match send_frame(socket, frame, flags(index)) {
            Ok(()) => {}
            Err(zmq::Error::EAGAIN) if index == 0 => return Err(Failure::NotNow),
            Err(error) => {
                // Past the first frame, libzmq has already dropped this
                // message (its peer went away mid-message) and discards frames
                // until the last one: send them, so the next message starts
                // clean.
                for (later, frame) in message.frames().enumerate().skip(index + 1) {
                    let _ = send_frame(socket, frame, flags(later));
                }
                return Err(Failure::Refused(error));
            }
        }
    }
    Ok(())
}

fn send_frame(socket: &zmq::Socket, frame: &[u8], flags: i32) -> Result<(), zmq::Error> {
    loop {
        match socket.send(frame, flags) {
            Err(zmq::Error::EINTR) => continue,
            outcome => return outcome,
        }
    }
}

/// Receives the frames after the first of a multipart message.
fn recv_rest(socket: &zmq::Socket) -> Result<Vec<zmq::Message>, zmq::Error> {
    let mut rest = Vec::new();
    loop {
        let mut frame = zmq::Message::new();
        // ZeroMQ delivers messages whole, so the other frames are here.
        match socket.recv(&mut frame, zmq::DONTWAIT) {
            Ok(()) => {}
            Err(zmq::Error::EINTR) => continue,
            Err(error) => return Err(error),
        }
        let more = frame.get_more();
        rest.push(frame);
        if !more {
            return Ok(rest);
        }
    }
}

/// A duration as the whole milliseconds libzmq options take, saturating.
fn millis(duration: Duration) -> i32 {
    i32::try_from(duration.as_millis()).unwrap_or(i32::MAX)
}

/// ZMQ_FD, lent to the poller.
#[derive(Debug)]
struct ZmqFd(RawFd);

impl AsFd for ZmqFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the descriptor is the socket's ZMQ_FD, which libzmq keeps
        // open until the socket is closed, and the `ZmqSource` that owns both
        // drops this (and so unregisters it) before it closes the socket.
        #[allow(unsafe_code)]
        unsafe {
            BorrowedFd::borrow_raw(self.0)
        }
    }
}
