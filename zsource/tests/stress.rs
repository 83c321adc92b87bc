//! A seeded, randomized attack on one source: everything a program may do
//! to it at once, checked for lost, repeated and reordered messages, for
//! stalls, and for a loop that spins when it should sleep.
//!
//! The source under attack is a ROUTER with `ZMQ_ROUTER_MANDATORY` and tiny
//! high-water marks, whose peers are DEALERs on other threads that pause
//! reading at random (so sends meet `EAGAIN` for one peer while others have
//! room). Into it, at the same time:
//!
//! - producer threads queue with `Sender::send` and `Sender::try_send`;
//! - a timer sends through the source's `Dispatcher`, borrowed and owned;
//! - another source's callback forwards what it receives through that
//!   `Dispatcher`;
//! - the source's own callback answers each peer's messages;
//! - a timer uses the socket directly (`poll`, ZMQ_EVENTS), removes the
//!   source from the loop and inserts it again, disables and enables it,
//!   and pauses and resumes its receiving;
//! - short-lived peers connect, say hello and vanish.
//!
//! Every message a producer got accepted must reach its peer once, in order
//! per producer and peer, and every message a peer sent must reach the
//! source once, in order; progress must never stop for long. Then the loop
//! must sleep, both with nothing to do and with messages waiting for a peer
//! that does not read, and that peer's messages must still come once it
//! reads.
//!
//! Each run prints its seed; `ZSOURCE_STRESS_SEED=<seed>` runs it again with
//! the same choices (the threads' timing still varies).

mod common;

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use calloop::timer::{TimeoutAction, Timer};
use calloop::{Dispatcher, EventLoop, LoopHandle, RegistrationToken};
use common::{Counted, Counts, Transport, bind};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use zsource::{Event, Multipart, SendError, SocketHandle, ZmqSource};

type Token = Rc<RefCell<Option<RegistrationToken>>>;

/// The whole test stays within this, in a debug build.
const ROUNDS: usize = 6;
/// No progress for this long is a stall.
const STALL: Duration = Duration::from_secs(5);
/// Messages from each producer.
const PER_PRODUCER: u64 = 1_000;
/// The kernel's socket buffers, kept small so that a peer that does not
/// read fills them soon, and its pipe after them.
const SMALL_BUFFER: i32 = 4096;

#[test]
fn randomized_attack_loses_nothing_and_never_stalls() {
    let seed = std::env::var("ZSOURCE_STRESS_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |since| since.as_nanos() as u64)
        });
    eprintln!("stress seed {seed} (rerun with ZSOURCE_STRESS_SEED={seed})");
    let outcome = std::panic::catch_unwind(|| {
        let mut rng = SmallRng::seed_from_u64(seed);
        for round in 0..ROUNDS {
            let transport = [Transport::Inproc, Transport::Ipc, Transport::Tcp][round % 3];
            round_of_attack(round, transport, rng.random());
        }
    });
    if let Err(panic) = outcome {
        eprintln!("stress test failed; rerun with ZSOURCE_STRESS_SEED={seed}");
        std::panic::resume_unwind(panic);
    }
}

/// What the meddler may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Meddling {
    /// Everything.
    All,
    /// Only use the socket and send through the `Dispatcher`.
    UseOnly,
    /// Nothing: it leaves the source enabled and receiving, and stops.
    Off,
}

/// Who sends into the source, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Producer {
    /// Threads on `Sender::send` and `Sender::try_send`.
    Thread(usize),
    /// A timer, through the `Dispatcher`.
    Timer,
    /// Another source's callback, through the `Dispatcher`.
    Forwarder,
    /// The source's own callback, answering.
    Callback,
}

impl Producer {
    fn name(self) -> String {
        match self {
            Producer::Thread(number) => format!("thread-{number}"),
            Producer::Timer => "timer".into(),
            Producer::Forwarder => "forwarder".into(),
            Producer::Callback => "callback".into(),
        }
    }
}

/// Counts shared by the peers and the checks.
#[derive(Debug, Default)]
struct Ledger {
    /// Messages the source accepted, by producer and peer.
    accepted: Mutex<HashMap<(String, usize), u64>>,
    /// Messages each peer received, by producer.
    received: Mutex<HashMap<(String, usize), u64>>,
    /// Messages each peer sent to the source.
    sent_up: Mutex<HashMap<usize, u64>>,
    /// Anything out of order, repeated or unexpected.
    errors: Mutex<Vec<String>>,
    /// Grows with every message anywhere, for the stall check.
    progress: AtomicUsize,
}

