//! The typed socket monitor's edges: one monitor per socket, and a monitor
//! that outlives its socket. (What it reports while the socket lives is in
//! features.rs.)

mod common;

use std::time::{Duration, Instant};

use calloop::EventLoop;
use common::{Transport, bind};
use zsource::{MonitorEventKind, ZmqSource};

/// libzmq keeps one monitor per socket, and a second would silently end
/// the first: so the second is refused while the first lives, the first
/// goes on working, and once it is dropped another may be made.
#[test]
fn a_second_monitor_is_refused_while_the_first_lives() {
    let context = zmq::Context::new();
    let source = ZmqSource::new(context.socket(zmq::PULL).unwrap()).unwrap();
    let first = source.monitor(&context).unwrap();
    assert!(matches!(
        source.monitor(&context),
        Err(zsource::Error::MonitorInUse)
    ));
    let endpoint = bind(&source.socket(), Transport::Tcp);
    let mut event_loop: EventLoop<Vec<MonitorEventKind>> = EventLoop::try_new().unwrap();
    let first = event_loop
        .handle()
        .insert_source(first, |event, _, seen| seen.push(event.kind))
        .unwrap();
    let push = context.socket(zmq::PUSH).unwrap();
    push.connect(&endpoint).unwrap();
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !seen.contains(&MonitorEventKind::HandshakeSucceeded) {
        assert!(
            Instant::now() < deadline,
            "the first monitor went quiet: {seen:?}"
        );
        event_loop
            .dispatch(Duration::from_millis(20), &mut seen)
            .unwrap();
    }
    event_loop.handle().remove(first);
    assert!(
        source.monitor(&context).is_ok(),
        "a monitor once the first is gone"
    );
}

/// A monitor whose socket is gone says so, `MonitorStopped`, and then
/// sleeps: its loop is not kept busy.
#[test]
fn a_monitor_outlives_its_socket() {
    let context = zmq::Context::new();
    let source = ZmqSource::new(context.socket(zmq::PULL).unwrap()).unwrap();
    let monitor = source.monitor(&context).unwrap();
    bind(&source.socket(), Transport::Tcp);
    let mut event_loop: EventLoop<Vec<MonitorEventKind>> = EventLoop::try_new().unwrap();
    event_loop
        .handle()
        .insert_source(monitor, |event, _, seen| seen.push(event.kind))
        .unwrap();
    let mut seen = Vec::new();
    event_loop
        .dispatch(Duration::from_millis(50), &mut seen)
        .unwrap();
    drop(source);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !seen.contains(&MonitorEventKind::MonitorStopped) {
        assert!(Instant::now() < deadline, "{seen:?}");
        event_loop
            .dispatch(Duration::from_millis(20), &mut seen)
            .unwrap();
    }
    // Nothing more comes, and the loop sleeps: a few turns in half a
    // second (the monitor's own socket hears its peer go), not a spin.
    let events = seen.len();
    let until = Instant::now() + Duration::from_millis(500);
    let mut turns = 0;
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        event_loop.dispatch(left, &mut seen).unwrap();
        turns += 1;
    }
    assert_eq!(seen.len(), events, "{seen:?}");
    assert!(turns <= 5, "{turns} turns of the loop in 500 ms");
}

/// libzmq sends each monitor event with a blocking send, to a socket that
/// waits for a peer: once a monitor's own end is gone, the next event (the
/// "monitor stopped" that a new monitor's start sends to the old one, or a
/// peer connecting) could block the thread that sends it for ever. So a
/// dropped monitor must leave nothing that waits for it.
#[test]
fn a_dropped_monitor_leaves_nothing_waiting_for_it() {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for _ in 0..200 {
            let context = zmq::Context::new();
            let source = ZmqSource::new(context.socket(zmq::PULL).unwrap()).unwrap();
            let monitor = source.monitor(&context).unwrap();
            let endpoint = bind(&source.socket(), Transport::Tcp);
            let mut event_loop: EventLoop<Vec<MonitorEventKind>> = EventLoop::try_new().unwrap();
            let token = event_loop
                .handle()
                .insert_source(monitor, |event, _, seen| seen.push(event.kind))
                .unwrap();
            let first = context.socket(zmq::PUSH).unwrap();
            first.connect(&endpoint).unwrap();
            let mut seen = Vec::new();
            while !seen.contains(&MonitorEventKind::HandshakeSucceeded) {
                event_loop
                    .dispatch(Duration::from_millis(20), &mut seen)
                    .unwrap();
            }
            event_loop.handle().remove(token);
            // Events with no monitor to hear them: a second peer, whose
            // message must still arrive, and a new monitor.
            let second = context.socket(zmq::PUSH).unwrap();
            second.connect(&endpoint).unwrap();
            second.send("after", 0).unwrap();
            let mut messages = EventLoop::<Vec<String>>::try_new().unwrap();
            messages
                .handle()
                .insert_source(source, |event, _, got| {
                    if let zsource::Event::Message(message) = event {
                        got.push(String::from_utf8_lossy(message.first()).into_owned());
                    }
                })
                .unwrap();
            let mut got = Vec::new();
            while got.is_empty() {
                messages
                    .dispatch(Duration::from_millis(20), &mut got)
                    .unwrap();
            }
            assert_eq!(got, ["after"]);
        }
        done.send(()).unwrap();
    });
    let again = std::thread::spawn(|| {
        for _ in 0..200 {
            let context = zmq::Context::new();
            let source = ZmqSource::new(context.socket(zmq::PULL).unwrap()).unwrap();
            drop(source.monitor(&context).unwrap());
            // The first monitor's end is gone: starting another ends it.
            drop(source.monitor(&context).unwrap());
        }
    });
    finished
        .recv_timeout(Duration::from_secs(20))
        .expect("a thread blocked on a monitor nobody hears");
    let (joined, joining) = std::sync::mpsc::channel();
    std::thread::spawn(move || joined.send(again.join().is_ok()).unwrap());
    assert_eq!(
        joining.recv_timeout(Duration::from_secs(20)),
        Ok(true),
        "a new monitor blocked on the one dropped before it"
    );
}
