//! Back pressure: a bounded queue that hands messages back, and sends that
//! never block the loop yet lose nothing.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use calloop::EventLoop;
use common::{Transport, bind, run_until};
use zsource::{Event, Multipart, SendError, ZmqSource};

const DEADLINE: Duration = Duration::from_secs(120);

#[test]
fn full_queue_hands_the_message_back() {
    let context = zmq::Context::new();
    let push = context.socket(zmq::PUSH).unwrap();
    let endpoint = bind(&push, Transport::Tcp);
    let push = ZmqSource::builder().capacity(5).build(push).unwrap();
    let sender = push.sender();
    // A direct send meets EAGAIN (no peer yet) and keeps its message, queued.
    push.send("0").unwrap();
    for number in 1..5 {
        sender.try_send(number.to_string()).unwrap();
    }
    assert_eq!(
        sender.try_send("5"),
        Err(SendError::Full(Multipart::from("5")))
    );

    // With no peer, the loop cannot send either: still full.
    let mut event_loop: EventLoop<Vec<String>> = EventLoop::try_new().unwrap();
    event_loop
        .handle()
        .insert_source(push, |_, _, _| {})
        .unwrap();
    for _ in 0..3 {
        event_loop
            .dispatch(Duration::ZERO, &mut Vec::new())
            .unwrap();
    }
    assert_eq!(sender.queued(), 5);
    assert!(matches!(sender.try_send("5"), Err(SendError::Full(_))));

    // Once a peer comes, the five go out, in order, and there is room again.
    let pull = context.socket(zmq::PULL).unwrap();
    pull.connect(&endpoint).unwrap();
    event_loop
        .handle()
        .insert_source(ZmqSource::new(pull).unwrap(), |event, _, got| {
            if let Event::Message(message) = event {
                got.push(String::from_utf8(message.first().to_vec()).unwrap());
            }
        })
        .unwrap();
    let mut got = Vec::new();
    run_until(&mut event_loop, &mut got, DEADLINE, |g| g.len() == 5);
    assert_eq!(got, ["0", "1", "2", "3", "4"]);
    sender.try_send("5").unwrap();
}

/// One side of the back-pressure run: the messages a slow reader took.
#[derive(Debug, Default)]
struct Reader {
    received: Arc<AtomicUsize>,
    ok: Arc<AtomicBool>,
}

#[test]
fn tiny_high_water_marks_and_a_slow_reader_lose_nothing() {
    const COUNT: u64 = 100_000;
    let context = zmq::Context::new();
    let pull = context.socket(zmq::PULL).unwrap();
    pull.set_rcvhwm(1).unwrap();
    pull.set_rcvbuf(4096).unwrap();
    let endpoint = bind(&pull, Transport::Tcp);
    let push = context.socket(zmq::PUSH).unwrap();
    push.set_sndhwm(1).unwrap();
    push.set_sndbuf(4096).unwrap();
    push.connect(&endpoint).unwrap();
    let push = ZmqSource::builder().capacity(100).build(push).unwrap();

    let reader = Reader::default();
    let (received, ok) = (Arc::clone(&reader.received), Arc::clone(&reader.ok));
    let reading = thread::spawn(move || {
        pull.set_rcvtimeo(30_000).unwrap();
        for expected in 0..COUNT {
            if expected % 10_000 == 0 {
                // Not synchronisation: a pause that makes this reader slow, so
                // that buffers and high-water marks fill and the sender meets
                // EAGAIN and a full queue.
                thread::sleep(Duration::from_millis(20));
            }
            let frame = pull.recv_bytes(0).expect("a message within 30 s");
            let number = u64::from_be_bytes(frame.try_into().expect("8 bytes"));
            assert_eq!(number, expected, "lost, repeated or reordered");
            received.fetch_add(1, Ordering::Relaxed);
        }
        // Nothing more should come.
        pull.set_rcvtimeo(100).unwrap();
        assert_eq!(
            pull.recv_bytes(0),
            Err(zmq::Error::EAGAIN),
            "an extra message"
        );
        ok.store(true, Ordering::Relaxed);
    });

    let sender = push.sender();
    let producing = thread::spawn(move || {
        let mut full = 0usize;
        for number in 0..COUNT {
            let mut message = Multipart::from(&number.to_be_bytes());
            loop {
                match sender.try_send(message) {
                    Ok(()) => break,
                    Err(SendError::Full(back)) => {
                        full += 1;
                        message = back;
                        thread::yield_now();
                    }
                    Err(other) => panic!("{other}"),
                }
            }
        }
        full
    });

    let mut event_loop: EventLoop<Reader> = EventLoop::try_new().unwrap();
    event_loop
        .handle()
        .insert_source(push, |_, _, _| {})
        .unwrap();
    let mut state = reader;
    // Stop early if the reader has failed, so that its panic is what shows.
    run_until(&mut event_loop, &mut state, DEADLINE, |r| {
        r.received.load(Ordering::Relaxed) == COUNT as usize || reading.is_finished()
    });
    reading
        .join()
        .expect("the reader saw every message once, in order");
    assert!(state.ok.load(Ordering::Relaxed));
    let full = producing.join().unwrap();
    assert!(
        full > 0,
        "the queue never filled: back pressure was not exercised"
    );
}

#[test]
fn blocking_send_waits_for_room() {
    const COUNT: usize = 20_000;
    let context = zmq::Context::new();
    let pull = context.socket(zmq::PULL).unwrap();
    let endpoint = bind(&pull, Transport::Inproc);
    let push = context.socket(zmq::PUSH).unwrap();
    push.set_sndhwm(10).unwrap();
    push.connect(&endpoint).unwrap();
    pull.set_rcvhwm(10).unwrap();
    let push = ZmqSource::builder().capacity(10).build(push).unwrap();

    let sender = push.sender();
    let producing = thread::spawn(move || {
        for number in 0..COUNT {
            sender.send(number.to_string()).expect("room, eventually");
        }
    });

    let mut event_loop: EventLoop<Vec<usize>> = EventLoop::try_new().unwrap();
    let handle = event_loop.handle();
    handle.insert_source(push, |_, _, _| {}).unwrap();
    handle
        .insert_source(ZmqSource::new(pull).unwrap(), |event, _, got| {
            if let Event::Message(message) = event {
                let text = std::str::from_utf8(message.first()).unwrap();
                got.push(text.parse().unwrap());
            }
        })
        .unwrap();
    let mut got = Vec::new();
    run_until(&mut event_loop, &mut got, DEADLINE, |g| g.len() == COUNT);
    producing.join().unwrap();
    assert_eq!(got, (0..COUNT).collect::<Vec<_>>());
}

/// A source with no queue at all: a blocking send cannot wait for room that
/// will never come.
#[test]
fn blocking_send_without_a_queue_returns_at_once() {
    let context = zmq::Context::new();
    let push = context.socket(zmq::PUSH).unwrap();
    bind(&push, Transport::Inproc);
    let push = ZmqSource::builder().capacity(0).build(push).unwrap();
    let sender = push.sender();
    let (outcome, returned) = std::sync::mpsc::channel();
    thread::spawn(move || outcome.send(sender.send("no room, ever")));
    let outcome = returned
        .recv_timeout(Duration::from_secs(10))
        .expect("Sender::send returned");
    assert_eq!(
        outcome,
        Err(SendError::Full(Multipart::from("no room, ever")))
    );
    drop(push);
}
