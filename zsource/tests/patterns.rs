//! Every socket pattern through `ZmqSource`, over inproc and TCP loopback,
//! with multipart messages in and out.

mod common;

use std::time::Duration;

use calloop::EventLoop;
use calloop::timer::{TimeoutAction, Timer};
use common::{TRANSPORTS, bind, run_until};
use zsource::{Event, Multipart, ZmqSource};

const DEADLINE: Duration = Duration::from_secs(20);

fn text(message: &Multipart) -> Vec<String> {
    message
        .frames()
        .map(|frame| String::from_utf8_lossy(frame).into_owned())
        .collect()
}

#[test]
fn req_rep_multipart_round_trips() {
    for transport in TRANSPORTS {
        let context = zmq::Context::new();
        let server = context.socket(zmq::REP).unwrap();
        let endpoint = bind(&server, transport);
        let client = context.socket(zmq::REQ).unwrap();
        client.connect(&endpoint).unwrap();

        let server = ZmqSource::new(server).unwrap();
        let client = ZmqSource::new(client).unwrap();
        client
            .sender()
            .try_send(Multipart::new("Hello").with("").with("again"))
            .unwrap();

        let mut event_loop: EventLoop<Vec<Vec<String>>> = EventLoop::try_new().unwrap();
        let handle = event_loop.handle();
        handle
            .insert_source(server, |event, socket, _| {
                let Event::Message(request) = event else {
                    panic!("unexpected {event:?}")
                };
                // Echo every frame back, reversed, so the test sees both
                // directions carry all of them.
                let reply = Multipart::from_frames(request.frames().rev()).unwrap();
                socket.send(reply).unwrap();
            })
            .unwrap();
        handle
            .insert_source(client, |event, _, replies: &mut Vec<Vec<String>>| {
                if let Event::Message(reply) = event {
                    replies.push(text(&reply));
                }
            })
            .unwrap();

        let mut replies = Vec::new();
        run_until(&mut event_loop, &mut replies, DEADLINE, |r| !r.is_empty());
        assert_eq!(replies, [["again", "", "Hello"]], "over {transport:?}");
    }
}

#[test]
fn push_pull_delivers_in_order() {
    for transport in TRANSPORTS {
        let context = zmq::Context::new();
        let pull = context.socket(zmq::PULL).unwrap();
        let endpoint = bind(&pull, transport);
        let push = context.socket(zmq::PUSH).unwrap();
        push.connect(&endpoint).unwrap();

        let push = ZmqSource::new(push).unwrap();
        let sender = push.sender();
        for number in 0..500 {
            sender.try_send(number.to_string()).unwrap();
        }

        let mut event_loop: EventLoop<Vec<u32>> = EventLoop::try_new().unwrap();
        let handle = event_loop.handle();
        handle.insert_source(push, |_, _, _| {}).unwrap();
        handle
            .insert_source(ZmqSource::new(pull).unwrap(), |event, _, numbers| {
                if let Event::Message(message) = event {
                    let text = std::str::from_utf8(message.single().unwrap()).unwrap();
                    numbers.push(text.parse().unwrap());
                }
            })
            .unwrap();

        let mut numbers = Vec::new();
        run_until(&mut event_loop, &mut numbers, DEADLINE, |n| n.len() >= 500);
        assert_eq!(numbers, (0..500).collect::<Vec<_>>(), "over {transport:?}");
    }
}

