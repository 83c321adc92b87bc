//! Task sink: the end of a parallel pipeline (PULL) on a calloop event loop.
//!
//! A port of `tasksink` from chapter 1 of the ZeroMQ guide ("Divide and
//! Conquer"). It binds a PULL socket that fair-queues the results of all the
//! workers. The ventilator's `0` starts the clock; each result prints a `.`
//! (a `:` every tenth), and when the whole batch is in, the sink prints how
//! long it took and exits. With more workers the batch takes less time: that
//! is the point of the pipeline.
//!
//! Like the guide's sink, this one counts any message as a result, empty or
//! not (the guide's C worker sends an empty one, some of its other
//! languages' send text), with a warning for an odd one (several frames, or
//! a second batch start): one odd result never stalls the batch. The batch
//! start is "0", read as C reads text, up to a NUL; also the 2-byte buffer
//! the guide's C++ ventilator sends, "0" and a leftover byte.
//!
//! The `0` comes on the ventilator's own connection, so nothing orders it
//! before the workers' results: when the sink starts last, all of them
//! connect at about the same time and a result can come first. Like the
//! guide's sink, which takes whatever message comes first for the start,
//! this one counts such a result, and the clock starts with it.
//!
//! The guide's sink waits forever for a result that a dead worker took with
//! it. With `--timeout-ms T` this one gives up when no result has come for T
//! ms, says how many did, and exits with status 1. The check costs one timer
//! per batch, not one per result: a result only notes when it came, and when
//! the timer fires it either reports the stall or sets itself T ms after the
//! latest result.
//!
//! Run the sink, some workers, then the ventilator:
//!
//! ```text
//! cargo run -p tasksink                 # --bind tcp://*:5558 --tasks 100
//! cargo run -p taskwork
//! cargo run -p taskvent
//! cargo run -p tasksink -- --timeout-ms 1000   # give up on a stalled batch
//! ```

use std::error::Error;
use std::io::{self, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use calloop::ping::make_ping;
use calloop::timer::{TimeoutAction, Timer};
use calloop::{EventLoop, LoopHandle, LoopSignal};
use clap::Parser;
use zsource::{Event, Multipart, ZmqSource};

/// Collects a batch of results and reports how long it took.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Endpoint to bind the PULL socket to.
    #[arg(long, default_value = "tcp://*:5558")]
    bind: String,
    /// How many results make a batch (the ventilator's task count).
    #[arg(long, default_value_t = 100)]
    tasks: u32,
    /// Give up, with exit status 1, when no result has come for this many
    /// milliseconds once the batch has started (a worker died with some of
    /// its tasks). Before the batch starts the sink waits for the ventilator
    /// however long it takes. Without it, the sink waits forever.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    timeout_ms: Option<u64>,
}

/// Results are short, empty in the guide's C, and the batch start is a byte
/// or two. libzmq drops a peer that sends more than this, connection and
/// all, so the cap is one that no sane worker meets, 1 MiB: a worker that
/// sends more loses that result, and its connection (it reconnects).
const MAX_MESSAGE_BYTES: i64 = 1 << 20;

/// What the loop's callback keeps.
struct Sink {
    tasks: u32,
    /// When the batch started: at the ventilator's `0`, or at the first
    /// result if that came first.
    started: Option<Instant>,
    /// Whether the ventilator's `0` has come.
    heard_start: bool,
    results: u32,
    /// When the latest result (or the batch start) came.
    last_heard: Instant,
    /// How long the batch took, once it is complete.
    elapsed: Option<Duration>,
    /// How long to wait for the next result: `--timeout-ms`.
    timeout: Option<Duration>,
    /// Set when no result came for that long.
    stalled: bool,
    signal: LoopSignal,
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

    let mut event_loop: EventLoop<Sink> = EventLoop::try_new()?;
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
    receiver.set_maxmsgsize(MAX_MESSAGE_BYTES)?;
    zsource::retry_interrupted(|| receiver.bind(&args.bind))
        .map_err(|e| format!("bind {}: {e}", args.bind))?;
    // With a wildcard such as tcp://127.0.0.1:*, this says which port we got.
    let endpoint = receiver
        .get_last_endpoint()?
        .unwrap_or_else(|raw| String::from_utf8_lossy(&raw).into_owned());
    eprintln!("listening on {endpoint}");

