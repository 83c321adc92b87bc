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
//! simplicity". This crate handles each of them, and one more the book's code
//! gets only partly right.
//!
//! **Fairness.** *"Our code will totally monopolise the event loop if we
//! receive many messages at once."* Here one dispatch handles at most a
//! budget of messages, received and sent together
//! ([`Builder::budget`], default [`DEFAULT_BUDGET`]). When the budget runs
//! out with work left, the source pings itself and returns: the loop runs its
//! other sources (timers, other sockets) and then dispatches this one again.
//! Without that ping it would stall, since ZeroMQ fires no new edge for
//! messages that are already waiting.
//!
//! **Back pressure.** *"We do not consider back pressure beyond whatever
//! built-in zsocket settings the caller might use."* The outgoing queue is
//! bounded ([`Builder::capacity`], default [`DEFAULT_CAPACITY`]):
//! [`Sender::try_send`] on a full queue hands the message back as
//! [`SendError::Full`], and [`Sender::send`] waits for room (on other
//! threads). Sends never block the loop: they use `ZMQ_DONTWAIT`, and a
//! message that meets a full high-water mark (`EAGAIN`) stays at the front of
//! the queue until the socket reports `POLLOUT`: nothing lost, order kept.
//! (zmq 0.10's `send` frees a `zmq::Message` whose send failed, so frames are
//! sent from a copy; libzmq stores frames of up to 33 bytes inline, so for
//! small messages the copy costs nothing.)
//!
//! **Shutdown.** *"We just drop pending messages in the zsocket's internal
//! queue (in and out) on shutdown."* `ZMQ_LINGER` is a setting
//! ([`Builder::linger`]), zero unless you choose otherwise, so dropping the
//! source never hangs the process or the context's termination.
//! [`ZmqSource::flush`] delivers the queued messages with a deadline and lets
//! libzmq go on delivering after close until that same deadline. Dropping the
//! source closes the queue: [`Sender`]s then get [`SendError::Closed`].
//!
//! **Errors.** *"We just use `?` everywhere, which will eventually cause the
//! event loop to exit with an error."* Here `EAGAIN` and `EINTR` are handled
//! inside. A message ZeroMQ refuses for good comes back with its error: from
//! [`SocketHandle::send`] as [`SendError::Refused`] (a REQ socket sending out
//! of turn gets `EFSM`), and for queued messages as an
//! [`Event::SendFailed`], since whoever queued them may be on another thread.
//! Only a failure the source cannot go on from (a terminated context) is an
//! [`Error`] from `process_events`. All errors are typed, `Send + Sync`, and
//! chain to libzmq's error through `source()`.
//!
//! **No lost wake-ups.** ZMQ_FD is edge-triggered, and reading `ZMQ_EVENTS`,
//! sending or receiving can consume the edge. The source goes to sleep only
//! after a check that leaves nothing pending behind the edge: a receive that
//! fails with `EAGAIN` (libzmq processes its pending commands before it gives
//! up, exactly as a read of `ZMQ_EVENTS` does), or, when messages wait to be
//! sent, a fresh read of `ZMQ_EVENTS` after the last send. Receiving until
//! `EAGAIN` rather than reading `ZMQ_EVENTS` after every message keeps the
//! hot path as cheap as a blocking `recv` loop. The source also wakes itself
//! when it is registered or re-registered, so messages that arrived before
//! are not left waiting for an edge that already came and went, and after
//! [`ZmqSource::flush`], which uses the socket outside the loop.
//!
//! # Sending
//!
//! - From the callback: [`SocketHandle::send`] sends at once if the socket
//!   takes the message (a REP server replies this way), and otherwise queues
//!   it behind what is already waiting.
//! - From anywhere else: a [`Sender`], which is `Clone + Send`. Queued
//!   messages leave in order, each when `ZMQ_EVENTS` reports `POLLOUT`. For a
//!   REQ socket that means one request per reply, so queueing several
//!   requests up front is fine.
//!
//! Both refuse to grow the queue past its capacity.

#![warn(missing_docs)]

mod error;
mod multipart;
mod queue;
mod source;

pub use error::{Error, SendError};
pub use multipart::{Frames, Multipart};
pub use queue::Sender;
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
