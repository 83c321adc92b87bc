//! The bounded outgoing queue, and [`Sender`], the handle other code and other
//! threads use to fill it.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use calloop::ping::Ping;

use crate::{Multipart, SendError};

/// The state shared by the source and its senders.
#[derive(Debug)]
pub(crate) struct Shared {
    state: Mutex<Queue>,
    /// Signalled when a message leaves a full queue or the source closes, for
    /// the benefit of [`Sender::send`].
    room: Condvar,
    capacity: usize,
    /// Wakes the event loop when the queue stops being empty.
    wake: Ping,
}

#[derive(Debug)]
pub(crate) struct Queue {
    pub(crate) messages: VecDeque<Multipart>,
    closed: bool,
    /// How many threads wait in `Sender::send`; nobody is notified otherwise,
    /// because a notification costs a system call even when nobody listens.
    waiting: usize,
}

impl Shared {
    pub(crate) fn new(capacity: usize, wake: Ping) -> Self {
        Shared {
            state: Mutex::new(Queue {
                messages: VecDeque::new(),
                closed: false,
                waiting: 0,
            }),
            room: Condvar::new(),
            capacity,
            wake,
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Queue> {
        // No code panics while holding this lock, and a queue of whole
        // messages cannot be left half-updated, so a poisoned lock is usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes the source look at its socket and queue again on the loop's
    /// next turn.
    pub(crate) fn wake(&self) {
        self.wake.ping();
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Appends a message unless the queue is full or closed.
    pub(crate) fn push(&self, queue: &mut Queue, message: Multipart) -> Result<(), SendError> {
        if queue.closed {
            return Err(SendError::Closed(message));
        }
        if queue.messages.len() >= self.capacity {
            return Err(SendError::Full(message));
        }
        queue.messages.push_back(message);
        if queue.messages.len() == 1 {
            // The source only looks at the queue when it is dispatched, and
            // nothing on the socket will dispatch it for a message that has
            // never been tried: wake it. A queue that already held messages
            // has a wake-up on its way (a ping, or the socket's POLLOUT edge).
            self.wake();
        }
        Ok(())
    }

    /// Removes the front message, the one just sent or refused.
    pub(crate) fn pop(&self, queue: &mut Queue) -> Option<Multipart> {
        let message = queue.messages.pop_front();
        if queue.waiting > 0 {
            self.room.notify_one();
        }
        message
    }

    /// Refuses all further messages and wakes blocked senders, so that they
    /// see it.
    pub(crate) fn close(&self) {
        let mut queue = self.lock();
        queue.closed = true;
        queue.messages.clear();
        self.room.notify_all();
    }
}

/// A handle that queues messages for the source to send: `Clone + Send`, so
/// any thread, timer or other event source can use it.
///
/// The queue is bounded (see [`Builder::capacity`](crate::Builder::capacity));
/// [`try_send`](Sender::try_send) on a full queue hands the message back, and
/// [`send`](Sender::send) waits for room. Messages leave the queue in order,
/// when the socket reports it can take them, and a message refused with
/// `EAGAIN` stays at the front until it can go.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let context = zmq::Context::new();
/// let push = context.socket(zmq::PUSH)?;
/// push.bind("inproc://nobody-reads-this")?;
/// let source = zsource::ZmqSource::builder().capacity(2).build(push)?;
/// let sender = source.sender();
///
/// std::thread::spawn(move || {
///     sender.try_send("one").unwrap();
///     sender.try_send("two").unwrap();
///     // No peer, so nothing leaves the queue: the third comes back.
///     let refused = sender.try_send("three").unwrap_err();
///     assert_eq!(refused.into_message().first(), b"three");
/// })
/// .join()
/// .unwrap();
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Sender {
    shared: Arc<Shared>,
}

impl Sender {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Sender { shared }
    }

    /// Queues a message if there is room, and hands it back as
    /// [`SendError::Full`] if there is not, or as [`SendError::Closed`] if the
    /// source is gone. Never blocks.
    pub fn try_send(&self, message: impl Into<Multipart>) -> Result<(), SendError> {
        let mut queue = self.shared.lock();
        self.shared.push(&mut queue, message.into())
    }

    /// Queues a message, waiting for room if the queue is full. Hands it back
    /// as [`SendError::Closed`] if the source is gone.
    ///
    /// Call it from other threads only: on the event loop's own thread it
    /// would wait for the loop it is blocking. There, use
    /// [`try_send`](Sender::try_send).
    pub fn send(&self, message: impl Into<Multipart>) -> Result<(), SendError> {
        let mut message = message.into();
        let mut queue = self.shared.lock();
        loop {
            match self.shared.push(&mut queue, message) {
                Err(SendError::Full(back)) => {
                    message = back;
                    queue.waiting += 1;
                    queue = self
                        .shared
                        .room
                        .wait(queue)
                        .unwrap_or_else(PoisonError::into_inner);
                    queue.waiting -= 1;
                }
                outcome => return outcome,
            }
        }
    }

    /// How many messages wait in the queue.
    pub fn queued(&self) -> usize {
        self.shared.lock().messages.len()
    }

    /// The most messages the queue holds.
    pub fn capacity(&self) -> usize {
        self.shared.capacity()
    }

    /// Whether the source is gone, so that nothing more will be sent.
    pub fn is_closed(&self) -> bool {
        self.shared.lock().closed
    }
}
