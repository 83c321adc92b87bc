//! [`ZmqSource`], the event source, with its [`Builder`], the [`Event`]s it
//! delivers and the [`SocketHandle`] its callback gets.

use std::fmt;
use std::os::fd::{AsFd, BorrowedFd};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use calloop::generic::Generic;
use calloop::ping::{PingSource, make_ping};
use calloop::timer::{TimeoutAction, Timer};
use calloop::{EventSource, Interest, Mode, Poll, PostAction, Readiness, Token, TokenFactory};

use crate::monitor::Monitor;
use crate::queue::Shared;
use crate::socket::{Core, SendPass, SocketRef, Until};
use crate::{Error, Frame, Multipart, SendError, Sender};

/// How many messages one call of the source's `process_events` receives,
/// and how many queued messages it sends, by default. See
/// [`Builder::budget`].
pub const DEFAULT_BUDGET: usize = 256;

/// How many messages the outgoing queue holds by default, the same as
/// ZeroMQ's default high-water mark. See [`Builder::capacity`].
pub const DEFAULT_CAPACITY: usize = 1000;

/// When a socket says it can send but refuses the message (a full peer of a
/// ROUTER or STREAM socket), libzmq gives no sign of when that peer has room
/// that the source could wait for without missing it; so besides looking
/// whenever anything happens on the socket, it looks on a timer, backing off
/// from the first delay to the last.
const RETRY_FIRST: Duration = Duration::from_millis(5);
const RETRY_LAST: Duration = Duration::from_millis(250);

/// As long as anyone would wait: ten years.
const FOREVER: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// What the source hands to its callback.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// A message arrived on the socket.
    Message(Multipart),
    /// A queued message was refused by ZeroMQ and trying again would not help
    /// (`EHOSTUNREACH` from a ROUTER with `ZMQ_ROUTER_MANDATORY` and a peer
    /// that is gone, say). It is handed back here because whoever queued it
    /// may be on another thread.
    SendFailed {
        /// The error libzmq reported.
        error: zmq::Error,
        /// The message that was not sent.
        message: Multipart,
    },
    /// The outgoing queue refused a message as [`SendError::Full`] and has
    /// since drained to half its capacity or less (for a source built with
    /// a capacity of 0, the socket can send again): a producer on the loop's
    /// thread can go on. It comes once after refusals, however many.
    Room,
    /// The source cannot go on (its context was terminated, say). It has left
    /// the event loop, its queue is closed (its [`Sender`]s get
    /// [`SendError::Closed`], and any waiting in [`Sender::send`] wake up) and
    /// its socket is closed once calloop drops it. What it had queued can
    /// still be taken back, with [`SocketHandle::take_queued`] here. Nothing
    /// else in the loop is affected. This is the callback's last event.
    Failed(Error),
}

/// Settings for a [`ZmqSource`]; start from [`ZmqSource::builder`].
#[derive(Debug, Clone)]
pub struct Builder {
    budget: usize,
    capacity: usize,
    linger: Option<Duration>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            budget: DEFAULT_BUDGET,
            capacity: DEFAULT_CAPACITY,
            linger: None,
        }
    }
}

impl Builder {
    /// The most messages one call of the source's `process_events` receives,
    /// and the most queued messages it sends (default [`DEFAULT_BUDGET`]
    /// each; 0 counts as 1). Receiving and sending each have the whole
    /// budget, so a flood one way never stops the other.
    ///
    /// When the budget runs out with work left, the source wakes itself up
    /// again after the loop's other sources have had their turn, so a flood
    /// on one socket cannot starve the rest of the program. The budget is per
    /// call: calloop may call the source twice in one `dispatch` (once for
    /// the socket, once for its wake-up).
    #[must_use]
    pub fn budget(mut self, messages: usize) -> Self {
        self.budget = messages.max(1);
        self
    }

    /// The most messages the outgoing queue holds (default
    /// [`DEFAULT_CAPACITY`]), counting those set aside for a full peer. For
    /// a ROUTER or STREAM socket, one peer may have half of them at most:
    /// more for that peer are refused as [`SendError::Full`], while the
    /// others' are still taken. A
    /// full queue hands messages back instead of growing: that is the back
    /// pressure. With 0, nothing is ever queued: a message goes out at once
    /// from [`SocketHandle::send`] or comes back as [`SendError::Full`].
    #[must_use]
    pub fn capacity(mut self, messages: usize) -> Self {
        self.capacity = messages;
        self
    }

