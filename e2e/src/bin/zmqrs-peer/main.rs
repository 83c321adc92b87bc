//! The foreign peers of the end-to-end tests: the guide's programs, and a
//! few test tools, written on [zmq.rs](https://github.com/zeromq/zmq.rs)
//! (the `zeromq` crate), a ZeroMQ implementation in pure Rust that shares no
//! code with libzmq. Our programs talk to them to show that they speak the
//! guide's wire formats to a ZeroMQ that is not the one they are built on,
//! in both directions: our server with a foreign client, a foreign server
//! with our client.
//!
//! ```text
//! zmqrs-peer hwserver --bind tcp://127.0.0.1:*
//! zmqrs-peer wuserver --bind tcp://127.0.0.1:* --cpp
//! zmqrs-peer json-server --bind tcp://127.0.0.1:* --interval-ms 20
//! zmqrs-peer bad-peer req --connect tcp://127.0.0.1:5555 -- "hex:fffe" "Hello"
//! ```
//!
//! `zmqrs-peer --help` lists them all. Each peer that binds prints
//! `listening on <endpoint>` to stderr, as our servers do, with the port it
//! got; `tcp://host:*` means any port, as in libzmq. Errors are one line on
//! stderr and exit status 1.
//!
//! Why it is built the way it is:
//!
//! - zmq.rs is async. The peers run on a current-thread tokio runtime (tokio
//!   is zmq.rs's default runtime; async-std is discontinued): one thread is
//!   all a peer needs, and the lightest setup. Since nothing else runs while
//!   a task does not await, a peer that publishes in a tight loop yields now
//!   and then, so that zmq.rs's own tasks (accepting subscribers, writing to
//!   them) get their turn.
//! - zmq.rs has no ZMQ_LINGER: a successful send means "queued here", not
//!   "delivered". So a peer that sends never exits by itself. It prints its
//!   last line (`done`, or the guide's last line) and stays until the test
//!   kills it, and tests wait for that line, not for an exit.
//! - zmq.rs's `connect` returns once the handshake is done (libzmq's
//!   connects in the background), retrying for up to 30 s while the other
//!   end is not there yet.
//! - zmq.rs's PUSH socket does not read from its connections, so it sees a
//!   connection that the other end closed only when a later write to it
//!   fails. `bad-peer push` works around that where it needs to know (see
//!   `bad_peer.rs`).

use std::error::Error;
use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use zeromq::{Socket, ZmqMessage};

mod bad_peer;
mod hello;
mod json;
mod pipeline;
mod waynes_world;
mod weather;

/// What a peer returns: errors are printed as one line.
type Result<T = ()> = std::result::Result<T, Box<dyn Error>>;

/// The longest a peer waits for anything: the tests' own deadline.
const TIMEOUT: Duration = Duration::from_secs(20);

/// The guide's programs, and test tools, on zmq.rs.
#[derive(Parser)]
#[command(about)]
struct Args {
    #[command(subcommand)]
    peer: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The guide's hwserver: REP; prints each request and replies "World".
    Hwserver(hello::ServerArgs),
    /// The guide's hwclient: REQ; sends "Hello" and prints each reply.
    Hwclient(hello::ClientArgs),
    /// The guide's wuserver: PUB; publishes random weather updates as fast
    /// as it can, as the C (default) or C++ (`--cpp`) one does.
    Wuserver(weather::ServerArgs),
    /// The guide's wuclient: SUB; averages one zip code's temperatures.
    Wuclient(weather::ClientArgs),
    /// A subscriber that says how many updates it has had, for the memory
    /// test: "received N updates" every `--every` updates.
    Subscriber(weather::SubscriberArgs),
    /// The guide's taskvent: waits for workers, sends "0" to the sink, then
    /// the tasks, as the C (default) or C++ (`--cpp`) one does.
    Taskvent(pipeline::VentilatorArgs),
    /// The guide's taskwork: prints "N." per task, works N ms, sends a result.
    Taskwork(pipeline::WorkerArgs),
    /// The guide's tasksink: waits for the batch start, counts the results.
    Tasksink(pipeline::SinkArgs),
    /// Wayne's World's server: "Camera 1" on TCP, "Camera 2" on IPC.
    WaynesWorld(waynes_world::ServerArgs),
    /// Wayne's World's camera N: prints `MSG N:  'text'` per message.
    Camera(waynes_world::CameraArgs),
    /// A publisher of one good picture and four malformed messages a tick.
    Garbage(waynes_world::GarbageArgs),
    /// Passing JSON's server: PUSH; prints "Hello world?" and sends the
    /// JSON once an interval, waiting for a client when it has none.
    JsonServer(json::JsonServerArgs),
    /// Passing JSON's client: PULL; prints `200 :: hello world` per message.
    JsonClient(json::ConnectArgs),
    /// The Eventloop echo server: REP; prints each request's JSON and sends
    /// the request back.
    EchoServer(json::BindArgs),
    /// The Eventloop echo client: REQ; sends the JSON five times and prints
    /// `MSG: <reply>` for each.
    EchoClient(json::ConnectArgs),
    /// Sends exactly the messages it is given, malformed or not.
    BadPeer(bad_peer::Args),
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(&format!("start the tokio runtime: {e}")),
    };
    let outcome = runtime.block_on(async {
        match args.peer {
            Command::Hwserver(args) => hello::server(args).await,
            Command::Hwclient(args) => hello::client(args).await,
            Command::Wuserver(args) => weather::server(args).await,
            Command::Wuclient(args) => weather::client(args).await,
            Command::Subscriber(args) => weather::subscriber(args).await,
            Command::Taskvent(args) => pipeline::ventilator(args).await,
            Command::Taskwork(args) => pipeline::worker(args).await,
            Command::Tasksink(args) => pipeline::sink(args).await,
            Command::WaynesWorld(args) => waynes_world::server(args).await,
            Command::Camera(args) => waynes_world::camera(args).await,
            Command::Garbage(args) => waynes_world::garbage(args).await,
            Command::JsonServer(args) => json::json_server(args).await,
            Command::JsonClient(args) => json::json_client(args).await,
            Command::EchoServer(args) => json::echo_server(args).await,
            Command::EchoClient(args) => json::echo_client(args).await,
            Command::BadPeer(args) => bad_peer::run(args).await,
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e.to_string()),
    }
}

