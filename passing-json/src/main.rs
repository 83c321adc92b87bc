//! Passing JSON server: a PUSH socket that hands a JSON message to a pool of
//! clients, round robin, on a calloop loop.
//!
//! The Python "Passing JSON" example's `server.py` (seed `004`, "Passing
//! JSON"). Once a second it prints `Hello world?` and sends
//! `{"code": 200, "text": "hello world"}`; each client (`json-client`) pulls
//! and prints `200 :: hello world`. Start two clients and they take turns:
//! ZeroMQ's PUSH deals its messages to its connected peers in turn.
//!
//! With no client, the original blocks in its send: "A PUSH socket will
//! block until there is at least one client". So does this one, without
//! blocking its loop: its socket has no queue of its own (capacity 0), so a
//! message that no client can take waits here, and the next `Hello world?`
//! comes a second after it has gone. The clock goes on ticking meanwhile and
//! finds it waiting; Ctrl-C stops the server at once.
//!
//! The original binds `ipc://*:5678`, which libzmq 4 turns into a fresh
//! random path that its client cannot know. This one binds an explicit path
//! (or any endpoint you give it), and refuses to take it from a server
//! still running there.
//!
//! ```text
//! cargo run -p passing-json                      # --bind ipc:///tmp/passing-json.ipc --interval-ms 1000
//! cargo run -p passing-json --bin json-client    # in other terminals, one or more
//! ```

use std::process::ExitCode;
use std::time::{Duration, Instant};

use calloop::timer::{TimeoutAction, Timer};
use calloop::{Dispatcher, EventLoop};
use clap::Parser;
use passing_json::Hello;
use zsource::{Event, Multipart, SendError, ZmqSource};

/// Sends `{"code": 200, "text": "hello world"}` to its clients, one message
/// a second, each to one client in turn.
#[derive(Parser)]
#[command(name = env!("CARGO_BIN_NAME"), version = zhelpers::version!(), about)]
struct Args {
    /// Endpoint to bind the PUSH socket to.
    #[arg(long, default_value = passing_json::ENDPOINT)]
    bind: String,
    /// Milliseconds between a message leaving and the next.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    interval_ms: u64,
}

/// What the loop's callbacks share.
#[derive(Default)]
struct Server {
    /// The message that no client could take yet.
    waiting: Option<Multipart>,
    /// When the latest message left.
    sent: Option<Instant>,
}

fn main() -> ExitCode {
    zhelpers::main(|| {
        let args = Args::parse();
        let mut event_loop: EventLoop<Server> = EventLoop::try_new()?;
        zhelpers::stop_on_ctrl_c(&event_loop)?;

        let context = zmq::Context::new();
        let sender = context.socket(zmq::PUSH)?;
        let _socket_file = zhelpers::ipc_path::bind(&sender, &args.bind)?;
        // No queue: a message goes to a client at once or comes back.
        let sender = ZmqSource::builder().capacity(0).build(sender)?;
        let sender = Dispatcher::new(sender, |event, socket, server: &mut Server| {
            // Room: a client is there, so the message that waited goes now.
            let Event::Room = event else {
                return eprintln!("warning: {event:?}");
            };
            if let Some(hello) = server.waiting.take() {
                server.sent(socket.send(hello));
            }
        });
        event_loop.handle().register_dispatcher(sender.clone())?;

        let interval = Duration::from_millis(args.interval_ms);
        event_loop
            .handle()
            .insert_source(Timer::immediate(), move |_, _, server| {
                let next = server.sent.map(|sent| sent + interval);
                match next {
                    _ if server.waiting.is_some() => {} // Still no client.
                    Some(next) if next > Instant::now() => return TimeoutAction::ToInstant(next),
                    _ => {
                        println!("Hello world?");
                        let hello = zhelpers::json::dumps(&Hello::world());
                        server.sent(sender.as_source_ref().send(hello));
                    }
                }
                TimeoutAction::ToDuration(interval)
            })?;

        event_loop.run(None, &mut Server::default(), |_| {})?;
        Ok(())
    })
}

impl Server {
    /// Notes a message sent, or keeps it until a client is there.
    fn sent(&mut self, outcome: Result<(), SendError>) {
        match outcome {
            Ok(()) => self.sent = Some(Instant::now()),
            Err(SendError::Full(hello)) => self.waiting = Some(hello),
            Err(e) => eprintln!("warning: message not sent: {e}"),
        }
    }
}