    /// How long libzmq keeps trying to deliver messages it has accepted once
    /// the socket is closed (`ZMQ_LINGER`). Without this setting, the source
    /// keeps a linger already set on the socket, and replaces libzmq's
    /// default of "for ever" with zero (drop them), so that dropping the
    /// source never hangs the context's termination. Whatever is still in
    /// the source's own queue is dropped with the source; call
    /// [`ZmqSource::flush`] first to deliver it.
    #[must_use]
    pub fn linger(mut self, linger: Duration) -> Self {
        self.linger = Some(linger);
        self
    }

    /// Wraps the socket. Set the socket's own options (subscriptions,
    /// high-water marks, `ZMQ_MAXMSGSIZE`) and bind or connect it before or
    /// after, through [`ZmqSource::socket`].
    ///
    /// # Errors
    ///
    /// [`Error::Zmq`] if the socket's options cannot be read or set (a
    /// terminated context), [`Error::Io`] if the wake-up cannot be created.
    pub fn build(self, socket: zmq::Socket) -> Result<ZmqSource, Error> {
        let linger = match self.linger {
            Some(linger) => millis(linger),
            None => match socket.get_linger() {
                Ok(-1) => 0,
                Ok(linger) => linger,
                Err(error) => return Err(Error::zmq("read ZMQ_LINGER")(error)),
            },
        };
        socket
            .set_linger(linger)
            .map_err(Error::zmq("set ZMQ_LINGER"))?;
        let socket_type = socket
            .get_socket_type()
            .map_err(Error::zmq("read ZMQ_TYPE"))?;
        let (wake, wake_source) = make_ping().map_err(Error::io("create the wake-up ping"))?;
        let can_send = !matches!(socket_type, zmq::SUB | zmq::PULL);
        let per_peer = matches!(socket_type, zmq::ROUTER | zmq::STREAM);
        let shared = Arc::new(Shared::new(self.capacity, wake, can_send, per_peer));
        let core = Rc::new(Core::new(socket, shared).map_err(Error::zmq("read ZMQ_FD"))?);
        Ok(ZmqSource {
            // ZMQ_FD only signals changes: a socket that has messages waiting
            // stays silent until something new happens. Edge mode says so to
            // the poller, and the source makes up for it (see `pump`).
            socket_fd: Generic::new(ZmqFd(Rc::clone(&core)), Interest::READ, Mode::Edge),
            wake_source,
            retry: Timer::from_deadline(Instant::now()),
            retry_armed: false,
            retry_delay: RETRY_FIRST,
            core,
            budget: self.budget,
            failed: false,
            room_given_at: None,
        })
    }
}

/// A calloop event source for a ZeroMQ socket of any type.
///
/// Insert it into an event loop with a callback; the callback gets an
/// [`Event`] for every message received (and for every queued message ZeroMQ
/// refused), a [`SocketHandle`] to reply or send through, and the loop's
/// shared data. Other code queues messages through a [`Sender`], or, on the
/// loop's thread, through the source itself in a `calloop::Dispatcher`.
///
/// A source lives on the thread that built it (it is not `Send`): build it
/// where its event loop runs. Its [`Sender`]s go anywhere.
///
/// See the [crate documentation](crate) for what it guarantees and an example.
pub struct ZmqSource {
    socket_fd: Generic<ZmqFd>,
    wake_source: PingSource,
    /// Registered while armed; see `RETRY_FIRST`.
    retry: Timer,
    retry_armed: bool,
    retry_delay: Duration,
    core: Rc<Core>,
    budget: usize,
    /// Set once the source has reported `Event::Failed`.
    failed: bool,
    /// Without a queue: how many messages had been sent straight to the
    /// socket when `Event::Room` was last given, and whether the socket has
    /// had news since.
    room_given_at: Option<u64>,
}

impl ZmqSource {
    /// Wraps a socket with the default settings: a budget of
    /// [`DEFAULT_BUDGET`] messages each way per dispatch, a queue of
    /// [`DEFAULT_CAPACITY`] messages, and the socket's own linger if it has
    /// one set, else zero.
    ///
    /// # Errors
    ///
    /// As [`Builder::build`].
    pub fn new(socket: zmq::Socket) -> Result<Self, Error> {
        Builder::default().build(socket)
    }

