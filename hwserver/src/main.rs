//! Hello World server: request-reply (REP) on a calloop event loop.
//!
//! A port of `hwserver` from chapter 1 of the ZeroMQ guide ("Ask and Ye Shall
//! Receive"). It binds a REP socket, prints each request it receives, does
//! some "work", and replies "World". The guide's server sleeps to simulate the
//! work; this one sets a calloop timer instead, so the loop stays free while
//! it works and Ctrl-C stops the server at once, even in the middle of a
//! request.
//!
//! It answers every request up to 1 MiB (and prints a long one cut short),
//! reading its text as the guide's C does, up to a NUL. libzmq drops a
//! client that sends more, without a reply.
//!
//! Run it, then the client in a second terminal:
//!
//! ```text
//! cargo run -p hwserver                 # --bind tcp://*:5555 --work-ms 1000
//! cargo run -p hwclient
//! ```

use std::error::Error;
use std::process::ExitCode;
use std::time::Duration;

use calloop::EventLoop;
use calloop::ping::make_ping;
use calloop::timer::{TimeoutAction, Timer};
use clap::Parser;
use zsource::{Event, ZmqSource};

/// Replies "World" to every request, after some simulated work.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Endpoint to bind the REP socket to.
    #[arg(long, default_value = "tcp://*:5555")]
    bind: String,
    /// Milliseconds of simulated work before each reply.
    #[arg(long, default_value_t = 1000)]
    work_ms: u64,
}

/// Requests are a few bytes, but the guide's servers answer any, so this
/// one does too, up to a cap that no sane client meets, 1 MiB: libzmq drops
/// a peer that sends more, rather than buffering whatever it sends. Such a
/// request gets no reply, and its client waits until it gives up (with
/// `hwclient --timeout-ms`, it retries on a new connection).
const MAX_REQUEST_BYTES: i64 = 1 << 20;

/// How much of a long request is printed.
const SHOWN_BYTES: usize = 64;

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

    // Ctrl-C and SIGTERM come in on another thread, as a ping the loop
    // handles like any other event. (Calling `signal.stop()` from the
    // handler is not enough: `run` clears that flag when it starts, so a
    // Ctrl-C that came before would be lost.) Set up first, so no signal
    // meets the default handler, which would kill us without a clean exit.
    let mut event_loop: EventLoop<()> = EventLoop::try_new()?;
    let (interrupt, interrupted) = make_ping()?;
    ctrlc::set_handler(move || interrupt.ping())?;
    let signal = event_loop.get_signal();
    event_loop
        .handle()
        .insert_source(interrupted, move |(), _, _| signal.stop())?;

    let context = zmq::Context::new();
    let responder = context.socket(zmq::REP)?;
    responder.set_maxmsgsize(MAX_REQUEST_BYTES)?;
    zsource::retry_interrupted(|| responder.bind(&args.bind))
        .map_err(|e| format!("bind {}: {e}", args.bind))?;
    // With a wildcard such as tcp://127.0.0.1:*, this says which port we got.
    let endpoint = responder
        .get_last_endpoint()?
        .unwrap_or_else(|raw| String::from_utf8_lossy(&raw).into_owned());
    eprintln!("listening on {endpoint}");

    let responder = ZmqSource::new(responder)?;
    let replies = responder.sender();
    let work = Duration::from_millis(args.work_ms);
    let handle = event_loop.handle();
    event_loop
        .handle()
        .insert_source(responder, move |event, socket, _| match event {
            Event::Message(request) => {
                match request.single().map(c_text) {
                    Some(Ok(text)) if text.len() > SHOWN_BYTES => {
                        let end = (0..=SHOWN_BYTES)
                            .rev()
                            .find(|&at| text.is_char_boundary(at));
                        let shown = &text[..end.unwrap_or(0)];
                        println!("Received {shown}... ({} bytes)", text.len());
                    }
                    Some(Ok(text)) if !text.is_empty() => println!("Received {text}"),
                    // A REP socket must answer before it can hear the next
                    // request, so a malformed one still gets its reply.
                    _ => eprintln!("warning: skipping a malformed request: {request:?}"),
                }
                if work.is_zero() {
                    // No work to wait for: reply straight from the callback.
                    if let Err(e) = socket.send("World") {
                        eprintln!("warning: reply not sent: {e}");
                    }
                    return;
                }
                // Do some 'work': a timer sends the reply when it is done.
                let replies = replies.clone();
                let timer = Timer::from_duration(work);
                let inserted = handle.insert_source(timer, move |_, _, _| {
                    if let Err(e) = replies.try_send("World") {
                        eprintln!("warning: reply not sent: {e}");
                    }
                    TimeoutAction::Drop
                });
                if let Err(e) = inserted {
                    eprintln!("warning: cannot start the work timer: {e}");
                }
            }
            Event::SendFailed { error, .. } => eprintln!("warning: reply not sent: {error}"),
            Event::Failed(error) => eprintln!("error: {error}"),
            _ => {}
        })?;

    event_loop.run(None, &mut (), |_| {})?;
    Ok(())
}

/// A request's text as the guide's C reads it: up to the first NUL, if
/// there is one. (A C client may send the NUL, or a buffer with leftovers
/// after it.)
fn c_text(frame: &[u8]) -> Result<&str, std::str::Utf8Error> {
    std::str::from_utf8(frame.split(|&byte| byte == 0).next().unwrap_or_default())
}
