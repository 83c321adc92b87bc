//! What real programs need beyond receiving and sending: pausing receipt
//! while sends go on, hearing that the queue has room, taking back what is
//! queued, typed monitor events, borrowed sends, and settings that do what
//! their documentation says.

mod common;

use std::thread;
use std::time::Duration;

use calloop::{Dispatcher, EventLoop};
use common::{Transport, bind, run_until};
use zsource::{
    Event, MonitorEvent, MonitorEventKind, Multipart, SendError, SocketHandle, ZmqSource,
};

const DEADLINE: Duration = Duration::from_secs(20);

fn text(message: &Multipart) -> String {
    String::from_utf8_lossy(message.last()).into_owned()
}

#[derive(Debug, Default)]
struct Seen {
    messages: Vec<String>,
    rooms: usize,
}

/// A paused source sends what it has queued and receives nothing; resumed,
/// it receives what came meanwhile, in order.
#[test]
fn paused_source_sends_but_does_not_receive() {
    let context = zmq::Context::new();
    let peer = context.socket(zmq::PAIR).unwrap();
    let endpoint = bind(&peer, Transport::Tcp);
    let ours = context.socket(zmq::PAIR).unwrap();
    ours.connect(&endpoint).unwrap();
    let ours = ZmqSource::new(ours).unwrap();
    let control = ours.sender();
    control.pause_receiving();

    let mut event_loop: EventLoop<Seen> = EventLoop::try_new().unwrap();
    event_loop
        .handle()
        .insert_source(ours, |event, _, seen: &mut Seen| {
            if let Event::Message(message) = event {
                seen.messages.push(text(&message));
            }
        })
        .unwrap();
    let mut seen = Seen::default();
    for number in 0..3 {
        peer.send(&format!("to us {number}"), 0).unwrap();
        control.try_send(format!("to the peer {number}")).unwrap();
    }
    // The sends go on: the peer gets all three.
    peer.set_rcvtimeo(100).unwrap();
    let mut got = Vec::new();
    while got.len() < 3 {
        event_loop
            .dispatch(Duration::from_millis(10), &mut seen)
            .unwrap();
        if let Ok(Ok(message)) = peer.recv_string(0) {
            got.push(message);
        }
    }
    assert_eq!(got, ["to the peer 0", "to the peer 1", "to the peer 2"]);
    assert!(seen.messages.is_empty(), "received while paused: {seen:?}");

    // Resumed from another thread: what waited comes, in order.
    thread::spawn(move || control.resume_receiving())
        .join()
        .unwrap();
    run_until(&mut event_loop, &mut seen, DEADLINE, |s| {
        s.messages.len() == 3
    });
    assert_eq!(seen.messages, ["to us 0", "to us 1", "to us 2"]);
}

/// Pausing from the callback takes effect from the next message: a broker
/// reads one request per free worker.
#[test]
fn pausing_from_the_callback_stops_at_the_next_message() {
    let context = zmq::Context::new();
    let pull = context.socket(zmq::PULL).unwrap();
    let endpoint = bind(&pull, Transport::Inproc);
    let push = context.socket(zmq::PUSH).unwrap();
    push.connect(&endpoint).unwrap();
    for number in 0..5 {
        push.send(&number.to_string(), 0).unwrap();
    }
    let pull = Dispatcher::new(
        ZmqSource::new(pull).unwrap(),
        |event, socket: &mut SocketHandle, seen: &mut Seen| {
            if let Event::Message(message) = event {
                seen.messages.push(text(&message));
                // One at a time: wait for a "worker" before the next.
                socket.pause_receiving();
            }
        },
    );
    let mut event_loop: EventLoop<Seen> = EventLoop::try_new().unwrap();
    event_loop
        .handle()
        .register_dispatcher(pull.clone())
        .unwrap();
    let mut seen = Seen::default();
    for expected in 1..=5 {
        run_until(&mut event_loop, &mut seen, DEADLINE, |s| {
            s.messages.len() == expected
        });
        for _ in 0..3 {
            event_loop.dispatch(Duration::ZERO, &mut seen).unwrap();
        }
        assert_eq!(seen.messages.len(), expected, "read past a pause");
        pull.as_source_ref().resume_receiving();
    }
    assert_eq!(seen.messages, ["0", "1", "2", "3", "4"]);
}

