//! No lost wake-ups: ZMQ_FD is edge-triggered, and the source must never
//! wait for an edge that has already come and gone.

mod common;

use std::thread;
use std::time::Duration;

use calloop::EventLoop;
use common::{Transport, bind, run_until};
use zsource::{Event, Multipart, ZmqSource};

const DEADLINE: Duration = Duration::from_secs(60);

#[test]
fn messages_sent_before_registration_are_delivered() {
    let context = zmq::Context::new();
    let pull = context.socket(zmq::PULL).unwrap();
    let endpoint = bind(&pull, Transport::Tcp);
    let push = context.socket(zmq::PUSH).unwrap();
    push.connect(&endpoint).unwrap();
    for number in 0..10 {
        push.send(&number.to_string(), 0).unwrap();
    }
    // Wait until they are in: zmq_poll reads ZMQ_EVENTS, which swallows the
    // edge, just as any use of the socket before registration would.
    assert_eq!(pull.poll(zmq::POLLIN, 10_000).unwrap(), 1);

    let mut event_loop: EventLoop<Vec<String>> = EventLoop::try_new().unwrap();
    event_loop
        .handle()
        .insert_source(ZmqSource::new(pull).unwrap(), |event, _, got| {
            if let Event::Message(message) = event {
                got.push(String::from_utf8(message.first().to_vec()).unwrap());
            }
        })
        .unwrap();
    let mut got = Vec::new();
    run_until(&mut event_loop, &mut got, DEADLINE, |g| g.len() == 10);
    assert_eq!(got, (0..10).map(|n| n.to_string()).collect::<Vec<_>>());
}

#[test]
fn req_client_queueing_ten_requests_gets_ten_replies() {
    let context = zmq::Context::new();
    let server = context.socket(zmq::REP).unwrap();
    let endpoint = bind(&server, Transport::Tcp);
    let client = context.socket(zmq::REQ).unwrap();
    client.connect(&endpoint).unwrap();
    let client = ZmqSource::new(client).unwrap();
    let requests = client.sender();
    for number in 0..10 {
        requests.try_send(format!("request {number}")).unwrap();
    }

    let mut event_loop: EventLoop<Vec<String>> = EventLoop::try_new().unwrap();
    let handle = event_loop.handle();
    handle
        .insert_source(ZmqSource::new(server).unwrap(), |event, socket, _| {
            if let Event::Message(request) = event {
                let text = String::from_utf8_lossy(request.first());
                socket.send(text.replace("request", "reply")).unwrap();
            }
        })
        .unwrap();
    handle
        .insert_source(client, |event, _, replies: &mut Vec<String>| {
            if let Event::Message(reply) = event {
                replies.push(String::from_utf8(reply.first().to_vec()).unwrap());
            }
        })
        .unwrap();
    let mut replies = Vec::new();
    run_until(&mut event_loop, &mut replies, DEADLINE, |r| r.len() == 10);
    let expected: Vec<_> = (0..10).map(|n| format!("reply {n}")).collect();
    assert_eq!(replies, expected);
}

#[test]
fn dealer_and_router_under_load_never_stall() {
    const COUNT: usize = 20_000;
    let context = zmq::Context::new();
    let router = context.socket(zmq::ROUTER).unwrap();
    // Mandatory routing makes a full peer an EAGAIN instead of a silent drop,
    // and tiny high-water marks make EAGAIN frequent on both sockets, in both
    // directions: the conditions under which an edge gets lost.
    router.set_router_mandatory(true).unwrap();
    router.set_sndhwm(10).unwrap();
    router.set_rcvhwm(10).unwrap();
    let endpoint = bind(&router, Transport::Tcp);
    let dealer = context.socket(zmq::DEALER).unwrap();
    dealer.set_sndhwm(10).unwrap();
    dealer.set_rcvhwm(10).unwrap();
    dealer.connect(&endpoint).unwrap();

    let dealer = ZmqSource::builder().capacity(50).build(dealer).unwrap();
    let requests = dealer.sender();
    let producing = thread::spawn(move || {
        for number in 0..COUNT {
            requests.send(number.to_string()).expect("room, eventually");
        }
    });

    let mut event_loop: EventLoop<Vec<usize>> = EventLoop::try_new().unwrap();
    let handle = event_loop.handle();
    handle
        .insert_source(
            ZmqSource::builder().capacity(COUNT).build(router).unwrap(),
            |event, socket, _| match event {
                Event::Message(request) => {
                    let reply = Multipart::new(request.first()).with(request.last());
                    socket.send(reply).expect("the queue has room for all");
                }
                other => panic!("{other:?}"),
            },
        )
        .unwrap();
    handle
        .insert_source(dealer, |event, _, replies: &mut Vec<usize>| {
            if let Event::Message(reply) = event {
                let text = std::str::from_utf8(reply.first()).unwrap();
                replies.push(text.parse().unwrap());
            }
        })
        .unwrap();
    let mut replies = Vec::new();
    run_until(&mut event_loop, &mut replies, DEADLINE, |r| {
        r.len() == COUNT
    });
    producing.join().unwrap();
    assert_eq!(replies, (0..COUNT).collect::<Vec<_>>());
}
