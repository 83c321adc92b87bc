//! The send path: every accepted message arrives once, in order per
//! producer, before a deadline: many blocking senders on a tiny queue, an
//! XPUB with ZMQ_XPUB_NODROP and a slow subscriber, a producer without a
//! queue driven by `Event::Room`, and flushes from a timer.

#![allow(unsafe_code)] // only to set ZMQ_XPUB_NODROP, which zmq 0.10 lacks

mod common;

use std::os::raw::{c_int, c_void};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use calloop::timer::{TimeoutAction, Timer};
use calloop::{Dispatcher, EventLoop};
use common::{Transport, bind};
use zsource::{Event, Multipart, SendError, SocketHandle, ZmqSource};

const DEADLINE: Duration = Duration::from_secs(20);

/// eight threads in `Sender::send` on a queue of capacity 1 (and 2,
/// 3), to PUSH and DEALER over tcp and inproc: all arrive, in order per
/// producer.
#[test]
fn many_blocking_senders_on_a_tiny_queue() {
    const THREADS: usize = 8;
    const EACH: usize = 1_000;
    for (socket_type, peer_type) in [(zmq::PUSH, zmq::PULL), (zmq::DEALER, zmq::DEALER)] {
        for transport in [Transport::Tcp, Transport::Inproc] {
            for capacity in [1, 2, 3] {
                let context = zmq::Context::new();
                let socket = context.socket(socket_type).unwrap();
                socket.set_sndhwm(1).unwrap();
                let endpoint = bind(&socket, transport);
                let peer = context.socket(peer_type).unwrap();
                peer.set_rcvhwm(1).unwrap();
                peer.connect(&endpoint).unwrap();
                let source = ZmqSource::builder()
                    .capacity(capacity)
                    .build(socket)
                    .unwrap();
                let producers: Vec<_> = (0..THREADS)
                    .map(|number| {
                        let sender = source.sender();
                        thread::spawn(move || {
                            for sequence in 0..EACH {
                                sender
                                    .send(Multipart::from([
                                        number.to_string(),
                                        sequence.to_string(),
                                    ]))
                                    .unwrap();
                            }
                        })
                    })
                    .collect();
                let done = Arc::new(AtomicBool::new(false));
                let reading = {
                    let done = Arc::clone(&done);
                    thread::spawn(move || {
                        peer.set_rcvtimeo(100).unwrap();
                        let mut next = [0usize; THREADS];
                        let mut total = 0;
                        let deadline = Instant::now() + DEADLINE;
                        while total < THREADS * EACH && Instant::now() < deadline {
                            let Ok(frames) = peer.recv_multipart(0) else {
                                continue;
                            };
                            let number: usize =
                                String::from_utf8_lossy(&frames[0]).parse().unwrap();
                            let sequence: usize =
                                String::from_utf8_lossy(&frames[1]).parse().unwrap();
                            assert_eq!(sequence, next[number], "producer {number}");
                            next[number] += 1;
                            total += 1;
                        }
                        done.store(true, Ordering::Relaxed);
                        total
                    })
                };
                let mut event_loop: EventLoop<()> = EventLoop::try_new().unwrap();
                event_loop
                    .handle()
                    .insert_source(source, |_, _, _| {})
                    .unwrap();
                while !done.load(Ordering::Relaxed) {
                    event_loop
                        .dispatch(Duration::from_millis(10), &mut ())
                        .unwrap();
                }
                let total = reading.join().unwrap();
                assert_eq!(
                    total,
                    THREADS * EACH,
                    "{socket_type:?} {transport:?} capacity {capacity}"
                );
                for producer in producers {
                    producer.join().unwrap();
                }
            }
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

/// XPUB with ZMQ_XPUB_NODROP: POLLOUT always, EAGAIN while a subscriber is
/// at its HWM. Queued messages must all arrive, and not at the pace of the
/// retry timer.
#[test]
fn xpub_nodrop_delivers_everything_to_a_slow_subscriber() {
    const MESSAGES: usize = 20_000;
    for transport in [Transport::Inproc, Transport::Tcp] {
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
        xpub.set_sndhwm(10).unwrap();
        let endpoint = bind(&xpub, transport);
        let sub = context.socket(zmq::SUB).unwrap();
        sub.set_rcvhwm(10).unwrap();
        sub.set_subscribe(b"").unwrap();
        sub.connect(&endpoint).unwrap();
        xpub.set_rcvtimeo(5000).unwrap();
        assert_eq!(xpub.recv_bytes(0).unwrap(), b"\x01");
        let source = ZmqSource::builder().capacity(MESSAGES).build(xpub).unwrap();
        for number in 0..MESSAGES {
            source.sender().try_send(number.to_string()).unwrap();
        }
        let reading = thread::spawn(move || {
            sub.set_rcvtimeo(100).unwrap();
            let mut next = 0;
            let deadline = Instant::now() + DEADLINE;
            while next < MESSAGES && Instant::now() < deadline {
                if let Ok(Ok(text)) = sub.recv_string(0) {
                    assert_eq!(text, next.to_string());
                    next += 1;
                    if next % 1000 == 0 {
                        thread::sleep(Duration::from_millis(5));
                    }
                }
            }
            next
        });
        let mut event_loop: EventLoop<()> = EventLoop::try_new().unwrap();
        event_loop
            .handle()
            .insert_source(source, |_, _, _| {})
            .unwrap();
        let start = Instant::now();
        while !reading.is_finished() {
            event_loop
                .dispatch(Duration::from_millis(10), &mut ())
                .unwrap();
        }
        let got = reading.join().unwrap();
        let took = start.elapsed();
        eprintln!("{transport:?}: {got} in {took:?}");
        assert_eq!(got, MESSAGES, "{transport:?}");
        assert!(took < Duration::from_secs(5), "{transport:?}: {took:?}");
    }
}

/// a producer on the loop's thread with `capacity(0)`, a single slow
/// peer, sending the next message each time it hears `Event::Room`: every
/// message arrives, in order (POLLOUT is truthful for one PUSH peer).
#[test]
fn capacity_zero_producer_driven_by_room_delivers_everything() {
    const MESSAGES: usize = 3_000;
    for transport in [Transport::Inproc, Transport::Tcp] {
        let context = zmq::Context::new();
        let push = context.socket(zmq::PUSH).unwrap();
        push.set_sndhwm(2).unwrap();
        let endpoint = bind(&push, transport);
        let pull = context.socket(zmq::PULL).unwrap();
        pull.set_rcvhwm(2).unwrap();
        pull.set_rcvbuf(4096).unwrap();
        pull.connect(&endpoint).unwrap();
        let reading = thread::spawn(move || {
            pull.set_rcvtimeo(100).unwrap();
            let mut next = 0;
            let deadline = Instant::now() + DEADLINE;
            while next < MESSAGES && Instant::now() < deadline {
                if let Ok(message) = pull.recv_bytes(0) {
                    assert_eq!(String::from_utf8_lossy(&message[..8]), format!("{next:08}"));
                    next += 1;
                    if next % 100 == 0 {
                        thread::sleep(Duration::from_millis(2));
                    }
                }
            }
            next
        });
        #[derive(Debug, Default)]
        struct Producer {
            next: usize,
            rooms: usize,
        }
        fn produce(send: impl Fn(Vec<u8>) -> Result<(), SendError>, state: &mut Producer) {
            while state.next < MESSAGES {
                let mut body = format!("{:08}", state.next).into_bytes();
                body.resize(1024, b'.');
                match send(body) {
                    Ok(()) => state.next += 1,
                    Err(SendError::Full(_)) => return,
                    Err(other) => panic!("{other}"),
                }
            }
        }
        let source = ZmqSource::builder().capacity(0).build(push).unwrap();
        let mut state = Producer::default();
        // Start before the loop: the first Full arms the Room.
        produce(|body| source.send(body), &mut state);
        let mut event_loop: EventLoop<Producer> = EventLoop::try_new().unwrap();
        event_loop
            .handle()
            .insert_source(source, |event, socket, state: &mut Producer| {
                if let Event::Room = event {
                    state.rooms += 1;
                    produce(|body| socket.send(body), state);
                }
            })
            .unwrap();
        while !reading.is_finished() {
            event_loop
                .dispatch(Duration::from_millis(10), &mut state)
                .unwrap();
        }
        let got = reading.join().unwrap();
        assert_eq!(got, MESSAGES, "{transport:?}: {state:?}");
    }
}

/// Flushing through the Dispatcher, from a timer, while a peer sends to the
/// source and reads from it: every message both ways arrives.
#[test]
fn flushing_from_a_timer_loses_nothing_either_way() {
    const MESSAGES: usize = 5_000;
    for transport in [Transport::Inproc, Transport::Tcp] {
        let context = zmq::Context::new();
        let dealer = context.socket(zmq::DEALER).unwrap();
        dealer.set_sndhwm(4).unwrap();
        dealer.set_rcvhwm(4).unwrap();
        let endpoint = bind(&dealer, transport);
        let peer = context.socket(zmq::DEALER).unwrap();
        peer.set_rcvhwm(4).unwrap();
        peer.set_sndhwm(4).unwrap();
        peer.connect(&endpoint).unwrap();
        let peering = thread::spawn(move || {
            let mut sent = 0;
            let mut received = 0;
            let deadline = Instant::now() + DEADLINE;
            while (sent < MESSAGES || received < MESSAGES) && Instant::now() < deadline {
                if sent < MESSAGES && peer.send(&sent.to_string(), zmq::DONTWAIT).is_ok() {
                    sent += 1;
                }
                if let Ok(Ok(text)) = peer.recv_string(zmq::DONTWAIT) {
                    assert_eq!(text, received.to_string());
                    received += 1;
                } else {
                    let _ = peer.poll(zmq::POLLIN, 1);
                }
            }
            received
        });
        #[derive(Debug, Default)]
        struct Seen {
            next: usize,
            queued: usize,
            flushes: usize,
        }
        let source = Dispatcher::new(
            ZmqSource::builder().capacity(64).build(dealer).unwrap(),
            |event, _: &mut SocketHandle, seen: &mut Seen| {
                if let Event::Message(message) = event {
                    assert_eq!(message.first(), seen.next.to_string().as_bytes());
                    seen.next += 1;
                }
            },
        );
        let mut event_loop: EventLoop<Seen> = EventLoop::try_new().unwrap();
        let handle = event_loop.handle();
        handle.register_dispatcher(source.clone()).unwrap();
        {
            let source = source.clone();
            handle
                .insert_source(Timer::immediate(), move |_, _, seen: &mut Seen| {
                    let source = source.as_source_ref();
                    while seen.queued < MESSAGES {
                        match source.sender().try_send(seen.queued.to_string()) {
                            Ok(()) => seen.queued += 1,
                            Err(_) => break,
                        }
                    }
                    let _ = source.flush(Duration::from_millis(2));
                    seen.flushes += 1;
                    TimeoutAction::ToDuration(Duration::from_millis(1))
                })
                .unwrap();
        }
        let mut seen = Seen::default();
        let deadline = Instant::now() + DEADLINE;
        while !(peering.is_finished() && seen.next == MESSAGES) {
            assert!(Instant::now() < deadline, "{transport:?}: {seen:?}");
            event_loop
                .dispatch(Duration::from_millis(10), &mut seen)
                .unwrap();
        }
        assert_eq!(peering.join().unwrap(), MESSAGES, "{transport:?}");
    }
}