impl Ledger {
    fn accept(&self, producer: Producer, peer: usize) -> u64 {
        let mut accepted = self.accepted.lock().unwrap();
        let count = accepted.entry((producer.name(), peer)).or_default();
        *count += 1;
        self.progress.fetch_add(1, Ordering::Relaxed);
        *count - 1
    }

    fn error(&self, error: String) {
        self.errors.lock().unwrap().push(error);
    }
}

fn message(peer: usize, producer: Producer, sequence: u64) -> Multipart {
    Multipart::from([
        format!("peer-{peer}").into_bytes(),
        producer.name().into_bytes(),
        sequence.to_string().into_bytes(),
    ])
}

/// A peer of the source under attack.
struct Peer {
    number: usize,
    hwm: i32,
    ledger: Arc<Ledger>,
    /// Set when the round is over.
    stop: Arc<AtomicBool>,
    /// Cleared while the peer must not read at all.
    reading: Arc<AtomicBool>,
    seed: u64,
}

/// A peer: a DEALER that reads the source's messages, checking their order,
/// sends its own, and now and then stops reading for a while.
fn peer(context: &zmq::Context, endpoint: &str, plan: Peer) -> thread::JoinHandle<()> {
    let Peer {
        number,
        hwm,
        ledger,
        stop,
        reading,
        seed,
    } = plan;
    let dealer = context.socket(zmq::DEALER).unwrap();
    dealer
        .set_identity(format!("peer-{number}").as_bytes())
        .unwrap();
    dealer.set_rcvhwm(hwm).unwrap();
    dealer.set_sndhwm(hwm).unwrap();
    dealer.set_rcvbuf(SMALL_BUFFER).unwrap();
    dealer.set_linger(0).unwrap();
    dealer.connect(endpoint).unwrap();
    thread::spawn(move || {
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut next: HashMap<String, u64> = HashMap::new();
        let mut sent = 0u64;
        let mut pause_until = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            if sent < PER_PRODUCER {
                let up = sent.to_string();
                if dealer.send(up.as_bytes(), zmq::DONTWAIT).is_ok() {
                    sent += 1;
                    *ledger.sent_up.lock().unwrap().entry(number).or_default() = sent;
                    ledger.progress.fetch_add(1, Ordering::Relaxed);
                }
            }
            let now = Instant::now();
            if now < pause_until || !reading.load(Ordering::Relaxed) {
                thread::yield_now();
                continue;
            }
            if rng.random_ratio(1, 500) {
                // Not synchronisation: a peer that stops reading for a while,
                // so that its pipe fills and the source meets EAGAIN for it.
                pause_until = now + Duration::from_millis(rng.random_range(1..30));
                continue;
            }
            let frames = match dealer.poll(zmq::POLLIN, 5) {
                Ok(1) => dealer.recv_multipart(0).unwrap(),
                _ => continue,
            };
            let [producer, sequence] = match &frames[..] {
                // The third frame, if any, is padding.
                [producer, sequence] | [producer, sequence, _] => [producer, sequence]
                    .map(|frame| String::from_utf8(frame.clone()).unwrap_or_default()),
                other => {
                    ledger.error(format!("peer {number}: odd message {other:?}"));
                    continue;
                }
            };
            let expected = next.entry(producer.clone()).or_default();
            if sequence != expected.to_string() {
                ledger.error(format!(
                    "peer {number}: from {producer} got {sequence}, expected {expected}"
                ));
            }
            *expected = sequence.parse::<u64>().unwrap_or(*expected) + 1;
            *ledger
                .received
                .lock()
                .unwrap()
                .entry((producer, number))
                .or_default() += 1;
            ledger.progress.fetch_add(1, Ordering::Relaxed);
        }
    })
}

/// Round trips of the pinger.
const PINGS: usize = 200;

