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
}

/// Where the socket monitor publishes the PUSH socket's events.
const MONITOR: &str = "inproc://taskvent-monitor";

/// How long the batch may take to leave once it is sent: the sink may not
/// be up yet, and tasks wait in the source when no worker is connected.
const DELIVERY_TIME: Duration = Duration::from_secs(5);

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

    // The loop only waits (for Enter or for the workers); its data says
    // whether the wait ended because the workers are ready.
    let mut event_loop: EventLoop<bool> = EventLoop::try_new()?;
    // Ctrl-C comes in on another thread, as a ping that the loop handles
    // like any other event. (Calling `signal.stop()` from the handler is not
    // enough: `run` resets that flag when it starts, so a Ctrl-C that came
    // before would be lost.) Once the loop is over, Ctrl-C means "don't wait
    // for the delivery".
    let delivering = Arc::new(AtomicBool::new(false));
    let stop_now = Arc::clone(&delivering);
    let (interrupt, interrupted) = make_ping()?;
    ctrlc::set_handler(move || {
        if stop_now.load(Ordering::SeqCst) {
            std::process::exit(0);
        }
        interrupt.ping();
    })?;
    let signal = event_loop.get_signal();
    event_loop
        .handle()
        .insert_source(interrupted, move |(), _, _| signal.stop())?;

    let context = zmq::Context::new();
    let sender = context.socket(zmq::PUSH)?;
    // Watch before binding, so that no worker connects unseen.
    if let Some(workers) = args.workers {
        let monitor = monitor_handshakes(&context, &sender)?;
        count_workers(
            &event_loop.handle(),
            event_loop.get_signal(),
            monitor,
            workers,
        )?;
    }
    zsource::retry_interrupted(|| sender.bind(&args.bind))
        .map_err(|e| format!("bind {}: {e}", args.bind))?;
    // With a wildcard such as tcp://127.0.0.1:*, this says which port we got.
    let endpoint = sender
        .get_last_endpoint()?
        .unwrap_or_else(|raw| String::from_utf8_lossy(&raw).into_owned());
    eprintln!("listening on {endpoint}");
    // Wrapped at once for the source's linger of zero: a ventilator stopped
    // while it waits exits at once.
    let mut sender = ZmqSource::builder()
        .capacity(usize::try_from(args.tasks)?)
        .build(sender)?;

    let sink = context.socket(zmq::PUSH)?;
    zsource::retry_interrupted(|| sink.connect(&args.sink))
        .map_err(|e| format!("connect {}: {e}", args.sink))?;
    let mut sink = ZmqSource::new(sink)?;

    let mut ready = args.workers == Some(0);
    if args.workers.is_none() {
        print!("Press Enter when the workers are ready: ");
        io::stdout().flush()?;
        if wait_for_enter(&event_loop.handle(), event_loop.get_signal())? {
            ready = true;
        }
    }
    if !ready {
        event_loop.run(None, &mut ready, |_| {})?;
    }
    if !ready {
        return Ok(()); // Ctrl-C
    }
    delivering.store(true, Ordering::SeqCst);

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

    // Tasks wait in the source while no worker is connected, and libzmq
    // keeps what the sockets took until the linger that flush sets runs out.
    let deadline = Instant::now() + DELIVERY_TIME;
    sink.flush(DELIVERY_TIME)
        .map_err(|e| format!("deliver the batch start to {}: {e}", args.sink))?;
    sender
        .flush(deadline.saturating_duration_since(Instant::now()))
        .map_err(|e| format!("deliver the tasks (is a worker connected?): {e}"))?;
    Ok(())
}

/// Starts a socket monitor that reports each completed handshake on
/// `socket`, and returns the PAIR socket it reports to.
///
/// A handshake, not an accepted connection: libzmq gives the socket the new
/// worker's pipe when the handshake is done, and a task sent before that
/// would go to the other workers.
fn monitor_handshakes(
    context: &zmq::Context,
    socket: &zmq::Socket,
) -> Result<ZmqSource, Box<dyn Error>> {
    let handshake = zmq::SocketEvent::HANDSHAKE_SUCCEEDED.to_raw();
    zsource::retry_interrupted(|| socket.monitor(MONITOR, i32::from(handshake)))?;
    let monitor = context.socket(zmq::PAIR)?;
    // Over inproc, connecting completes at once, so no event is missed.
    zsource::retry_interrupted(|| monitor.connect(MONITOR))?;
    Ok(ZmqSource::new(monitor)?)
}

/// Ends the loop's wait once `workers` handshakes have been reported.
fn count_workers(
    handle: &LoopHandle<'_, bool>,
    signal: LoopSignal,
    monitor: ZmqSource,
    workers: u32,
) -> Result<(), Box<dyn Error>> {
    let handshake = zmq::SocketEvent::HANDSHAKE_SUCCEEDED.to_raw();
    let mut connected = 0;
    handle.insert_source(monitor, move |event, _, ready: &mut bool| {
        let Event::Message(message) = event else {
            return;
        };
        if event_number(&message) != Some(handshake) {
            return;
        }
        connected += 1;
        eprintln!("{connected} of {workers} workers connected");
        if connected == workers {
            *ready = true;
            signal.stop();
        }
    })?;
    Ok(())
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
    handle: &LoopHandle<'_, bool>,
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
    let inserted = handle.insert_source(source, move |_, stdin, ready: &mut bool| {
        let mut stdin: &File = stdin;
        if pressed_enter(&mut stdin)? {
            *ready = true;
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
