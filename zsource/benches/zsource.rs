//! What `zsource` costs, measured side by side with plain blocking code.
//!
//! Run it with `cargo bench -p zsource` (a release build). It measures, in
//! alternating rounds so that both sides see the same machine:
//!
//! - throughput: 16-byte messages from a blocking PUSH sender over TCP
//!   loopback, received by a plain blocking `recv` loop, and by a `ZmqSource`
//!   in a calloop loop;
//! - latency: REQ/REP round trips from a blocking client, answered by a
//!   blocking REP server, and by a REP server on a `ZmqSource`;
//! - the send path: 16-byte messages to a blocking PULL receiver over TCP
//!   loopback, from a blocking PUSH loop, and through a `ZmqSource` on a
//!   PUSH socket: from a producer thread on `Sender::send`, from one on
//!   `Sender::try_send`, and from the loop's own thread with
//!   `ZmqSource::send_borrowed` (the way a publisher sends).
//!
//! It prints the median of each side and the ratio zsource / blocking.
//! Options: `--messages N` (default 1,000,000), `--round-trips N` (default
//! 20,000), `--rounds N` (default 9), `--budget N` (the source's budget, default
//! `zsource::DEFAULT_BUDGET`), and `--only SIDE` to run one side of the send
//! path once, for `valgrind --tool=callgrind` to count what it costs:
//! `blocking`, `send`, `try-send` or `borrowed`, or of the receiving side:
//! `blocking-receive` or `receive`.

use std::thread;
use std::time::Instant;

use calloop::EventLoop;
use zsource::{Event, ZmqSource};

const PAYLOAD: [u8; 16] = *b"0123456789abcdef";

struct Options {
    /// Run only one side of the send path, once (for counting its
    /// instructions with `valgrind --tool=callgrind`): `blocking`, `send`,
    /// `try-send` or `borrowed`.
    only: Option<String>,
    budget: usize,
    messages: usize,
    round_trips: usize,
    rounds: usize,
}

fn options() -> Options {
    let mut options = Options {
        only: None,
        budget: zsource::DEFAULT_BUDGET,
        messages: 1_000_000,
        round_trips: 20_000,
        rounds: 9,
    };
    let mut arguments = std::env::args().skip(1);
    while let Some(flag) = arguments.next() {
        if flag == "--only" {
            options.only = arguments.next();
            continue;
        }
        let slot = match flag.as_str() {
            "--messages" => &mut options.messages,
            "--round-trips" => &mut options.round_trips,
            "--rounds" => &mut options.rounds,
            "--budget" => &mut options.budget,
            // cargo bench passes --bench; ignore what is not ours.
            _ => continue,
        };
        *slot = arguments
            .next()
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("{flag} takes a number"));
    }
    options
}

/// A PUSH socket bound on loopback and a thread that sends `count` messages
/// through it once the receiver is connected. Returns the receiver's socket.
fn pipeline(context: &zmq::Context, count: usize) -> (zmq::Socket, thread::JoinHandle<()>) {
    let push = context.socket(zmq::PUSH).unwrap();
    push.bind("tcp://127.0.0.1:*").unwrap();
    let endpoint = push.get_last_endpoint().unwrap().unwrap();
    let pull = context.socket(zmq::PULL).unwrap();
    pull.connect(&endpoint).unwrap();
    let sender = thread::spawn(move || {
        for _ in 0..count {
            push.send(&PAYLOAD[..], 0).unwrap();
        }
    });
    (pull, sender)
}

/// Seconds to receive `count` messages with a blocking `recv` loop.
fn blocking_throughput(count: usize) -> f64 {
    let context = zmq::Context::new();
    let (pull, sender) = pipeline(&context, count);
    let mut message = zmq::Message::new();
    pull.recv(&mut message, 0).unwrap();
    let started = Instant::now();
    for _ in 1..count {
        pull.recv(&mut message, 0).unwrap();
        assert_eq!(message.len(), PAYLOAD.len());
    }
    let elapsed = started.elapsed().as_secs_f64();
    sender.join().unwrap();
    elapsed
}