/// A peer that sends one message and waits for the answer before the next,
/// so that nothing but its message can wake the source.
fn pinger(context: &zmq::Context, endpoint: &str, ledger: Arc<Ledger>) -> thread::JoinHandle<()> {
    let dealer = context.socket(zmq::DEALER).unwrap();
    dealer.set_identity(b"pinger").unwrap();
    dealer.set_linger(0).unwrap();
    dealer.connect(endpoint).unwrap();
    thread::spawn(move || {
        for number in 0..PINGS {
            let ping = format!("ping {number}");
            dealer.send(ping.as_bytes(), 0).unwrap();
            // Longer than a stall: the loop's watchdog speaks first.
            if dealer.poll(zmq::POLLIN, (2 * STALL).as_millis() as i64) != Ok(1) {
                ledger.error(format!("no answer to {ping}"));
                return;
            }
            let answer = dealer.recv_bytes(0).unwrap();
            if answer != ping.as_bytes() {
                ledger.error(format!("{ping} answered with {answer:?}"));
            }
            ledger.progress.fetch_add(1, Ordering::Relaxed);
        }
    })
}

/// What the loop's callbacks share.
struct State {
    ledger: Arc<Ledger>,
    /// Next expected sequence from each peer, at the source.
    from_peers: HashMap<usize, u64>,
    /// Messages that met a full queue, to send again in order.
    backlog: VecDeque<(Multipart, Producer, usize)>,
    /// How many messages the forwarder and the timer have made.
    forwarded: u64,
    timed: u64,
    /// Sends the source's callback saw fail for short-lived peers.
    failed_for_vanished: usize,
    /// The pinger's messages, for the meddler to answer.
    pings: VecDeque<Multipart>,
}

type Source = Dispatcher<'static, Counted, State>;

