//! Task ventilator: the head of a parallel pipeline (PUSH) on a calloop loop.
//!
//! A port of `taskvent` from chapter 1 of the ZeroMQ guide ("Divide and
//! Conquer"). It binds a PUSH socket that deals tasks out to the workers in
//! turn, and connects a second PUSH socket to the sink. Each task is a
//! workload in milliseconds (1 to 100) for a worker to "do". Before the
//! batch, it tells the sink `0`, so the sink starts its clock.
//!
//! The batch must wait until every worker has connected, or the first one to
//! connect gets all the tasks. The guide waits for Enter; so does this
//! program, but it reads stdin from the event loop, so Ctrl-C still works
//! while it waits. End of input (Ctrl-D, or stdin not a terminal) counts as
//! Enter, as in the guide's `getchar()`. With `--workers N` it waits for N
//! workers instead: a socket monitor on the PUSH socket reports each one
//! that completes its handshake.
//!
//! Once the batch is sent, it waits for it to be delivered, for as long as
//! it takes, as the guide's does (its sockets linger for ever): until the
//! sink has connected, which may be long after, and a worker, if none has
//! yet. A socket monitor on each socket tells. After a second it says on
//! stderr what it waits for. Without that wait the sink's `0` would be lost
//! with the ventilator, and a sink started later would wait for ever for
//! the last result. Stopped while it waits (Ctrl-C), or past `--timeout-ms`,
//! it says what was not delivered and exits with status 1.
//!
//! Run the sink and some workers, then the ventilator:
//!
//! ```text
//! cargo run -p tasksink
//! cargo run -p taskwork                 # in two or more terminals
//! cargo run -p taskvent                 # --bind tcp://*:5557 --sink tcp://localhost:5558
//! cargo run -p taskvent -- --workers 2 --seed 7 --tasks 100
//! ```

use std::error::Error;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use calloop::generic::Generic;
use calloop::ping::make_ping;
use calloop::timer::{TimeoutAction, Timer};
use calloop::{EventLoop, Interest, LoopHandle, LoopSignal, Mode, PostAction};
use clap::Parser;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use zsource::{Event, Multipart, ZmqSource};

/// Sends a batch of tasks to the workers, once they are ready.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Endpoint to bind the PUSH socket that hands out the tasks to.
    #[arg(long, default_value = "tcp://*:5557")]
    bind: String,
    /// Endpoint of the sink, which hears when the batch starts.
    #[arg(long, default_value = "tcp://localhost:5558")]
    sink: String,
    /// How many tasks to send.
    #[arg(long, default_value_t = 100)]
    tasks: u32,
    /// Seed for the workloads, to send the same batch again.
    #[arg(long)]
    seed: Option<u64>,
    /// Instead of waiting for Enter, start once this many workers have
    /// connected.
    #[arg(long)]
    workers: Option<u32>,
    /// Give up, with exit status 1, when the batch has not been delivered
    /// (the sink or every worker is missing) this many milliseconds after
    /// it was sent. Without it, the ventilator waits for them for ever.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    timeout_ms: Option<u64>,
}

/// How long the ventilator waits for its sink or a worker before it says
/// on stderr that it is waiting.
const MOMENT: Duration = Duration::from_secs(1);

/// How long the batch may take to be delivered without `--timeout-ms`: for
/// ever, as far as libzmq's linger goes (2^31 - 1 ms, 24 days).
const FOREVER: Duration = Duration::from_millis(i32::MAX as u64);

/// What the loop waits for, and who is connected: the socket monitors'
/// callbacks keep it up to date, and stop the loop when the wait is over.
struct Ventilator {
    /// Workers connected now: handshakes less disconnections. (libzmq also
    /// reports a connection whose handshake failed as disconnected, so a
    /// stranger's connection to the port could make this one short.)
    workers: u32,
    /// Workers that have ever completed their handshake.
    handshakes: u32,
    /// With `--workers N`, the workers to wait for before sending.
    wanted: Option<u32>,
    /// Whether the sink's connection has completed its handshake, and not
    /// gone since.
    sink: bool,
    /// Whether the wait for Enter or for the workers is over.
    ready: bool,
    /// Whether the batch has been sent: the wait is for its delivery.
    sent: bool,
    /// Whether the sink and a worker were there to deliver it to.
    delivered: bool,
    /// Why the ventilator gave up, if it did.
    failure: Option<String>,
    tasks: u32,
    sink_endpoint: String,
    endpoint: String,
    signal: LoopSignal,
}

