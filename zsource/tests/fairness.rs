//! Fairness: a flood on one socket does not starve the rest of the loop.

mod common;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use calloop::timer::{TimeoutAction, Timer};
use calloop::{EventLoop, EventSource, Poll, PostAction, Readiness, Token, TokenFactory};
use common::run_until;
use zsource::{Event, SocketHandle, ZmqSource};

const FLOOD: usize = 100_000;
const BUDGET: usize = 64;

/// Wraps a source to record the most callbacks any single dispatch made.
struct Counted {
    inner: ZmqSource,
    most_per_dispatch: Rc<Cell<usize>>,
}

impl EventSource for Counted {
    type Event = Event;
    type Metadata = SocketHandle;
    type Ret = ();
    type Error = zsource::Error;

    fn process_events<F>(
        &mut self,
        readiness: Readiness,
        token: Token,
        mut callback: F,
    ) -> Result<PostAction, zsource::Error>
    where
        F: FnMut(Event, &mut SocketHandle),
    {
        let mut calls = 0;
        let action = self
            .inner
            .process_events(readiness, token, |event, socket| {
                calls += 1;
                callback(event, socket)
            })?;
        self.most_per_dispatch
            .set(self.most_per_dispatch.get().max(calls));
        Ok(action)
    }

    fn register(&mut self, poll: &mut Poll, tokens: &mut TokenFactory) -> calloop::Result<()> {
        self.inner.register(poll, tokens)
    }

    fn reregister(&mut self, poll: &mut Poll, tokens: &mut TokenFactory) -> calloop::Result<()> {
        self.inner.reregister(poll, tokens)
    }

    fn unregister(&mut self, poll: &mut Poll) -> calloop::Result<()> {
        self.inner.unregister(poll)
    }
}

#[derive(Default)]
struct Progress {
    received: usize,
    in_order: bool,
    /// How many messages had arrived at each timer tick.
    ticks: Vec<usize>,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("received", &self.received)
            .field("in_order", &self.in_order)
            .field("ticks", &self.ticks.len())
            .field(
                "last_ticks",
                &&self.ticks[self.ticks.len().saturating_sub(5)..],
            )
            .finish()
    }
}

#[test]
fn flood_does_not_starve_a_timer_and_still_arrives_whole() {
    let context = zmq::Context::new();
    let pull = context.socket(zmq::PULL).unwrap();
    pull.set_rcvhwm(0).unwrap();
    pull.bind("inproc://flood").unwrap();
    let push = context.socket(zmq::PUSH).unwrap();
    push.set_sndhwm(0).unwrap();
    push.connect("inproc://flood").unwrap();

    // The whole flood is waiting before the loop starts: a source without a
    // budget would take it all in its first dispatch.
    for number in 0..FLOOD as u64 {
        push.send(&number.to_be_bytes()[..], 0).unwrap();
    }

    let most_per_dispatch = Rc::new(Cell::new(0));
    let source = Counted {
        inner: ZmqSource::builder().budget(BUDGET).build(pull).unwrap(),
        most_per_dispatch: Rc::clone(&most_per_dispatch),
    };

    let mut event_loop: EventLoop<Progress> = EventLoop::try_new().unwrap();
    let handle = event_loop.handle();
    handle
        .insert_source(source, |event, _, progress: &mut Progress| {
            let Event::Message(message) = event else {
                panic!("unexpected {event:?}")
            };
            let number = u64::from_be_bytes(message.single().unwrap().try_into().unwrap());
            progress.in_order &= number == progress.received as u64;
            progress.received += 1;
        })
        .unwrap();
    handle
        .insert_source(Timer::immediate(), |_, _, progress| {
            progress.ticks.push(progress.received);
            TimeoutAction::ToDuration(Duration::from_millis(1))
        })
        .unwrap();

    let mut progress = Progress {
        in_order: true,
        ..Progress::default()
    };
    run_until(
        &mut event_loop,
        &mut progress,
        Duration::from_secs(60),
        |p| p.received == FLOOD,
    );

    assert!(progress.in_order, "messages out of order");
    assert!(
        most_per_dispatch.get() <= BUDGET,
        "a dispatch handled {} messages, over the budget of {BUDGET}",
        most_per_dispatch.get()
    );
    let mid_flood = progress
        .ticks
        .iter()
        .filter(|&&received| received > 0 && received < FLOOD)
        .count();
    assert!(
        mid_flood >= 3,
        "the timer ran only {mid_flood} times during the flood: {:?}",
        progress.ticks
    );
}

/// With a budget of one and work both ways, each dispatch still does some
/// of each: queued messages leave while a flood comes in.
#[test]
fn budget_of_one_sends_and_receives_in_turn() {
    const FLOOD: usize = 10_000;
    const QUEUED: usize = 100;
    let context = zmq::Context::new();
    let ours = context.socket(zmq::PAIR).unwrap();
    ours.set_rcvhwm(0).unwrap();
    ours.bind("inproc://budget-of-one").unwrap();
    let theirs = context.socket(zmq::PAIR).unwrap();
    theirs.set_sndhwm(0).unwrap();
    theirs.connect("inproc://budget-of-one").unwrap();
    for number in 0..FLOOD {
        theirs.send(&number.to_string(), 0).unwrap();
    }

    let ours = ZmqSource::builder().budget(1).build(ours).unwrap();
    let queue = ours.sender();
    for number in 0..QUEUED {
        queue.try_send(number.to_string()).unwrap();
    }
    let mut event_loop: EventLoop<usize> = EventLoop::try_new().unwrap();
    event_loop
        .handle()
        .insert_source(ours, |event, _, received: &mut usize| {
            if let Event::Message(_) = event {
                *received += 1;
            }
        })
        .unwrap();
    let mut received = 0;
    let mut got = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while got < QUEUED {
        assert!(
            std::time::Instant::now() < deadline,
            "{got} of {QUEUED} sent, {received} received"
        );
        event_loop.dispatch(Duration::ZERO, &mut received).unwrap();
        while theirs.recv_bytes(zmq::DONTWAIT).is_ok() {
            got += 1;
        }
    }
    assert!(
        received < FLOOD,
        "the queue waited for the whole flood to come in first"
    );
}
