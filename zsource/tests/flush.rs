//! `ZmqSource::flush` against its documentation: the first message refused
//! for good comes back and the ones behind it stay queued, a producer
//! waiting for `Event::Room` still hears it, a deadline too far to add to
//! now is for ever, and the linger it grants delivers after the drop.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use calloop::EventLoop;
use calloop::timer::{TimeoutAction, Timer};
use common::{Transport, bind};
use zsource::{Error, Event, Multipart, SendError, ZmqSource};

#[derive(Debug, Default)]
struct Seen {
    failed: Vec<Multipart>,
    rooms: usize,
}

#[test]
fn flush_keeps_the_messages_behind_a_refused_one() {
    let context = zmq::Context::new();
    let router = context.socket(zmq::ROUTER).unwrap();
    router.set_router_mandatory(true).unwrap();
    bind(&router, Transport::Tcp);
    let source = ZmqSource::new(router).unwrap();
    for peer in ["nobody-1", "nobody-2", "nobody-3"] {
        source
            .sender()
            .try_send(Multipart::from([peer, "hello?"]))
            .unwrap();
    }
    let outcome = source.flush(Duration::from_millis(200));
    let returned = match outcome {
        Err(Error::Refused(SendError::Refused { message, .. })) => vec![message],
        other => panic!("{other:?}"),
    };
    let still_queued = source.queued();
    // Whatever is left must come back some way: queued, or as SendFailed.
    let mut event_loop: EventLoop<Seen> = EventLoop::try_new().unwrap();
    event_loop
        .handle()
        .insert_source(source, |event, _, seen: &mut Seen| {
            if let Event::SendFailed { message, .. } = event {
                seen.failed.push(message);
            }
        })
        .unwrap();
    let mut seen = Seen::default();
    for _ in 0..20 {
        event_loop
            .dispatch(Duration::from_millis(10), &mut seen)
            .unwrap();
    }
    assert_eq!(
        returned.len() + seen.failed.len(),
        3,
        "flush returned {returned:?}, left {still_queued} queued, and later \
         SendFailed handed back {:?}: the rest vanished",
        seen.failed
    );
}

#[test]
fn flush_leaves_the_room_event_to_come() {
    let context = zmq::Context::new();
    let push = context.socket(zmq::PUSH).unwrap();
    let endpoint = bind(&push, Transport::Tcp);
    let source = ZmqSource::builder().capacity(4).build(push).unwrap();
    let queue = source.sender();
    for number in 0..4 {
        queue.try_send(number.to_string()).unwrap();
    }
    // A producer on the loop's thread is refused: it waits for Event::Room.
    assert!(matches!(queue.try_send("refused"), Err(SendError::Full(_))));
    let pull = context.socket(zmq::PULL).unwrap();
    pull.connect(&endpoint).unwrap();
    source.flush(Duration::from_secs(5)).unwrap();
    assert_eq!(source.queued(), 0);
    let mut event_loop: EventLoop<Seen> = EventLoop::try_new().unwrap();
    event_loop
        .handle()
        .insert_source(source, |event, _, seen: &mut Seen| {
            if let Event::Room = event {
                seen.rooms += 1;
            }
        })
        .unwrap();
    event_loop
        .handle()
        .insert_source(Timer::immediate(), |_, _, _| {
            TimeoutAction::ToDuration(Duration::from_millis(10))
        })
        .unwrap();
    let mut seen = Seen::default();
    let deadline = Instant::now() + Duration::from_secs(1);
    while seen.rooms == 0 && Instant::now() < deadline {
        event_loop
            .dispatch(Duration::from_millis(20), &mut seen)
            .unwrap();
    }
    assert_eq!(
        seen.rooms, 1,
        "refused Full, the queue flushed empty, and no Event::Room"
    );
}

#[test]
fn flushed_messages_arrive_after_the_drop() {
    const MESSAGES: usize = 200;
    let context = zmq::Context::new();
    let push = context.socket(zmq::PUSH).unwrap();
    push.set_sndbuf(4096).unwrap();
    let endpoint = bind(&push, Transport::Tcp);
    let pull = context.socket(zmq::PULL).unwrap();
    pull.set_rcvbuf(4096).unwrap();
    pull.set_rcvhwm(1).unwrap();
    pull.connect(&endpoint).unwrap();
    let source = ZmqSource::builder().capacity(MESSAGES).build(push).unwrap();
    for number in 0..MESSAGES {
        let mut body = format!("{number:08}").into_bytes();
        body.resize(16 * 1024, b'.');
        source.sender().try_send(body).unwrap();
    }
    // Wait for the connection, so that the flush can hand everything over.
    thread::sleep(Duration::from_millis(100));
    let start = Instant::now();
    source.flush(Duration::from_secs(3)).unwrap();
    drop(source);
    let reading = thread::spawn(move || {
        pull.set_rcvtimeo(2000).unwrap();
        let mut next = 0;
        while let Ok(message) = pull.recv_bytes(0) {
            assert_eq!(&message[..8], format!("{next:08}").as_bytes());
            next += 1;
            thread::sleep(Duration::from_millis(2));
        }
        next
    });
    assert_eq!(reading.join().unwrap(), MESSAGES);
    drop(context);
    assert!(
        start.elapsed() < Duration::from_secs(6),
        "{:?}",
        start.elapsed()
    );
}

/// `flush(Duration::MAX)`, "flush for as long as it
/// takes", panics inside the library with "overflow when adding duration to
/// instant" (source.rs, `flush`: `let deadline = Instant::now() + timeout;`),
/// even with nothing queued. `Builder::linger(Duration::MAX)` saturates; this
/// should too (`Instant::checked_add`).
#[test]
fn flush_for_as_long_as_it_takes_does_not_panic() {
    let context = zmq::Context::new();
    let push = context.socket(zmq::PUSH).unwrap();
    bind(&push, Transport::Inproc);
    let source = ZmqSource::new(push).unwrap();
    let outcome =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| source.flush(Duration::MAX)));
    assert!(
        matches!(outcome, Ok(Ok(()))),
        "flush(Duration::MAX) with nothing queued panicked or failed"
    );
}