/// A producer on the loop's thread that met a full queue hears when it has
/// room again: once, however many messages were refused.
#[test]
fn a_full_queue_says_when_it_has_room() {
    let context = zmq::Context::new();
    let push = context.socket(zmq::PUSH).unwrap();
    let endpoint = bind(&push, Transport::Tcp);
    let push = ZmqSource::builder().capacity(4).build(push).unwrap();
    let queue = push.sender();
    for number in 0..4 {
        queue.try_send(number.to_string()).unwrap();
    }
    for _ in 0..3 {
        assert!(matches!(queue.try_send("refused"), Err(SendError::Full(_))));
    }
    let mut event_loop: EventLoop<Seen> = EventLoop::try_new().unwrap();
    event_loop
        .handle()
        .insert_source(push, |event, _, seen: &mut Seen| {
            if let Event::Room = event {
                seen.rooms += 1;
            }
        })
        .unwrap();
    let mut seen = Seen::default();
    for _ in 0..3 {
        event_loop.dispatch(Duration::ZERO, &mut seen).unwrap();
    }
    assert_eq!(seen.rooms, 0, "room without a peer to send to");

    let pull = context.socket(zmq::PULL).unwrap();
    pull.connect(&endpoint).unwrap();
    run_until(&mut event_loop, &mut seen, DEADLINE, |s| s.rooms > 0);
    assert!(queue.queued() <= 2, "room announced at {}", queue.queued());
    for _ in 0..10 {
        event_loop
            .dispatch(Duration::from_millis(1), &mut seen)
            .unwrap();
    }
    assert_eq!(seen.rooms, 1);
    pull.set_rcvtimeo(10_000).unwrap();
    for number in 0..4 {
        assert_eq!(pull.recv_string(0).unwrap().unwrap(), number.to_string());
    }
}

/// What is queued can be taken back: a Lazy Pirate client keeps the request
/// its dead server never took.
#[test]
fn queued_messages_can_be_taken_back() {
    let context = zmq::Context::new();
    let request = context.socket(zmq::REQ).unwrap();
    // Nobody listens here, so nothing leaves the queue.
    request
        .connect(&format!(
            "ipc://{}",
            std::env::temp_dir()
                .join(format!("zsource-nobody-{}.ipc", std::process::id()))
                .display()
        ))
        .unwrap();
    let request = ZmqSource::new(request).unwrap();
    request.send("first").unwrap();
    // Out of turn: a direct send would be refused (EFSM); queued, they wait.
    request.sender().try_send("second").unwrap();
    request.sender().try_send("third").unwrap();
    let mut event_loop: EventLoop<()> = EventLoop::try_new().unwrap();
    let request = Dispatcher::new(request, |_, _, _: &mut ()| {});
    event_loop
        .handle()
        .register_dispatcher(request.clone())
        .unwrap();
    event_loop.dispatch(Duration::ZERO, &mut ()).unwrap();
    // "first" went into libzmq's pipe; the REQ socket must wait for its
    // reply before the others.
    let taken = request.as_source_ref().take_queued();
    assert_eq!(taken, [Multipart::from("second"), Multipart::from("third")]);
    assert_eq!(request.as_source_ref().queued(), 0);
}

