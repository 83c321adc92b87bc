//! Request-reply broker: two sources in one loop, each forwarding to the
//! other, with back pressure between them.
//!
//! A port of `rrbroker` from chapter 2 of the ZeroMQ guide ("Shared Queue
//! (DEALER and ROUTER sockets)"). Clients' REQ sockets connect to the ROUTER
//! frontend, workers' REP sockets to the DEALER backend; the broker passes
//! every request, envelope and all, to a worker, and every reply back to its
//! client. The guide's C broker polls both sockets in a loop; here each
//! socket is a `ZmqSource` whose callback queues what it receives on the
//! other's `Sender`. When one side's queue is full (its peers are slow), the
//! broker holds the message and stops reading from the other side until the
//! full queue has room again (`Event::Room`): nothing is dropped, and nothing
//! piles up in the broker.
//!
//! Run it with the guide's `rrclient` and `rrworker` (any language), which
//! use the default ports:
//!
//! ```text
//! cargo run -p zsource --example rrbroker    # --frontend tcp://*:5559 --backend tcp://*:5560
//! ```

use std::process::ExitCode;

use calloop::EventLoop;
use clap::Parser;
use zsource::{Event, Multipart, SendError, Sender, ZmqSource};

/// Passes requests from clients to workers, and replies back.
#[derive(Parser)]
#[command(version = zhelpers::version!(), about)]
struct Args {
    /// Endpoint to bind the ROUTER socket that clients connect to.
    #[arg(long, default_value = "tcp://*:5559")]
    frontend: String,
    /// Endpoint to bind the DEALER socket that workers connect to.
    #[arg(long, default_value = "tcp://*:5560")]
    backend: String,
}

fn main() -> ExitCode {
    zhelpers::main(|| {
        let args = Args::parse();
        let mut event_loop: EventLoop<Broker> = EventLoop::try_new()?;
        zhelpers::stop_on_ctrl_c(&event_loop)?;

        let context = zmq::Context::new();
        let frontend = context.socket(zmq::ROUTER)?;
        zhelpers::bind(&frontend, &args.frontend)?;
        let frontend = ZmqSource::new(frontend)?;
        let backend = context.socket(zmq::DEALER)?;
        zhelpers::bind(&backend, &args.backend)?;
        let backend = ZmqSource::new(backend)?;

        let mut broker = Broker {
            requests: Direction {
                to: backend.sender(),
                from: frontend.sender(),
                held: None,
            },
            replies: Direction {
                to: frontend.sender(),
                from: backend.sender(),
                held: None,
            },
        };
        let handle = event_loop.handle();
        handle.insert_source(frontend, |event, _, broker: &mut Broker| match event {
            Event::Message(request) => broker.requests.forward(request),
            Event::Room => broker.replies.resume(),
            Event::Failed(error) => eprintln!("error: frontend: {error}"),
            _ => {}
        })?;
        handle.insert_source(backend, |event, _, broker: &mut Broker| match event {
            Event::Message(reply) => broker.replies.forward(reply),
            Event::Room => broker.requests.resume(),
            Event::Failed(error) => eprintln!("error: backend: {error}"),
            _ => {}
        })?;

        event_loop.run(None, &mut broker, |_| {})?;
        Ok(())
    })
}

/// One direction through the broker: the queue messages go to, the source
/// they come from, and a message held back while that queue is full.
struct Direction {
    to: Sender,
    from: Sender,
    held: Option<Multipart>,
}

impl Direction {
    /// Sends a message on; if the queue is full, holds it and stops reading
    /// where it came from.
    fn forward(&mut self, message: Multipart) {
        if let Err(SendError::Full(message)) = self.to.try_send(message) {
            self.held = Some(message);
            self.from.pause_receiving();
        }
    }

    /// The queue has room again: send what was held, and read on.
    fn resume(&mut self) {
        if let Some(message) = self.held.take() {
            self.forward(message);
        }
        if self.held.is_none() {
            self.from.resume_receiving();
        }
    }
}

/// What the two callbacks share: requests go to the backend, replies to the
/// frontend.
struct Broker {
    requests: Direction,
    replies: Direction,
}
