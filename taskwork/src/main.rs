//! Task worker: the middle of a parallel pipeline (PULL in, PUSH out) on a
//! calloop event loop.
//!
//! A port of `taskwork` from chapter 1 of the ZeroMQ guide ("Divide and
//! Conquer"). It connects a PULL socket to the ventilator for tasks and a
//! PUSH socket to the sink for results. Each task is a workload in
//! milliseconds: the worker prints it, "works" that long, and tells the sink
//! it is done with an empty message. Start as many workers as you like.
//!
//! The guide's worker sleeps. This one sets a calloop timer, so Ctrl-C stops
//! it at once even in the middle of a task. Tasks that arrive while one is
//! in progress wait their turn in a local queue. The next task's deadline is
//! the previous one's plus its workload, not "now" plus its workload: a
//! timer always fires a little late, and chained that way the lateness does
//! not add up over a batch.
//!
//! Run the sink, some workers, then the ventilator:
//!
//! ```text
//! cargo run -p tasksink
//! cargo run -p taskwork                 # --connect tcp://localhost:5557 --sink tcp://localhost:5558
//! cargo run -p taskvent
//! ```

use std::collections::VecDeque;
use std::error::Error;
use std::io::{self, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use calloop::ping::make_ping;
use calloop::timer::{TimeoutAction, Timer};
use calloop::{EventLoop, LoopHandle};
use clap::Parser;
use zsource::{Event, Multipart, Sender, ZmqSource};

/// Does the ventilator's tasks and reports each one to the sink.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Endpoint of the ventilator, which hands out the tasks.
    #[arg(long, default_value = "tcp://localhost:5557")]
    connect: String,
    /// Endpoint of the sink, which collects the results.
    #[arg(long, default_value = "tcp://localhost:5558")]
    sink: String,
}

/// The longest workload accepted, in milliseconds. The guide's are at most
/// 100; one of more than a minute is taken for a mistake, not a task.
const MAX_WORKLOAD_MS: u64 = 60_000;

/// A task is a short number: a longer message is skipped, with a warning.
const MAX_TASK_BYTES: usize = 64;

/// libzmq's own limit (ZMQ_MAXMSGSIZE), so that a rogue ventilator cannot
/// make the worker buffer gigabytes. It is far above `MAX_TASK_BYTES`
/// because libzmq does not skip a message over it: it drops the connection
/// as broken, and a connecting socket does not reconnect after that. The
/// worker would never hear of another task.
const ZMQ_MAX_MESSAGE_BYTES: i64 = 1 << 20;

/// What the loop's callbacks share.
struct Worker {
    /// Workloads received and not started yet, in arrival order.
    waiting: VecDeque<u64>,
    /// Whether a task is in progress (its timer is running).
    busy: bool,
    results: Sender,
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

    let mut event_loop: EventLoop<Worker> = EventLoop::try_new()?;
    // Ctrl-C comes in on another thread, as a ping that the loop handles
    // like any other event. (Calling `signal.stop()` from the handler is not
    // enough: `run` resets that flag when it starts, so a Ctrl-C that came
    // before would be lost.)
    let (interrupt, interrupted) = make_ping()?;
    ctrlc::set_handler(move || interrupt.ping())?;
    let signal = event_loop.get_signal();
    event_loop
        .handle()
        .insert_source(interrupted, move |(), _, _| signal.stop())?;

    let context = zmq::Context::new();
    let receiver = context.socket(zmq::PULL)?;
    receiver.set_maxmsgsize(ZMQ_MAX_MESSAGE_BYTES)?;
    zsource::retry_interrupted(|| receiver.connect(&args.connect))
        .map_err(|e| format!("connect {}: {e}", args.connect))?;
    let sender = context.socket(zmq::PUSH)?;
    zsource::retry_interrupted(|| sender.connect(&args.sink))
        .map_err(|e| format!("connect {}: {e}", args.sink))?;
    let sender = ZmqSource::new(sender)?;

    let mut worker = Worker {
        waiting: VecDeque::new(),
        busy: false,
        results: sender.sender(),
    };
    let handle = event_loop.handle();
    handle.insert_source(sender, |event, _, _| {
        if let Event::SendFailed { error, .. } = event {
            eprintln!("warning: result not sent: {error}");
        }
    })?;
    let timers = handle.clone();
    handle.insert_source(ZmqSource::new(receiver)?, move |event, _, worker| {
        let Event::Message(task) = event else {
            return;
        };
        let Some(workload) = parse_workload(&task) else {
            eprintln!("warning: skipping a malformed task: {task:?}");
            return;
        };
        worker.waiting.push_back(workload);
        if !worker.busy {
            start_work(&timers, worker);
        }
    })?;

    event_loop.run(None, &mut worker, |_| {})?;
    Ok(())
}

/// Starts the first waiting task, now, on a timer that goes on to the tasks
/// queued behind it.
fn start_work(timers: &LoopHandle<'_, Worker>, worker: &mut Worker) {
    let Some(workload) = worker.waiting.pop_front() else {
        return;
    };
    show_progress(workload);
    let timer = Timer::from_duration(Duration::from_millis(workload));
    // The timer's event is the deadline it was set for, not the time it
    // fired: the next deadline counts from it, so lateness does not add up.
    let inserted = timers.insert_source(timer, |deadline: Instant, _, worker: &mut Worker| {
        if let Err(e) = worker.results.try_send("") {
            eprintln!("warning: result not sent: {e}");
        }
        match worker.waiting.pop_front() {
            Some(workload) => {
                show_progress(workload);
                TimeoutAction::ToInstant(deadline + Duration::from_millis(workload))
            }
            None => {
                worker.busy = false;
                TimeoutAction::Drop
            }
        }
    });
    match inserted {
        Ok(_) => worker.busy = true,
        Err(e) => eprintln!("warning: cannot start the task's timer: {e}"),
    }
}

/// Prints the workload of the task being started: `N.`, without a newline.
fn show_progress(workload: u64) {
    print!("{workload}.");
    let _ = io::stdout().flush();
}

/// A task's workload in milliseconds: one short frame, a decimal number no
/// greater than [`MAX_WORKLOAD_MS`].
fn parse_workload(task: &Multipart) -> Option<u64> {
    let frame = task
        .single()
        .filter(|frame| frame.len() <= MAX_TASK_BYTES)?;
    let text = std::str::from_utf8(frame).ok()?;
    text.parse().ok().filter(|&ms| ms <= MAX_WORKLOAD_MS)
}