    /// Settings to wrap a socket with.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// A new handle for queueing messages, for any thread.
    pub fn sender(&self) -> Sender {
        Sender::new(Arc::clone(&self.core.shared))
    }

    /// The socket, to set options, bind or connect, or read its state. Any
    /// use of it is safe: the source looks at the socket again afterwards
    /// (see [`SocketRef`]). Send through the source rather than on the
    /// socket itself, so that queued messages keep their order.
    pub fn socket(&self) -> SocketRef<'_> {
        SocketRef::new(&self.core)
    }

    /// Sends a message now if the socket takes it and nothing queued must go
    /// first, and queues it otherwise, as [`SocketHandle::send`] does. Use it
    /// before the source is inserted into a loop, or from elsewhere on the
    /// loop's thread (a timer, another source's callback) through the
    /// `calloop::Dispatcher` that holds the source.
    ///
    /// # Errors
    ///
    /// As [`SocketHandle::send`].
    pub fn send(&self, message: impl Into<Multipart>) -> Result<(), SendError> {
        self.core.send_owned(message.into())
    }

    /// As [`send`](ZmqSource::send), from borrowed frames. See
    /// [`SocketHandle::send_borrowed`].
    ///
    /// # Errors
    ///
    /// As [`SocketHandle::send`].
    #[inline]
    pub fn send_borrowed<const N: usize>(&self, frames: [&[u8]; N]) -> Result<(), SendError> {
        send_borrowed(&self.core, frames)
    }

    /// How many messages wait to be sent.
    pub fn queued(&self) -> usize {
        self.core.shared.lock().len()
    }

    /// Takes back every message still waiting to be sent, oldest first (for
    /// a ROUTER or STREAM socket, in order per peer). A Lazy Pirate client
    /// that gives up on its REQ socket takes back the request it could not
    /// send, to send it again on a new socket.
    pub fn take_queued(&self) -> Vec<Multipart> {
        self.core.take_queued()
    }

    /// Stops receiving until [`resume_receiving`](ZmqSource::resume_receiving),
    /// while sends go on. See [`Sender::pause_receiving`].
    pub fn pause_receiving(&self) {
        self.core.shared.pause_receiving();
    }

    /// Receives again, starting with what came meanwhile.
    pub fn resume_receiving(&self) {
        self.core.shared.resume_receiving();
    }

    /// A second event source that reports what happens to this socket's
    /// connections (ZeroMQ's socket monitor): peers connecting, handshakes
    /// succeeding, disconnections, each with its endpoint. Create it before
    /// binding or connecting, to see everything.
    ///
    /// `context` must be the context the socket was made in: the monitor
    /// talks to the socket over `inproc://`. A socket has one monitor at a
    /// time (libzmq's rule: a second would silently end the first); once
    /// the [`Monitor`] is dropped, another may be made.
    ///
    /// # Errors
    ///
    /// [`Error::MonitorInUse`] if the socket's monitor is still alive;
    /// [`Error::Zmq`] if libzmq refuses the monitor, or its socket cannot be
    /// made or connected.
    pub fn monitor(&self, context: &zmq::Context) -> Result<Monitor, Error> {
        Monitor::new(context, &self.core)
    }

    /// Delivers the queued messages to ZeroMQ, waiting up to `timeout` for
    /// the socket to take them, and grants the socket's close, if it follows,
    /// the time left of that deadline to deliver them from libzmq's own
    /// buffers (`ZMQ_LINGER`). Call it before dropping the source when the
    /// last messages matter (a ventilator's final tasks, say). The grant is
    /// for that close only: sending or receiving on the source afterwards
    /// cancels it.
    ///
    /// It only sends. With nothing queued it returns at once. A REQ socket
    /// waiting for its reply, or a REP socket without a request, cannot send
    /// what it has queued and times out. Incoming messages stay in the socket
    /// for the loop to handle.
    ///
    /// For a source inside a loop, call it through the `calloop::Dispatcher`
    /// that holds it, or take the source out of the loop first.
    ///
    /// # Errors
    ///
    /// [`Error::FlushTimeout`] with how many messages are still queued;
    /// [`Error::Refused`] with the first message ZeroMQ refused for good (the
    /// ones behind it stay queued); [`Error::Zmq`] if the socket cannot go on.
    pub fn flush(&self, timeout: Duration) -> Result<(), Error> {
        // A timeout too long to add to now is as good as for ever.
        let deadline = Instant::now()
            .checked_add(timeout)
            .unwrap_or_else(|| Instant::now() + FOREVER);
        let core = &self.core;
        let mut wait = RETRY_FIRST;
        loop {
            if !core.pending() {
                core.grant_linger(deadline);
                return Ok(());
            }
            core.touch();
            let pass = core
                .send_queued(usize::MAX, Until::Refused)
                .map_err(Error::zmq("send"))?;
            if let Some((error, message)) = pass.refused.into_iter().next() {
                return Err(Error::Refused(SendError::Refused { error, message }));
            }
            if !core.pending() {
                continue;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::FlushTimeout {
                    unsent: self.queued(),
                });
            }
            let writable = loop {
                // zmq_poll deals with ZMQ_FD's edges itself.
                match core
                    .socket
                    .poll(zmq::POLLOUT, i64::from(millis(left).max(1)))
                {
                    Ok(ready) => break ready > 0,
                    Err(zmq::Error::EINTR) => continue,
                    Err(error) => return Err(Error::zmq("poll")(error)),
                }
            };
            if writable && pass.sent == 0 {
                // It says it can send, but refused: a ROUTER or STREAM socket
                // whose peer is full. Nothing announces that peer's room.
                std::thread::sleep(wait.min(left));
                wait = (wait * 2).min(RETRY_LAST);
            }
        }
    }

    /// Receives and sends until there is nothing left to do or the budget is
    /// spent. This is where ZMQ_FD's edge triggering is dealt with.
    ///
    /// ZMQ_FD fires when libzmq's command mailbox gets something, not when a
    /// message is ready, and every use of the socket may empty that mailbox
    /// and change what the socket can do. So the pump may go back to sleep
    /// only right after a call that emptied the mailbox and left nothing it
    /// could act on; the next change then fires ZMQ_FD again. Two calls do
    /// that: reading ZMQ_EVENTS, and a receive that fails with EAGAIN
    /// (libzmq processes its mailbox before it gives up). Each round of the
    /// pump receives until EAGAIN, sends what is queued until the socket
    /// refuses, and then:
    ///
    /// - with nothing sent or tried, it ends on that EAGAIN: the common case
    ///   of a busy receiver, at no extra cost;
    /// - otherwise it reads ZMQ_EVENTS, and goes round again while that
    ///   reports work the last round could do;
    /// - when the budget runs out first, no edge will come for the work left,
    ///   so the pump wakes itself before returning;
    /// - when ZMQ_EVENTS reports POLLOUT but the socket refused everything
    ///   (a ROUTER or STREAM socket whose waiting messages are all for full
    ///   peers), it returns `Retry`, to look again on a timer as well.
    fn pump<F>(&mut self, woken_by_socket: bool, callback: &mut F) -> Result<Pumped, Error>
    where
        F: FnMut(Event, &mut SocketHandle),
    {
        let core = Rc::clone(&self.core);
        let _pumping = core.pumping();
        core.shared.lock().scheduled = true;
        if woken_by_socket {
            self.room_given_at = None;
        }
        let mut received = 0;
        let mut sent = 0;
        // What the last read of ZMQ_EVENTS promised.
        let mut promised: Option<zmq::PollEvents> = None;
        loop {
            let (got, drained) = self.receive(self.budget - received, callback)?;
            received += got;
            let pass = core
                .send_queued(self.budget - sent, Until::Blocked)
                .map_err(Error::zmq("send"))?;
            sent += pass.done;
            if pass.sent > 0 {
                self.retry_delay = RETRY_FIRST;
            }
            let (done, tried, limited) = (pass.done, pass.tried, pass.limited);
            // These callbacks come after the receive that ended on EAGAIN,
            // and may use the socket.
            let mut called = self.report(pass, callback);
            if core.shared.take_room() {
                callback(Event::Room, &mut SocketHandle::new(&core));
                called = true;
            }
            if received == self.budget || limited {
                core.shared.wake();
                return Ok(Pumped::Sleep);
            }
            let waiting_for_room = core.shared.waiting_for_room();
            if drained && !tried && !called && !waiting_for_room {
                return Ok(Pumped::Sleep);
            }
            let events = events(&core.socket)?;
            let writable = events.contains(zmq::POLLOUT);
            if waiting_for_room && writable {
                // Without a queue, room means the socket can send again. But
                // a socket that said so, and then refused the very first
                // message that came on Room (a ROUTER or STREAM socket whose
                // peer is full while another is not, an XPUB with
                // ZMQ_XPUB_NODROP), said it for someone else: then only news
                // from the socket, or the timer, makes for another Room.
                let directly = core.sent_directly.get();
                if self.room_given_at != Some(directly) {
                    self.room_given_at = Some(directly);
                    core.shared.take_room_without_queue();
                    callback(Event::Room, &mut SocketHandle::new(&core));
                    // Each Room counts against the budget, so a producer that
                    // sends a message per Room still lets the loop go on.
                    sent += 1;
                    if sent >= self.budget {
                        core.shared.wake();
                        return Ok(Pumped::Sleep);
                    }
                    continue;
                }
                return Ok(Pumped::Retry);
            }
            let receiving = core.receives && core.shared.receiving();
            let can_receive = receiving && events.contains(zmq::POLLIN);
            let can_send = writable && core.pending();
            // A promise the last round could not keep is not worth another.
            let kept = |flag| promised.is_none_or(|last| !last.contains(flag));
            let kept_in = kept(zmq::POLLIN) || got > 0;
            let kept_out = kept(zmq::POLLOUT) || done > 0;
            if (can_receive && kept_in) || (can_send && kept_out) {
                promised = Some(events);
                continue;
            }
            return Ok(match can_send || can_receive {
                true => Pumped::Retry,
                false => Pumped::Sleep,
            });
        }
    }

    /// Receives up to `limit` messages. Says how many, and whether it stopped
    /// on EAGAIN.
    fn receive<F>(&mut self, limit: usize, callback: &mut F) -> Result<(usize, bool), Error>
    where
        F: FnMut(Event, &mut SocketHandle),
    {
        let core = &self.core;
        if !core.receives {
            // Nothing was asked of libzmq: the pump must still read
            // ZMQ_EVENTS, which is where a PUSH or PUB socket hears that its
            // context is terminated.
            return Ok((0, false));
        }
        let mut received = 0;
        // One handle for the burst, made again only if a callback swapped
        // it for another source's (which safe code can do).
        let mut handle = SocketHandle::new(core);
        loop {
            if received == limit || !core.shared.receiving() {
                break Ok((received, false));
            }
            // The hot path of a busy socket: the message is built where it is
            // received, and moved once, into the event.
            let mut first = zmq::Message::new();
            match core.socket.recv(&mut first, zmq::DONTWAIT) {
                Ok(()) => {}
                Err(zmq::Error::EINTR) => continue,
                Err(zmq::Error::EAGAIN) => break Ok((received, true)),
                // A REQ socket after its reply, or a REP socket whose request
                // is still unanswered, cannot receive now.
                Err(zmq::Error::EFSM) => break Ok((received, false)),
                Err(error) => break Err(Error::zmq("recv")(error)),
            }
            let rest = match first.get_more() {
                true => match recv_rest(&core.socket) {
                    Ok(rest) => rest,
                    Err(error) => break Err(Error::zmq("recv")(error)),
                },
                false => Vec::new(),
            };
            received += 1;
            // Receiving cancels a linger a flush granted (in an earlier
            // callback, say).
            core.used();
            if !Rc::ptr_eq(&handle.core, core) {
                handle = SocketHandle::new(core);
            }
            callback(
                Event::Message(Multipart::from_parts(first, rest)),
                &mut handle,
            );
        }
    }

    /// Hands the callback the messages the sends refused; says whether there
    /// were any.
    fn report<F>(&self, pass: SendPass, callback: &mut F) -> bool
    where
        F: FnMut(Event, &mut SocketHandle),
    {
        let any = !pass.refused.is_empty();
        for (error, message) in pass.refused {
            callback(
                Event::SendFailed { error, message },
                &mut SocketHandle::new(&self.core),
            );
        }
        any
    }
}

