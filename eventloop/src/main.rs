//! Eventloop echo server: a REP socket driven by an event loop, calloop with
//! `zsource`, echoing every request.
//!
//! The Python "Eventloop" example's `echoserver.py` (seed `004`,
//! "Eventloop"). The original hooks its socket into Tornado's IOLoop with
//! pyzmq's `ZMQStream` and gives the stream a callback, `on_recv(echo)`:
//! that is what `ZmqSource` does for calloop. For each request the callback
//! prints the JSON it parsed (`{"j2": "was here", "word": "up"}`) and sends
//! the message back unchanged, every frame of it. A request that is not one
//! frame of JSON gets a warning instead, and its echo all the same: a REP
//! socket hears the next request only once it has answered this one.
//!
//! The original binds `ipc://127.0.0.1:5678`, which is a file named
//! `127.0.0.1:5678` in whatever directory it runs in; this one binds an
//! explicit path (or any endpoint you give it).
//!
//! ```text
//! cargo run -p eventloop                      # --bind ipc:///tmp/eventloop-echo.ipc
//! cargo run -p eventloop --bin echo-client    # in another terminal
//! ```

use std::process::ExitCode;

use calloop::EventLoop;
use clap::Parser;
use serde_json::Value;
use zsource::{Event, ZmqSource};

/// Prints the JSON of each request and sends the request back.
#[derive(Parser)]
#[command(name = env!("CARGO_BIN_NAME"), version = zhelpers::version!(), about)]
struct Args {
    /// Endpoint to bind the REP socket to.
    #[arg(long, default_value = eventloop::ENDPOINT)]
    bind: String,
}

fn main() -> ExitCode {
    zhelpers::main(|| {
        let args = Args::parse();
        let mut event_loop: EventLoop<()> = EventLoop::try_new()?;
        zhelpers::stop_on_ctrl_c(&event_loop)?;

        let ctx = zmq::Context::new();
        let s = ctx.socket(zmq::REP)?;
        zhelpers::cap_message_size(&s)?;
        let _socket_file = zhelpers::ipc_path::bind(&s, &args.bind)?;
        let stream = ZmqSource::new(s)?;

        let echo = |event, stream: &mut zsource::SocketHandle, _: &mut ()| {
            let Event::Message(msg) = event else {
                return eprintln!("warning: {event:?}");
            };
            match zhelpers::json::parse::<Value>(&msg, zhelpers::MAX_MESSAGE_BYTES as usize) {
                Ok(data) => println!("{}", zhelpers::json::dumps(&data)),
                Err(why) => eprintln!("warning: {why}; echoing it all the same"),
            }
            if let Err(e) = stream.send(msg) {
                eprintln!("warning: echo not sent: {e}");
            }
        };
        event_loop.handle().insert_source(stream, echo)?;

        event_loop.run(None, &mut (), |_| {})?;
        Ok(())
    })
}
