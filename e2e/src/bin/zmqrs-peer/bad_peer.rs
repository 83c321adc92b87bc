//! A peer that sends what it is told, malformed or not, for testing how our
//! programs handle bad input.
//!
//! ```text
//! zmqrs-peer bad-peer TYPE (--bind|--connect) ENDPOINT -- MESSAGE...
//! ```
//!
//! Messages are written as for `taskvent`: text, "hex:<bytes in hex>",
//! "bytes:N" for N bytes of "x", and "|" splits a message into frames. The
//! word DROPPED after a message is not a message: it says that the message
//! before it is over the other end's ZMQ_MAXMSGSIZE, so libzmq there drops
//! the connection. The peer waits until it sees that, prints "dropped", and
//! goes on with the rest on a new connection, as a libzmq client would (a
//! Lazy Pirate one, for REQ). DROPPED needs `--connect`.
//!
//! What the peer does with the messages, by TYPE:
//!
//! - `req` sends each one and prints the reply (`reply: "World"`), as the
//!   guide's hwclient does.
//! - `rep` answers each request with the next message, and then with the
//!   last one for ever; it prints each request (`request: "Hello"`).
//! - `pub` waits until a subscriber has subscribed (an XPUB socket sees the
//!   subscription, so nothing is lost to the slow joiner), then publishes
//!   the messages once.
//! - `push` sends the messages; bound, it first waits for a puller.
//!
//! Once it has sent everything (`rep` never has), the peer prints "done" and
//! stays until it is killed, so that what it sent is delivered and the
//! connection outlives the test's checks.

use std::time::Duration;

use futures::StreamExt;
use zeromq::{
    PushSocket, RepSocket, ReqSocket, Socket, SocketEvent, SocketRecv, SocketSend, XPubSocket,
    ZmqMessage,
};

use crate::{Result, TIMEOUT, bind, connect, parse_message, show, stay, within};

