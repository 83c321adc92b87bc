//! Errors: refused messages come back with their error, the loop goes on, and
//! only a source that cannot go on fails the dispatch.

mod common;

use std::thread;
use std::time::{Duration, Instant};

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

#[test]
fn terminated_context_fails_the_dispatch_with_a_typed_error() {
    let context = zmq::Context::new();
    let pull = context.socket(zmq::PULL).unwrap();
    bind(&pull, Transport::Inproc);
    let mut event_loop: EventLoop<()> = EventLoop::try_new().unwrap();
    let token = event_loop
        .handle()
        .insert_source(ZmqSource::new(pull).unwrap(), |_, _, _| {})
        .unwrap();
    event_loop.dispatch(Duration::ZERO, &mut ()).unwrap();

    // zmq_ctx_term tells every socket to stop, then waits for them to close.
    let mut terminating = context.clone();
    let terminator = thread::spawn(move || terminating.destroy());

    let deadline = Instant::now() + DEADLINE;
    let error = loop {
        assert!(Instant::now() < deadline, "the dispatch never failed");
        if let Err(error) = event_loop.dispatch(Duration::from_millis(100), &mut ()) {
            break error;
        }
    };
    let source = std::error::Error::source(&error).expect("the source's error");
    let error = source
        .downcast_ref::<zsource::Error>()
        .expect("a zsource::Error");
    assert!(
        matches!(
            error,
            zsource::Error::Zmq {
                source: zmq::Error::ETERM,
                ..
            }
        ),
        "{error:?}"
    );
    // Closing the socket lets the termination finish.
    event_loop.handle().remove(token);
    terminator.join().unwrap().unwrap();
}