/// A ROUTER's messages for a full peer come back too, in order.
#[test]
fn messages_for_a_full_peer_can_be_taken_back() {
    let context = zmq::Context::new();
    let router = context.socket(zmq::ROUTER).unwrap();
    router.set_router_mandatory(true).unwrap();
    router.set_sndhwm(1).unwrap();
    router.bind("inproc://taken-back").unwrap();
    let dealer = context.socket(zmq::DEALER).unwrap();
    dealer.set_identity(b"full").unwrap();
    dealer.set_rcvhwm(1).unwrap();
    dealer.connect("inproc://taken-back").unwrap();
    dealer.send("hello", 0).unwrap();
    let router = Dispatcher::new(
        ZmqSource::new(router).unwrap(),
        |event, _: &mut SocketHandle, greeted: &mut bool| {
            if let Event::Message(_) = event {
                *greeted = true;
            }
        },
    );
    let mut event_loop: EventLoop<bool> = EventLoop::try_new().unwrap();
    event_loop
        .handle()
        .register_dispatcher(router.clone())
        .unwrap();
    let mut greeted = false;
    run_until(&mut event_loop, &mut greeted, DEADLINE, |g| *g);
    for number in 0..10 {
        router
            .as_source_ref()
            .send(Multipart::from(
                ["full".to_string(), number.to_string()].map(String::into_bytes),
            ))
            .unwrap();
    }
    for _ in 0..5 {
        event_loop
            .dispatch(Duration::from_millis(1), &mut greeted)
            .unwrap();
    }
    let taken: Vec<String> = router
        .as_source_ref()
        .take_queued()
        .iter()
        .map(text)
        .collect();
    // The pipe took the first two; the rest wait, in order.
    assert!(!taken.is_empty());
    let first: usize = taken[0].parse().unwrap();
    let expected: Vec<String> = (first..10).map(|n| n.to_string()).collect();
    assert_eq!(taken, expected);
    assert_eq!(router.as_source_ref().queued(), 0);
}

/// The monitor reports a peer's handshake and its going, with the
/// endpoint, as typed events.
#[test]
fn monitor_reports_peers_coming_and_going() {
    let context = zmq::Context::new();
    let push = ZmqSource::new(context.socket(zmq::PUSH).unwrap()).unwrap();
    let monitor = push.monitor(&context).unwrap();
    push.socket().bind("tcp://127.0.0.1:*").unwrap();
    let endpoint = push.socket().get_last_endpoint().unwrap().unwrap();

    let mut event_loop: EventLoop<Vec<MonitorEvent>> = EventLoop::try_new().unwrap();
    let handle = event_loop.handle();
    handle
        .insert_source(monitor, |event, _, events: &mut Vec<MonitorEvent>| {
            events.push(event)
        })
        .unwrap();
    handle.insert_source(push, |_, _, _| {}).unwrap();
    let has = |events: &Vec<MonitorEvent>, kind| events.iter().any(|e| e.kind == kind);
    let mut events = Vec::new();
    run_until(&mut event_loop, &mut events, DEADLINE, |e| {
        has(e, MonitorEventKind::Listening)
    });
    assert!(
        events
            .iter()
            .any(|e| e.kind == MonitorEventKind::Listening && e.endpoint == endpoint),
        "{events:?}"
    );

    let pull = context.socket(zmq::PULL).unwrap();
    pull.connect(&endpoint).unwrap();
    run_until(&mut event_loop, &mut events, DEADLINE, |e| {
        has(e, MonitorEventKind::HandshakeSucceeded)
    });
    drop(pull);
    run_until(&mut event_loop, &mut events, DEADLINE, |e| {
        has(e, MonitorEventKind::Disconnected)
    });
    let kinds: Vec<MonitorEventKind> = events.iter().map(|e| e.kind).collect();
    let position = |kind| kinds.iter().position(|&k| k == kind).unwrap();
    assert!(position(MonitorEventKind::Accepted) < position(MonitorEventKind::HandshakeSucceeded));
    assert!(
        position(MonitorEventKind::HandshakeSucceeded) < position(MonitorEventKind::Disconnected)
    );
}

/// A borrowed send copies its frames only when the message must wait.
#[test]
fn borrowed_sends_queue_when_they_must() {
    let context = zmq::Context::new();
    let push = context.socket(zmq::PUSH).unwrap();
    let endpoint = bind(&push, Transport::Tcp);
    let push = ZmqSource::new(push).unwrap();
    let mut buffer = String::new();
    for number in 0..3 {
        buffer.clear();
        buffer.push_str(&format!("update {number}"));
        push.send_borrowed([b"weather", buffer.as_bytes()]).unwrap();
    }
    // No peer yet: they wait, copied.
    assert_eq!(push.queued(), 3);
    let pull = context.socket(zmq::PULL).unwrap();
    pull.connect(&endpoint).unwrap();
    let mut event_loop: EventLoop<()> = EventLoop::try_new().unwrap();
    event_loop
        .handle()
        .insert_source(push, |_, _, _| {})
        .unwrap();
    pull.set_rcvtimeo(100).unwrap();
    let mut got = Vec::new();
    while got.len() < 3 {
        event_loop
            .dispatch(Duration::from_millis(10), &mut ())
            .unwrap();
        if let Ok(frames) = pull.recv_multipart(0) {
            got.push(frames);
        }
    }
    for (number, frames) in got.into_iter().enumerate() {
        assert_eq!(
            frames,
            [b"weather".to_vec(), format!("update {number}").into_bytes()]
        );
    }
}

