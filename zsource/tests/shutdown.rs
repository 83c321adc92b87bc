//! Shutdown: dropping a source never hangs, a flush delivers with a deadline,
//! and senders learn that the source is gone.
//!
//! This test has its own `main` (`harness = false`) because one case must
//! watch a whole process exit: it runs itself again as that process, with
//! the argument `--child-with-undeliverable-messages`.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use calloop::EventLoop;
use common::{Transport, bind};
use zsource::{Error, SendError, ZmqSource};

const CHILD: &str = "--child-with-undeliverable-messages";

fn main() {
    if std::env::args().any(|argument| argument == CHILD) {
        child_with_undeliverable_messages();
        return;
    }
    let tests: [(&str, fn()); 6] = [
        (
            "process_with_undeliverable_messages_exits_within_a_second",
            process_with_undeliverable_messages_exits_within_a_second,
        ),
        (
            "flush_delivers_when_a_peer_is_there",
            flush_delivers_when_a_peer_is_there,
        ),
        (
            "flush_without_a_peer_times_out",
            flush_without_a_peer_times_out,
        ),
        ("senders_see_the_source_go", senders_see_the_source_go),
        (
            "flush_with_nothing_queued_returns_at_once",
            flush_with_nothing_queued_returns_at_once,
        ),
        (
            "a_flushed_source_used_on_closes_without_lingering",
            a_flushed_source_used_on_closes_without_lingering,
        ),
    ];
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|argument| !argument.starts_with('-'))
        .collect();
    for (name, test) in tests {
        if filter.is_empty() || filter.iter().any(|wanted| name.contains(wanted.as_str())) {
            test();
            println!("test {name} ... ok");
        }
    }
}

/// The child: a PUSH socket connected to an endpoint where nobody listens,
/// messages in libzmq's pipe and more in the source's queue, then the end of
/// `main`. With an unbounded linger, the context's termination would wait
/// forever for a peer.
fn child_with_undeliverable_messages() {
    let context = zmq::Context::new();
    let push = context.socket(zmq::PUSH).unwrap();
    let nowhere = std::env::temp_dir().join(format!("zsource-nobody-{}.ipc", std::process::id()));
    push.connect(&format!("ipc://{}", nowhere.display()))
        .unwrap();
    let push = ZmqSource::builder().capacity(5_000).build(push).unwrap();
    let sender = push.sender();
    for number in 0..5_000 {
        sender.try_send(number.to_string()).unwrap();
    }
    let mut event_loop: EventLoop<()> = EventLoop::try_new().unwrap();
    event_loop
        .handle()
        .insert_source(push, |_, _, _| {})
        .unwrap();
    // Until libzmq's pipe is full (1000 messages), the loop moves messages
    // into it; the rest stay queued.
    while sender.queued() > 4_000 {
        event_loop
            .dispatch(Duration::from_millis(10), &mut ())
            .unwrap();
    }
    println!("ready with {} queued", sender.queued());
}

fn process_with_undeliverable_messages_exits_within_a_second() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .arg(CHILD)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines, line) = mpsc::channel();
    thread::spawn(move || {
        for text in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(text);
        }
    });
    let ready = line.recv_timeout(Duration::from_secs(30));
    let exit_deadline = Instant::now() + Duration::from_secs(1);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > exit_deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            break None;
        }
        thread::yield_now();
    };
    let ready = ready.expect("the child reports it is ready");
    let queued: usize = ready
        .strip_prefix("ready with ")
        .and_then(|rest| rest.strip_suffix(" queued"))
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("unexpected line {ready:?}"));
    assert!(queued > 0, "nothing was left undelivered");
    let status = status.expect("the child exited within 1 s of getting ready");
    assert!(status.success(), "{status}");
}

fn flush_delivers_when_a_peer_is_there() {
    let context = zmq::Context::new();
    let push = context.socket(zmq::PUSH).unwrap();
    let endpoint = bind(&push, Transport::Tcp);
    let push = ZmqSource::builder().capacity(1_000).build(push).unwrap();
    let sender = push.sender();
    for number in 0..1_000 {
        sender.try_send(number.to_string()).unwrap();
    }

    // The peer connects meanwhile; flush waits for it.
    let pull = context.socket(zmq::PULL).unwrap();
    pull.connect(&endpoint).unwrap();
    push.flush(Duration::from_secs(10)).expect("flushed");
    assert_eq!(push.queued(), 0);
    // Dropping the socket now is safe: flush set ZMQ_LINGER to what was left
    // of its deadline, so libzmq finishes delivering.
    drop(push);

    pull.set_rcvtimeo(10_000).unwrap();
    for number in 0..1_000 {
        let got = pull.recv_string(0).expect("delivered").unwrap();
        assert_eq!(got, number.to_string());
    }
}