    let mut sink = Sink {
        tasks: args.tasks,
        started: None,
        heard_start: false,
        results: 0,
        last_heard: Instant::now(),
        elapsed: None,
        timeout: args.timeout_ms.map(Duration::from_millis),
        stalled: false,
        signal: event_loop.get_signal(),
    };
    let handle = event_loop.handle();
    event_loop
        .handle()
        .insert_source(ZmqSource::new(receiver)?, move |event, _, sink| {
            if let Event::Message(message) = event {
                receive(sink, &message, &handle);
            }
        })?;

    event_loop.run(None, &mut sink, |_| {})?;
    if let Some(elapsed) = sink.elapsed {
        // Same line as the dots, as in the guide.
        println!("Total elapsed time: {} msec", elapsed.as_millis());
    } else if sink.stalled {
        if sink.results > 0 {
            println!(); // End the line of dots.
        }
        let (results, tasks) = (sink.results, sink.tasks);
        let silence = sink.timeout.unwrap_or_default().as_millis();
        return Err(format!("{results} of {tasks} results arrived; none for {silence} ms").into());
    }
    // Otherwise it was Ctrl-C.
    Ok(())
}

fn receive(sink: &mut Sink, message: &Multipart, handle: &LoopHandle<'_, Sink>) {
    if sink.elapsed.is_some() {
        return; // The batch is complete; the loop is about to stop.
    }
    if !sink.heard_start && is_batch_start(message) {
        sink.heard_start = true;
    } else {
        if message.frame_count() > 1 {
            let frames = message.frame_count();
            eprintln!("warning: a result of {frames} frames, counted once: {message:?}");
        } else if is_batch_start(message) {
            eprintln!(
                "warning: a second batch start in the middle of the batch, counted as a result"
            );
        }
        print!("{}", if sink.results % 10 == 0 { ':' } else { '.' });
        let _ = io::stdout().flush();
        sink.results += 1;
    }
    let now = Instant::now();
    sink.last_heard = now;
    let started = match sink.started {
        Some(started) => started,
        None => {
            // The timeout, like the clock, runs from the start of the batch.
            if let Some(timeout) = sink.timeout {
                watch_for_stall(handle, timeout);
            }
            *sink.started.insert(now)
        }
    };
    if sink.results == sink.tasks {
        sink.elapsed = Some(started.elapsed());
        sink.signal.stop();
    }
}

/// Starts the one timer that stops the sink when no result has come for
/// `timeout`. Results do not touch it, they only move `last_heard`: when it
/// fires at a deadline that a later result has pushed back, it sets itself
/// for the new one.
fn watch_for_stall(handle: &LoopHandle<'_, Sink>, timeout: Duration) {
    let timer = Timer::from_duration(timeout);
    let inserted = handle.insert_source(timer, move |deadline, _, sink: &mut Sink| {
        let due = sink.last_heard + timeout;
        if due > deadline {
            return TimeoutAction::ToInstant(due);
        }
        sink.stalled = true;
        sink.signal.stop();
        TimeoutAction::Drop
    });
    if let Err(e) = inserted {
        eprintln!("warning: cannot start the timeout's timer, so no timeout: {e}");
    }
}

/// Whether a message is the ventilator's "0": as a C string (up to a NUL),
/// or as the guide's C++ ventilator sends it, 2 bytes of which only the
/// first is set.
fn is_batch_start(message: &Multipart) -> bool {
    match message.single() {
        Some([b'0', _]) => true,
        Some(frame) => frame.split(|&byte| byte == 0).next() == Some(b"0"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_batch_start_is_0_as_c_reads_it() {
        // The C++ start's second byte is anything at all, so any 2-byte
        // message that starts with "0" is one.
        for start in [&b"0"[..], b"0\0", b"0\xaa", b"01", b"0\0\0\0"] {
            assert!(is_batch_start(&Multipart::from(start)), "{start:?}");
        }
        for other in [&b""[..], b"000", b"10", b"done", b"\x000", b"0 \0"] {
            assert!(!is_batch_start(&Multipart::from(other)), "{other:?}");
        }
        assert!(!is_batch_start(&Multipart::new("0").with("0")));
    }
}