/// How a pump ended.
enum Pumped {
    /// Nothing to do until the socket's descriptor or the wake-up fires.
    Sleep,
    /// Messages wait for peers that are full: look again on a timer too.
    Retry,
}

impl Drop for ZmqSource {
    fn drop(&mut self) {
        // Senders see `Closed` from now on, and any blocked in `send` wake up.
        // The socket itself closes right after, with its linger.
        self.core.shared.close();
    }
}

impl fmt::Debug for ZmqSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZmqSource")
            .field("core", &self.core)
            .field("budget", &self.budget)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl EventSource for ZmqSource {
    type Event = Event;
    type Metadata = SocketHandle;
    type Ret = ();
    type Error = Error;

    /// Never fails: a source that cannot go on reports
    /// [`Event::Failed`] to its callback and leaves the loop.
    fn process_events<F>(
        &mut self,
        readiness: Readiness,
        token: Token,
        mut callback: F,
    ) -> Result<PostAction, Error>
    where
        F: FnMut(Event, &mut SocketHandle),
    {
        if self.failed {
            return Ok(PostAction::Remove);
        }
        // Whichever of the three woke us, the work is the same: pump. The
        // sub-sources only check the token, and the ping drains its eventfd.
        let mut woken_by_socket = false;
        let _ = self.socket_fd.process_events(readiness, token, |_, _| {
            woken_by_socket = true;
            Ok(PostAction::Continue)
        });
        let drained = self
            .wake_source
            .process_events(readiness, token, |(), &mut ()| {});
        let mut fired = false;
        let _ = self.retry.process_events(readiness, token, |_, _| {
            fired = true;
            TimeoutAction::Drop
        });
        if fired {
            self.retry_armed = false;
        }
        let outcome = match drained {
            Ok(_) => self.pump(woken_by_socket || fired, &mut callback),
            // A second call for the same wake-up (a wrapping source that
            // dispatches this one by hand, say) finds the ping drained.
            Err(error) if would_block(&error) => self.pump(woken_by_socket || fired, &mut callback),
            Err(error) => Err(Error::Io {
                operation: "drain the wake-up ping",
                source: std::io::Error::other(error),
            }),
        };
        match outcome {
            Ok(Pumped::Sleep) => Ok(PostAction::Continue),
            Ok(Pumped::Retry) if self.retry_armed => Ok(PostAction::Continue),
            Ok(Pumped::Retry) => {
                // Registered in `reregister`, which calloop calls next.
                self.retry.set_duration(self.retry_delay);
                self.retry_delay = (self.retry_delay * 2).min(RETRY_LAST);
                self.retry_armed = true;
                Ok(PostAction::Reregister)
            }
            Err(error) => {
                self.failed = true;
                // Refuse more, but keep what is queued for `take_queued`.
                self.core.shared.refuse_more();
                callback(Event::Failed(error), &mut SocketHandle::new(&self.core));
                Ok(PostAction::Remove)
            }
        }
    }

    fn register(&mut self, poll: &mut Poll, tokens: &mut TokenFactory) -> calloop::Result<()> {
        self.socket_fd.register(poll, tokens)?;
        self.wake_source.register(poll, tokens)?;
        if self.retry_armed {
            self.retry.register(poll, tokens)?;
        }
        // Messages that arrived before now fired no edge we could see.
        self.core.shared.wake();
        Ok(())
    }

    fn reregister(&mut self, poll: &mut Poll, tokens: &mut TokenFactory) -> calloop::Result<()> {
        self.socket_fd.reregister(poll, tokens)?;
        self.wake_source.reregister(poll, tokens)?;
        match self.retry_armed {
            true => self.retry.reregister(poll, tokens)?,
            false => self.retry.unregister(poll)?,
        }
        Ok(())
    }

    fn unregister(&mut self, poll: &mut Poll) -> calloop::Result<()> {
        self.socket_fd.unregister(poll)?;
        self.wake_source.unregister(poll)?;
        self.retry.unregister(poll)?;
        Ok(())
    }
}