#[test]
fn pub_sub_filters_by_topic() {
    for transport in TRANSPORTS {
        let context = zmq::Context::new();
        let publisher = context.socket(zmq::PUB).unwrap();
        let endpoint = bind(&publisher, transport);
        let subscriber = context.socket(zmq::SUB).unwrap();
        subscriber.connect(&endpoint).unwrap();
        subscriber.set_subscribe(b"weather ").unwrap();

        let publisher = ZmqSource::new(publisher).unwrap();
        let sender = publisher.sender();

        let mut event_loop: EventLoop<Vec<Vec<String>>> = EventLoop::try_new().unwrap();
        let handle = event_loop.handle();
        handle.insert_source(publisher, |_, _, _| {}).unwrap();
        // A subscriber misses what is published before it has joined (the
        // slow joiner), so publish until it has heard enough.
        handle
            .insert_source(Timer::immediate(), move |_, _, _| {
                sender.try_send(Multipart::new("sport ").with("0-0")).ok();
                sender
                    .try_send(Multipart::new("weather ").with("sunny"))
                    .ok();
                TimeoutAction::ToDuration(Duration::from_millis(1))
            })
            .unwrap();
        handle
            .insert_source(ZmqSource::new(subscriber).unwrap(), |event, _, heard| {
                if let Event::Message(message) = event {
                    heard.push(text(&message));
                }
            })
            .unwrap();

        let mut heard = Vec::new();
        run_until(&mut event_loop, &mut heard, DEADLINE, |h| h.len() >= 3);
        assert!(
            heard.iter().all(|m| m == &["weather ", "sunny"]),
            "over {transport:?}: {heard:?}"
        );
    }
}

#[test]
fn dealer_router_carry_identities() {
    for transport in TRANSPORTS {
        let context = zmq::Context::new();
        let router = context.socket(zmq::ROUTER).unwrap();
        let endpoint = bind(&router, transport);
        let dealer = context.socket(zmq::DEALER).unwrap();
        dealer.set_identity(b"dealer-1").unwrap();
        dealer.connect(&endpoint).unwrap();

        let dealer = ZmqSource::new(dealer).unwrap();
        dealer.sender().try_send("ping").unwrap();

        #[derive(Debug, Default)]
        struct Seen {
            at_router: Vec<Vec<String>>,
            at_dealer: Vec<Vec<String>>,
        }
        let mut event_loop: EventLoop<Seen> = EventLoop::try_new().unwrap();
        let handle = event_loop.handle();
        handle
            .insert_source(ZmqSource::new(router).unwrap(), |event, socket, seen| {
                if let Event::Message(message) = event {
                    seen.at_router.push(text(&message));
                    let reply = Multipart::new(message.first()).with("pong");
                    socket.send(reply).unwrap();
                }
            })
            .unwrap();
        handle
            .insert_source(dealer, |event, _, seen: &mut Seen| {
                if let Event::Message(message) = event {
                    seen.at_dealer.push(text(&message));
                }
            })
            .unwrap();

        let mut seen = Seen::default();
        run_until(&mut event_loop, &mut seen, DEADLINE, |s| {
            !s.at_dealer.is_empty()
        });
        assert_eq!(seen.at_router, [["dealer-1", "ping"]], "over {transport:?}");
        assert_eq!(seen.at_dealer, [["pong"]], "over {transport:?}");
    }
}

#[test]
fn pair_talks_both_ways() {
    for transport in TRANSPORTS {
        let context = zmq::Context::new();
        let left = context.socket(zmq::PAIR).unwrap();
        let endpoint = bind(&left, transport);
        let right = context.socket(zmq::PAIR).unwrap();
        right.connect(&endpoint).unwrap();

        let left = ZmqSource::new(left).unwrap();
        left.sender().try_send("serve").unwrap();

        let mut event_loop: EventLoop<Vec<String>> = EventLoop::try_new().unwrap();
        let handle = event_loop.handle();
        handle
            .insert_source(left, |event, _, rallies: &mut Vec<String>| {
                if let Event::Message(message) = event {
                    rallies.push(format!("left got {}", text(&message)[0]));
                }
            })
            .unwrap();
        handle
            .insert_source(ZmqSource::new(right).unwrap(), |event, socket, rallies| {
                if let Event::Message(message) = event {
                    rallies.push(format!("right got {}", text(&message)[0]));
                    socket.send("return").unwrap();
                }
            })
            .unwrap();

        let mut rallies = Vec::new();
        run_until(&mut event_loop, &mut rallies, DEADLINE, |r| r.len() >= 2);
        assert_eq!(
            rallies,
            ["right got serve", "left got return"],
            "over {transport:?}"
        );
    }
}
