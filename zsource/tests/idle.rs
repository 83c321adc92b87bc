//! An idle loop sleeps. Each test puts a source in a state where nothing
//! can progress (out of turn, paused, full peers, no queue), lets it settle,
//! and counts how often the loop dispatches it in the next second.

#![allow(unsafe_code)] // only to set ZMQ_XPUB_NODROP, which zmq 0.10 lacks

mod common;

use std::os::raw::{c_int, c_void};
use std::time::{Duration, Instant};

use calloop::EventLoop;
use common::{Counted, Transport, bind};
use zsource::{Event, Multipart, SendError, ZmqSource};

/// Settle, then count dispatches over a second.
const SETTLE: Duration = Duration::from_millis(600);
const MEASURE: Duration = Duration::from_secs(1);
/// A handful: the retry timer backs off to 250 ms, so ~4 a second at most.
const MOST: usize = 12;

#[derive(Debug, Default)]
struct Seen {
    received: usize,
    failed: usize,
    rooms: usize,
}

fn idle_dispatches(source: ZmqSource, before: impl FnOnce(&mut EventLoop<Seen>)) -> (usize, Seen) {
    let (source, counts) = Counted::new(source);
    let mut event_loop: EventLoop<Seen> = EventLoop::try_new().unwrap();
    event_loop
        .handle()
        .insert_source(source, |event, _, seen: &mut Seen| match event {
            Event::Message(_) => seen.received += 1,
            Event::SendFailed { .. } => seen.failed += 1,
            Event::Room => seen.rooms += 1,
            _ => {}
        })
        .unwrap();
    before(&mut event_loop);
    let mut seen = Seen::default();
    let run = |event_loop: &mut EventLoop<Seen>, seen: &mut Seen, span: Duration| {
        let deadline = Instant::now() + span;
        while Instant::now() < deadline {
            event_loop
                .dispatch(Duration::from_millis(100), seen)
                .unwrap();
        }
    };
    run(&mut event_loop, &mut seen, SETTLE);
    let start = counts.dispatches.get();
    run(&mut event_loop, &mut seen, MEASURE);
    eprintln!(
        "idle dispatches: {} {seen:?}",
        counts.dispatches.get() - start
    );
    (counts.dispatches.get() - start, seen)
}

#[test]
fn req_awaiting_its_reply_with_requests_queued_sleeps() {
    let context = zmq::Context::new();
    let rep = context.socket(zmq::REP).unwrap();
    let endpoint = bind(&rep, Transport::Tcp);
    let req = context.socket(zmq::REQ).unwrap();
    req.connect(&endpoint).unwrap();
    let source = ZmqSource::new(req).unwrap();
    for number in 0..5 {
        source.sender().try_send(number.to_string()).unwrap();
    }
    // The server takes the first request and never answers.
    let (dispatches, seen) = idle_dispatches(source, |_| {});
    rep.set_rcvtimeo(1000).unwrap();
    assert!(rep.recv_bytes(0).is_ok());
    assert!(
        dispatches <= MOST,
        "{dispatches} dispatches in 1 s: {seen:?}"
    );
}

#[test]
fn rep_with_a_reply_queued_and_no_request_sleeps() {
    let context = zmq::Context::new();
    let rep = context.socket(zmq::REP).unwrap();
    bind(&rep, Transport::Tcp);
    let source = ZmqSource::new(rep).unwrap();
    source.sender().try_send("unasked").unwrap();
    let (dispatches, seen) = idle_dispatches(source, |_| {});
    assert!(
        dispatches <= MOST,
        "{dispatches} dispatches in 1 s: {seen:?}"
    );
}

#[test]
fn paused_receiving_with_input_waiting_sleeps() {
    for transport in [Transport::Inproc, Transport::Tcp] {
        let context = zmq::Context::new();
        let pull = context.socket(zmq::PULL).unwrap();
        let endpoint = bind(&pull, transport);
        let source = ZmqSource::new(pull).unwrap();
        source.pause_receiving();
        let push = context.socket(zmq::PUSH).unwrap();
        push.connect(&endpoint).unwrap();
        for number in 0..100 {
            push.send(&number.to_string(), 0).unwrap();
        }
        let (dispatches, seen) = idle_dispatches(source, |_| {});
        assert_eq!(seen.received, 0);
        assert!(
            dispatches <= MOST,
            "{transport:?}: {dispatches} dispatches in 1 s: {seen:?}"
        );
    }
}

#[test]
fn capacity_zero_after_full_sleeps() {
    let context = zmq::Context::new();
    let push = context.socket(zmq::PUSH).unwrap();
    bind(&push, Transport::Tcp);
    let source = ZmqSource::builder().capacity(0).build(push).unwrap();
    assert!(matches!(source.send("no peer"), Err(SendError::Full(_))));
    let (dispatches, seen) = idle_dispatches(source, |_| {});
    assert!(
        dispatches <= MOST,
        "{dispatches} dispatches in 1 s: {seen:?}"
    );
}

