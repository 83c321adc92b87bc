//! Task sink: the end of a parallel pipeline (PULL) on a calloop event loop.
//!
//! A port of `tasksink` from chapter 1 of the ZeroMQ guide ("Divide and
//! Conquer"). It binds a PULL socket that fair-queues the results of all the
//! workers. The ventilator's `0` starts the clock; each result prints a `.`
//! (a `:` every tenth), and when the whole batch is in, the sink prints how
//! long it took and exits. With more workers the batch takes less time: that
//! is the point of the pipeline.
//!
//! Run the sink, some workers, then the ventilator:
//!
//! ```text
//! cargo run -p tasksink                 # --bind tcp://*:5558 --tasks 100
//! cargo run -p taskwork
//! cargo run -p taskvent
//! ```

use std::error::Error;
use std::io::{self, Write};
use std::time::{Duration, Instant};

use calloop::ping::make_ping;
use calloop::{EventLoop, LoopSignal};
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
}

/// Results are empty and the batch start is one byte. libzmq drops a peer
/// that sends more than this.
const MAX_MESSAGE_BYTES: i64 = 64;

/// What the loop's callback keeps.
struct Sink {
    tasks: u32,
    /// When the ventilator said the batch started.
    started: Option<Instant>,
    results: u32,
    /// How long the batch took, once it is complete.
    elapsed: Option<Duration>,
    signal: LoopSignal,
}

/// The two messages a sink hears.
enum Message {
    /// `0` from the ventilator.
    BatchStart,
    /// An empty message from a worker.
    Result,
}

fn main() -> Result<(), Box<dyn Error>> {
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
    receiver
        .bind(&args.bind)
        .map_err(|e| format!("bind {}: {e}", args.bind))?;
    // With a wildcard such as tcp://127.0.0.1:*, this says which port we got.
    let endpoint = receiver
        .get_last_endpoint()?
        .unwrap_or_else(|raw| String::from_utf8_lossy(&raw).into_owned());
    eprintln!("listening on {endpoint}");

    let mut sink = Sink {
        tasks: args.tasks,
        started: None,
        results: 0,
        elapsed: None,
        signal: event_loop.get_signal(),
    };
    event_loop
        .handle()
        .insert_source(ZmqSource::new(receiver)?, |event, _, sink: &mut Sink| {
            if let Event::Message(message) = event {
                receive(sink, &message);
            }
        })?;

    event_loop.run(None, &mut sink, |_| {})?;
    // Without the whole batch, it was Ctrl-C.
    if let Some(elapsed) = sink.elapsed {
        // Same line as the dots, as in the guide.
        println!("Total elapsed time: {} msec", elapsed.as_millis());
    }
    Ok(())
}

fn receive(sink: &mut Sink, message: &Multipart) {
    if sink.elapsed.is_some() {
        return; // The batch is complete; the loop is about to stop.
    }
    match (classify(message), sink.started) {
        (Some(Message::BatchStart), None) => sink.started = Some(Instant::now()),
        (Some(Message::BatchStart), Some(_)) => {
            eprintln!("warning: skipping a second batch start in the middle of the batch");
        }
        (Some(Message::Result), None) => {
            eprintln!("warning: skipping a result that came before the batch start");
        }
        (Some(Message::Result), Some(_)) => {
            print!("{}", if sink.results % 10 == 0 { ':' } else { '.' });
            let _ = io::stdout().flush();
            sink.results += 1;
        }
        (None, _) => eprintln!("warning: skipping a malformed message: {message:?}"),
    }
    if let Some(started) = sink.started {
        if sink.results == sink.tasks {
            sink.elapsed = Some(started.elapsed());
            sink.signal.stop();
        }
    }
}

fn classify(message: &Multipart) -> Option<Message> {
    match message.single()? {
        b"0" => Some(Message::BatchStart),
        b"" => Some(Message::Result),
        _ => None,
    }
}
