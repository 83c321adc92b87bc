//! `Event::Room`, which a producer on the loop's thread waits for after
//! `SendError::Full`: it comes once the queue has room, even when the queue
//! was emptied by `take_queued`, and without a queue (`capacity(0)`) it
//! neither spins nor keeps a dispatch going when the socket says it can send
//! for a peer other than the one that is full.

#![allow(unsafe_code)] // only to set ZMQ_XPUB_NODROP, which zmq 0.10 lacks

mod common;

use std::time::{Duration, Instant};

use calloop::timer::{TimeoutAction, Timer};
use calloop::{Dispatcher, EventLoop};
use common::{Counted, Transport, bind};
use zsource::{Event, Multipart, SendError, SocketHandle, ZmqSource};

/// A ROUTER_MANDATORY socket with two known peers: "slow", whose pipe is
/// full and who never reads, and "fast", who has room. Returns the router
/// and the peers (keep them alive).
fn router_with_a_full_peer(context: &zmq::Context) -> (zmq::Socket, [zmq::Socket; 2]) {
    let router = context.socket(zmq::ROUTER).unwrap();
    router.set_router_mandatory(true).unwrap();
    router.set_sndhwm(1).unwrap();
    router.set_rcvtimeo(5_000).unwrap();
    let endpoint = bind(&router, Transport::Inproc);
    let peers = ["slow", "fast"].map(|name| {
        let dealer = context.socket(zmq::DEALER).unwrap();
        dealer.set_identity(name.as_bytes()).unwrap();
        dealer.set_rcvhwm(1).unwrap();
        dealer.connect(&endpoint).unwrap();
        dealer.send("hi", 0).unwrap();
        dealer
    });
    for _ in 0..2 {
        router.recv_multipart(0).unwrap();
    }
    // Fill slow's pipe.
    let mut filled = 0;
    loop {
        match router.send("slow", zmq::SNDMORE | zmq::DONTWAIT) {
            Ok(()) => {
                router.send("filler", zmq::DONTWAIT).unwrap();
                filled += 1;
            }
            Err(zmq::Error::EAGAIN) => break,
            Err(error) => panic!("{error}"),
        }
        assert!(filled < 10_000);
    }
    assert!(filled > 0);
    (router, peers)
}

#[derive(Debug, Default)]
struct Seen {
    rooms: usize,
    rooms_this_dispatch: usize,
    most_rooms_in_one_dispatch: usize,
    fulls: usize,
}

#[test]
fn capacity_zero_room_then_retry_in_the_callback_lets_the_dispatch_end() {
    const GIVE_UP: usize = 1_000;
    let context = zmq::Context::new();
    let (router, _peers) = router_with_a_full_peer(&context);
    let source = ZmqSource::builder().capacity(0).build(router).unwrap();
    // The first try meets the full peer: the message comes back as Full.
    let refused = source.send(Multipart::from(["slow", "one"]));
    assert!(matches!(refused, Err(SendError::Full(_))), "{refused:?}");

    let mut event_loop: EventLoop<Seen> = EventLoop::try_new().unwrap();
    event_loop
        .handle()
        .insert_source(
            source,
            |event, socket: &mut SocketHandle, seen: &mut Seen| {
                if let Event::Room = event {
                    seen.rooms += 1;
                    seen.rooms_this_dispatch += 1;
                    // A producer on the loop's thread goes on when told it may.
                    if seen.rooms < GIVE_UP {
                        if let Err(SendError::Full(_)) =
                            socket.send(Multipart::from(["slow", "one"]))
                        {
                            seen.fulls += 1;
                        }
                    }
                }
            },
        )
        .unwrap();
    let mut seen = Seen::default();
    let deadline = Instant::now() + Duration::from_millis(500);
    while Instant::now() < deadline {
        seen.rooms_this_dispatch = 0;
        event_loop
            .dispatch(Duration::from_millis(50), &mut seen)
            .unwrap();
        seen.most_rooms_in_one_dispatch = seen
            .most_rooms_in_one_dispatch
            .max(seen.rooms_this_dispatch);
    }
    assert!(
        seen.most_rooms_in_one_dispatch <= 2,
        "one dispatch announced Room {} times, each retry refused Full (gave up at {GIVE_UP}): {seen:?}",
        seen.most_rooms_in_one_dispatch
    );
}

#[test]
fn capacity_zero_room_then_retry_between_turns_sleeps() {
    let context = zmq::Context::new();
    let (router, _peers) = router_with_a_full_peer(&context);
    let source = ZmqSource::builder().capacity(0).build(router).unwrap();
    let (source, counts) = Counted::new(source);
    let source = Dispatcher::new(source, |event, _: &mut SocketHandle, seen: &mut Seen| {
        if let Event::Room = event {
            seen.rooms += 1;
        }
    });
    let mut event_loop: EventLoop<Seen> = EventLoop::try_new().unwrap();
    event_loop
        .handle()
        .register_dispatcher(source.clone())
        .unwrap();
    // The producer, on the loop's thread between turns: tries once, and
    // again each time it hears of room.
    let mut last_rooms = usize::MAX;
    let mut seen = Seen::default();
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut dispatches = 0;
    while Instant::now() < deadline {
        if last_rooms != seen.rooms {
            last_rooms = seen.rooms;
            let outcome = source
                .as_source_ref()
                .inner
                .send(Multipart::from(["slow", "one"]));
            if let Err(SendError::Full(_)) = outcome {
                seen.fulls += 1;
            }
        }
        event_loop
            .dispatch(Duration::from_millis(100), &mut seen)
            .unwrap();
        dispatches += 1;
    }
    assert!(
        counts.dispatches.get() < 100,
        "an idle loop (slow peer full, nothing else to do) dispatched the source {} times \
         in 1 s ({dispatches} loop turns): {seen:?}",
        counts.dispatches.get()
    );
}

