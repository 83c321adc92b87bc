//! Errors: refused messages come back with their error, the loop goes on, and
//! only a source that cannot go on fails the dispatch.

mod common;

use std::thread;
use std::time::Duration;

use calloop::EventLoop;
use common::{Transport, bind, run_until};
use zsource::{Event, Multipart, SendError, ZmqSource};

const DEADLINE: Duration = Duration::from_secs(20);

#[derive(Debug, Default)]
struct Client {
    replies: Vec<String>,
    refused: Vec<(zmq::Error, Multipart)>,
}

#[test]
fn out_of_order_req_send_comes_back_and_the_loop_goes_on() {
    let context = zmq::Context::new();
    let server = context.socket(zmq::REP).unwrap();
    let endpoint = bind(&server, Transport::Tcp);
    let client = context.socket(zmq::REQ).unwrap();
    client.connect(&endpoint).unwrap();
    let client = ZmqSource::new(client).unwrap();

    client.send("one").unwrap();
    // A REQ socket must wait for the reply before it sends again.
    assert_eq!(
        client.send("two"),
        Err(SendError::Refused {
            error: zmq::Error::EFSM,
            message: Multipart::from("two"),
        })
    );

    let mut event_loop: EventLoop<Client> = EventLoop::try_new().unwrap();
    let handle = event_loop.handle();
    handle
        .insert_source(ZmqSource::new(server).unwrap(), |event, socket, _| {
            if let Event::Message(request) = event {
                socket.send(request).unwrap();
            }
        })
        .unwrap();
    handle
        .insert_source(client, |event, socket, client: &mut Client| {
            let Event::Message(reply) = event else {
                panic!("unexpected {event:?}")
            };
            client
                .replies
                .push(String::from_utf8(reply.first().to_vec()).unwrap());
            if client.replies.len() == 1 {
                // From the callback: the first send goes, the second is out
                // of turn and comes straight back.
                socket.send("three").unwrap();
                match socket.send("four") {
                    Err(SendError::Refused { error, message }) => {
                        client.refused.push((error, message));
                    }
                    other => panic!("expected EFSM, got {other:?}"),
                }
            }
        })
        .unwrap();

    let mut client = Client::default();
    run_until(&mut event_loop, &mut client, DEADLINE, |c| {
        c.replies.len() == 2
    });
    assert_eq!(client.replies, ["one", "three"]);
    assert_eq!(
        client.refused,
        [(zmq::Error::EFSM, Multipart::from("four"))]
    );
}

#[test]
fn unroutable_queued_message_comes_back_as_an_event() {
    let context = zmq::Context::new();
    let router = context.socket(zmq::ROUTER).unwrap();
    router.set_router_mandatory(true).unwrap();
    let endpoint = bind(&router, Transport::Tcp);
    let router = ZmqSource::new(router).unwrap();
    // A mandatory ROUTER reports POLLOUT only once it has a peer, so this
    // waits in the queue until the dealer below connects, and then fails.
    let unroutable = Multipart::new("nobody").with("hello?");
    router.sender().try_send(unroutable).unwrap();

    let dealer = context.socket(zmq::DEALER).unwrap();
    dealer.set_identity(b"somebody").unwrap();
    dealer.connect(&endpoint).unwrap();
    let dealer = ZmqSource::new(dealer).unwrap();
    dealer.send("echo?").unwrap();

    #[derive(Debug, Default)]
    struct Seen {
        failed: Vec<(zmq::Error, Multipart)>,
        echoed: Vec<Multipart>,
    }
    let mut event_loop: EventLoop<Seen> = EventLoop::try_new().unwrap();
    let handle = event_loop.handle();
    handle
        .insert_source(router, |event, socket, seen: &mut Seen| match event {
            Event::SendFailed { error, message } => seen.failed.push((error, message)),
            Event::Message(message) => socket.send(message).unwrap(),
            _ => {}
        })
        .unwrap();
    handle
        .insert_source(dealer, |event, _, seen: &mut Seen| {
            if let Event::Message(message) = event {
                seen.echoed.push(message);
            }
        })
        .unwrap();
    let mut seen = Seen::default();
    run_until(&mut event_loop, &mut seen, DEADLINE, |s| {
        !s.failed.is_empty() && !s.echoed.is_empty()
    });
    assert_eq!(
        seen.failed,
        [(
            zmq::Error::EHOSTUNREACH,
            Multipart::new("nobody").with("hello?")
        )]
    );
    // The source went on routing for the peer that exists.
    assert_eq!(seen.echoed, [Multipart::from("echo?")]);
}

/// A terminated context is the one failure a source cannot go on from: its
/// callback hears of it, typed, and the source leaves the loop (closing its
/// socket, so that the termination can finish); the dispatch itself does not
/// fail.
#[test]
fn terminated_context_is_reported_to_the_callback_and_the_source_leaves() {
    let context = zmq::Context::new();
    let pull = context.socket(zmq::PULL).unwrap();
    bind(&pull, Transport::Inproc);
    let mut event_loop: EventLoop<Vec<zsource::Error>> = EventLoop::try_new().unwrap();
    event_loop
        .handle()
        .insert_source(ZmqSource::new(pull).unwrap(), |event, _, failures| {
            if let Event::Failed(error) = event {
                failures.push(error);
            }
        })
        .unwrap();
    let mut failures = Vec::new();
    event_loop.dispatch(Duration::ZERO, &mut failures).unwrap();

    // zmq_ctx_term tells every socket to stop, then waits for them to close.
    let mut terminating = context.clone();
    drop(context);
    let terminator = thread::spawn(move || terminating.destroy());
    run_until(&mut event_loop, &mut failures, DEADLINE, |f| !f.is_empty());
    assert!(
        matches!(
            failures[..],
            [zsource::Error::Zmq {
                source: zmq::Error::ETERM,
                ..
            }]
        ),
        "{failures:?}"
    );
    assert!(std::error::Error::source(&failures[0]).is_some());
    // The source left the loop and closed its socket: the termination ends.
    terminator.join().unwrap().unwrap();
}

