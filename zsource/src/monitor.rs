//! [`Monitor`]: ZeroMQ's socket monitor as an event source of typed events.

use std::sync::atomic::{AtomicUsize, Ordering};

use calloop::{EventSource, Poll, PostAction, Readiness, Token, TokenFactory};

use crate::socket::Core;
use crate::{Error, Event, SocketHandle, ZmqSource};

/// What happened to a monitored socket's connections, as libzmq's socket
/// monitor reports it (`zmq_socket_monitor`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorEvent {
    /// What happened.
    pub kind: MonitorEventKind,
    /// The endpoint it happened on, as libzmq names it
    /// (`tcp://127.0.0.1:5555`).
    pub endpoint: String,
    /// The number libzmq reports with it: a descriptor for `Connected`,
    /// `Listening`, `Accepted`, `Closed` and `Disconnected`; an `errno` for
    /// the failures; the reconnection interval in milliseconds for
    /// `ConnectRetried`; a protocol or authentication code for
    /// `HandshakeFailedProtocol` and `HandshakeFailedAuth`.
    pub value: u32,
}

/// The kinds of [`MonitorEvent`], one per `ZMQ_EVENT_*` of libzmq.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MonitorEventKind {
    /// A connection to a bound peer was made (the handshake comes next).
    Connected,
    /// A connection attempt is under way.
    ConnectDelayed,
    /// A failed connection is being tried again.
    ConnectRetried,
    /// The socket is bound and listening.
    Listening,
    /// A bind failed.
    BindFailed,
    /// A peer's connection was accepted (the handshake comes next).
    Accepted,
    /// Accepting a connection failed.
    AcceptFailed,
    /// A connection or listener was closed.
    Closed,
    /// Closing failed.
    CloseFailed,
    /// A peer's connection was lost.
    Disconnected,
    /// The monitor stopped (the socket was closed).
    MonitorStopped,
    /// The ZMTP handshake with a peer failed, for no more specific reason.
    HandshakeFailedNoDetail,
    /// The ZMTP handshake with a peer succeeded: it can now send and receive
    /// messages.
    HandshakeSucceeded,
    /// The handshake failed on a protocol error.
    HandshakeFailedProtocol,
    /// The handshake failed on authentication.
    HandshakeFailedAuth,
    /// An event this version does not know, with its number.
    Other(u16),
}

impl MonitorEventKind {
    fn from_raw(raw: u16) -> MonitorEventKind {
        use MonitorEventKind::*;
        use zmq::SocketEvent as Raw;
        let known = [
            (Raw::CONNECTED, Connected),
            (Raw::CONNECT_DELAYED, ConnectDelayed),
            (Raw::CONNECT_RETRIED, ConnectRetried),
            (Raw::LISTENING, Listening),
            (Raw::BIND_FAILED, BindFailed),
            (Raw::ACCEPTED, Accepted),
            (Raw::ACCEPT_FAILED, AcceptFailed),
            (Raw::CLOSED, Closed),
            (Raw::CLOSE_FAILED, CloseFailed),
            (Raw::DISCONNECTED, Disconnected),
            (Raw::MONITOR_STOPPED, MonitorStopped),
            (Raw::HANDSHAKE_FAILED_NO_DETAIL, HandshakeFailedNoDetail),
            (Raw::HANDSHAKE_SUCCEEDED, HandshakeSucceeded),
            (Raw::HANDSHAKE_FAILED_PROTOCOL, HandshakeFailedProtocol),
            (Raw::HANDSHAKE_FAILED_AUTH, HandshakeFailedAuth),
        ];
        known
            .into_iter()
            .find(|(event, _)| event.to_raw() == raw)
            .map_or(Other(raw), |(_, kind)| kind)
    }
}

impl MonitorEvent {
    /// Reads libzmq's two frames: the event number and value (6 bytes, in
    /// the host's byte order), then the endpoint.
    fn parse(frames: &crate::Multipart) -> Option<MonitorEvent> {
        let [header, endpoint] = [frames.get(0)?, frames.get(1)?];
        let kind = u16::from_ne_bytes(header.get(0..2)?.try_into().ok()?);
        let value = u32::from_ne_bytes(header.get(2..6)?.try_into().ok()?);
        Some(MonitorEvent {
            kind: MonitorEventKind::from_raw(kind),
            endpoint: String::from_utf8_lossy(endpoint).into_owned(),
            value,
        })
    }
}