fn fail(why: &str) -> ExitCode {
    eprintln!("zmqrs-peer: error: {why}");
    ExitCode::FAILURE
}

/// Binds `socket` and prints `listening on <endpoint>`, as our servers do.
async fn bind(socket: &mut impl Socket, endpoint: &str) -> Result<String> {
    // zmq.rs spells "any port" 0, not libzmq's `*`.
    let wanted = match endpoint.strip_suffix(":*") {
        Some(host) if endpoint.starts_with("tcp://") => format!("{host}:0"),
        _ => endpoint.to_string(),
    };
    let bound = socket
        .bind(&wanted)
        .await
        .map_err(|e| format!("bind {endpoint}: {e}"))?
        .to_string();
    eprintln!("listening on {bound}");
    Ok(bound)
}

/// Connects `socket`, which for zmq.rs includes the handshake.
async fn connect(socket: &mut impl Socket, endpoint: &str) -> Result {
    within(
        TIMEOUT,
        &format!("connect {endpoint}"),
        socket.connect(endpoint),
    )
    .await?
    .map_err(|e| format!("connect {endpoint}: {e}").into())
}

/// Runs `future`, or fails saying what did not happen in time.
async fn within<T>(timeout: Duration, what: &str, future: impl Future<Output = T>) -> Result<T> {
    tokio::time::timeout(timeout, future)
        .await
        .map_err(|_| format!("{what}: nothing within {} s", timeout.as_secs()).into())
}

/// Stays until killed: zmq.rs sends in the background and has no linger, so
/// exiting could lose what was just sent.
async fn stay() -> Result {
    std::future::pending().await
}

/// A message as the peers print it: each frame quoted with its non-ASCII
/// bytes escaped, frames separated by `|`, a long frame cut short.
fn show(message: &ZmqMessage) -> String {
    const LONGEST: usize = 48;
    message
        .iter()
        .map(|frame| {
            if frame.len() > LONGEST {
                let start = frame[..LONGEST].escape_ascii();
                format!("\"{start}...\" ({} bytes)", frame.len())
            } else {
                format!("\"{}\"", frame.escape_ascii())
            }
        })
        .collect::<Vec<_>>()
        .join("|")
}

/// A message written as an argument: `|` splits it into frames, and a frame
/// is its text, `hex:<bytes in hex>` or `bytes:N` (N bytes of `x`).
fn parse_message(text: &str) -> Result<ZmqMessage> {
    let mut frames = text.split('|').map(parse_frame);
    let first = frames.next().expect("split yields at least one part")?;
    let mut message = ZmqMessage::from(first);
    for frame in frames {
        message.push_back(frame?.into());
    }
    Ok(message)
}

fn parse_frame(text: &str) -> Result<Vec<u8>> {
    if let Some(count) = text.strip_prefix("bytes:") {
        let count = count
            .parse()
            .map_err(|e| format!("{text:?}: not a size: {e}"))?;
        return Ok(vec![b'x'; count]);
    }
    let Some(hex) = text.strip_prefix("hex:") else {
        return Ok(text.as_bytes().to_vec());
    };
    if hex.len() % 2 != 0 || !hex.is_ascii() {
        return Err(format!("{text:?}: not pairs of hex digits").into());
    }
    (0..hex.len())
        .step_by(2)
        .map(|at| {
            u8::from_str_radix(&hex[at..at + 2], 16)
                .map_err(|e| format!("{text:?}: not hex: {e}").into())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_written_as_frames() {
        let message = parse_message("a|hex:ff00|bytes:3|").unwrap();
        let frames: Vec<&[u8]> = message.iter().map(|frame| &frame[..]).collect();
        assert_eq!(frames, [&b"a"[..], b"\xff\x00", b"xxx", b""]);
        assert!(parse_message("hex:f").is_err());
        assert!(parse_message("bytes:many").is_err());
    }

    #[test]
    fn messages_are_shown_escaped_and_cut_short() {
        assert_eq!(
            show(&parse_message("World|hex:ff").unwrap()),
            r#""World"|"\xff""#
        );
        let long = show(&parse_message("bytes:2000").unwrap());
        assert!(long.ends_with("...\" (2000 bytes)"), "{long}");
    }
}
