//! Passing JSON client: one of a pool of PULL workers, on a calloop loop.
//!
//! The Python "Passing JSON" example's `client.py` (seed `004`, "Passing
//! JSON"). It pulls the server's messages, reads each as JSON with
//! `serde_json`, and prints `200 :: hello world` (`code :: text`). Start
//! several: the server deals its messages to them in turn. A message that
//! is not the JSON it expects gets a warning and is skipped.
//!
//! ```text
//! cargo run -p passing-json                      # in another terminal
//! cargo run -p passing-json --bin json-client    # --connect ipc:///tmp/passing-json.ipc
//! ```

use std::process::ExitCode;

use calloop::EventLoop;
use clap::Parser;
use passing_json::Hello;
use zsource::{Event, ZmqSource};

/// Prints `code :: text` for each JSON message the server sends it.
#[derive(Parser)]
#[command(name = env!("CARGO_BIN_NAME"), version = zhelpers::version!(), about)]
struct Args {
    /// Endpoint of the server.
    #[arg(long, default_value = passing_json::ENDPOINT)]
    connect: String,
    /// Exit after this many messages (by default, run until stopped).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    messages: Option<u64>,
}

/// The server's message is some 40 bytes: a longer one is skipped, with a
/// warning.
const MAX_MESSAGE_BYTES: usize = 64 * 1024;

fn main() -> ExitCode {
    zhelpers::main(|| {
        let args = Args::parse();
        let mut event_loop: EventLoop<u64> = EventLoop::try_new()?;
        zhelpers::stop_on_ctrl_c(&event_loop)?;

        let context = zmq::Context::new();
        let receiver = context.socket(zmq::PULL)?;
        // A guard only: a connecting socket that meets a message over the
        // cap drops the connection for good, so long ones are skipped here.
        zhelpers::cap_message_size(&receiver)?;
        zhelpers::connect(&receiver, &args.connect)?;

        let signal = event_loop.get_signal();
        event_loop.handle().insert_source(
            ZmqSource::new(receiver)?,
            move |event, _, printed| {
                let Event::Message(message) = event else {
                    return eprintln!("warning: {event:?}");
                };
                // ds = json.loads(msg)
                match zhelpers::json::parse::<Hello>(&message, MAX_MESSAGE_BYTES) {
                    Ok(ds) => println!("{} :: {}", ds.code, ds.text),
                    Err(why) => return eprintln!("warning: skipping a message: {why}"),
                }
                *printed += 1;
                if args.messages == Some(*printed) {
                    signal.stop();
                }
            },
        )?;

        event_loop.run(None, &mut 0, |_| {})?;
        Ok(())
    })
}