#[derive(clap::Args)]
pub struct Args {
    kind: Kind,
    #[arg(long, required_unless_present = "connect", conflicts_with = "connect")]
    bind: Option<String>,
    #[arg(long)]
    connect: Option<String>,
    /// The messages; put "--" before them, since one may be empty or start
    /// with "-".
    #[arg(required = true)]
    message: Vec<String>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Kind {
    Req,
    Rep,
    Pub,
    Push,
}

/// How often `push` writes a probe while it waits to see a dropped
/// connection. zmq.rs's PUSH socket does not read from its connections, so
/// a connection the other end closed shows only when a write to it fails.
/// A probe is never delivered: libzmq stops reading a connection at the
/// oversized message, and throws away everything after it.
const PROBE_EVERY: Duration = Duration::from_millis(10);

pub async fn run(args: Args) -> Result {
    let steps = plan(&args.message)?;
    if args.connect.is_none() && steps.iter().any(|(_, dropped)| *dropped) {
        return Err("DROPPED needs --connect".into());
    }
    match args.kind {
        Kind::Req => req(&args, steps).await?,
        Kind::Rep => return rep(&args, steps).await,
        Kind::Pub => publish(&args, steps).await?,
        Kind::Push => push(&args, steps).await?,
    }
    println!("done");
    stay().await
}

/// The messages, each with whether the other end is to drop it.
fn plan(arguments: &[String]) -> Result<Vec<(ZmqMessage, bool)>> {
    let mut steps: Vec<(ZmqMessage, bool)> = Vec::new();
    for argument in arguments {
        if argument == "DROPPED" {
            let last = steps
                .last_mut()
                .ok_or("DROPPED comes after the message it is about")?;
            last.1 = true;
        } else {
            steps.push((parse_message(argument)?, false));
        }
    }
    Ok(steps)
}

/// Binds or connects a new socket, as the arguments say.
async fn open<S: Socket>(args: &Args) -> Result<S> {
    let mut socket = S::new();
    match (&args.bind, &args.connect) {
        (Some(endpoint), _) => {
            bind(&mut socket, endpoint).await?;
        }
        (None, Some(endpoint)) => connect(&mut socket, endpoint).await?,
        (None, None) => unreachable!("clap requires one"),
    }
    Ok(socket)
}

async fn req(args: &Args, steps: Vec<(ZmqMessage, bool)>) -> Result {
    let mut socket: ReqSocket = open(args).await?;
    for (message, dropped) in steps {
        let shown = show(&message);
        let sent = socket.send(message).await;
        if dropped {
            // libzmq closes the connection, maybe while the message is
            // still being written; otherwise the reply never comes and the
            // receive fails instead.
            if sent.is_ok() {
                let outcome = within(TIMEOUT, "the dropped connection", socket.recv()).await?;
                if let Ok(reply) = outcome {
                    return Err(format!("not dropped: a reply came, {}", show(&reply)).into());
                }
            }
            println!("dropped");
            socket = open(args).await?;
        } else {
            sent.map_err(|e| format!("send {shown}: {e}"))?;
            let what = format!("a reply to {shown}");
            let reply = within(TIMEOUT, &what, socket.recv())
                .await?
                .map_err(|e| format!("no reply to {shown}: {e}"))?;
            println!("reply: {}", show(&reply));
        }
    }
    Ok(())
}

async fn rep(args: &Args, steps: Vec<(ZmqMessage, bool)>) -> Result {
    let mut socket: RepSocket = open(args).await?;
    let replies: Vec<ZmqMessage> = steps.into_iter().map(|(message, _)| message).collect();
    for answered in 0.. {
        match socket.recv().await {
            Ok(request) => println!("request: {}", show(&request)),
            // A client that closed its socket mid-request, as a Lazy
            // Pirate client does: there is no one to answer.
            Err(e) => {
                eprintln!("warning: receive: {e}");
                continue;
            }
        }
        let reply = &replies[usize::min(answered, replies.len() - 1)];
        if let Err(e) = socket.send(reply.clone()).await {
            eprintln!("warning: reply: {e}");
        }
    }
    unreachable!("the loop has no end")
}

async fn publish(args: &Args, steps: Vec<(ZmqMessage, bool)>) -> Result {
    let mut socket: XPubSocket = open(args).await?;
    // The subscription: XPUB starts sending to a subscriber once it has
    // received its subscription.
    within(TIMEOUT, "a subscriber", socket.recv()).await??;
    for (message, _) in steps {
        socket.send(message).await?;
    }
    Ok(())
}

async fn push(args: &Args, steps: Vec<(ZmqMessage, bool)>) -> Result {
    let mut socket = PushSocket::new();
    let mut events = socket.monitor();
    match (&args.bind, &args.connect) {
        (Some(endpoint), _) => {
            bind(&mut socket, endpoint).await?;
            wait_for(&mut events, "a puller", |event| {
                matches!(event, SocketEvent::Accepted(..))
            })
            .await?;
        }
        (None, Some(endpoint)) => connect(&mut socket, endpoint).await?,
        (None, None) => unreachable!("clap requires one"),
    }
    for (message, dropped) in steps {
        // An error here is the connection already dropped, seen below.
        let sent = socket.send(message).await;
        if !dropped {
            sent?;
            continue;
        }
        let probe = ZmqMessage::from("a probe, never delivered");
        let seen = within(TIMEOUT, "the dropped connection", async {
            loop {
                tokio::select! {
                    event = events.next() => match event {
                        Some(SocketEvent::Disconnected(_)) => return,
                        Some(_) => {}
                        None => std::future::pending().await,
                    },
                    () = tokio::time::sleep(PROBE_EVERY) => {
                        let _ = socket.send(probe.clone()).await;
                    }
                }
            }
        });
        seen.await?;
        println!("dropped");
        // zmq.rs reconnects only SUB sockets: the rest goes on a new one.
        socket = PushSocket::new();
        events = socket.monitor();
        connect(&mut socket, args.connect.as_deref().expect("checked")).await?;
    }
    Ok(())
}

async fn wait_for(
    events: &mut futures::channel::mpsc::Receiver<SocketEvent>,
    what: &str,
    wanted: impl Fn(&SocketEvent) -> bool,
) -> Result {
    within(TIMEOUT, what, async {
        while let Some(event) = events.next().await {
            if wanted(&event) {
                return Ok(());
            }
        }
        Err("the socket monitor closed".into())
    })
    .await?
}