impl Ventilator {
    /// Ends the loop's wait if what it waits for is there.
    fn check(&mut self) {
        if !self.sent {
            let enough = self.wanted.is_some_and(|n| self.handshakes >= n);
            if enough && !self.ready {
                self.ready = true;
                self.signal.stop();
            }
        } else if self.missing().is_empty() && !self.delivered {
            self.delivered = true;
            self.signal.stop();
        }
    }

    /// What the batch still waits for: the sink, a worker, both or nothing.
    fn missing(&self) -> Vec<Missing> {
        let mut missing = Vec::new();
        if !self.sink {
            missing.push(Missing::Sink);
        }
        if self.workers == 0 && self.tasks > 0 {
            missing.push(Missing::Worker);
        }
        missing
    }

    /// Says on stderr what the batch waits for.
    fn say_waiting(&self) {
        for missing in self.missing() {
            match missing {
                Missing::Sink => eprintln!(
                    "waiting for the sink at {} to connect: the batch start waits for it \
                     (Ctrl-C gives up)",
                    self.sink_endpoint
                ),
                Missing::Worker => eprintln!(
                    "waiting for a worker to connect to {}: {} tasks wait for one \
                     (Ctrl-C gives up)",
                    self.endpoint, self.tasks
                ),
            }
        }
    }

    /// Why the batch is lost, for a ventilator stopped before delivery.
    fn stopped(&self) -> String {
        let lost: Vec<String> = self
            .missing()
            .iter()
            .map(|missing| match missing {
                Missing::Sink => format!(
                    "the sink at {} connected: the batch start was not delivered",
                    self.sink_endpoint
                ),
                Missing::Worker => format!(
                    "a worker connected to {}: {} tasks were not delivered",
                    self.endpoint, self.tasks
                ),
            })
            .collect();
        format!("stopped before {}", lost.join("; and before "))
    }

    /// Why the batch is lost, for a ventilator that gave up after `timeout`.
    fn timed_out(&self, timeout: Duration) -> String {
        let ms = timeout.as_millis();
        let lost: Vec<String> = self
            .missing()
            .iter()
            .map(|missing| match missing {
                Missing::Sink => format!(
                    "the sink at {} did not connect within {ms} ms: the batch start was not \
                     delivered",
                    self.sink_endpoint
                ),
                Missing::Worker => format!(
                    "no worker connected to {} within {ms} ms: {} tasks were not delivered",
                    self.endpoint, self.tasks
                ),
            })
            .collect();
        lost.join("; ")
    }
}

/// What a batch can wait for.
enum Missing {
    Sink,
    Worker,
}