/// Seconds to receive `count` messages through a `ZmqSource` in a loop.
fn zsource_throughput(count: usize, budget: usize) -> f64 {
    let context = zmq::Context::new();
    let (pull, sender) = pipeline(&context, count);

    struct State {
        received: usize,
        started: Option<Instant>,
        signal: calloop::LoopSignal,
        count: usize,
    }
    let mut event_loop: EventLoop<State> = EventLoop::try_new().unwrap();
    event_loop
        .handle()
        .insert_source(
            ZmqSource::builder().budget(budget).build(pull).unwrap(),
            |event, _, state| {
                if let Event::Message(message) = event {
                    assert_eq!(message.first().len(), PAYLOAD.len());
                    state.received += 1;
                    if state.received == 1 {
                        state.started = Some(Instant::now());
                    }
                    if state.received == state.count {
                        state.signal.stop();
                    }
                }
            },
        )
        .unwrap();
    let mut state = State {
        received: 0,
        started: None,
        signal: event_loop.get_signal(),
        count,
    };
    event_loop.run(None, &mut state, |_| {}).unwrap();
    let elapsed = state.started.unwrap().elapsed().as_secs_f64();
    sender.join().unwrap();
    elapsed
}

/// A REQ client thread that makes `count` round trips to `endpoint` and
/// returns the seconds they took.
fn client(context: &zmq::Context, endpoint: &str, count: usize) -> thread::JoinHandle<f64> {
    let request = context.socket(zmq::REQ).unwrap();
    request.connect(endpoint).unwrap();
    thread::spawn(move || {
        let mut reply = zmq::Message::new();
        // One round trip to get connected before the clock starts.
        request.send(&PAYLOAD[..], 0).unwrap();
        request.recv(&mut reply, 0).unwrap();
        let started = Instant::now();
        for _ in 0..count {
            request.send(&PAYLOAD[..], 0).unwrap();
            request.recv(&mut reply, 0).unwrap();
        }
        let elapsed = started.elapsed().as_secs_f64();
        request.send("stop", 0).unwrap();
        request.recv(&mut reply, 0).unwrap();
        elapsed
    })
}

fn rep_socket(context: &zmq::Context) -> (zmq::Socket, String) {
    let reply = context.socket(zmq::REP).unwrap();
    reply.bind("tcp://127.0.0.1:*").unwrap();
    let endpoint = reply.get_last_endpoint().unwrap().unwrap();
    (reply, endpoint)
}

/// Seconds per round trip against a blocking REP server.
fn blocking_latency(count: usize) -> f64 {
    let context = zmq::Context::new();
    let (server, endpoint) = rep_socket(&context);
    let client = client(&context, &endpoint, count);
    let mut request = zmq::Message::new();
    loop {
        server.recv(&mut request, 0).unwrap();
        server.send(&PAYLOAD[..], 0).unwrap();
        if &request[..] == b"stop" {
            break;
        }
    }
    client.join().unwrap() / count as f64
}

/// Seconds per round trip against a REP server on a `ZmqSource`.
fn zsource_latency(count: usize) -> f64 {
    let context = zmq::Context::new();
    let (server, endpoint) = rep_socket(&context);
    let client = client(&context, &endpoint, count);
    let mut event_loop: EventLoop<calloop::LoopSignal> = EventLoop::try_new().unwrap();
    event_loop
        .handle()
        .insert_source(ZmqSource::new(server).unwrap(), |event, socket, signal| {
            if let Event::Message(request) = event {
                socket.send(&PAYLOAD[..]).unwrap();
                if request.first() == b"stop" {
                    signal.stop();
                }
            }
        })
        .unwrap();
    let mut signal = event_loop.get_signal();
    event_loop.run(None, &mut signal, |_| {}).unwrap();
    client.join().unwrap() / count as f64
}

/// How a send-path side produces its messages.
#[derive(Clone, Copy)]
enum Producer {
    /// A blocking PUSH loop on the producer's thread: the baseline.
    Blocking,
    /// A thread on `Sender::send`, which waits for room.
    SenderSend,
    /// A thread on `Sender::try_send`, which waits in `Sender::send` when
    /// the queue is full (a thread that spun instead would take a core from
    /// the others).
    SenderTrySend,
    /// The loop's own thread, with `ZmqSource::send_borrowed`, a batch per
    /// turn of the loop.
    Borrowed,
}

