//! A terminated context, the one failure a source cannot go on from: every
//! kind of source hears of it (an idle PUSH or PUB too), leaves the loop so
//! that the termination can finish, wakes its blocked senders with `Closed`,
//! and keeps what it had queued for `take_queued`; its monitor leaves too.

mod common;

use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use calloop::{EventLoop, RegistrationToken};
use common::{Transport, bind};
use zsource::{Event, Multipart, SendError, ZmqSource};

#[derive(Debug, Default)]
struct Seen {
    failures: Vec<String>,
    taken_at_failure: Option<usize>,
    monitor_events: usize,
}

/// Runs the loop until `done` or the deadline; says whether `done` held.
fn run_for(
    event_loop: &mut EventLoop<Seen>,
    seen: &mut Seen,
    limit: Duration,
    done: impl Fn(&Seen) -> bool,
) -> bool {
    let deadline = Instant::now() + limit;
    while !done(seen) {
        if Instant::now() >= deadline {
            return false;
        }
        event_loop
            .dispatch(Duration::from_millis(20), seen)
            .expect("dispatch");
    }
    true
}

/// Puts the source in the loop with a callback that notes its failures.
fn note_failures(event_loop: &mut EventLoop<Seen>, source: ZmqSource) -> RegistrationToken {
    event_loop
        .handle()
        .insert_source(source, |event, _, seen: &mut Seen| {
            if let Event::Failed(error) = event {
                seen.failures.push(error.to_string());
            }
        })
        .unwrap()
}

/// A few turns of the loop, so that the sources are registered and idle.
fn settle(event_loop: &mut EventLoop<Seen>, seen: &mut Seen) {
    for _ in 0..3 {
        event_loop.dispatch(Duration::ZERO, seen).unwrap();
    }
}

/// Terminates the context on a thread of its own: `zmq_ctx_term` waits
/// until every socket of the context is closed.
fn terminate(context: zmq::Context) -> JoinHandle<Result<(), zmq::Error>> {
    let mut terminating = context.clone();
    drop(context);
    thread::spawn(move || terminating.destroy())
}

#[test]
fn terminated_context_reaches_an_idle_sending_source() {
    let mut problems = Vec::new();
    for socket_type in [zmq::PUSH, zmq::PUB] {
        let context = zmq::Context::new();
        let socket = context.socket(socket_type).unwrap();
        bind(&socket, Transport::Tcp);
        let source = ZmqSource::new(socket).unwrap();
        let sender = source.sender();
        let mut event_loop: EventLoop<Seen> = EventLoop::try_new().unwrap();
        let token = note_failures(&mut event_loop, source);
        let mut seen = Seen::default();
        settle(&mut event_loop, &mut seen);
        let terminator = terminate(context);
        let failed = run_for(&mut event_loop, &mut seen, Duration::from_secs(3), |s| {
            !s.failures.is_empty()
        });
        let term_finished = terminator.is_finished();
        if !failed {
            problems.push(format!(
                "{socket_type:?}: no Event::Failed within 3 s of zmq_ctx_term; \
                 zmq_ctx_term finished: {term_finished}; sender closed: {}",
                sender.is_closed()
            ));
            // Let the termination finish, so the test ends.
            event_loop.handle().remove(token);
            event_loop.dispatch(Duration::ZERO, &mut seen).unwrap();
        }
        let _ = terminator.join().unwrap();
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn blocked_sender_wakes_when_the_context_goes() {
    let context = zmq::Context::new();
    let push = context.socket(zmq::PUSH).unwrap();
    bind(&push, Transport::Tcp);
    let source = ZmqSource::builder().capacity(2).build(push).unwrap();
    let sender = source.sender();
    sender.try_send("one").unwrap();
    sender.try_send("two").unwrap();
    let mut event_loop: EventLoop<Seen> = EventLoop::try_new().unwrap();
    note_failures(&mut event_loop, source);
    let mut seen = Seen::default();
    settle(&mut event_loop, &mut seen);
    let (tx, rx) = std::sync::mpsc::channel();
    let blocked = thread::spawn(move || {
        let outcome = sender.send("three");
        tx.send(matches!(outcome, Err(SendError::Closed(_))))
            .unwrap();
    });
    thread::sleep(Duration::from_millis(100));
    let terminator = terminate(context);
    let failed = run_for(&mut event_loop, &mut seen, Duration::from_secs(5), |s| {
        !s.failures.is_empty()
    });
    assert!(failed, "no Event::Failed: {seen:?}");
    assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(true));
    blocked.join().unwrap();
    terminator.join().unwrap().unwrap();
}

#[test]
fn messages_queued_at_failure_can_be_taken_back() {
    let context = zmq::Context::new();
    let dealer = context.socket(zmq::DEALER).unwrap();
    bind(&dealer, Transport::Tcp);
    let source = ZmqSource::new(dealer).unwrap();
    for number in 0..3 {
        source.sender().try_send(number.to_string()).unwrap();
    }
    let mut event_loop: EventLoop<Seen> = EventLoop::try_new().unwrap();
    event_loop
        .handle()
        .insert_source(source, |event, socket, seen: &mut Seen| {
            if let Event::Failed(error) = event {
                seen.failures.push(error.to_string());
                let taken: Vec<Multipart> = socket.take_queued();
                seen.taken_at_failure = Some(taken.len());
            }
        })
        .unwrap();
    let mut seen = Seen::default();
    settle(&mut event_loop, &mut seen);
    let terminator = terminate(context);
    assert!(run_for(
        &mut event_loop,
        &mut seen,
        Duration::from_secs(5),
        |s| { !s.failures.is_empty() }
    ));
    terminator.join().unwrap().unwrap();
    assert_eq!(
        seen.taken_at_failure,
        Some(3),
        "the three queued messages were dropped before the callback heard of the failure"
    );
}

#[test]
fn source_and_its_monitor_both_leave_on_termination() {
    let context = zmq::Context::new();
    let pull = context.socket(zmq::PULL).unwrap();
    let source = ZmqSource::new(pull).unwrap();
    let monitor = source.monitor(&context).unwrap();
    bind(&source.socket(), Transport::Tcp);
    let mut event_loop: EventLoop<Seen> = EventLoop::try_new().unwrap();
    note_failures(&mut event_loop, source);
    event_loop
        .handle()
        .insert_source(monitor, |_, _, seen: &mut Seen| seen.monitor_events += 1)
        .unwrap();
    let mut seen = Seen::default();
    settle(&mut event_loop, &mut seen);
    let terminator = terminate(context);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !terminator.is_finished() {
        assert!(
            Instant::now() < deadline,
            "zmq_ctx_term still waits: {seen:?}"
        );
        event_loop
            .dispatch(Duration::from_millis(20), &mut seen)
            .unwrap();
    }
    terminator.join().unwrap().unwrap();
    assert_eq!(seen.failures.len(), 1, "{seen:?}");
}
