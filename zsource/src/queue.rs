//! The bounded outgoing queue, and [`Sender`], the handle other code and other
//! threads use to fill it.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::ThreadId;

use calloop::ping::Ping;

use crate::{Multipart, SendError};

/// The state shared by the source and its senders.
#[derive(Debug)]
pub(crate) struct Shared {
    state: Mutex<Queue>,
    /// Signalled when messages leave the queue or the source closes, for the
    /// benefit of [`Sender::send`].
    room: Condvar,
    capacity: usize,
    /// Wakes the source on the event loop.
    wake: Ping,
    /// Whether the socket can send at all (SUB and PULL cannot).
    can_send: bool,
    /// The thread the source lives on (a source cannot change threads). A
    /// blocking send there would wait for the very loop it blocks.
    owner: ThreadId,
    /// Cleared while receiving is paused.
    receiving: AtomicBool,
    /// Whether nothing is queued and the queue is open, kept up to date
    /// under the lock by [`Shared::settle`]: a send on the loop's thread
    /// reads it to go straight to the socket without taking the lock.
    open_and_empty: AtomicBool,
}

#[derive(Debug)]
pub(crate) struct Queue {
    /// Messages the source has not taken yet, oldest first.
    pub(crate) fifo: VecDeque<Multipart>,
    /// Messages the source has taken out of `fifo` and not finished with:
    /// being sent, or set aside for a peer that is full. They count towards
    /// the capacity.
    pub(crate) held: usize,
    closed: bool,
    /// How many threads wait in `Sender::send`; nobody is notified otherwise,
    /// because a notification costs a system call even when nobody listens.
    waiting: usize,
    /// Whether the source will look at `fifo` again without being woken: it
    /// is running and has not yet taken its last look, or a wake-up is on its
    /// way. While it is set, a message that lands in an empty `fifo` needs no
    /// wake-up of its own.
    pub(crate) scheduled: bool,
    /// Whether a message was refused as `Full` since the last `Event::Room`.
    refused_full: bool,
    /// For a ROUTER or STREAM socket, which routes by the first frame: how
    /// many messages each peer has queued, waiting or set aside because the
    /// peer is full. A peer may have half the queue at most, so that one that
    /// does not read can never fill it for the others.
    peers: Option<HashMap<Vec<u8>, usize>>,
}

impl Queue {
    pub(crate) fn len(&self) -> usize {
        self.fifo.len() + self.held
    }
}

impl Shared {
    pub(crate) fn new(capacity: usize, wake: Ping, can_send: bool, per_peer: bool) -> Self {
        Shared {
            state: Mutex::new(Queue {
                fifo: VecDeque::new(),
                held: 0,
                closed: false,
                waiting: 0,
                scheduled: false,
                refused_full: false,
                peers: per_peer.then(HashMap::new),
            }),
            room: Condvar::new(),
            capacity,
            wake,
            can_send,
            owner: std::thread::current().id(),
            receiving: AtomicBool::new(true),
            open_and_empty: AtomicBool::new(true),
        }
    }

    /// Records whether nothing is queued and the queue is open; called,
    /// under the lock, after every change to either.
    pub(crate) fn settle(&self, queue: &Queue) {
        let open_and_empty = queue.fifo.is_empty() && !queue.closed;
        self.open_and_empty.store(open_and_empty, Ordering::Relaxed);
    }

