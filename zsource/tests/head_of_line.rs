//! A peer that stops reading holds back neither the loop nor the other
//! peers.
//!
//! A ROUTER with `ZMQ_ROUTER_MANDATORY`, and a STREAM socket, report POLLOUT
//! while any peer has room, yet refuse a message for a full peer with
//! `EAGAIN`. The source must then neither spin (the loop sleeps) nor hold the
//! other peers' messages behind the refused one, and the full peer's messages
//! must still leave, in order, once it reads again.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use calloop::EventLoop;
use common::{Counted, run_until};
use zsource::{Event, Multipart, ZmqSource};

const DEADLINE: Duration = Duration::from_secs(20);

/// How long the loop waits with nothing it can do, and the most dispatches
/// allowed meanwhile: a sleeping loop needs a handful.
const IDLE: Duration = Duration::from_secs(2);
const MOST_IDLE_DISPATCHES: usize = 25;

#[derive(Debug, Default)]
struct Router {
    greeted: Vec<Vec<u8>>,
}

#[test]
fn mandatory_router_with_a_full_peer_sleeps_and_serves_the_others() {
    const FOR_SLOW: usize = 10;
    let context = zmq::Context::new();
    let router = context.socket(zmq::ROUTER).unwrap();
    router.set_router_mandatory(true).unwrap();
    router.set_sndhwm(1).unwrap();
    router.bind("inproc://head-of-line").unwrap();
    let peer = |identity: &[u8]| {
        let dealer = context.socket(zmq::DEALER).unwrap();
        dealer.set_identity(identity).unwrap();
        dealer.set_rcvhwm(1).unwrap();
        dealer.connect("inproc://head-of-line").unwrap();
        dealer.send("hello", 0).unwrap();
        dealer
    };
    let slow = peer(b"slow");
    let healthy = peer(b"healthy");

    let (router, counts) = Counted::new(ZmqSource::builder().capacity(100).build(router).unwrap());
    let queue = router.inner.sender();
    let mut event_loop: EventLoop<Router> = EventLoop::try_new().unwrap();
    event_loop
        .handle()
        .insert_source(router, |event, _, state: &mut Router| match event {
            Event::Message(greeting) => state.greeted.push(greeting.first().to_vec()),
            Event::SendFailed { error, message } => panic!("{error}: {message:?}"),
            _ => {}
        })
        .unwrap();
    // The router can route to a peer only once it has heard from it.
    let mut state = Router::default();
    run_until(&mut event_loop, &mut state, DEADLINE, |state| {
        state.greeted.len() == 2
    });

    // Far more for the slow peer than its pipe holds, then one for the other.
    for number in 0..FOR_SLOW {
        queue
            .try_send(Multipart::new("slow").with(number.to_string().as_str()))
            .unwrap();
    }
    queue
        .try_send(Multipart::new("healthy").with("not held back"))
        .unwrap();
    let deadline = Instant::now() + DEADLINE;
    let delivered = loop {
        event_loop
            .dispatch(Duration::from_millis(10), &mut state)
            .unwrap();
        if let Ok(message) = healthy.recv_bytes(zmq::DONTWAIT) {
            break message;
        }
        assert!(
            Instant::now() < deadline,
            "the healthy peer's message is held back behind the slow peer's"
        );
    };
    assert_eq!(delivered, b"not held back");

    // Nothing can move now: the loop must sleep.
    let before = counts.dispatches.get();
    let idle_until = Instant::now() + IDLE;
    while let Some(left) = idle_until.checked_duration_since(Instant::now()) {
        event_loop.dispatch(left, &mut state).unwrap();
    }
    let idle_dispatches = counts.dispatches.get() - before;
    assert!(
        idle_dispatches <= MOST_IDLE_DISPATCHES,
        "{idle_dispatches} dispatches in {IDLE:?} with nothing to do"
    );

    // Once the slow peer reads, its messages come, all of them, in order.
    let mut got = Vec::new();
    let deadline = Instant::now() + DEADLINE;
    while got.len() < FOR_SLOW {
        assert!(Instant::now() < deadline, "the slow peer got only {got:?}");
        event_loop
            .dispatch(Duration::from_millis(1), &mut state)
            .unwrap();
        while let Ok(message) = slow.recv_string(zmq::DONTWAIT) {
            got.push(message.unwrap());
        }
    }
    let expected: Vec<String> = (0..FOR_SLOW).map(|n| n.to_string()).collect();
    assert_eq!(got, expected);
    assert_eq!(queue.queued(), 0);
}

