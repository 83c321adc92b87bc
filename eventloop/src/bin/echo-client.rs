//! Eventloop echo client: a REQ socket that sends one JSON request five
//! times and prints each echo.
//!
//! The Python "Eventloop" example's `echoclient.py` (seed `004`,
//! "Eventloop"). It sends `{"j2": "was here", "word": "up"}`, written with
//! `serde_json` as Python's `json.dumps` writes it, waits for the server's
//! echo, prints `MSG: <reply>`, and does that five times; then it exits. The
//! original client is a blocking loop with no event loop; this one is on
//! calloop like everything here, so Ctrl-C stops it at once even while it
//! waits for a server that is not there.
//!
//! ```text
//! cargo run -p eventloop                      # in another terminal
//! cargo run -p eventloop --bin echo-client    # --connect ipc:///tmp/eventloop-echo.ipc
//! ```

use std::process::ExitCode;

use calloop::EventLoop;
use clap::Parser;
use serde_json::json;
use zsource::{Event, ZmqSource};

/// Sends a JSON request to the echo server and prints what comes back.
#[derive(Parser)]
#[command(name = env!("CARGO_BIN_NAME"), version = zhelpers::version!(), about)]
struct Args {
    /// Endpoint of the echo server.
    #[arg(long, default_value = eventloop::ENDPOINT)]
    connect: String,
    /// How many times to send the request.
    #[arg(long, default_value_t = 5)]
    requests: u32,
}

/// The request is some 30 bytes, and so is its echo: a longer reply is
/// warned about instead.
const SHOWN_BYTES: usize = 1024;

/// What the callback keeps: how many echoes came, and why it gave up, if it
/// did.
#[derive(Default)]
struct Echoes {
    count: u32,
    failure: Option<String>,
}

fn main() -> ExitCode {
    zhelpers::main(|| {
        let args = Args::parse();
        let mut event_loop: EventLoop<Echoes> = EventLoop::try_new()?;
        zhelpers::stop_on_ctrl_c(&event_loop)?;

        let ctx = zmq::Context::new();
        let s = ctx.socket(zmq::REQ)?;
        zhelpers::cap_message_size(&s)?;
        zhelpers::connect(&s, &args.connect)?;
        let s = ZmqSource::new(s)?;
        if args.requests == 0 {
            return Ok(());
        }
        // s.send(json.dumps(msg)): the first request; each echo sends the next.
        let msg = zhelpers::json::dumps(&json!({"j2": "was here", "word": "up"}));
        s.send(msg.as_str())?;

        let signal = event_loop.get_signal();
        event_loop
            .handle()
            .insert_source(s, move |event, s, echoes| {
                let Event::Message(reply) = event else {
                    return eprintln!("warning: {event:?}");
                };
                match reply.single().map(std::str::from_utf8) {
                    Some(Ok(text)) if text.len() <= SHOWN_BYTES => println!("MSG: {text}"),
                    _ => eprintln!("warning: an odd reply, counted all the same: {reply:?}"),
                }
                echoes.count += 1;
                if echoes.count == args.requests {
                    return signal.stop();
                }
                if let Err(e) = s.send(msg.as_str()) {
                    echoes.failure = Some(format!("send a request: {e}"));
                    signal.stop();
                }
            })?;

        let mut echoes = Echoes::default();
        event_loop.run(None, &mut echoes, |_| {})?;
        echoes.failure.map_or(Ok(()), |failure| Err(failure.into()))
    })
}