#[test]
fn push_and_dealer_with_a_full_peer_or_none_sleep() {
    for socket_type in [zmq::PUSH, zmq::DEALER, zmq::PAIR] {
        for with_peer in [false, true] {
            let context = zmq::Context::new();
            let socket = context.socket(socket_type).unwrap();
            socket.set_sndhwm(1).unwrap();
            let endpoint = bind(&socket, Transport::Tcp);
            let peer_type = match socket_type {
                zmq::PUSH => zmq::PULL,
                zmq::DEALER => zmq::DEALER,
                _ => zmq::PAIR,
            };
            let peer = context.socket(peer_type).unwrap();
            peer.set_rcvhwm(1).unwrap();
            peer.set_rcvbuf(4096).unwrap();
            if with_peer {
                peer.connect(&endpoint).unwrap();
            }
            let source = ZmqSource::builder().capacity(10_000).build(socket).unwrap();
            for _ in 0..10_000 {
                source
                    .sender()
                    .try_send(Multipart::from(vec![0u8; 1024]))
                    .unwrap();
            }
            let (dispatches, seen) = idle_dispatches(source, |_| {});
            assert!(
                dispatches <= MOST,
                "{socket_type:?}, peer {with_peer}: {dispatches} dispatches in 1 s: {seen:?}"
            );
        }
    }
}

unsafe extern "C" {
    fn zmq_setsockopt(
        socket: *mut c_void,
        option: c_int,
        value: *const c_void,
        len: usize,
    ) -> c_int;
}
const ZMQ_XPUB_NODROP: c_int = 69;

#[test]
fn xpub_nodrop_with_a_subscriber_that_does_not_read_sleeps() {
    let context = zmq::Context::new();
    let mut xpub = context.socket(zmq::XPUB).unwrap();
    let one: c_int = 1;
    let rc = unsafe {
        zmq_setsockopt(
            xpub.as_mut_ptr(),
            ZMQ_XPUB_NODROP,
            (&raw const one).cast(),
            std::mem::size_of::<c_int>(),
        )
    };
    assert_eq!(rc, 0);
    xpub.set_sndhwm(1).unwrap();
    let endpoint = bind(&xpub, Transport::Inproc);
    let sub = context.socket(zmq::SUB).unwrap();
    sub.set_rcvhwm(1).unwrap();
    sub.set_subscribe(b"").unwrap();
    sub.connect(&endpoint).unwrap();
    xpub.set_rcvtimeo(5000).unwrap();
    assert_eq!(xpub.recv_bytes(0).unwrap(), b"\x01");
    let source = ZmqSource::builder().capacity(1000).build(xpub).unwrap();
    for number in 0..1000 {
        source.sender().try_send(number.to_string()).unwrap();
    }
    let (dispatches, seen) = idle_dispatches(source, |_| {});
    assert!(
        dispatches <= MOST,
        "{dispatches} dispatches in 1 s: {seen:?}"
    );
    // And once the subscriber reads, everything arrives, in order.
    // (Checked in meddling.rs; here only the idle count.)
    drop(sub);
}

#[test]
fn monitor_and_sub_with_nothing_happening_sleep() {
    let context = zmq::Context::new();
    let sub = context.socket(zmq::SUB).unwrap();
    sub.set_subscribe(b"").unwrap();
    let source = ZmqSource::new(sub).unwrap();
    let monitor = source.monitor(&context).unwrap();
    source.socket().connect("tcp://127.0.0.1:1").unwrap();
    let (dispatches, seen) = idle_dispatches(source, |event_loop| {
        event_loop
            .handle()
            .insert_source(monitor, |_, _, _| {})
            .unwrap();
    });
    assert!(
        dispatches <= MOST,
        "{dispatches} dispatches in 1 s: {seen:?}"
    );
}

#[test]
fn router_mandatory_paused_with_parked_messages_sleeps() {
    let context = zmq::Context::new();
    let router = context.socket(zmq::ROUTER).unwrap();
    router.set_router_mandatory(true).unwrap();
    router.set_sndhwm(1).unwrap();
    let endpoint = bind(&router, Transport::Tcp);
    let full = context.socket(zmq::DEALER).unwrap();
    full.set_identity(b"full").unwrap();
    full.set_rcvhwm(1).unwrap();
    full.set_rcvbuf(4096).unwrap();
    full.connect(&endpoint).unwrap();
    full.send("hi", 0).unwrap();
    router.set_rcvtimeo(5000).unwrap();
    router.recv_multipart(0).unwrap();
    let source = ZmqSource::builder().capacity(10_000).build(router).unwrap();
    source.pause_receiving();
    for _ in 0..5_000 {
        source
            .sender()
            .try_send(Multipart::from(["full".as_bytes(), &[0u8; 1024][..]]))
            .unwrap();
    }
    let (dispatches, seen) = idle_dispatches(source, |_| {});
    assert!(
        dispatches <= MOST,
        "{dispatches} dispatches in 1 s: {seen:?}"
    );
}