/// Linger: a setting, kept when the socket has one, and never libzmq's
/// "for ever" by default.
#[test]
fn linger_is_kept_replaced_or_bounded() {
    let context = zmq::Context::new();
    let fresh = ZmqSource::new(context.socket(zmq::PUSH).unwrap()).unwrap();
    assert_eq!(
        fresh.socket().get_linger(),
        Ok(0),
        "libzmq's default is for ever"
    );

    let socket = context.socket(zmq::PUSH).unwrap();
    socket.set_linger(1234).unwrap();
    let kept = ZmqSource::new(socket).unwrap();
    assert_eq!(kept.socket().get_linger(), Ok(1234));

    let socket = context.socket(zmq::PUSH).unwrap();
    socket.set_linger(1234).unwrap();
    let replaced = ZmqSource::builder()
        .linger(Duration::from_millis(50))
        .build(socket)
        .unwrap();
    assert_eq!(replaced.socket().get_linger(), Ok(50));
}

/// On the loop's own thread a blocking send would wait for the loop it
/// blocks: there, a full queue answers at once.
#[test]
fn blocking_send_on_the_loop_thread_does_not_wait() {
    let context = zmq::Context::new();
    let push = context.socket(zmq::PUSH).unwrap();
    bind(&push, Transport::Inproc);
    let push = ZmqSource::builder().capacity(1).build(push).unwrap();
    let sender = push.sender();
    sender.send("fills the queue").unwrap();
    assert_eq!(
        sender.send("would wait for ever"),
        Err(SendError::Full(Multipart::from("would wait for ever")))
    );
}

/// What the documentation says of REQ sockets: a strict one sends each
/// queued request when the reply to the one before has come; with
/// ZMQ_REQ_RELAXED (and ZMQ_REQ_CORRELATE) libzmq 4.3.4 lets them all leave
/// at once.
#[test]
fn queued_requests_wait_for_replies_unless_relaxed() {
    for relaxed in [false, true] {
        let context = zmq::Context::new();
        let server = context.socket(zmq::ROUTER).unwrap();
        let endpoint = bind(&server, Transport::Tcp);
        let client = context.socket(zmq::REQ).unwrap();
        client.set_req_relaxed(relaxed).unwrap();
        client.set_req_correlate(relaxed).unwrap();
        client.connect(&endpoint).unwrap();
        let client = ZmqSource::new(client).unwrap();
        for number in 0..3 {
            client.sender().try_send(number.to_string()).unwrap();
        }
        let mut event_loop: EventLoop<()> = EventLoop::try_new().unwrap();
        event_loop
            .handle()
            .insert_source(client, |_, _, _| {})
            .unwrap();
        // The server does not answer: count what reaches it.
        server.set_rcvtimeo(0).unwrap();
        let mut arrived = 0;
        let expected = if relaxed { 3 } else { 1 };
        let deadline = std::time::Instant::now() + DEADLINE;
        while arrived < expected && std::time::Instant::now() < deadline {
            event_loop
                .dispatch(Duration::from_millis(10), &mut ())
                .unwrap();
            while server.recv_multipart(0).is_ok() {
                arrived += 1;
            }
        }
        for _ in 0..20 {
            event_loop
                .dispatch(Duration::from_millis(5), &mut ())
                .unwrap();
            while server.recv_multipart(0).is_ok() {
                arrived += 1;
            }
        }
        assert_eq!(arrived, expected, "relaxed: {relaxed}");
    }
}
