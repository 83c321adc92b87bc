//! Hello World client: request-reply (REQ) on a calloop event loop.
//!
//! A port of `hwclient` from chapter 1 of the ZeroMQ guide ("Ask and Ye Shall
//! Receive"). It connects a REQ socket to the server, sends "Hello" and waits
//! for the reply, ten times. In the guide that is a blocking loop; here each
//! reply arrives as an event, and the callback sends the next request. Start
//! the client before the server if you like: ZeroMQ connects when the server
//! appears.
//!
//! Run the server, then the client in a second terminal:
//!
//! ```text
//! cargo run -p hwserver
//! cargo run -p hwclient                 # --connect tcp://localhost:5555 --requests 10
//! ```

use std::error::Error;

use calloop::ping::make_ping;
use calloop::{EventLoop, LoopSignal};
use clap::Parser;
use zsource::{Event, ZmqSource};

/// Sends "Hello" to the server and prints each "World" it gets back.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Endpoint of the server.
    #[arg(long, default_value = "tcp://localhost:5555")]
    connect: String,
    /// How many requests to make.
    #[arg(long, default_value_t = 10)]
    requests: u32,
}

/// What the loop's callbacks share.
struct Client {
    /// Replies received so far, which is also the number of the request
    /// waiting for its reply.
    replies: u32,
    requests: u32,
    signal: LoopSignal,
    /// Why the client gave up, if it did.
    failure: Option<String>,
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = Args::parse();

    // Ctrl-C and SIGTERM come in on another thread, as a ping the loop
    // handles like any other event. (Calling `signal.stop()` from the
    // handler is not enough: `run` clears that flag when it starts, so a
    // Ctrl-C that came before would be lost.) Set up first, so no signal
    // meets the default handler, which would kill us without a clean exit.
    let mut event_loop: EventLoop<Client> = EventLoop::try_new()?;
    let (interrupt, interrupted) = make_ping()?;
    ctrlc::set_handler(move || interrupt.ping())?;
    let signal = event_loop.get_signal();
    event_loop
        .handle()
        .insert_source(interrupted, move |(), _, _| signal.stop())?;

    println!("Connecting to hello world server...");
    let context = zmq::Context::new();
    let requester = context.socket(zmq::REQ)?;
    requester
        .connect(&args.connect)
        .map_err(|e| format!("connect {}: {e}", args.connect))?;
    let requester = ZmqSource::new(requester)?;

    let mut client = Client {
        replies: 0,
        requests: args.requests,
        signal: event_loop.get_signal(),
        failure: None,
    };
    if client.requests == 0 {
        return Ok(());
    }
    println!("Sending Hello 0...");
    requester.send("Hello")?;

    event_loop
        .handle()
        .insert_source(requester, |event, socket, client: &mut Client| {
            let Event::Message(reply) = event else {
                return;
            };
            let number = client.replies;
            match reply.single().map(std::str::from_utf8) {
                Some(Ok(text)) => {
                    println!("Received {text} {number}");
                    client.replies += 1;
                }
                // A REQ socket may send again once it has a reply, good or
                // not, so ask again for the same request.
                _ => eprintln!("warning: skipping a malformed reply: {reply:?}"),
            }
            if client.replies == client.requests {
                client.signal.stop();
                return;
            }
            if client.replies > number {
                println!("Sending Hello {}...", client.replies);
            }
            if let Err(e) = socket.send("Hello") {
                client.failure = Some(format!("send a request: {e}"));
                client.signal.stop();
            }
        })?;

    event_loop.run(None, &mut client, |_| {})?;
    match client.failure {
        Some(failure) => Err(failure.into()),
        None => Ok(()),
    }
}
