//! A [calloop] event source for any ZeroMQ socket.
//!
//! [`ZmqSource`] wraps a [`zmq::Socket`] of any type (REQ, REP, PUB, SUB,
//! PUSH, PULL, DEALER, ROUTER, PAIR) so that a calloop event loop can receive
//! from it and send on it, next to timers, channels, signals and other
//! sockets. Every message arrives whole, as a [`Multipart`], in an
//! [`Event::Message`].
//!
//! ```
//! use std::time::Duration;
//! use calloop::EventLoop;
//! use zsource::{Event, ZmqSource};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let context = zmq::Context::new();
//!
//! // A REP server that answers every request from its callback.
//! let server = context.socket(zmq::REP)?;
//! server.bind("inproc://hello")?;
//! let server = ZmqSource::new(server)?;
//!
//! // A REQ client. It queues three requests at once; each one leaves when the
//! // socket is ready for it, that is after the reply to the one before.
//! let client = context.socket(zmq::REQ)?;
//! client.connect("inproc://hello")?;
//! let client = ZmqSource::new(client)?;
//! let requests = client.sender();
//! for _ in 0..3 {
//!     requests.try_send("Hello")?;
//! }
//!
//! let mut event_loop: EventLoop<Vec<String>> = EventLoop::try_new()?;
//! event_loop.handle().insert_source(server, |event, socket, _replies| {
//!     if let Event::Message(request) = event {
//!         assert_eq!(request.first(), b"Hello");
//!         socket.send("World").expect("a REP socket may reply to its request");
//!     }
//! })?;
//! event_loop.handle().insert_source(client, |event, _socket, replies| {
//!     if let Event::Message(reply) = event {
//!         replies.push(String::from_utf8_lossy(reply.first()).into_owned());
//!     }
//! })?;
//!
//! let mut replies = Vec::new();
//! for _ in 0..100 {
//!     if replies.len() == 3 {
//!         break;
//!     }
//!     event_loop.dispatch(Duration::from_secs(1), &mut replies)?;
//! }
//! assert_eq!(replies, ["World", "World", "World"]);
//! # Ok(())
//! # }
//! ```
//!
//! # What the calloop book's version leaves out, and what this crate does
//!
//! The calloop book builds a ZeroMQ source as its full example and ends with
//! a disclaimer: four things it does not handle, "for the sake of
//! simplicity". This crate handles each of them, and the one the book's code
//! gets only partly right: ZMQ_FD's edges.
//!
//! **Fairness.** *"Our code will totally monopolise the event loop if we
//! receive many messages at once."* Here one call of the source's
//! `process_events` receives at most a budget of messages and sends at most
//! a budget of queued ones ([`Builder::budget`], default [`DEFAULT_BUDGET`]
//! each way, so a flood one way never stops the other). When the budget runs
//! out with work left, the source pings itself and returns: the loop runs its
//! other sources (timers, other sockets) and then dispatches this one again.
//! Without that ping it would stall, since ZeroMQ fires no new edge for
//! messages that are already waiting.
//!
//! **Back pressure.** *"We do not consider back pressure beyond whatever
//! built-in zsocket settings the caller might use."* The outgoing queue is
//! bounded ([`Builder::capacity`], default [`DEFAULT_CAPACITY`]):
//! [`Sender::try_send`] on a full queue hands the message back as
//! [`SendError::Full`], [`Sender::send`] waits for room (on other threads),
//! and a producer on the loop's thread hears of room again as
//! [`Event::Room`]. Sends never block the loop: they use `ZMQ_DONTWAIT`, and
//! a message that meets a full high-water mark (`EAGAIN`) keeps its place
//! until the socket can take it: nothing lost, order kept. A ROUTER (with
//! `ZMQ_ROUTER_MANDATORY`) or STREAM socket refuses a message for one full
//! peer while others have room; there the message waits without holding back
//! the others' (order is kept per peer), and one peer may have half the
//! queue at most: more for that peer are refused as [`SendError::Full`] at
//! once, so a peer that does not read cannot fill the queue for the others. Receiving can be paused while sends
//! go on ([`Sender::pause_receiving`]), which carries back pressure from one
//! socket to another: see the `rrbroker` example. (zmq 0.10's `send` frees a
//! `zmq::Message` whose send failed, so frames are sent from a copy; small
//! frames you make are held inside the [`Frame`] and cost no allocation.)
//!
//! **Shutdown.** *"We just drop pending messages in the zsocket's internal
//! queue (in and out) on shutdown."* `ZMQ_LINGER` is a setting
//! ([`Builder::linger`]); without it the source keeps a linger set on the
//! socket and replaces libzmq's default of "for ever" with zero, so dropping
//! the source never hangs the process or the context's termination.
//! [`ZmqSource::flush`] delivers the queued messages with a deadline and
//! grants the close that follows until that same deadline. Dropping the
//! source closes the queue: [`Sender`]s then get [`SendError::Closed`], and
//! [`ZmqSource::take_queued`] takes back what was never sent first.
//!
//! **Errors.** *"We just use `?` everywhere, which will eventually cause the
//! event loop to exit with an error."* Here `EAGAIN` and `EINTR` are handled
//! inside. A message ZeroMQ refuses for good comes back with its error: from
//! [`SocketHandle::send`] as [`SendError::Refused`] (a REQ socket sending out
//! of turn gets `EFSM`), and for queued messages as an [`Event::SendFailed`],
//! since whoever queued them may be on another thread. A failure the source
//! cannot go on from (a terminated context) reaches the source's own callback
//! as [`Event::Failed`]; the source then leaves the loop and closes its queue,
//! and the loop's other sources go on (`process_events` never returns an
//! error, which would make calloop drop the readiness of every source polled
//! with it). All errors are typed, `Send + Sync`, and chain to libzmq's error
//! through `source()`.
//!
//! **No lost wake-ups, whatever the caller does.** ZMQ_FD is
//! edge-triggered, and any use of the socket (reading `ZMQ_EVENTS`, a send or
//! receive, a `poll`, `connect`, `monitor`) can consume the edge that
//! announces a message. Inside its own dispatch the source goes to sleep only
//! after a check that leaves nothing pending behind the edge: a receive that
//! fails with `EAGAIN` (libzmq processes its pending commands before it gives
//! up), or, when it has sent or tried to, a fresh read of `ZMQ_EVENTS`.
//! Outside its dispatch, every way to the socket goes through the source
//! ([`ZmqSource::send`], [`ZmqSource::socket`], and the
//! [`SocketHandle`] a callback holds, even one smuggled into another source's
//! callback), and each tells the source to look again on the loop's next
//! turn; so does registering it again, resuming it, or flushing it. The
//! poller's copy of ZMQ_FD is owned together with the socket, so no safe
//! code can make a source poll a descriptor that another socket owns.
//!
//! One case needs more: a ROUTER or STREAM socket whose waiting messages are
//! all for full peers reports `POLLOUT` (another peer has room), and libzmq
//! gives no sign of when a given peer has room that could not be consumed
//! unseen. The source tries those messages whenever anything happens on the
//! socket, and otherwise on a timer that backs off from 5 ms to 250 ms: a
//! handful of wake-ups a second while such a peer stays full, and no spin.
//!
//! # Sending
//!
//! - From the callback: [`SocketHandle::send`] sends at once if the socket
//!   takes the message and nothing queued must go first (a REP server replies
//!   this way), and otherwise queues it.
//! - From elsewhere on the loop's thread (a timer, another source's
//!   callback): [`ZmqSource::send`], through the `calloop::Dispatcher` that
//!   holds the source. [`send_borrowed`](ZmqSource::send_borrowed) sends from
//!   borrowed bytes and copies them only to queue them: a publisher sends
//!   through it as fast as a blocking loop.
//! - From other threads: a [`Sender`], which is `Clone + Send`.
//!
//! Queued messages leave in order, each as soon as the socket takes it. A
//! strict REQ socket takes a request only after the reply to the one before,
//! so queueing several requests up front is fine; with `ZMQ_REQ_RELAXED`
//! (libzmq 4.3.4), they all leave at once.
//!
//! ZeroMQ delivers a multipart message whole, with one exception zsource
//! cannot mend: when a PUSH or DEALER socket's peer disconnects while a
//! message is being sent to another, libzmq 4.3.4 can send the rest of that
//! message to a third peer. A PUSH or DEALER message whose own peer vanishes
//! mid-message is dropped by libzmq as a whole, and zsource sends it again.
//! A REQ socket's request whose server vanishes mid-request is lost, as with
//! plain ZeroMQ, and the socket then waits for a reply that never comes: the
//! Lazy Pirate pattern (a timeout, a new socket) is the cure, and
//! [`ZmqSource::take_queued`] takes back the requests queued behind it.
//!
//! # Other sources it gives
//!
//! [`ZmqSource::monitor`] makes a [`Monitor`], an event source of the socket's
//! connection events ([`MonitorEvent`]): peers connecting, handshakes,
//! disconnections, each with its endpoint.