fn round_of_attack(round: usize, transport: Transport, seed: u64) {
    let mut rng = SmallRng::seed_from_u64(seed);
    let peers = rng.random_range(2..=4);
    let hwm = rng.random_range(1..=8);
    let capacity = rng.random_range(1..=200);
    let budget = rng.random_range(1..=64);
    eprintln!(
        "round {round}: {transport:?}, {peers} peers, hwm {hwm}, capacity {capacity}, budget {budget}"
    );
    let context = zmq::Context::new();
    let router = context.socket(zmq::ROUTER).unwrap();
    router.set_router_mandatory(true).unwrap();
    router.set_sndhwm(hwm).unwrap();
    router.set_rcvhwm(hwm).unwrap();
    router.set_sndbuf(SMALL_BUFFER).unwrap();
    let endpoint = bind(&router, transport);
    let ledger = Arc::new(Ledger::default());
    let stop = Arc::new(AtomicBool::new(false));
    let reading: Vec<_> = (0..peers)
        .map(|_| Arc::new(AtomicBool::new(true)))
        .collect();
    let peer_threads: Vec<_> = (0..peers)
        .map(|number| {
            let plan = Peer {
                number,
                hwm,
                ledger: Arc::clone(&ledger),
                stop: Arc::clone(&stop),
                reading: Arc::clone(&reading[number]),
                seed: rng.random(),
            };
            peer(&context, &endpoint, plan)
        })
        .collect();

    let source = ZmqSource::builder()
        .capacity(capacity)
        .budget(budget)
        .build(router)
        .unwrap();
    let sender = source.sender();
    let (source, counts) = Counted::new(source);
    let source: Source = Dispatcher::new(source, on_event);
    let mut event_loop: EventLoop<State> = EventLoop::try_new().unwrap();
    let handle = event_loop.handle();
    let token: Token = Rc::new(RefCell::new(Some(
        handle.register_dispatcher(source.clone()).unwrap(),
    )));

    // The source can route to a peer only once it has heard from it.
    let mut state = State {
        ledger: Arc::clone(&ledger),
        from_peers: HashMap::new(),
        backlog: VecDeque::new(),
        forwarded: 0,
        timed: 0,
        failed_for_vanished: 0,
        pings: VecDeque::new(),
    };
    let deadline = Instant::now() + STALL;
    while state.from_peers.len() < peers {
        assert!(
            Instant::now() < deadline,
            "round {round}: peers never greeted"
        );
        event_loop
            .dispatch(Duration::from_millis(10), &mut state)
            .unwrap();
    }

    // Producer threads.
    let mut producers = Vec::new();
    for number in 0..2 {
        let sender = sender.clone();
        let ledger = Arc::clone(&ledger);
        let mut rng = SmallRng::seed_from_u64(rng.random());
        producers.push(thread::spawn(move || {
            let producer = Producer::Thread(number);
            let mut next = vec![0u64; peers];
            for _ in 0..PER_PRODUCER {
                let peer = rng.random_range(0..peers);
                let mut outgoing = message(peer, producer, next[peer]);
                loop {
                    let outcome = match rng.random_bool(0.5) {
                        true => sender.send(outgoing),
                        false => sender.try_send(outgoing),
                    };
                    match outcome {
                        Ok(()) => break,
                        Err(SendError::Full(back)) => {
                            outgoing = back;
                            thread::yield_now();
                        }
                        Err(other) => panic!("{producer:?}: {other}"),
                    }
                }
                next[peer] = ledger.accept(producer, peer) + 1;
            }
        }));
    }

    // The forwarder: another source, fed by a thread, whose callback sends
    // through the source under attack.
    let forwarder_in = context.socket(zmq::PULL).unwrap();
    let forwarder_endpoint = bind(&forwarder_in, Transport::Inproc);
    let feeding = {
        let push = context.socket(zmq::PUSH).unwrap();
        push.connect(&forwarder_endpoint).unwrap();
        let mut rng = SmallRng::seed_from_u64(rng.random());
        thread::spawn(move || {
            for _ in 0..PER_PRODUCER {
                let peer = rng.random_range(0..peers);
                push.send(&peer.to_string(), 0).unwrap();
            }
        })
    };
    {
        let source = source.clone();
        let mut next = vec![0u64; peers];
        handle
            .insert_source(
                ZmqSource::new(forwarder_in).unwrap(),
                move |event, _, state: &mut State| {
                    let Event::Message(order) = event else { return };
                    let peer: usize = std::str::from_utf8(order.first())
                        .ok()
                        .and_then(|text| text.parse().ok())
                        .unwrap_or(0);
                    let outgoing = message(peer, Producer::Forwarder, next[peer]);
                    next[peer] += 1;
                    state.forwarded += 1;
                    offer(&source, state, outgoing, Producer::Forwarder, peer);
                },
            )
            .unwrap();
    }

    // The timer producer, and the one that drains the backlog.
    {
        let source = source.clone();
        let mut rng = SmallRng::seed_from_u64(rng.random());
        let mut next = vec![0u64; peers];
        handle
            .insert_source(Timer::immediate(), move |_, _, state: &mut State| {
                while let Some((outgoing, producer, peer)) = state.backlog.pop_front() {
                    if let Err(back) = try_offer(&source, state, outgoing, producer, peer) {
                        state.backlog.push_front((back, producer, peer));
                        return TimeoutAction::ToDuration(Duration::from_millis(1));
                    }
                }
                for _ in 0..rng.random_range(1..8) {
                    if state.timed == PER_PRODUCER {
                        break;
                    }
                    let peer = rng.random_range(0..peers);
                    let outgoing = message(peer, Producer::Timer, next[peer]);
                    next[peer] += 1;
                    state.timed += 1;
                    offer(&source, state, outgoing, Producer::Timer, peer);
                }
                if state.timed == PER_PRODUCER
                    && state.forwarded == PER_PRODUCER
                    && state.backlog.is_empty()
                {
                    return TimeoutAction::Drop;
                }
                TimeoutAction::ToDuration(Duration::from_millis(rng.random_range(0..3)))
            })
            .unwrap();
    }

    // The meddler: uses the socket and sends through the `Dispatcher`, and
    // (unless told only to use it) moves the source in and out of the loop,
    // disables it and pauses its receiving.
    let meddling = Rc::new(Cell::new(Meddling::All));
    {
        let source = source.clone();
        let token = Rc::clone(&token);
        let handle: LoopHandle<'static, State> = handle.clone();
        let meddling = Rc::clone(&meddling);
        let mut rng = SmallRng::seed_from_u64(rng.random());
        let mut disabled = false;
        handle
            .clone()
            .insert_source(Timer::immediate(), move |_, _, state: &mut State| {
                if meddling.get() != Meddling::All {
                    if disabled {
                        handle.enable(token.borrow().as_ref().unwrap()).unwrap();
                        disabled = false;
                    }
                    source.as_source_ref().inner.resume_receiving();
                }
                // The pinger's answers go out from here, through the
                // `Dispatcher`, as a server that answers later would send them.
                while let Some(ping) = state.pings.pop_front() {
                    if let Err(error) = source.as_source_ref().inner.send(ping) {
                        state.ledger.error(format!("answer to the pinger: {error}"));
                    }
                }
                let choices = match meddling.get() {
                    Meddling::Off => return TimeoutAction::Drop,
                    Meddling::UseOnly => 0..2,
                    Meddling::All => 0..8,
                };
                let mut token = token.borrow_mut();
                match rng.random_range(choices) {
                    0 => {
                        // As a program waiting for a message might: what
                        // lands meanwhile is seen by this poll, not the source.
                        let wait = rng.random_range(0..3);
                        let _ = source
                            .as_source_ref()
                            .inner
                            .socket()
                            .poll(zmq::POLLIN, wait);
                    }
                    1 => {
                        let _ = source.as_source_ref().inner.socket().get_events();
                    }
                    2 => {
                        if let Some(old) = token.take() {
                            handle.remove(old);
                        }
                        *token = Some(handle.register_dispatcher(source.clone()).unwrap());
                        disabled = false;
                    }
                    3 if !disabled => {
                        handle.disable(token.as_ref().unwrap()).unwrap();
                        disabled = true;
                    }
                    4 if disabled => {
                        handle.enable(token.as_ref().unwrap()).unwrap();
                        disabled = false;
                    }
                    5 => source.as_source_ref().inner.pause_receiving(),
                    6 => source.as_source_ref().inner.resume_receiving(),
                    _ => {}
                }
                TimeoutAction::ToDuration(Duration::from_millis(rng.random_range(0..2)))
            })
            .unwrap();
    }

    // Short-lived peers.
    let churn_stop = Arc::new(AtomicBool::new(false));
    let churning = {
        let context = context.clone();
        let endpoint = endpoint.clone();
        let stop = Arc::clone(&churn_stop);
        thread::spawn(move || {
            let mut number = 0;
            while !stop.load(Ordering::Relaxed) {
                let dealer = context.socket(zmq::DEALER).unwrap();
                dealer
                    .set_identity(format!("churn-{number}").as_bytes())
                    .unwrap();
                dealer.set_linger(0).unwrap();
                dealer.connect(&endpoint).unwrap();
                dealer.send("hello", 0).unwrap();
                let _ = dealer.poll(zmq::POLLIN, 5);
                number += 1;
            }
        })
    };

    // Run until every producer is done and everything accepted arrived.
    let mut watchdog = Watchdog::new(round, &ledger);
    loop {
        event_loop
            .dispatch(Duration::from_millis(5), &mut state)
            .unwrap();
        let errors = ledger.errors.lock().unwrap().clone();
        assert!(errors.is_empty(), "round {round}: {errors:?}");
        let peers_done = ledger
            .sent_up
            .lock()
            .unwrap()
            .values()
            .all(|&sent| sent == PER_PRODUCER)
            && state.from_peers.values().all(|&next| next == PER_PRODUCER);
        let produced = producers.iter().all(|thread| thread.is_finished())
            && state.forwarded == PER_PRODUCER
            && state.timed == PER_PRODUCER
            && state.backlog.is_empty();
        if peers_done && produced && delivered(&ledger) {
            break;
        }
        watchdog.check(&format!(
            "from peers {:?}, queued {}",
            state.from_peers,
            sender.queued()
        ));
    }
    for producer in producers {
        producer.join().unwrap();
    }
    feeding.join().unwrap();
    churn_stop.store(true, Ordering::Relaxed);
    churning.join().unwrap();

    // One peer's message at a time, answered by the meddler through the
    // `Dispatcher`, with nothing else going on but the meddler using the
    // socket: an edge lost to either is a message never seen.
    meddling.set(Meddling::UseOnly);
    let pinging = pinger(&context, &endpoint, Arc::clone(&ledger));
    let mut watchdog = Watchdog::new(round, &ledger);
    while !pinging.is_finished() {
        event_loop
            .dispatch(Duration::from_millis(5), &mut state)
            .unwrap();
        watchdog.check("ping-pong while the socket is used outside the source");
    }
    pinging.join().unwrap();
    let errors = ledger.errors.lock().unwrap().clone();
    assert!(errors.is_empty(), "round {round}: {errors:?}");

    // Quiet: the meddler leaves the source enabled and receiving, and the
    // loop must sleep.
    meddling.set(Meddling::Off);
    for _ in 0..10 {
        event_loop
            .dispatch(Duration::from_millis(10), &mut state)
            .unwrap();
    }
    let idle_dispatches = idle(&mut event_loop, &mut state, &counts);
    assert!(
        idle_dispatches <= 3,
        "round {round}: {idle_dispatches} dispatches in {IDLE:?} with nothing to do"
    );

    // A peer that does not read: its messages wait without holding back
    // another peer's, the loop sleeps, and they all come once it reads. They
    // are large, to fill the kernel's buffers and the pipes, and the queue
    // must have room for them and one more (what waits for a full peer
    // counts towards the capacity, and one peer may have half of it).
    let stuck_messages = 2 * hwm as u64 + 6;
    if (capacity as u64) / 2 >= stuck_messages {
        stuck_peer(
            round,
            &mut event_loop,
            &mut state,
            &counts,
            &sender,
            &reading[0],
            stuck_messages,
        );
    } else {
        eprintln!("round {round}: capacity {capacity} too small for the stuck peer check");
    }
    let errors = ledger.errors.lock().unwrap().clone();
    assert!(errors.is_empty(), "round {round}: {errors:?}");
    eprintln!(
        "round {round}: done; {} sends failed for peers that had vanished",
        state.failed_for_vanished
    );

    stop.store(true, Ordering::Relaxed);
    for thread in peer_threads {
        thread.join().unwrap();
    }
}