/// A mandatory ROUTER without any peer at all cannot route a queued message:
/// it comes back, rather than wait for ever for a POLLOUT that never comes.
#[test]
fn queued_message_for_a_router_without_peers_comes_back() {
    let context = zmq::Context::new();
    let router = context.socket(zmq::ROUTER).unwrap();
    router.set_router_mandatory(true).unwrap();
    bind(&router, Transport::Tcp);
    let router = ZmqSource::new(router).unwrap();
    router
        .sender()
        .try_send(Multipart::new("nobody").with("hello?"))
        .unwrap();
    let mut event_loop: EventLoop<Vec<(zmq::Error, Multipart)>> = EventLoop::try_new().unwrap();
    event_loop
        .handle()
        .insert_source(router, |event, _, failed| {
            if let Event::SendFailed { error, message } = event {
                failed.push((error, message));
            }
        })
        .unwrap();
    let mut failed = Vec::new();
    run_until(&mut event_loop, &mut failed, DEADLINE, |f| !f.is_empty());
    assert_eq!(
        failed,
        [(
            zmq::Error::EHOSTUNREACH,
            Multipart::new("nobody").with("hello?")
        )]
    );
}

/// SUB and PULL sockets never send: queueing for them is refused at once,
/// with the message.
#[test]
fn queueing_on_a_socket_that_cannot_send_is_refused() {
    let context = zmq::Context::new();
    for socket_type in [zmq::SUB, zmq::PULL] {
        let socket = context.socket(socket_type).unwrap();
        bind(&socket, Transport::Inproc);
        let source = ZmqSource::new(socket).unwrap();
        let refused = Err(SendError::Refused {
            error: zmq::Error::ENOTSUP,
            message: Multipart::from("never"),
        });
        assert_eq!(
            source.sender().try_send("never"),
            refused,
            "{socket_type:?}"
        );
        assert_eq!(source.sender().send("never"), refused, "{socket_type:?}");
        assert_eq!(source.send("never"), refused, "{socket_type:?}");
        assert_eq!(source.queued(), 0);
    }
}

/// A peer that vanishes while a long message is being sent to it: libzmq
/// drops what went of it, and the source sends it again, whole, to the peer
/// that is left. The peer goes from another thread once the sending has
/// begun; libzmq notices at its next look at its commands (about once a
/// millisecond, and the message takes far longer to send), in the middle.
#[test]
fn a_message_whose_peer_vanishes_midway_arrives_whole_at_another() {
    const FRAMES: usize = 200_000;
    let long = Multipart::from_frames((0..FRAMES).map(|n| n.to_string())).unwrap();
    for round in 0..3 {
        let context = zmq::Context::new();
        let push = context.socket(zmq::PUSH).unwrap();
        let endpoint = bind(&push, Transport::Inproc);
        let connect = || {
            let pull = context.socket(zmq::PULL).unwrap();
            pull.set_rcvhwm(0).unwrap();
            pull.connect(&endpoint).unwrap();
            pull.set_rcvtimeo(10_000).unwrap();
            pull
        };
        let (vanishing, staying) = (connect(), connect());
        push.set_sndhwm(0).unwrap();
        let push = ZmqSource::new(push).unwrap();
        // The next message goes to the first peer.
        push.send("warm-up").unwrap();
        push.send("warm-up").unwrap();
        vanishing.recv_bytes(0).unwrap();
        staying.recv_bytes(0).unwrap();

        // The other thread drops the peer as the sending starts. It spins,
        // rather than sleep on a channel, so that it goes at once even on a
        // busy machine.
        let go = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let going = {
            let go = std::sync::Arc::clone(&go);
            thread::spawn(move || {
                while !go.load(std::sync::atomic::Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
                drop(vanishing);
            })
        };
        let sender = push.sender();
        sender.try_send(long.clone()).unwrap();
        let mut event_loop: EventLoop<()> = EventLoop::try_new().unwrap();
        let handle = event_loop.handle();
        handle.insert_source(push, |_, _, _| {}).unwrap();
        go.store(true, std::sync::atomic::Ordering::Relaxed);
        let deadline = std::time::Instant::now() + DEADLINE;
        while sender.queued() > 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "round {round}: never sent"
            );
            event_loop
                .dispatch(Duration::from_millis(10), &mut ())
                .unwrap();
        }
        going.join().unwrap();
        let got = staying.recv_multipart(0).expect("the message came");
        assert_eq!(got.len(), FRAMES, "round {round}: split");
        assert!(
            got.iter()
                .enumerate()
                .all(|(n, frame)| frame == n.to_string().as_bytes()),
            "round {round}: frames out of order"
        );
        staying.set_rcvtimeo(50).unwrap();
        assert!(staying.recv_bytes(0).is_err(), "round {round}: more came");
    }
}