#![warn(missing_docs)]

mod error;
mod monitor;
mod multipart;
mod queue;
mod socket;
mod source;

pub use error::{Error, SendError};
pub use monitor::{Monitor, MonitorEvent, MonitorEventKind};
pub use multipart::{Frame, Frames, Multipart};
pub use queue::Sender;
pub use socket::SocketRef;
pub use source::{Builder, DEFAULT_BUDGET, DEFAULT_CAPACITY, Event, SocketHandle, ZmqSource};

/// Runs a libzmq call again for as long as it fails with `EINTR`.
///
/// libzmq's `bind`, `connect` and `monitor` first handle the socket's
/// pending commands, and a signal that arrives meanwhile (Ctrl-C, once a
/// handler is installed) makes them fail with `EINTR` before they have done
/// anything. A program that handles Ctrl-C in its event loop wants to carry
/// on, and meet the Ctrl-C in the loop, rather than fail:
///
/// ```
/// let context = zmq::Context::new();
/// let socket = context.socket(zmq::PULL)?;
/// zsource::retry_interrupted(|| socket.bind("inproc://results"))?;
/// # Ok::<(), zmq::Error>(())
/// ```
///
/// # Errors
///
/// The first error other than `EINTR`.
pub fn retry_interrupted<T>(mut operation: impl FnMut() -> zmq::Result<T>) -> zmq::Result<T> {
    loop {
        match operation() {
            Err(zmq::Error::EINTR) => continue,
            result => return result,
        }
    }
}
