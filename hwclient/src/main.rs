//! Hello World client: request-reply, the REQ side, on a calloop loop.
//!
//! The ZeroMQ guide, chapter 1, "Ask and Ye Shall Receive" (`hwclient.c`).
//! It connects a REQ socket, sends "Hello" and waits for "World", ten times.
//! The guide's client is a blocking loop; here each reply is an event, and
//! the callback sends the next request. Start it before the server if you
//! like: ZeroMQ connects when the server appears. (`lpclient` is this
//! client made to survive a server that dies.)
//!
//! ```text
//! cargo run -p hwserver              # in another terminal
//! cargo run -p hwclient              # --connect tcp://localhost:5555 --requests 10
//! ```

use std::process::ExitCode;

use calloop::{EventLoop, LoopSignal};
use clap::Parser;
use zsource::{Event, ZmqSource};

/// Sends "Hello" to the server and prints each "World" it gets back.
#[derive(Parser)]
#[command(version = zhelpers::version!(), about)]
struct Args {
    /// Endpoint of the server.
    #[arg(long, default_value = "tcp://localhost:5555")]
    connect: String,
    /// How many requests to make.
    #[arg(long, default_value_t = 10)]
    requests: u32,
}

/// A reply is "World": a longer one is skipped, with a warning.
const MAX_REPLY_BYTES: usize = 1024;

/// What the callback keeps: how many replies came (which is also the
/// number of the request waiting for its reply), and how many to wait for.
struct Client {
    replies: u32,
    requests: u32,
    signal: LoopSignal,
    failure: Option<String>,
}

fn main() -> ExitCode {
    zhelpers::main(|| {
        let args = Args::parse();
        let mut event_loop: EventLoop<Client> = EventLoop::try_new()?;
        zhelpers::stop_on_ctrl_c(&event_loop)?;

        println!("Connecting to hello world server...");
        let context = zmq::Context::new();
        let requester = context.socket(zmq::REQ)?;
        zhelpers::cap_message_size(&requester)?;
        zhelpers::connect(&requester, &args.connect)?;
        let requester = ZmqSource::new(requester)?;
        if args.requests == 0 {
            return Ok(());
        }
        println!("Sending Hello 0...");
        requester.send("Hello")?;

        event_loop
            .handle()
            .insert_source(requester, |event, socket, client| {
                let Event::Message(reply) = event else {
                    return eprintln!("warning: {event:?}");
                };
                match zhelpers::short_text(&reply, MAX_REPLY_BYTES) {
                    Some(text) => {
                        println!("Received {text} {}", client.replies);
                        client.replies += 1;
                        if client.replies == client.requests {
                            return client.signal.stop();
                        }
                        println!("Sending Hello {}...", client.replies);
                    }
                    // A REQ socket may ask again once it has a reply, good or
                    // not: ask again for the same.
                    None => eprintln!("warning: skipping a malformed reply: {reply:?}"),
                }
                if let Err(e) = socket.send("Hello") {
                    client.failure = Some(format!("send a request: {e}"));
                    client.signal.stop();
                }
            })?;

        let signal = event_loop.get_signal();
        let mut client = Client {
            replies: 0,
            requests: args.requests,
            signal,
            failure: None,
        };
        event_loop.run(None, &mut client, |_| {})?;
        client.failure.map_or(Ok(()), |failure| Err(failure.into()))
    })
}
