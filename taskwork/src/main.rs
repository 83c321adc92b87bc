//! Task worker: the middle of a parallel pipeline (PULL in, PUSH out) on a
//! calloop event loop.
//!
//! A port of `taskwork` from chapter 1 of the ZeroMQ guide ("Divide and
//! Conquer"). It connects a PULL socket to the ventilator for tasks and a
//! PUSH socket to the sink for results. Each task is a workload in
//! milliseconds: the worker prints it, "works" that long, and tells the sink
//! it is done with an empty message. Start as many workers as you like.
//!
//! A task is read as the guide's C worker reads it, with `atoi`: the text up
//! to the first NUL (the guide's C++ ventilator sends NUL-padded buffers),
//! and the number at its start. Whatever task it takes, the worker sends a
//! result, so one odd task never leaves the sink waiting: a task that is not
//! plainly a number gets a warning, and one with no number in it, or a
//! negative workload, or more than a minute of it, gets no work at all.
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

/// The longest workload worked on, in milliseconds. The guide's are at most
/// 100; one of more than a minute is taken for a mistake, not a task.
const MAX_WORKLOAD_MS: u64 = 60_000;

/// libzmq's own limit (ZMQ_MAXMSGSIZE), so that a rogue ventilator cannot
/// make the worker buffer gigabytes. It is generous because libzmq does not
/// skip a message over it: it drops the connection as broken, and a
/// connecting socket does not reconnect after that. The worker would never
/// hear of another task.
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
        let (workload, odd) = read_workload(&task);
        if let Some(why) = odd {
            eprintln!("warning: {why}; working {workload} ms and sending its result: {task:?}");
        }
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

/// A task's workload in milliseconds, read as the guide's C worker reads
/// it, and what is odd about the task, if anything. C's `atoi` reads the
/// number at the start of a C string, after any spaces and a sign; where it
/// finds none it reads 0.
fn read_workload(task: &Multipart) -> (u64, Option<String>) {
    let mut odd = Vec::new();
    if task.frame_count() > 1 {
        odd.push(format!("{} frames, reading the first", task.frame_count()));
    }
    let c_string = task
        .first()
        .split(|&byte| byte == 0)
        .next()
        .unwrap_or_default();
    let text = c_string.trim_ascii_start();
    let (negative, text) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, text),
    };
    let digits = text.iter().take_while(|byte| byte.is_ascii_digit()).count();
    if digits == 0 {
        odd.push("not a number".to_string());
        return (0, Some(odd.join(", ")));
    }
    if c_string.len() != digits {
        odd.push("not only a number".to_string());
    }
    // Digits are ASCII; a number too large for u64 is over the limit too.
    let number = std::str::from_utf8(&text[..digits])
        .ok()
        .and_then(|digits| digits.parse::<u64>().ok());
    let workload = match number {
        _ if negative => {
            odd.push("a negative workload".to_string());
            0
        }
        Some(ms) if ms <= MAX_WORKLOAD_MS => ms,
        _ => {
            odd.push(format!("more than {MAX_WORKLOAD_MS} ms of work"));
            0
        }
    };
    (workload, (!odd.is_empty()).then(|| odd.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(task: &[u8]) -> (u64, bool) {
        let (workload, odd) = read_workload(&Multipart::from(task));
        (workload, odd.is_some())
    }

    #[test]
    fn reads_a_workload_as_atoi_does() {
        assert_eq!(read(b"49"), (49, false));
        // The guide's C++ ventilator: a C string in a 10-byte buffer.
        assert_eq!(read(b"49\0\0\0\0\0\0\0\0"), (49, false));
        assert_eq!(read(b"007"), (7, false));
        assert_eq!(read(b" +3\n"), (3, true));
        assert_eq!(read(b"12 apples"), (12, true));
        assert_eq!(read(b"60000"), (60_000, false));
    }

    #[test]
    fn a_task_without_a_sane_workload_gets_no_work() {
        for task in [
            &b"seven"[..],
            b"",
            b"\xff\xfe",
            b"-3",
            b"60001",
            b"99999999999999999999999",
            b"\x0049",
        ] {
            assert_eq!(read(task), (0, true), "{task:?}");
        }
    }

    #[test]
    fn reads_the_first_frame_of_several() {
        let (workload, odd) = read_workload(&Multipart::new("5").with("6"));
        assert_eq!(workload, 5);
        assert!(odd.is_some_and(|why| why.contains("2 frames")));
    }
}
