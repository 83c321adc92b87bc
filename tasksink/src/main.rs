//! Task sink: the end of a parallel pipeline (PULL), on a calloop loop.
//!
//! The ZeroMQ guide, chapter 1, "Divide and Conquer" (`tasksink.c`). It
//! binds a PULL socket that fair-queues the results of all the workers. The
//! ventilator's `0` starts the clock; each result prints a `.` (a `:` every
//! tenth), and when the whole batch is in, the sink prints how long it took
//! and exits. With more workers the batch takes less time: that is the
//! point of the pipeline.
//!
//! Like the guide's sink, it counts any message as a result (`results.rs`
//! warns about odd ones). The `0` comes on the ventilator's own connection,
//! so nothing orders it before the workers' results: when the sink starts
//! last, a result can come first. The guide's sink takes whatever comes
//! first for the start; this one counts such a result, and the clock starts
//! with it.
//!
//! With `--control ENDPOINT` it is the guide's chapter 2 sink
//! (`tasksink2.c`): it also binds a PUB socket, and once the batch is done
//! it sends `KILL` there, which stops every `taskwork --control`
//! (`control.rs` says how sure that is).
//!
//! The guide's sink waits for ever for a result that a dead worker took
//! with it. With `--timeout-ms T` this one gives up when no result has come
//! for T ms, says how many did, and exits with status 1.
//!
//! ```text
//! cargo run -p tasksink                 # --bind tcp://*:5558 --tasks 100
//! cargo run -p taskwork
//! cargo run -p taskvent
//! cargo run -p tasksink -- --timeout-ms 1000   # give up on a stalled batch
//! cargo run -p tasksink -- --control            # and KILL on tcp://*:5559; taskwork --control
//! ```

mod control;
mod results;
mod stall;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use calloop::{EventLoop, LoopHandle, LoopSignal};
use clap::Parser;
use zsource::{Event, Multipart, ZmqSource};

use crate::control::Control;

/// Collects a batch of results and reports how long it took.
#[derive(Parser)]
#[command(version = zhelpers::version!(), about)]
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
    /// Also bind a PUB socket here, and send `KILL` on it to the workers
    /// (`taskwork --control`) once the batch is done (the guide's
    /// `tasksink2`; without a value, its `tcp://*:5559`).
    #[arg(long, num_args = 0..=1, default_missing_value = "tcp://*:5559")]
    control: Option<String>,
}

fn main() -> ExitCode {
    zhelpers::main(|| {
        let args = Args::parse();
        let mut event_loop: EventLoop<'static, Sink> = EventLoop::try_new()?;
        // What the callback keeps: the batch so far.
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
            // Here, not in the callback: a handle in a source's callback
            // would keep the loop, its sockets and so their context alive
            // for ever, and the context's end is what gives the KILL its
            // linger.
            timers: event_loop.handle(),
        };
        zhelpers::stop_on_ctrl_c(&event_loop)?;

        let context = zmq::Context::new();
        // Socket to receive messages on
        let receiver = context.socket(zmq::PULL)?;
        zhelpers::cap_message_size(&receiver)?;
        let bound = zhelpers::bind_quietly(&receiver, &args.bind)?;
        let control = match &args.control {
            Some(endpoint) => Some(Control::bind(&context, endpoint, &event_loop.handle())?),
            None => None,
        };
        // Only now that all are bound, so that a sink that cannot bind one
        // says only that.
        eprintln!("listening on {bound}");
        if let Some((_, bound)) = &control {
            eprintln!("listening on {bound}");
        }

        event_loop
            .handle()
            .insert_source(ZmqSource::new(receiver)?, |event, _, sink| {
                let Event::Message(message) = event else {
                    return eprintln!("warning: {event:?}");
                };
                receive(sink, &message);
            })?;

        event_loop.run(None, &mut sink, |_| {})?;
        match sink.elapsed {
            // Calculate and report duration of batch (on the marks' line)
            Some(elapsed) => {
                println!("Total elapsed time: {} msec", elapsed.as_millis());
                if let Some((control, _)) = &control {
                    control.kill(&mut event_loop, &mut sink);
                }
            }
            None if sink.stalled => return Err(stall::report(&sink).into()),
            None => {} // Ctrl-C
        }
        Ok(())
    })
}

/// What the loop's callbacks share.
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
    /// How long to wait for the next result (`--timeout-ms`), and whether
    /// no result came for that long.
    timeout: Option<Duration>,
    stalled: bool,
    signal: LoopSignal,
    /// For the timeout's timer.
    timers: LoopHandle<'static, Sink>,
}

/// The batch start, or one more result.
fn receive(sink: &mut Sink, message: &Multipart) {
    if sink.elapsed.is_some() {
        return; // The batch is complete; the loop is about to stop.
    }
    if !sink.heard_start && results::is_batch_start(message) {
        sink.heard_start = true;
    } else {
        results::warn_if_odd(message);
        results::mark(sink.results);
        sink.results += 1;
    }
    let now = Instant::now();
    sink.last_heard = now;
    // Start our clock now, and the timeout's, at the batch start.
    let started = *sink.started.get_or_insert_with(|| {
        if let Some(timeout) = sink.timeout {
            stall::watch(&sink.timers, timeout);
        }
        now
    });
    if sink.results == sink.tasks {
        sink.elapsed = Some(started.elapsed());
        sink.signal.stop();
    }
}