fn flush_without_a_peer_times_out() {
    let context = zmq::Context::new();
    let push = context.socket(zmq::PUSH).unwrap();
    bind(&push, Transport::Tcp);
    let push = ZmqSource::new(push).unwrap();
    for number in 0..3 {
        push.send(number.to_string()).unwrap();
    }
    let started = Instant::now();
    match push.flush(Duration::from_millis(100)) {
        Err(Error::FlushTimeout { unsent: 3 }) => {}
        other => panic!("expected a timeout with 3 unsent, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(5), "flush overran");
}

fn senders_see_the_source_go() {
    let context = zmq::Context::new();
    let push = context.socket(zmq::PUSH).unwrap();
    bind(&push, Transport::Inproc);
    let push = ZmqSource::builder().capacity(1).build(push).unwrap();
    let sender = push.sender();
    sender.try_send("fills the queue").unwrap();

    let blocked = sender.clone();
    let (outcome, waited) = mpsc::channel();
    thread::spawn(move || outcome.send(blocked.send("waits for room")));
    drop(push);
    let outcome = waited
        .recv_timeout(Duration::from_secs(10))
        .expect("the blocked sender woke up");
    assert!(matches!(outcome, Err(SendError::Closed(_))), "{outcome:?}");
    assert!(sender.is_closed());
    assert!(matches!(sender.try_send("late"), Err(SendError::Closed(_))));
}

/// Nothing queued, nothing to wait for: not even on sockets that cannot
/// send now (a PUSH without a peer, a SUB, a REQ waiting for its reply).
fn flush_with_nothing_queued_returns_at_once() {
    const TIMEOUT: Duration = Duration::from_secs(10);
    let context = zmq::Context::new();
    let lonely_push = context.socket(zmq::PUSH).unwrap();
    bind(&lonely_push, Transport::Tcp);
    let sub = context.socket(zmq::SUB).unwrap();
    bind(&sub, Transport::Tcp);
    let silent_rep = context.socket(zmq::REP).unwrap();
    let endpoint = bind(&silent_rep, Transport::Tcp);
    let waiting_req = context.socket(zmq::REQ).unwrap();
    waiting_req.connect(&endpoint).unwrap();
    waiting_req.send("Hello?", 0).unwrap();
    for (name, socket) in [
        ("PUSH without a peer", lonely_push),
        ("SUB", sub),
        ("REQ waiting for its reply", waiting_req),
    ] {
        let source = ZmqSource::new(socket).unwrap();
        let started = Instant::now();
        let outcome = source.flush(TIMEOUT);
        assert!(outcome.is_ok(), "{name}: {outcome:?}");
        assert!(
            started.elapsed() < TIMEOUT / 2,
            "{name}: waited {:?}",
            started.elapsed()
        );
    }
}

/// The linger a flush grants is for the close that follows it. A source
/// that goes on sending after its flush, and is then dropped with messages
/// its peer does not take, must not hold up the context's termination.
fn a_flushed_source_used_on_closes_without_lingering() {
    // The peer lives in a context of its own, which the test keeps.
    let peer_context = zmq::Context::new();
    let pull = peer_context.socket(zmq::PULL).unwrap();
    pull.set_rcvhwm(1).unwrap();
    pull.set_rcvbuf(4096).unwrap();
    let endpoint = bind(&pull, Transport::Tcp);
    let mut context = zmq::Context::new();
    let push = context.socket(zmq::PUSH).unwrap();
    push.set_sndbuf(4096).unwrap();
    push.connect(&endpoint).unwrap();
    let push = ZmqSource::new(push).unwrap();
    push.send("delivered").unwrap();
    push.flush(Duration::from_secs(60)).expect("flushed");
    pull.set_rcvtimeo(10_000).unwrap();
    assert_eq!(pull.recv_bytes(0).unwrap(), b"delivered");
    // The peer stops reading and the source is used on: far more than the
    // peer and the (small) kernel buffers hold, so that most stays in
    // libzmq's pipe.
    for _ in 0..64 {
        let _ = push.send(vec![0; 1 << 20]);
    }
    drop(push);
    let (terminated, done) = mpsc::channel();
    thread::spawn(move || terminated.send(context.destroy()));
    let outcome = done
        .recv_timeout(Duration::from_secs(10))
        .expect("the context terminates at once, not after the flush's linger");
    assert!(outcome.is_ok(), "{outcome:?}");
    drop(pull);
}