#[test]
fn take_queued_leaves_the_room_event_to_come() {
    let context = zmq::Context::new();
    let push = context.socket(zmq::PUSH).unwrap();
    let endpoint = bind(&push, Transport::Tcp);
    let push = ZmqSource::builder().capacity(4).build(push).unwrap();
    let queue = push.sender();
    for number in 0..4 {
        queue.try_send(number.to_string()).unwrap();
    }
    assert!(matches!(queue.try_send("refused"), Err(SendError::Full(_))));
    // Somebody takes back what could not be sent (a Lazy Pirate reroutes it):
    // the queue is empty, so the refused producer may go on.
    let taken = push.take_queued();
    assert_eq!(taken.len(), 4);
    let push = Dispatcher::new(push, |event, _: &mut SocketHandle, seen: &mut Seen| {
        if let Event::Room = event {
            seen.rooms += 1;
        }
    });
    let mut event_loop: EventLoop<Seen> = EventLoop::try_new().unwrap();
    event_loop
        .handle()
        .register_dispatcher(push.clone())
        .unwrap();
    let pull = context.socket(zmq::PULL).unwrap();
    pull.connect(&endpoint).unwrap();
    // A timer gives the source reasons to run.
    event_loop
        .handle()
        .insert_source(Timer::immediate(), |_, _, _| {
            TimeoutAction::ToDuration(Duration::from_millis(20))
        })
        .unwrap();
    let mut seen = Seen::default();
    let deadline = Instant::now() + Duration::from_secs(2);
    while seen.rooms == 0 && Instant::now() < deadline {
        // Something uses the socket now and then: the source looks again.
        let _ = push.as_source_ref().socket().get_events();
        event_loop
            .dispatch(Duration::from_millis(50), &mut seen)
            .unwrap();
    }
    assert_eq!(
        seen.rooms, 1,
        "refused Full, queue emptied by take_queued, but Event::Room never came"
    );
}

unsafe extern "C" {
    fn zmq_setsockopt(
        socket: *mut std::os::raw::c_void,
        option: std::os::raw::c_int,
        value: *const std::os::raw::c_void,
        len: usize,
    ) -> std::os::raw::c_int;
}

/// The same spin without ROUTER: an XPUB with ZMQ_XPUB_NODROP (POLLOUT is
/// always set; a send meets EAGAIN while a subscriber is at its HWM), one
/// subscriber that does not read.
#[test]
fn capacity_zero_xpub_nodrop_room_then_retry_sleeps() {
    let context = zmq::Context::new();
    let mut xpub = context.socket(zmq::XPUB).unwrap();
    let one: std::os::raw::c_int = 1;
    let rc = unsafe { zmq_setsockopt(xpub.as_mut_ptr(), 69, (&raw const one).cast(), 4) };
    assert_eq!(rc, 0);
    xpub.set_sndhwm(1).unwrap();
    let endpoint = bind(&xpub, Transport::Inproc);
    let sub = context.socket(zmq::SUB).unwrap();
    sub.set_rcvhwm(1).unwrap();
    sub.set_subscribe(b"").unwrap();
    sub.connect(&endpoint).unwrap();
    xpub.set_rcvtimeo(5000).unwrap();
    assert_eq!(xpub.recv_bytes(0).unwrap(), b"\x01");
    let source = ZmqSource::builder().capacity(0).build(xpub).unwrap();
    while source.send("fill").is_ok() {}
    let (source, counts) = Counted::new(source);
    let source = Dispatcher::new(source, |event, _: &mut SocketHandle, seen: &mut Seen| {
        if let Event::Room = event {
            seen.rooms += 1;
        }
    });
    let mut event_loop: EventLoop<Seen> = EventLoop::try_new().unwrap();
    event_loop
        .handle()
        .register_dispatcher(source.clone())
        .unwrap();
    let mut last_rooms = usize::MAX;
    let mut seen = Seen::default();
    let deadline = Instant::now() + Duration::from_secs(1);
    while Instant::now() < deadline {
        if last_rooms != seen.rooms {
            last_rooms = seen.rooms;
            if let Err(SendError::Full(_)) = source.as_source_ref().inner.send("next") {
                seen.fulls += 1;
            }
        }
        event_loop
            .dispatch(Duration::from_millis(100), &mut seen)
            .unwrap();
    }
    drop(sub);
    assert!(
        counts.dispatches.get() < 100,
        "XPUB_NODROP, capacity 0, subscriber full: {} dispatches in 1 s: {seen:?}",
        counts.dispatches.get()
    );
}