    /// Whether a message may go straight to the socket: nothing queued
    /// must go first, and the socket can send. On the loop's thread this is
    /// exact, for nothing else takes messages out of the queue; a message
    /// that another thread is queueing at this moment may be overtaken, as
    /// messages from two threads have no order between them anyway.
    #[inline]
    pub(crate) fn may_skip_the_queue(&self) -> bool {
        self.can_send && self.open_and_empty.load(Ordering::Relaxed)
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Queue> {
        // No code panics while holding this lock, and a queue of whole
        // messages cannot be left half-updated, so a poisoned lock is usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes the source look at its socket and queue on the loop's next turn.
    pub(crate) fn wake(&self) {
        self.wake.ping();
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Appends a message unless the queue is full or closed, or the socket
    /// cannot send.
    pub(crate) fn push(&self, queue: &mut Queue, message: Multipart) -> Result<(), SendError> {
        if queue.closed {
            return Err(SendError::Closed(message));
        }
        if !self.can_send {
            return Err(SendError::Refused {
                error: zmq::Error::ENOTSUP,
                message,
            });
        }
        if queue.len() >= self.capacity || !self.count_in(queue, message.first()) {
            queue.refused_full = true;
            return Err(SendError::Full(message));
        }
        queue.fifo.push_back(message);
        self.settle(queue);
        if queue.fifo.len() == 1 && !queue.scheduled {
            // Nothing on the socket will wake the source for a message it has
            // never tried, so wake it. Messages behind this one need no
            // wake-up of their own: the source sends them after it.
            queue.scheduled = true;
            self.wake();
        }
        Ok(())
    }

    /// Counts a message in for its peer, unless the peer already has its
    /// share of the queue. (Only for a socket that routes by peer.)
    fn count_in(&self, queue: &mut Queue, peer: &[u8]) -> bool {
        let Some(peers) = &mut queue.peers else {
            return true;
        };
        let share = (self.capacity / 2).max(1);
        match peers.get_mut(peer) {
            Some(queued) if *queued >= share => false,
            Some(queued) => {
                *queued += 1;
                true
            }
            None => {
                peers.insert(peer.to_vec(), 1);
                true
            }
        }
    }

    /// Counts a message out for its peer: it was sent, refused or taken.
    pub(crate) fn count_out(&self, queue: &mut Queue, message: &Multipart) {
        let Some(peers) = &mut queue.peers else {
            return;
        };
        if let Some(queued) = peers.get_mut(message.first()) {
            *queued -= 1;
            if *queued == 0 {
                peers.remove(message.first());
            }
        }
    }

    /// Bookkeeping after the source finished with `done` held messages (sent
    /// or refused): blocked senders are woken once the queue has drained to
    /// half its capacity, so that a producer faster than the socket is woken
    /// once per half a queue, not once per message.
    pub(crate) fn finished(&self, queue: &mut Queue, done: usize) {
        queue.held -= done;
        if queue.waiting > 0 && queue.len() <= self.capacity / 2 {
            self.room.notify_all();
        }
    }

    /// Refuses all further messages, drops the queued ones and wakes blocked
    /// senders, so that they see it.
    pub(crate) fn close(&self) {
        let mut queue = self.lock();
        queue.closed = true;
        queue.fifo.clear();
        if let Some(peers) = &mut queue.peers {
            peers.clear();
        }
        self.settle(&queue);
        self.room.notify_all();
    }

    /// As `close`, but keeps the queued messages, to be taken back.
    pub(crate) fn refuse_more(&self) {
        let mut queue = self.lock();
        queue.closed = true;
        self.settle(&queue);
        self.room.notify_all();
    }

    /// Whether a message was refused as `Full` since the last `Event::Room`
    /// and the queue has since drained to half its capacity: then it is
    /// time for that event, and this says so only once.
    pub(crate) fn take_room(&self) -> bool {
        let mut queue = self.lock();
        let room = self.capacity > 0 && queue.refused_full && queue.len() <= self.capacity / 2;
        if room {
            queue.refused_full = false;
        }
        room
    }

    /// For a source without a queue: whether a message was refused as
    /// `Full` since the last `Event::Room`, which then waits for the socket
    /// to be able to send again.
    pub(crate) fn waiting_for_room(&self) -> bool {
        self.capacity == 0 && self.lock().refused_full
    }

    pub(crate) fn take_room_without_queue(&self) {
        self.lock().refused_full = false;
    }

    /// Whether someone waits for `Event::Room`.
    pub(crate) fn refused_full(&self) -> bool {
        self.lock().refused_full
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    pub(crate) fn receiving(&self) -> bool {
        self.receiving.load(Ordering::Relaxed)
    }

    pub(crate) fn pause_receiving(&self) {
        self.receiving.store(false, Ordering::Relaxed);
    }

    pub(crate) fn resume_receiving(&self) {
        if !self.receiving.swap(true, Ordering::Relaxed) {
            // Messages that came while paused fired their edges then; the
            // source must look for them itself.
            self.wake();
        }
    }
}

/// A handle that queues messages for the source to send: `Clone + Send`, so
/// any thread, timer or other event source can use it.
///
/// The queue is bounded (see [`Builder::capacity`](crate::Builder::capacity));
/// [`try_send`](Sender::try_send) on a full queue hands the message back, and
/// [`send`](Sender::send) waits for room. Messages leave the queue in order,
/// and a message the socket cannot take yet (`EAGAIN`) keeps its place until
/// it can go. (For a ROUTER or STREAM socket the order is kept per peer: a
/// message for a peer that is full waits without holding back the others.)
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

    /// Queues a message if there is room. Never blocks.
    ///
    /// # Errors
    ///
    /// [`SendError::Full`] if the queue is at its capacity,
    /// [`SendError::Closed`] if the source is gone or failed, and
    /// [`SendError::Refused`] with `ENOTSUP` if the socket cannot send at all
    /// (SUB, PULL). Each hands the message back.
    pub fn try_send(&self, message: impl Into<Multipart>) -> Result<(), SendError> {
        let mut queue = self.shared.lock();
        self.shared.push(&mut queue, message.into())
    }

    /// Queues a message, waiting for room if the queue is full (until it has
    /// drained to half its capacity, so that a fast producer and the socket
    /// take turns in batches).
    ///
    /// It waits only where waiting can end: on the thread the source lives
    /// on (the event loop's), only the loop makes room, so there, and on a
    /// source built with a capacity of 0, a full queue returns
    /// [`SendError::Full`] at once, as [`try_send`](Sender::try_send) does.
    ///
    /// # Errors
    ///
    /// As [`try_send`](Sender::try_send); [`SendError::Closed`] also wakes a
    /// sender that is waiting when the source goes.
    pub fn send(&self, message: impl Into<Multipart>) -> Result<(), SendError> {
        let may_wait =
            || self.shared.capacity > 0 && std::thread::current().id() != self.shared.owner;
        let mut message = message.into();
        let mut queue = self.shared.lock();
        loop {
            match self.shared.push(&mut queue, message) {
                Err(SendError::Full(back)) if may_wait() => {
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

    /// How many messages wait to be sent.
    pub fn queued(&self) -> usize {
        self.shared.lock().len()
    }

    /// The most messages the queue holds.
    pub fn capacity(&self) -> usize {
        self.shared.capacity()
    }

    /// Whether the source is gone (dropped, or failed), so that nothing more
    /// will be sent.
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }

    /// Stops the source receiving until
    /// [`resume_receiving`](Sender::resume_receiving); it goes on sending.
    /// Messages wait in ZeroMQ meanwhile, up to its high-water mark, and then
    /// ZeroMQ pushes back on the peers. A broker uses this to read requests
    /// only while it has a worker free for them.
    pub fn pause_receiving(&self) {
        self.shared.pause_receiving();
    }

    /// Lets the source receive again, starting with what came meanwhile.
    pub fn resume_receiving(&self) {
        self.shared.resume_receiving();
    }
}