/// Errors are one plain line, `error: ...`, and exit status 1 (returned
/// from `main`, Rust would print them Debug-quoted).
fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    let args = Args::parse();

    let mut event_loop: EventLoop<Ventilator> = EventLoop::try_new()?;
    // Ctrl-C comes in on another thread, as a ping that the loop handles
    // like any other event. (Calling `signal.stop()` from the handler is not
    // enough: `run` resets that flag when it starts, so a Ctrl-C that came
    // before would be lost.) Once the loop is over, and libzmq delivers the
    // batch as the sockets close, Ctrl-C means "don't wait for that".
    let delivering = Arc::new(AtomicBool::new(false));
    let stop_now = Arc::clone(&delivering);
    let (interrupt, interrupted) = make_ping()?;
    ctrlc::set_handler(move || {
        if stop_now.load(Ordering::SeqCst) {
            eprintln!("error: stopped while the batch was being delivered: some may be lost");
            std::process::exit(1);
        }
        interrupt.ping();
    })?;
    let signal = event_loop.get_signal();
    event_loop
        .handle()
        .insert_source(interrupted, move |(), _, _| signal.stop())?;

    let context = zmq::Context::new();
    let sender = context.socket(zmq::PUSH)?;
    // Watched before binding (and the sink before connecting), so that no
    // peer connects unseen.
    let workers = monitor(&context, &sender, "inproc://taskvent-workers")?;
    zsource::retry_interrupted(|| sender.bind(&args.bind))
        .map_err(|e| format!("bind {}: {e}", args.bind))?;
    // With a wildcard such as tcp://127.0.0.1:*, this says which port we got.
    let endpoint = sender
        .get_last_endpoint()?
        .unwrap_or_else(|raw| String::from_utf8_lossy(&raw).into_owned());
    eprintln!("listening on {endpoint}");
    // Wrapped at once for the source's linger of zero: a ventilator stopped
    // while it waits exits at once.
    let sender = ZmqSource::builder()
        .capacity(usize::try_from(args.tasks)?)
        .build(sender)?;

    let sink = context.socket(zmq::PUSH)?;
    let sink_monitor = monitor(&context, &sink, "inproc://taskvent-sink")?;
    zsource::retry_interrupted(|| sink.connect(&args.sink))
        .map_err(|e| format!("connect {}: {e}", args.sink))?;
    let sink = ZmqSource::new(sink)?;

    let handle = event_loop.handle();
    handle.insert_source(workers, |event, _, vent: &mut Ventilator| {
        match connection_change(&event) {
            Some(Change::Connected) => {
                vent.workers += 1;
                vent.handshakes += 1;
                if let Some(wanted) = vent.wanted.filter(|_| !vent.ready) {
                    eprintln!("{} of {wanted} workers connected", vent.handshakes);
                }
            }
            Some(Change::Disconnected) => vent.workers = vent.workers.saturating_sub(1),
            None => return,
        }
        vent.check();
    })?;
    handle.insert_source(sink_monitor, |event, _, vent: &mut Ventilator| {
        if let Some(change) = connection_change(&event) {
            vent.sink = matches!(change, Change::Connected);
            vent.check();
        }
    })?;

    let mut vent = Ventilator {
        workers: 0,
        handshakes: 0,
        wanted: args.workers,
        sink: false,
        ready: args.workers == Some(0),
        sent: false,
        delivered: false,
        failure: None,
        tasks: args.tasks,
        sink_endpoint: args.sink.clone(),
        endpoint,
        signal: event_loop.get_signal(),
    };
    if args.workers.is_none() {
        print!("Press Enter when the workers are ready: ");
        io::stdout().flush()?;
        if wait_for_enter(&handle, event_loop.get_signal())? {
            vent.ready = true;
        }
    }
    if !vent.ready {
        event_loop.run(None, &mut vent, |_| {})?;
    }
    if !vent.ready {
        return Ok(()); // Ctrl-C before anything was sent: nothing is lost.
    }

    println!("Sending tasks to workers...");
    // The first message is "0" and signals the start of the batch.
    sink.send("0")
        .map_err(|e| format!("signal the sink: {e}"))?;

    let mut random = match args.seed {
        Some(seed) => SmallRng::seed_from_u64(seed),
        None => rand::make_rng(),
    };
    // A worker's pipe reaches the socket as a command that libzmq handles on
    // the socket's next call, but `send` may skip commands for up to a
    // millisecond. Reading ZMQ_EVENTS handles them now, so every worker
    // counted is in the round from the first task on.
    sender.socket().get_events()?;
    let mut total_msec = 0;
    for _ in 0..args.tasks {
        let workload: u32 = random.random_range(1..=100);
        total_msec += u64::from(workload);
        sender
            .send(workload.to_string())
            .map_err(|e| format!("send a task: {e}"))?;
    }
    println!("Total expected cost: {total_msec} msec");

    // The batch start waits in libzmq for the sink, and the tasks in the
    // source for a worker. Wait until both are there to take them.
    let sent = Instant::now();
    let timeout = args.timeout_ms.map(Duration::from_millis);
    vent.sent = true;
    vent.check();
    if !vent.delivered {
        handle.insert_source(Timer::from_duration(MOMENT), |_, _, vent| {
            vent.say_waiting();
            TimeoutAction::Drop
        })?;
        if let Some(timeout) = timeout {
            handle.insert_source(Timer::from_duration(timeout), move |_, _, vent| {
                vent.failure = Some(vent.timed_out(timeout));
                vent.signal.stop();
                TimeoutAction::Drop
            })?;
        }
        event_loop.run(None, &mut vent, |_| {})?;
    }
    if let Some(failure) = vent.failure {
        return Err(failure.into());
    }
    if !vent.delivered {
        return Err(vent.stopped().into()); // Ctrl-C
    }

    // Both are connected: hand everything to libzmq, which delivers it as
    // the sockets close, lingering for as long as the timeout has left.
    delivering.store(true, Ordering::SeqCst);
    let left = timeout.map_or(FOREVER, |timeout| timeout.saturating_sub(sent.elapsed()));
    sink.flush(left)
        .map_err(|e| format!("deliver the batch start to {}: {e}", args.sink))?;
    sender
        .flush(left)
        .map_err(|e| format!("deliver the tasks: {e}"))?;
    Ok(())
}