/// A peer that does not read: its messages wait without holding back
/// another peer's, the loop sleeps, and they all come once it reads.
fn stuck_peer(
    round: usize,
    event_loop: &mut EventLoop<State>,
    state: &mut State,
    counts: &Counts,
    sender: &zsource::Sender,
    reading: &AtomicBool,
    stuck_messages: u64,
) {
    reading.store(false, Ordering::Relaxed);
    let stuck = Producer::Thread(99);
    let ledger = Arc::clone(&state.ledger);
    for sequence in 0..stuck_messages {
        let outgoing = message(0, stuck, sequence).with(vec![0; 64 * 1024]);
        sender
            .try_send(outgoing)
            .unwrap_or_else(|error| panic!("round {round}: {error}"));
        ledger.accept(stuck, 0);
    }
    let free = Producer::Thread(98);
    sender
        .try_send(message(1, free, 0))
        .unwrap_or_else(|error| panic!("round {round}: {error}"));
    ledger.accept(free, 1);
    let mut watchdog = Watchdog::new(round, &ledger);
    while ledger.received.lock().unwrap().get(&(free.name(), 1)) != Some(&1) {
        event_loop
            .dispatch(Duration::from_millis(5), state)
            .unwrap();
        watchdog.check("the free peer's message is held back by the one that does not read");
    }
    // What fits in the buffers still flows for a moment; then the loop must
    // sleep, looking now and then, on a timer that backs off.
    idle(event_loop, state, counts);
    let idle_dispatches = idle(event_loop, state, counts);
    assert!(
        idle_dispatches <= 8,
        "round {round}: {idle_dispatches} dispatches in {IDLE:?} waiting for a peer that does not read"
    );
    assert!(
        sender.queued() > 0,
        "round {round}: the peer that does not read took everything"
    );
    reading.store(true, Ordering::Relaxed);
    let mut watchdog = Watchdog::new(round, &ledger);
    while !delivered(&ledger) {
        event_loop
            .dispatch(Duration::from_millis(5), state)
            .unwrap();
        watchdog.check(&format!(
            "the peer that read again ({} queued)",
            sender.queued()
        ));
    }
}

