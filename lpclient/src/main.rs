//! Lazy Pirate client: request-reply that survives a server that dies.
//!
//! The ZeroMQ guide, chapter 4, "Client-Side Reliability (Lazy Pirate
//! Pattern)" (`lpclient.c`). It is `hwclient` with a clock: when a reply
//! does not come in time, it closes its REQ socket, opens a new one and
//! sends the request again; after `--retries` tries at one request it gives
//! up, with exit status 1. Kill the server mid-run and start it again: the
//! client carries on. (A REQ socket that has sent can only wait; sending
//! again fails. So a retry needs a new socket, and a late reply to the old
//! one can never be taken for the new one's.)
//!
//! ```text
//! cargo run -p hwserver              # in another terminal; kill it, restart it
//! cargo run -p lpclient              # --connect tcp://localhost:5555 --timeout-ms 2500 --retries 3
//! ```

use std::process::ExitCode;
use std::time::{Duration, Instant};

use calloop::timer::{TimeoutAction, Timer};
use calloop::{EventLoop, LoopHandle, LoopSignal, RegistrationToken};
use clap::Parser;
use zsource::{Event, SocketHandle, ZmqSource};

/// Sends "Hello" to the server, and again on a new socket when no reply
/// comes in time.
#[derive(Parser)]
#[command(version = zhelpers::version!(), about)]
struct Args {
    /// Endpoint of the server.
    #[arg(long, default_value = "tcp://localhost:5555")]
    connect: String,
    /// How long to wait for each reply before sending the request again on a
    /// new socket.
    #[arg(long, value_name = "MS", default_value_t = 2500,
          value_parser = clap::value_parser!(u64).range(1..))]
    timeout_ms: u64,
    /// How many times to send one request, the first included, before giving
    /// up.
    #[arg(long, value_name = "N", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(1..))]
    retries: u32,
    /// How many requests to make.
    #[arg(long, default_value_t = 10)]
    requests: u32,
}

/// A reply is "World": a longer one is skipped, with a warning.
const MAX_REPLY_BYTES: usize = 1024;

fn main() -> ExitCode {
    zhelpers::main(|| {
        let args = Args::parse();
        let mut event_loop: EventLoop<Client> = EventLoop::try_new()?;
        zhelpers::stop_on_ctrl_c(&event_loop)?;

        let mut client = Client {
            replies: 0,
            requests: args.requests,
            timeout: Duration::from_millis(args.timeout_ms),
            retries: args.retries,
            attempts: 1,
            endpoint: args.connect,
            context: zmq::Context::new(),
            handle: event_loop.handle(),
            requester: None,
            timer: None,
            signal: event_loop.get_signal(),
            failure: None,
        };
        println!("Connecting to hello world server...");
        let requester = client.connect()?;
        if client.requests == 0 {
            return Ok(());
        }
        println!("Sending Hello 0...");
        client.send_on(requester)?;
        client.start_timer()?;

        event_loop.run(None, &mut client, |_| {})?;
        client.failure.map_or(Ok(()), |failure| Err(failure.into()))
    })
}

/// A reply: print it, then send the next request, with a fresh clock.
fn on_reply(event: Event, socket: &mut SocketHandle, client: &mut Client) {
    let Event::Message(reply) = event else {
        return eprintln!("warning: {event:?}");
    };
    let number = client.replies;
    match zhelpers::short_text(&reply, MAX_REPLY_BYTES) {
        Some(text) => {
            println!("Received {text} {number}");
            client.replies += 1;
        }
        // A REQ socket may ask again once it has a reply, good or not: ask
        // again for the same. The clock runs on: only a good reply stops it.
        None => eprintln!("warning: skipping a malformed reply: {reply:?}"),
    }
    if client.replies == client.requests {
        client.stop_timer();
        return client.signal.stop();
    }
    if client.replies > number {
        println!("Sending Hello {}...", client.replies);
        client.stop_timer();
        client.attempts = 1;
        if let Err(e) = client.start_timer() {
            return client.give_up(format!("start the reply timer: {e}"));
        }
    }
    if let Err(e) = socket.send("Hello") {
        client.give_up(format!("send a request: {e}"));
    }
}

/// No reply in time: the same request again, on a new socket. The swap
/// happens here, where the timeout shows: the old socket's source is idle,
/// so taking it out of the loop drops it at once. (Removed from its own
/// callback, calloop would drop it only after that dispatch.)
fn on_timeout(_: Instant, _: &mut (), client: &mut Client) -> TimeoutAction {
    let number = client.replies;
    if client.attempts >= client.retries {
        client.give_up(format!(
            "no reply to request {number} after {} attempts; giving up",
            client.attempts
        ));
        return TimeoutAction::Drop;
    }
    client.attempts += 1;
    eprintln!(
        "warning: no reply to request {number} in {} ms, retrying on a new socket (attempt {} of {})",
        client.timeout.as_millis(),
        client.attempts,
        client.retries
    );
    match client
        .connect()
        .and_then(|requester| client.send_on(requester))
    {
        // The same timer times the new attempt.
        Ok(()) => TimeoutAction::ToDuration(client.timeout),
        Err(e) => {
            client.give_up(e.to_string());
            TimeoutAction::Drop
        }
    }
}

/// What the loop's callbacks share.
struct Client {
    /// Replies received so far, which is also the number of the request
    /// waiting for its reply.
    replies: u32,
    requests: u32,
    timeout: Duration,
    /// How many times one request may be sent, and has been.
    retries: u32,
    attempts: u32,
    endpoint: String,
    context: zmq::Context,
    handle: LoopHandle<'static, Client>,
    /// Where the REQ socket and the reply timer are in the loop, to take
    /// them out again.
    requester: Option<RegistrationToken>,
    timer: Option<RegistrationToken>,
    signal: LoopSignal,
    /// Why the client gave up, if it did.
    failure: Option<String>,
}

impl Client {
    /// A new REQ socket, connected.
    fn connect(&self) -> Result<ZmqSource, Box<dyn std::error::Error>> {
        let requester = self.context.socket(zmq::REQ)?;
        // A guard only: a connecting socket that meets a message over the
        // cap drops the connection and never reconnects, and only a new
        // socket (a retry) gets the client going again.
        zhelpers::cap_message_size(&requester)?;
        zhelpers::connect(&requester, &self.endpoint)?;
        Ok(ZmqSource::new(requester)?)
    }

    /// Sends the current request on a new socket, which takes the old one's
    /// place in the loop. Dropping the old one closes it, with zsource's
    /// linger of 0: the request stuck in it is thrown away.
    fn send_on(&mut self, requester: ZmqSource) -> Result<(), Box<dyn std::error::Error>> {
        requester.send("Hello")?;
        if let Some(old) = self.requester.take() {
            self.handle.remove(old);
        }
        self.requester = Some(self.handle.insert_source(requester, on_reply)?);
        Ok(())
    }

    /// Starts the clock for the request just sent.
    fn start_timer(&mut self) -> Result<(), Box<dyn std::error::Error>> {
        let timer = Timer::from_duration(self.timeout);
        self.timer = Some(self.handle.insert_source(timer, on_timeout)?);
        Ok(())
    }

    /// Removing the timer also cancels a timeout due in this same turn of
    /// the loop, so a reply that comes just in time counts.
    fn stop_timer(&mut self) {
        if let Some(timer) = self.timer.take() {
            self.handle.remove(timer);
        }
    }

    fn give_up(&mut self, why: String) {
        self.stop_timer();
        self.failure = Some(why);
        self.signal.stop();
    }
}