/// The socket, as the callback sees it: reply on it, queue on it, or reach
/// the `zmq::Socket` for its options.
///
/// The callback gets one for the duration of its call; it cannot be kept or
/// cloned.
pub struct SocketHandle {
    core: Rc<Core>,
}

impl SocketHandle {
    fn new(core: &Rc<Core>) -> Self {
        SocketHandle {
            core: Rc::clone(core),
        }
    }

    /// Sends a message now if the socket takes it and nothing queued must go
    /// first, and queues it otherwise. A REP server replies this way from its
    /// callback, without a round trip through the queue.
    ///
    /// # Errors
    ///
    /// [`SendError::Refused`] with the message when ZeroMQ refuses it for
    /// good, such as `EFSM` for a REQ socket that sends twice without a reply
    /// in between, or `ENOTSUP` for a socket that cannot send (SUB, PULL);
    /// [`SendError::Full`] when it must be queued and the queue is full;
    /// [`SendError::Closed`] once the source has failed.
    pub fn send(&self, message: impl Into<Multipart>) -> Result<(), SendError> {
        self.core.send_owned(message.into())
    }

    /// As [`send`](SocketHandle::send), from borrowed frames: the frames are
    /// copied into a message only if it must be queued or handed back, so a
    /// publisher can send from a reused buffer as fast as a blocking loop.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let context = zmq::Context::new();
    /// # let socket = context.socket(zmq::PUB)?;
    /// let publisher = zsource::ZmqSource::new(socket)?;
    /// let mut update = String::new();
    /// for zip in 10000..10003 {
    ///     update.clear();
    ///     update.push_str(&format!("{zip} 23 45"));
    ///     publisher.send_borrowed([update.as_bytes()])?;
    /// }
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`send`](SocketHandle::send).
    #[inline]
    pub fn send_borrowed<const N: usize>(&self, frames: [&[u8]; N]) -> Result<(), SendError> {
        send_borrowed(&self.core, frames)
    }

    /// A new handle for queueing messages, for any thread.
    pub fn sender(&self) -> Sender {
        Sender::new(Arc::clone(&self.core.shared))
    }

    /// The socket, to set options such as subscriptions. Send through
    /// [`send`](SocketHandle::send) rather than on the socket itself, so that
    /// queued messages keep their order.
    pub fn socket(&self) -> SocketRef<'_> {
        SocketRef::new(&self.core)
    }

    /// How many messages wait to be sent.
    pub fn queued(&self) -> usize {
        self.core.shared.lock().len()
    }

    /// Takes back every message still waiting to be sent. See
    /// [`ZmqSource::take_queued`].
    pub fn take_queued(&self) -> Vec<Multipart> {
        self.core.take_queued()
    }

    /// Stops receiving, from the next message on, until
    /// [`resume_receiving`](SocketHandle::resume_receiving). See
    /// [`Sender::pause_receiving`].
    pub fn pause_receiving(&self) {
        self.core.shared.pause_receiving();
    }

    /// Receives again, starting with what came meanwhile.
    pub fn resume_receiving(&self) {
        self.core.shared.resume_receiving();
    }
}