/// Whether every message accepted so far has arrived.
fn delivered(ledger: &Ledger) -> bool {
    let received = ledger.received.lock().unwrap();
    ledger
        .accepted
        .lock()
        .unwrap()
        .iter()
        .all(|(key, count)| received.get(key) == Some(count))
}

/// How long the loop is watched for sleeping.
const IDLE: Duration = Duration::from_millis(500);

/// Runs the loop for [`IDLE`] and says how often the source was dispatched.
fn idle(event_loop: &mut EventLoop<State>, state: &mut State, counts: &Counts) -> usize {
    let before = counts.dispatches.get();
    let until = Instant::now() + IDLE;
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        event_loop.dispatch(left, state).unwrap();
    }
    counts.dispatches.get() - before
}

/// Fails the round when nothing has moved for [`STALL`].
struct Watchdog<'a> {
    round: usize,
    ledger: &'a Ledger,
    last: usize,
    since: Instant,
}

impl<'a> Watchdog<'a> {
    fn new(round: usize, ledger: &'a Ledger) -> Self {
        Watchdog {
            round,
            ledger,
            last: ledger.progress.load(Ordering::Relaxed),
            since: Instant::now(),
        }
    }

    fn check(&mut self, what: &str) {
        let progress = self.ledger.progress.load(Ordering::Relaxed);
        if progress != self.last {
            self.last = progress;
            self.since = Instant::now();
        }
        assert!(
            self.since.elapsed() < STALL,
            "round {}: no progress for {STALL:?}: {what}; errors {:?}, accepted {:?}, received {:?}",
            self.round,
            self.ledger.errors.lock().unwrap(),
            self.ledger.accepted.lock().unwrap(),
            self.ledger.received.lock().unwrap(),
        );
    }
}