/// A peer that completed its handshake, or a connection that went away.
enum Change {
    Connected,
    Disconnected,
}

/// Starts a socket monitor that reports each completed handshake and each
/// disconnection on `socket`, and returns the PAIR socket it reports to.
///
/// A handshake, not an accepted connection: libzmq gives the socket the new
/// peer's pipe when the handshake is done, and a task sent before that
/// would go to the other workers.
fn monitor(
    context: &zmq::Context,
    socket: &zmq::Socket,
    endpoint: &str,
) -> Result<ZmqSource, Box<dyn Error>> {
    let events =
        zmq::SocketEvent::HANDSHAKE_SUCCEEDED.to_raw() | zmq::SocketEvent::DISCONNECTED.to_raw();
    zsource::retry_interrupted(|| socket.monitor(endpoint, i32::from(events)))?;
    let monitor = context.socket(zmq::PAIR)?;
    // Over inproc, connecting completes at once, so no event is missed.
    zsource::retry_interrupted(|| monitor.connect(endpoint))?;
    Ok(ZmqSource::new(monitor)?)
}

/// What a socket monitor's message says about a connection, if anything.
fn connection_change(event: &Event) -> Option<Change> {
    let Event::Message(message) = event else {
        return None;
    };
    let number = event_number(message)?;
    if number == zmq::SocketEvent::HANDSHAKE_SUCCEEDED.to_raw() {
        Some(Change::Connected)
    } else if number == zmq::SocketEvent::DISCONNECTED.to_raw() {
        Some(Change::Disconnected)
    } else {
        None
    }
}

/// The event number of a socket monitor's message. Its first frame is six
/// bytes: the event (u16) and a value (u32), in the host's byte order, as
/// libzmq copies them from memory. The second frame is the endpoint.
fn event_number(message: &Multipart) -> Option<u16> {
    match message.first() {
        [low, high, _, _, _, _] => Some(u16::from_ne_bytes([*low, *high])),
        _ => None,
    }
}

/// Waits in the loop for a line on stdin, or for its end. Returns true if
/// stdin already said "go" without waiting.
fn wait_for_enter(
    handle: &LoopHandle<'_, Ventilator>,
    signal: LoopSignal,
) -> Result<bool, Box<dyn Error>> {
    // A copy of the descriptor, read without Rust's buffering, so that what
    // the poller sees and what a read finds agree.
    let stdin = File::from(
        io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| format!("stdin: {e}"))?,
    );
    let source = Generic::new(stdin, Interest::READ, Mode::Level);
    let inserted = handle.insert_source(source, move |_, stdin, vent: &mut Ventilator| {
        let mut stdin: &File = stdin;
        if pressed_enter(&mut stdin)? {
            vent.ready = true;
            signal.stop();
            return Ok(PostAction::Remove);
        }
        Ok(PostAction::Continue)
    });
    match inserted {
        Ok(_) => Ok(false),
        // A regular file or /dev/null cannot be polled, but neither can it
        // keep a read waiting: read it here.
        Err(refused) => {
            // (Generic::unwrap hands back the file it wrapped.)
            let mut stdin: &File = &refused.inserted.unwrap();
            while !pressed_enter(&mut stdin)? {}
            Ok(true)
        }
    }
}

/// Reads what stdin has, and says whether it held a newline or was at its
/// end (which counts as Enter, as `getchar()` returning EOF does in C).
fn pressed_enter(stdin: &mut impl Read) -> io::Result<bool> {
    let mut buffer = [0; 1024];
    let read = stdin.read(&mut buffer)?;
    if read == 0 {
        eprintln!("stdin closed: starting without waiting");
    }
    Ok(read == 0 || buffer[..read].contains(&b'\n'))
}