/// A PULL socket bound on loopback and a thread that receives `count`
/// messages; the thread returns when it received the last one.
fn receiver(context: &zmq::Context, count: usize) -> (String, thread::JoinHandle<Instant>) {
    let pull = context.socket(zmq::PULL).unwrap();
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let endpoint = pull.get_last_endpoint().unwrap().unwrap();
    let receiving = thread::spawn(move || {
        let mut message = zmq::Message::new();
        for _ in 0..count {
            pull.recv(&mut message, 0).unwrap();
        }
        Instant::now()
    });
    (endpoint, receiving)
}

/// Seconds from the first send to the last message received.
fn send_path(count: usize, producer: Producer) -> f64 {
    let context = zmq::Context::new();
    let (endpoint, receiving) = receiver(&context, count + 1);
    let push = context.socket(zmq::PUSH).unwrap();
    push.connect(&endpoint).unwrap();
    // One message first, so the connection is up before the clock starts.
    push.send(&PAYLOAD[..], 0).unwrap();
    if let Producer::Blocking = producer {
        let started = Instant::now();
        for _ in 0..count {
            push.send(&PAYLOAD[..], 0).unwrap();
        }
        return receiving
            .join()
            .unwrap()
            .duration_since(started)
            .as_secs_f64();
    }
    // A producer on the loop's own thread needs no queue: it sends while the
    // socket takes messages, and waits for `Event::Room` when it does not.
    let capacity = match producer {
        Producer::Borrowed => 0,
        _ => zsource::DEFAULT_CAPACITY,
    };
    let source = ZmqSource::builder().capacity(capacity).build(push).unwrap();
    let sender = source.sender();
    let mut event_loop: EventLoop<bool> = EventLoop::try_new().unwrap();
    let handle = event_loop.handle();
    let started = Instant::now();
    let producing = match producer {
        Producer::SenderSend => Some(thread::spawn(move || {
            for _ in 0..count {
                sender.send(&PAYLOAD).unwrap();
            }
        })),
        Producer::SenderTrySend => Some(thread::spawn(move || {
            for _ in 0..count {
                if let Err(zsource::SendError::Full(back)) = sender.try_send(&PAYLOAD) {
                    sender.send(back).unwrap();
                }
            }
        })),
        Producer::Blocking | Producer::Borrowed => None,
    };
    // The loop's data: whether the queue refused a message and has not yet
    // said it has room again.
    let source = calloop::Dispatcher::new(source, |event, _, full: &mut bool| {
        if let Event::Room = event {
            *full = false;
        }
    });
    handle.register_dispatcher(source.clone()).unwrap();
    let (mut sent, mut full) = (0, false);
    while !receiving.is_finished() {
        if matches!(producer, Producer::Borrowed) && !full {
            // As a publisher in a loop does: a batch per turn, so the loop
            // goes on running everything else, and a pause when the queue
            // is full, until the source says it has room.
            let source = source.as_source_ref();
            for _ in 0..2048.min(count - sent) {
                match source.send_borrowed([&PAYLOAD[..]]) {
                    Ok(()) => sent += 1,
                    Err(zsource::SendError::Full(_)) => {
                        full = true;
                        break;
                    }
                    Err(error) => panic!("{error}"),
                }
            }
        }
        let busy = matches!(producer, Producer::Borrowed) && sent < count && !full;
        let timeout = match busy {
            true => std::time::Duration::ZERO,
            false => std::time::Duration::from_millis(10),
        };
        event_loop.dispatch(timeout, &mut full).unwrap();
    }
    if let Some(producing) = producing {
        producing.join().unwrap();
    }
    receiving
        .join()
        .unwrap()
        .duration_since(started)
        .as_secs_f64()
}

/// The median of some samples, and the range they span.
struct Summary {
    median: f64,
    low: f64,
    high: f64,
}