/// Sends through the source, or keeps the message for later, in order.
fn offer(source: &Source, state: &mut State, outgoing: Multipart, producer: Producer, peer: usize) {
    if !state.backlog.is_empty() {
        state.backlog.push_back((outgoing, producer, peer));
        return;
    }
    if let Err(back) = try_offer(source, state, outgoing, producer, peer) {
        state.backlog.push_back((back, producer, peer));
    }
}

fn try_offer(
    source: &Source,
    state: &mut State,
    outgoing: Multipart,
    producer: Producer,
    peer: usize,
) -> Result<(), Multipart> {
    let source = &source.as_source_ref().inner;
    // Half borrowed, half owned.
    let outcome = match outgoing.frame_count() {
        3 if peer % 2 == 0 => {
            let frames = [0, 1, 2].map(|index| outgoing.get(index).unwrap_or_default());
            source.send_borrowed(frames)
        }
        _ => source.send(outgoing.clone()),
    };
    match outcome {
        Ok(()) => {
            state.ledger.accept(producer, peer);
            Ok(())
        }
        Err(SendError::Full(_)) => Err(outgoing),
        Err(other) => panic!("{producer:?}: {other}"),
    }
}

/// The source under attack: checks each peer's messages and answers some.
fn on_event(event: Event, socket: &mut SocketHandle, state: &mut State) {
    match event {
        Event::Message(message) => {
            let identity = String::from_utf8_lossy(message.first()).into_owned();
            if identity == "pinger" {
                state.pings.push_back(message);
                return;
            }
            let Some(peer) = identity
                .strip_prefix("peer-")
                .and_then(|number| number.parse::<usize>().ok())
            else {
                // A short-lived peer: answer; it may be gone already.
                let _ = socket.send(Multipart::new(message.first()).with("bye"));
                return;
            };
            let expected = state.from_peers.entry(peer).or_default();
            let got = String::from_utf8_lossy(message.last()).into_owned();
            if got != expected.to_string() {
                state.ledger.error(format!(
                    "source: from peer {peer} got {got}, expected {expected}"
                ));
            }
            *expected += 1;
            state.ledger.progress.fetch_add(1, Ordering::Relaxed);
            // Answer every tenth, from the callback.
            if *expected % 10 == 0 {
                let next = state
                    .ledger
                    .accepted
                    .lock()
                    .unwrap()
                    .get(&(Producer::Callback.name(), peer))
                    .copied()
                    .unwrap_or(0);
                match socket.send(message_for(peer, next)) {
                    Ok(()) => {
                        state.ledger.accept(Producer::Callback, peer);
                    }
                    Err(SendError::Full(_)) => {
                        // Dropped before it was accepted: not counted.
                    }
                    Err(other) => panic!("callback: {other}"),
                }
            }
        }
        Event::SendFailed { error, message } => {
            if message.first().starts_with(b"churn-") {
                state.failed_for_vanished += 1;
            } else {
                state.ledger.error(format!(
                    "a send to a live peer failed: {error}: {message:?}"
                ));
            }
        }
        Event::Room => {}
        other => panic!("{other:?}"),
    }
}

fn message_for(peer: usize, sequence: u64) -> Multipart {
    message(peer, Producer::Callback, sequence)
}
