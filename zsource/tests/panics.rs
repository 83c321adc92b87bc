//! A callback that panics, the panic caught around `dispatch`: the source
//! goes on, sending what is queued and receiving what was left behind the
//! panicking message.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use calloop::EventLoop;
use common::{Transport, bind};
use zsource::{Event, ZmqSource};

#[derive(Debug, Default)]
struct Seen {
    received: usize,
    panicked: bool,
}

fn dispatch(event_loop: &mut EventLoop<Seen>, seen: &mut Seen, timeout: Duration) -> bool {
    catch_unwind(AssertUnwindSafe(|| {
        event_loop.dispatch(timeout, seen).unwrap();
    }))
    .is_err()
}

fn quiet_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !info.to_string().contains("a callback panics on purpose") {
            default(info);
        }
    }));
}

#[test]
fn after_a_caught_panic_the_messages_behind_it_are_delivered() {
    quiet_panics();
    let mut problems = Vec::new();
    for transport in [Transport::Inproc, Transport::Tcp] {
        let context = zmq::Context::new();
        let pull = context.socket(zmq::PULL).unwrap();
        let endpoint = bind(&pull, transport);
        let push = context.socket(zmq::PUSH).unwrap();
        push.connect(&endpoint).unwrap();
        let mut event_loop: EventLoop<Seen> = EventLoop::try_new().unwrap();
        event_loop
            .handle()
            .insert_source(
                ZmqSource::new(pull).unwrap(),
                |event, _, seen: &mut Seen| {
                    if let Event::Message(_) = event {
                        seen.received += 1;
                        if seen.received == 3 && !seen.panicked {
                            seen.panicked = true;
                            panic!("a callback panics on purpose");
                        }
                    }
                },
            )
            .unwrap();
        let mut seen = Seen::default();
        for _ in 0..5 {
            dispatch(&mut event_loop, &mut seen, Duration::from_millis(10));
        }
        for number in 0..10 {
            push.send(&number.to_string(), 0).unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut panics = 0;
        while seen.received < 10 && Instant::now() < deadline {
            panics += usize::from(dispatch(
                &mut event_loop,
                &mut seen,
                Duration::from_millis(50),
            ));
        }
        assert_eq!(panics, 1);
        if seen.received != 10 {
            problems.push(format!(
                "{transport:?}: after one caught panic, the rest of the burst never came: {seen:?}"
            ));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn after_a_caught_panic_queued_messages_never_leave() {
    quiet_panics();
    let mut problems = Vec::new();
    for transport in [Transport::Inproc, Transport::Tcp] {
        let context = zmq::Context::new();
        let router = context.socket(zmq::ROUTER).unwrap();
        let endpoint = bind(&router, transport);
        router.set_rcvtimeo(0).unwrap();
        let dealer = context.socket(zmq::DEALER).unwrap();
        dealer.connect(&endpoint).unwrap();
        dealer.send("hello", 0).unwrap();
        let identity = {
            router.set_rcvtimeo(5_000).unwrap();
            let hello = router.recv_multipart(0).unwrap();
            router.set_rcvtimeo(0).unwrap();
            hello[0].clone()
        };
        let source = ZmqSource::new(dealer).unwrap();
        let sender = source.sender();
        let mut event_loop: EventLoop<Seen> = EventLoop::try_new().unwrap();
        event_loop
            .handle()
            .insert_source(source, |event, _, seen: &mut Seen| {
                if let Event::Message(_) = event {
                    seen.received += 1;
                    if !seen.panicked {
                        seen.panicked = true;
                        panic!("a callback panics on purpose");
                    }
                }
            })
            .unwrap();
        let mut seen = Seen::default();
        for _ in 0..5 {
            dispatch(&mut event_loop, &mut seen, Duration::from_millis(10));
        }
        // One message in: the callback panics on it.
        router.send(&identity, zmq::SNDMORE).unwrap();
        router.send("poison", 0).unwrap();
        let deadline = Instant::now() + Duration::from_secs(2);
        while !seen.panicked && Instant::now() < deadline {
            dispatch(&mut event_loop, &mut seen, Duration::from_millis(50));
        }
        assert!(seen.panicked);
        // The program goes on: it queues five messages for the peer.
        for number in 0..5 {
            sender.try_send(number.to_string()).unwrap();
        }
        let mut arrived = 0;
        let deadline = Instant::now() + Duration::from_secs(2);
        while arrived < 5 && Instant::now() < deadline {
            dispatch(&mut event_loop, &mut seen, Duration::from_millis(20));
            while router.recv_multipart(0).is_ok() {
                arrived += 1;
            }
        }
        if arrived != 5 {
            problems.push(format!(
                "{transport:?}: after one caught panic, {arrived} of 5 queued messages left (queued: {})",
                sender.queued()
            ));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
