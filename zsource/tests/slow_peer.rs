//! One slow peer of a ROUTER does not hold back the others at the queue
//! either: a peer may have half the queue at most, so the messages for a
//! peer that reads everything are still taken while another's wait.

mod common;

use std::time::{Duration, Instant};

use calloop::EventLoop;
use common::{Transport, bind};
use zsource::{Multipart, SendError, ZmqSource};

#[test]
fn a_slow_peer_does_not_hold_back_the_others_for_long() {
    const CAPACITY: usize = 100;
    let context = zmq::Context::new();
    let router = context.socket(zmq::ROUTER).unwrap();
    router.set_router_mandatory(true).unwrap();
    router.set_sndhwm(1).unwrap();
    let endpoint = bind(&router, Transport::Inproc);
    let peers = ["slow", "fast"].map(|name| {
        let dealer = context.socket(zmq::DEALER).unwrap();
        dealer.set_identity(name.as_bytes()).unwrap();
        dealer.set_rcvhwm(1).unwrap();
        dealer.connect(&endpoint).unwrap();
        dealer.send("hi", 0).unwrap();
        dealer
    });
    router.set_rcvtimeo(5000).unwrap();
    for _ in 0..2 {
        router.recv_multipart(0).unwrap();
    }
    let source = ZmqSource::builder()
        .capacity(CAPACITY)
        .build(router)
        .unwrap();
    let sender = source.sender();
    let mut event_loop: EventLoop<()> = EventLoop::try_new().unwrap();
    event_loop
        .handle()
        .insert_source(source, |_, _, _| {})
        .unwrap();
    let fast = &peers[1];
    fast.set_rcvtimeo(0).unwrap();
    // A producer on the loop's thread: one message for each peer per turn;
    // what the queue refuses for the slow one is dropped (it is slow), what
    // it refuses for the fast one is counted.
    let (mut refused_fast, mut got_fast) = (0, 0);
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut turn = 0;
    while Instant::now() < deadline && turn < 2_000 {
        let _ = sender.try_send(Multipart::from(["slow", "x"]));
        match sender.try_send(Multipart::from(["fast", "y"])) {
            Ok(()) => {}
            Err(SendError::Full(_)) => refused_fast += 1,
            Err(other) => panic!("{other}"),
        }
        event_loop.dispatch(Duration::ZERO, &mut ()).unwrap();
        while fast.recv_bytes(0).is_ok() {
            got_fast += 1;
        }
        turn += 1;
    }
    assert_eq!(
        refused_fast,
        0,
        "the fast peer got {got_fast} messages; {refused_fast} for it were refused Full \
         because the slow peer's {} parked messages fill the queue",
        sender.queued()
    );
}
