//! Hello World client: request-reply (REQ) on a calloop event loop, with
//! the Lazy Pirate pattern to survive a server that dies.
//!
//! A port of `hwclient` from chapter 1 of the ZeroMQ guide ("Ask and Ye Shall
//! Receive"). It connects a REQ socket to the server, sends "Hello" and waits
//! for the reply, ten times. In the guide that is a blocking loop; here each
//! reply arrives as an event, and the callback sends the next request. Start
//! the client before the server if you like: ZeroMQ connects when the server
//! appears.
//!
//! With `--timeout-ms` it also does what the guide's `lpclient` does (chapter
//! 4, "Client-Side Reliability (Lazy Pirate Pattern)"): when no reply comes in
//! time, it closes its socket, opens a new one and sends the same request
//! again; after `--retries` attempts at one request it gives up (exit status
//! 1). Kill the server mid-run and start it again: the client carries on.
//!
//! Run the server, then the client in a second terminal:
//!
//! ```text
//! cargo run -p hwserver
//! cargo run -p hwclient                 # --connect tcp://localhost:5555 --requests 10
//! cargo run -p hwclient -- --timeout-ms 2500 --retries 3
//! ```

use std::error::Error;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use calloop::ping::make_ping;
use calloop::timer::{TimeoutAction, Timer};
use calloop::{EventLoop, LoopHandle, LoopSignal, RegistrationToken};
use clap::Parser;
use zsource::{Event, SocketHandle, ZmqSource};

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
    /// Lazy Pirate: how long to wait for each reply before sending the
    /// request again on a new socket (at least 1). Without it the client
    /// waits forever, as the guide's hwclient does.
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    timeout_ms: Option<u64>,
    /// Lazy Pirate: how many times to send one request, the first time
    /// included, before giving up with exit status 1 (at least 1; default 3,
    /// as in the guide; needs --timeout-ms).
    #[arg(long, value_name = "N", requires = "timeout_ms",
          value_parser = clap::value_parser!(u32).range(1..))]
    retries: Option<u32>,
}

/// A reply is "World": a longer one is skipped, with a warning.
const MAX_REPLY_BYTES: usize = 1024;

/// libzmq's own limit (ZMQ_MAXMSGSIZE), so that a rogue server cannot make
/// the client buffer gigabytes. It is far above `MAX_REPLY_BYTES` because
/// libzmq does not skip a message over it: it drops the connection as
/// broken, and a connecting socket does not reconnect after that. Only
/// `--timeout-ms`, with its new socket, gets such a client going again.
const ZMQ_MAX_MESSAGE_BYTES: i64 = 1 << 20;

/// What the loop's callbacks share.
struct Client {
    /// Replies received so far, which is also the number of the request
    /// waiting for its reply.
    replies: u32,
    requests: u32,
    /// How long to wait for a reply; `None` (wait forever) without
    /// `--timeout-ms`.
    timeout: Option<Duration>,
    /// How many times one request may be sent.
    retries: u32,
    /// How many times the current request has been sent.
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
    fn connect(&self) -> Result<ZmqSource, Box<dyn Error>> {
        let requester = self.context.socket(zmq::REQ)?;
        requester.set_maxmsgsize(ZMQ_MAX_MESSAGE_BYTES)?;
        zsource::retry_interrupted(|| requester.connect(&self.endpoint))
            .map_err(|e| format!("connect {}: {e}", self.endpoint))?;
        Ok(ZmqSource::new(requester)?)
    }

    /// Sends the current request on a fresh socket that takes the old one's
    /// place in the loop.
    fn send_on(&mut self, requester: ZmqSource) -> Result<(), Box<dyn Error>> {
        requester.send("Hello")?;
        if let Some(old) = self.requester.take() {
            // This drops the old socket, closing it with zsource's default
            // linger of 0: the request stuck in it is thrown away.
            self.handle.remove(old);
        }
        self.requester = Some(self.handle.insert_source(requester, on_reply)?);
        Ok(())
    }

    /// Starts the clock for the request just sent, with Lazy Pirate on.
    fn start_timer(&mut self) -> Result<(), Box<dyn Error>> {
        if let Some(timeout) = self.timeout {
            let timer = Timer::from_duration(timeout);
            self.timer = Some(self.handle.insert_source(timer, on_timeout)?);
        }
        Ok(())
    }

    /// Removing the timer also cancels a timeout that is due in this same
    /// turn of the loop, so a reply that comes just in time counts.
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

/// A reply: print it, then send the next request with a fresh clock.
fn on_reply(event: Event, socket: &mut SocketHandle, client: &mut Client) {
    let Event::Message(reply) = event else {
        return;
    };
    let number = client.replies;
    let text = reply
        .single()
        .filter(|frame| (1..=MAX_REPLY_BYTES).contains(&frame.len()))
        .map(std::str::from_utf8);
    match text {
        Some(Ok(text)) => {
            println!("Received {text} {number}");
            client.replies += 1;
        }
        // A REQ socket may send again once it has a reply, good or not, so
        // ask again for the same request. The timer runs on: only a good
        // reply stops it.
        _ => eprintln!("warning: skipping a malformed reply: {reply:?}"),
    }
    if client.replies == client.requests {
        client.stop_timer();
        client.signal.stop();
        return;
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

/// Lazy Pirate: no reply in time. A REQ socket insists on send, receive,
/// send, receive: having sent, it can only wait, and sending again fails
/// (EFSM). So a retry needs a new socket. Closing the old one also means a
/// late reply to it can never arrive and be taken for the reply to the new
/// request. The swap happens here, where the timeout shows: the old socket's
/// source is idle, so taking it out of the loop drops it at once. (Removed
/// from its own callback, calloop would drop it only after that dispatch.)
fn on_timeout(_: Instant, _: &mut (), client: &mut Client) -> TimeoutAction {
    let Some(timeout) = client.timeout else {
        return TimeoutAction::Drop;
    };
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
        timeout.as_millis(),
        client.attempts,
        client.retries
    );
    match client
        .connect()
        .and_then(|requester| client.send_on(requester))
    {
        // The same timer times the new attempt.
        Ok(()) => TimeoutAction::ToDuration(timeout),
        Err(e) => {
            client.give_up(e.to_string());
            TimeoutAction::Drop
        }
    }
}

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
    let mut event_loop: EventLoop<Client> = EventLoop::try_new()?;
    let (interrupt, interrupted) = make_ping()?;
    ctrlc::set_handler(move || interrupt.ping())?;
    let signal = event_loop.get_signal();
    event_loop
        .handle()
        .insert_source(interrupted, move |(), _, _| signal.stop())?;

    println!("Connecting to hello world server...");
    let mut client = Client {
        replies: 0,
        requests: args.requests,
        timeout: args.timeout_ms.map(Duration::from_millis),
        retries: args.retries.unwrap_or(3),
        attempts: 1,
        endpoint: args.connect,
        context: zmq::Context::new(),
        handle: event_loop.handle(),
        requester: None,
        timer: None,
        signal: event_loop.get_signal(),
        failure: None,
    };
    let requester = client.connect()?;
    if client.requests == 0 {
        return Ok(());
    }
    println!("Sending Hello 0...");
    client.send_on(requester)?;
    client.start_timer()?;

    event_loop.run(None, &mut client, |_| {})?;
    match client.failure {
        Some(failure) => Err(failure.into()),
        None => Ok(()),
    }
}
