//! Wayne's World camera 1: a SUB socket on TCP, on a calloop event loop.
//!
//! A port of `camera1.py` from the Python "Wayne's World" example. It
//! subscribes to everything the server publishes on its TCP socket and prints
//! each message as the original does: `MSG 1:  'Camera 1'`. It never sees
//! `Camera 2`: the server publishes that on another socket. Start it before
//! or after the server; like any subscriber it misses what was published
//! before it was connected. `camera2` is the same program on the IPC socket.
//!
//! Run the server, then the camera in a second terminal:
//!
//! ```text
//! cargo run -p waynes-world
//! cargo run -p waynes-world --bin camera1    # --connect tcp://127.0.0.1:5566
//! ```

use std::error::Error;
use std::process::ExitCode;

use calloop::EventLoop;
use calloop::ping::make_ping;
use clap::Parser;
use zsource::{Event, ZmqSource};

/// Prints every message the Wayne's World server publishes on its TCP socket.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Endpoint of the server's TCP socket.
    #[arg(long, default_value = "tcp://127.0.0.1:5566")]
    connect: String,
}

/// A camera's name is a few bytes: a longer message is skipped, with a
/// warning.
const MAX_MESSAGE_BYTES: usize = 1024;

/// libzmq's own limit (ZMQ_MAXMSGSIZE), so that a rogue publisher cannot make
/// the camera buffer gigabytes. It is far above `MAX_MESSAGE_BYTES` because
/// libzmq does not skip a message over it: it drops the connection as broken,
/// and a connecting socket does not reconnect after that. The camera would
/// go silent for good.
const ZMQ_MAX_MESSAGE_BYTES: i64 = 1 << 20;

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

    let mut event_loop: EventLoop<()> = EventLoop::try_new()?;
    // Ctrl-C arrives as an event like any other. A ping keeps one that comes
    // before the loop runs, which a bare `LoopSignal::stop` would not: `run`
    // clears the stop flag when it starts. Set up first, so that no Ctrl-C
    // meets the default handler, which would kill the camera outright.
    let (ctrl_c, stopped) = make_ping()?;
    ctrlc::set_handler(move || ctrl_c.ping())?;
    let signal = event_loop.get_signal();
    event_loop
        .handle()
        .insert_source(stopped, move |(), _, _| signal.stop())?;

    let context = zmq::Context::new();
    let subscriber = context.socket(zmq::SUB)?;
    subscriber.set_maxmsgsize(ZMQ_MAX_MESSAGE_BYTES)?;
    // An empty prefix matches every message.
    subscriber.set_subscribe(b"")?;
    zsource::retry_interrupted(|| subscriber.connect(&args.connect))
        .map_err(|e| format!("connect {}: {e}", args.connect))?;

    event_loop
        .handle()
        .insert_source(ZmqSource::new(subscriber)?, |event, _, _| {
            let Event::Message(message) = event else {
                return;
            };
            let size: usize = message.frames().map(<[u8]>::len).sum();
            if size > MAX_MESSAGE_BYTES {
                eprintln!("warning: skipping a message of {size} bytes");
                return;
            }
            match message.single().map(std::str::from_utf8) {
                // Escaped, as Python's repr() does, so one message is one line.
                Some(Ok(text)) if !text.is_empty() => println!("MSG 1:  '{}'", text.escape_debug()),
                _ => eprintln!("warning: skipping a malformed message: {message:?}"),
            }
        })?;

    event_loop.run(None, &mut (), |_| {})?;
    Ok(())
}