impl fmt::Debug for SocketHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocketHandle")
            .field("core", &self.core)
            .finish()
    }
}

#[inline]
fn send_borrowed<const N: usize>(core: &Core, frames: [&[u8]; N]) -> Result<(), SendError> {
    const { assert!(N > 0, "a ZeroMQ message has at least one frame") };
    match frames.split_first() {
        Some((first, rest)) => core.send_borrowed(first, rest),
        None => Ok(()),
    }
}

/// Whether the ping's error is only that there was nothing to drain.
fn would_block(error: &calloop::ping::PingError) -> bool {
    std::error::Error::source(error)
        .and_then(|source| source.downcast_ref::<std::io::Error>())
        .is_some_and(|error| error.kind() == std::io::ErrorKind::WouldBlock)
}

/// ZMQ_EVENTS, read again on EINTR.
fn events(socket: &zmq::Socket) -> Result<zmq::PollEvents, Error> {
    loop {
        match socket.get_events() {
            Err(zmq::Error::EINTR) => continue,
            events => return events.map_err(Error::zmq("read ZMQ_EVENTS")),
        }
    }
}

/// Receives the frames after the first of a multipart message.
fn recv_rest(socket: &zmq::Socket) -> Result<Vec<Frame>, zmq::Error> {
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
        rest.push(Frame::from(frame));
        if !more {
            return Ok(rest);
        }
    }
}

/// A duration as the whole milliseconds libzmq options take, saturating.
pub(crate) fn millis(duration: Duration) -> i32 {
    i32::try_from(duration.as_millis()).unwrap_or(i32::MAX)
}

/// ZMQ_FD, lent to the poller by the socket that owns it.
#[derive(Debug)]
struct ZmqFd(Rc<Core>);

impl AsFd for ZmqFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the descriptor is the ZMQ_FD of the socket inside the
        // `Core`, read when the `Core` was made. libzmq keeps it open until
        // that socket is closed, which happens only when the `Core` is
        // dropped, and this `ZmqFd` holds the `Core` alive: so the
        // descriptor is open for as long as this borrow of `self` lasts.
        // Nothing can give the `Core` another socket.
        #[allow(unsafe_code)]
        unsafe {
            BorrowedFd::borrow_raw(self.0.fd)
        }
    }
}