/// The STREAM socket talks to plain TCP peers. One that does not read fills
/// its pipe and the kernel's buffers; the other must still be served.
#[test]
fn stream_socket_with_a_full_peer_sleeps_and_serves_the_others() {
    const CHUNK: usize = 256 * 1024;
    const FOR_SLOW: usize = 40;
    let context = zmq::Context::new();
    let stream = context.socket(zmq::STREAM).unwrap();
    stream.set_sndhwm(1).unwrap();
    stream.set_sndbuf(4096).unwrap();
    stream.bind("tcp://127.0.0.1:*").unwrap();
    let endpoint = stream.get_last_endpoint().unwrap().unwrap();
    let address = endpoint.trim_start_matches("tcp://").to_string();

    let (stream, counts) = Counted::new(ZmqSource::builder().capacity(100).build(stream).unwrap());
    let queue = stream.inner.sender();
    let mut event_loop: EventLoop<Router> = EventLoop::try_new().unwrap();
    event_loop
        .handle()
        .insert_source(stream, |event, _, state: &mut Router| match event {
            // A STREAM socket announces each new connection with an empty
            // message from it.
            Event::Message(message) if message.last().is_empty() => {
                state.greeted.push(message.first().to_vec());
            }
            Event::SendFailed { error, message } => panic!("{error}: {message:?}"),
            _ => {}
        })
        .unwrap();
    let mut state = Router::default();
    let mut slow = TcpStream::connect(&address).unwrap();
    run_until(&mut event_loop, &mut state, DEADLINE, |state| {
        state.greeted.len() == 1
    });
    let mut healthy = TcpStream::connect(&address).unwrap();
    run_until(&mut event_loop, &mut state, DEADLINE, |state| {
        state.greeted.len() == 2
    });
    let (slow_id, healthy_id) = (state.greeted[0].clone(), state.greeted[1].clone());

    for number in 0..FOR_SLOW {
        let chunk = vec![number as u8; CHUNK];
        queue
            .try_send(Multipart::new(&slow_id[..]).with(chunk))
            .unwrap();
    }
    queue
        .try_send(Multipart::new(&healthy_id[..]).with("not held back"))
        .unwrap();
    healthy.set_nonblocking(true).unwrap();
    let mut delivered = Vec::new();
    let deadline = Instant::now() + DEADLINE;
    while delivered.len() < b"not held back".len() {
        event_loop
            .dispatch(Duration::from_millis(10), &mut state)
            .unwrap();
        let mut buffer = [0; 64];
        if let Ok(read) = healthy.read(&mut buffer) {
            delivered.extend_from_slice(&buffer[..read]);
        }
        assert!(
            Instant::now() < deadline,
            "the healthy peer's message is held back behind the slow peer's ({} queued)",
            queue.queued()
        );
    }
    assert_eq!(delivered, b"not held back");
    assert!(queue.queued() > 0, "the slow peer took everything");

    let before = counts.dispatches.get();
    let idle_until = Instant::now() + IDLE;
    while let Some(left) = idle_until.checked_duration_since(Instant::now()) {
        event_loop.dispatch(left, &mut state).unwrap();
    }
    let idle_dispatches = counts.dispatches.get() - before;
    assert!(
        idle_dispatches <= MOST_IDLE_DISPATCHES,
        "{idle_dispatches} dispatches in {IDLE:?} with nothing to do"
    );

    // The slow peer reads everything, in order.
    slow.set_nonblocking(true).unwrap();
    let mut received = 0;
    let mut buffer = vec![0; 64 * 1024];
    let deadline = Instant::now() + DEADLINE;
    while received < FOR_SLOW * CHUNK {
        assert!(
            Instant::now() < deadline,
            "the slow peer got {received} bytes of {}",
            FOR_SLOW * CHUNK
        );
        event_loop
            .dispatch(Duration::from_millis(1), &mut state)
            .unwrap();
        while let Ok(read) = slow.read(&mut buffer) {
            if read == 0 {
                break;
            }
            for (offset, byte) in buffer[..read].iter().enumerate() {
                let expected = ((received + offset) / CHUNK) as u8;
                assert_eq!(*byte, expected, "byte {} out of order", received + offset);
            }
            received += read;
        }
    }
    let _ = healthy.write_all(b"");
}