/// An event source of [`MonitorEvent`]s for one socket; make it with
/// [`ZmqSource::monitor`].
///
/// A ventilator counts its workers this way, rather than parsing monitor
/// frames by hand:
///
/// ```
/// use std::time::Duration;
/// use calloop::EventLoop;
/// use zsource::{MonitorEventKind, ZmqSource};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let context = zmq::Context::new();
/// let ventilator = ZmqSource::new(context.socket(zmq::PUSH)?)?;
/// let monitor = ventilator.monitor(&context)?;
/// ventilator.socket().bind("tcp://127.0.0.1:*")?;
/// let endpoint = ventilator.socket().get_last_endpoint()?.unwrap();
///
/// let mut event_loop: EventLoop<usize> = EventLoop::try_new()?;
/// event_loop.handle().insert_source(monitor, |event, _, workers| {
///     if event.kind == MonitorEventKind::HandshakeSucceeded {
///         *workers += 1;
///     }
/// })?;
/// let worker = context.socket(zmq::PULL)?;
/// worker.connect(&endpoint)?;
/// let mut workers = 0;
/// while workers == 0 {
///     event_loop.dispatch(Duration::from_millis(100), &mut workers)?;
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Monitor {
    events: ZmqSource,
    /// Tells the monitored socket that it has a monitor.
    _monitoring: std::rc::Rc<()>,
    /// The monitored socket, to end the monitor with, while it lives.
    socket: std::rc::Weak<Core>,
}

impl Monitor {
    pub(crate) fn new(context: &zmq::Context, core: &std::rc::Rc<Core>) -> Result<Monitor, Error> {
        let monitoring = &core.monitoring;
        if std::rc::Rc::strong_count(monitoring) > 1 {
            return Err(Error::MonitorInUse);
        }
        let endpoint = fresh_endpoint();
        let all = zmq::SocketEvent::ALL.to_raw().into();
        core.touch();
        crate::retry_interrupted(|| core.socket.monitor(&endpoint, all))
            .map_err(Error::zmq("start the socket monitor"))?;
        let events = context
            .socket(zmq::PAIR)
            .map_err(Error::zmq("make the monitor's socket"))?;
        crate::retry_interrupted(|| events.connect(&endpoint))
            .map_err(Error::zmq("connect to the socket monitor"))?;
        Ok(Monitor {
            events: ZmqSource::new(events)?,
            _monitoring: std::rc::Rc::clone(monitoring),
            socket: std::rc::Rc::downgrade(core),
        })
    }
}

/// An `inproc://` name no other monitor has.
fn fresh_endpoint() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "inproc://zsource-monitor-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// libzmq sends each monitor event, and the "monitor stopped" that ends a
/// monitor, with a blocking send to a socket that waits for its peer: once
/// this end is closed, the next event would block the thread that sends it
/// (an I/O thread, or the next `monitor()`) for ever. So the monitor is
/// ended while this end still listens, drained first so that the "monitor
/// stopped" finds room; a monitor of no events takes its place, which
/// never sends anything.
impl Drop for Monitor {
    fn drop(&mut self) {
        let Some(core) = self.socket.upgrade() else {
            return; // The socket is gone, and its monitor with it.
        };
        {
            let events = self.events.socket();
            while events.recv_msg(zmq::DONTWAIT).is_ok() {}
        }
        core.touch();
        // Nothing to be done if it fails: the context is ending.
        let _ = crate::retry_interrupted(|| core.socket.monitor(&fresh_endpoint(), 0));
    }
}

impl EventSource for Monitor {
    type Event = MonitorEvent;
    type Metadata = ();
    type Ret = ();
    type Error = Error;

    /// Never fails. Frames that are not a monitor event are skipped; if the
    /// monitor's own socket fails (its context terminated), the monitor
    /// leaves the loop.
    fn process_events<F>(
        &mut self,
        readiness: Readiness,
        token: Token,
        mut callback: F,
    ) -> Result<PostAction, Error>
    where
        F: FnMut(MonitorEvent, &mut ()),
    {
        self.events
            .process_events(readiness, token, |event, _: &mut SocketHandle| {
                if let Event::Message(frames) = event {
                    if let Some(event) = MonitorEvent::parse(&frames) {
                        callback(event, &mut ());
                    }
                }
            })
    }

    fn register(&mut self, poll: &mut Poll, tokens: &mut TokenFactory) -> calloop::Result<()> {
        self.events.register(poll, tokens)
    }

    fn reregister(&mut self, poll: &mut Poll, tokens: &mut TokenFactory) -> calloop::Result<()> {
        self.events.reregister(poll, tokens)
    }

    fn unregister(&mut self, poll: &mut Poll) -> calloop::Result<()> {
        self.events.unregister(poll)
    }
}
