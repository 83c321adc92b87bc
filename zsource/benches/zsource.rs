//! What `zsource` costs, measured side by side with plain blocking code.
//!
//! Run it with `cargo bench -p zsource` (a release build). It measures, in
//! alternating rounds so that both sides see the same machine:
//!
//! - throughput: 16-byte messages from a blocking PUSH sender over TCP
//!   loopback, received by a plain blocking `recv` loop, and by a `ZmqSource`
//!   in a calloop loop;
//! - latency: REQ/REP round trips from a blocking client, answered by a
//!   blocking REP server, and by a REP server on a `ZmqSource`.
//!
//! It prints the median of each side and the ratio zsource / blocking.
//! Options: `--messages N` (default 1,000,000), `--round-trips N` (default
//! 20,000), `--rounds N` (default 9), `--budget N` (the source's budget, default
//! `zsource::DEFAULT_BUDGET`).

use std::thread;
use std::time::Instant;

use calloop::EventLoop;
use zsource::{Event, ZmqSource};

const PAYLOAD: [u8; 16] = *b"0123456789abcdef";

struct Options {
    budget: usize,
    messages: usize,
    round_trips: usize,
    rounds: usize,
}

fn options() -> Options {
    let mut options = Options {
        budget: zsource::DEFAULT_BUDGET,
        messages: 1_000_000,
        round_trips: 20_000,
        rounds: 9,
    };
    let mut arguments = std::env::args().skip(1);
    while let Some(flag) = arguments.next() {
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
    row("REQ/REP round trip (us)", &latency.0, &latency.1, "<= 1.05");
}