fn summarize(mut samples: Vec<f64>, scale: f64) -> Summary {
    samples.sort_by(f64::total_cmp);
    Summary {
        median: samples[samples.len() / 2] * scale,
        low: samples[0] * scale,
        high: samples[samples.len() - 1] * scale,
    }
}

fn row(name: &str, blocking: &Summary, zsource: &Summary, target: &str) {
    let range = |s: &Summary| format!("{:.0}..{:.0}", s.low, s.high);
    println!(
        "{name:<30} {:>10.1} {:>10.1} {:>7.3}  {target:<8} ranges: blocking {}, zsource {}",
        blocking.median,
        zsource.median,
        zsource.median / blocking.median,
        range(blocking),
        range(zsource),
    );
}

fn main() {
    let options = options();
    if let Some(only) = &options.only {
        let receive = match only.as_str() {
            "blocking-receive" => Some(blocking_throughput as fn(usize) -> f64),
            "receive" => Some(
                (|count| zsource_throughput(count, zsource::DEFAULT_BUDGET)) as fn(usize) -> f64,
            ),
            _ => None,
        };
        if let Some(receive) = receive {
            let seconds = receive(options.messages);
            println!(
                "{only}: {:.0} messages/s",
                options.messages as f64 / seconds
            );
            return;
        }
        let producer = match only.as_str() {
            "blocking" => Producer::Blocking,
            "send" => Producer::SenderSend,
            "try-send" => Producer::SenderTrySend,
            "borrowed" => Producer::Borrowed,
            other => panic!("--only takes blocking, send, try-send or borrowed, not {other}"),
        };
        let seconds = send_path(options.messages, producer);
        println!(
            "{only}: {:.0} messages/s",
            options.messages as f64 / seconds
        );
        return;
    }
    println!(
        "zsource benchmark: {} messages of {} bytes, {} round trips, budget {}, \
         median of {} alternating rounds",
        options.messages,
        PAYLOAD.len(),
        options.round_trips,
        options.budget,
        options.rounds
    );

    let (mut blocking, mut zsource) = (Vec::new(), Vec::new());
    for _ in 0..options.rounds {
        blocking.push(options.messages as f64 / blocking_throughput(options.messages));
        zsource
            .push(options.messages as f64 / zsource_throughput(options.messages, options.budget));
    }
    let throughput = (summarize(blocking, 1e-3), summarize(zsource, 1e-3));

    let (mut blocking, mut zsource) = (Vec::new(), Vec::new());
    for _ in 0..options.rounds {
        blocking.push(blocking_latency(options.round_trips));
        zsource.push(zsource_latency(options.round_trips));
    }
    let latency = (summarize(blocking, 1e6), summarize(zsource, 1e6));

    let sides = [
        Producer::Blocking,
        Producer::SenderSend,
        Producer::SenderTrySend,
        Producer::Borrowed,
    ];
    let mut sending: Vec<Vec<f64>> = vec![Vec::new(); sides.len()];
    for round in 0..options.rounds {
        // Each round in another order, so that no side always goes first.
        for offset in 0..sides.len() {
            let side = (round + offset) % sides.len();
            let seconds = send_path(options.messages, sides[side]);
            sending[side].push(options.messages as f64 / seconds);
        }
    }
    let sending: Vec<Summary> = sending
        .into_iter()
        .map(|samples| summarize(samples, 1e-3))
        .collect();

    println!();
    println!(
        "{:<30} {:>10} {:>10} {:>7}  target",
        "median", "blocking", "zsource", "ratio"
    );
    row(
        "PUSH->PULL (1000 msg/s)",
        &throughput.0,
        &throughput.1,
        ">= 0.95",
    );
    row("REQ/REP round trip (us)", &latency.0, &latency.1, "<= 1.10");
    row(
        "send, Sender::send (1000 msg/s)",
        &sending[0],
        &sending[1],
        ">= 0.9",
    );
    row(
        "send, try_send (1000 msg/s)",
        &sending[0],
        &sending[2],
        ">= 0.9",
    );
    row(
        "send, send_borrowed (1000 msg/s)",
        &sending[0],
        &sending[3],
        ">= 0.9",
    );
    println!(
        "load average: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
}
