//! Passing JSON and the Eventloop echo, after the seed's Python examples:
//! `passing_json/server.py` and `client.py`, `eventloop/echoserver.py` and
//! `echoclient.py`.

use std::time::Duration;

use futures::StreamExt;
use zeromq::{
    PullSocket, PushSocket, RepSocket, ReqSocket, Socket, SocketEvent, SocketRecv, SocketSend,
    ZmqError, ZmqMessage,
};

use crate::{Result, TIMEOUT, bind, connect, show, within};

/// What the originals send, as Python's `json.dumps` writes it.
const HELLO: &str = r#"{"code": 200, "text": "hello world"}"#;
const REQUEST: &str = r#"{"j2": "was here", "word": "up"}"#;

#[derive(clap::Args)]
pub struct JsonServerArgs {
    #[arg(long)]
    bind: String,
    #[arg(long, default_value_t = 1000)]
    interval_ms: u64,
}

#[derive(clap::Args)]
pub struct ConnectArgs {
    #[arg(long)]
    connect: String,
}

#[derive(clap::Args)]
pub struct BindArgs {
    #[arg(long)]
    bind: String,
}

/// Prints `Hello world?` and sends the JSON, once a second; with no client,
/// the message waits for one, as the original's blocking send does.
pub async fn json_server(args: JsonServerArgs) -> Result {
    let mut socket = PushSocket::new();
    let mut events = socket.monitor();
    bind(&mut socket, &args.bind).await?;
    loop {
        println!("Hello world?");
        let mut message = ZmqMessage::from(HELLO);
        // zmq.rs's PUSH hands a message back when it has no peer, where
        // libzmq's blocks: wait for one, and send it again.
        while let Err(ZmqError::ReturnToSender { message: back, .. }) = socket.send(message).await {
            message = back;
            while !matches!(events.next().await, Some(SocketEvent::Accepted(..))) {}
        }
        tokio::time::sleep(Duration::from_millis(args.interval_ms)).await;
    }
}

/// Prints `code :: text` per message, as the original's `'%s :: %s'` does.
pub async fn json_client(args: ConnectArgs) -> Result {
    let mut socket = PullSocket::new();
    connect(&mut socket, &args.connect).await?;
    loop {
        let message = socket.recv().await?;
        let frame = message.get(0).map(|frame| &frame[..]).unwrap_or_default();
        match serde_json::from_slice::<serde_json::Value>(frame) {
            Ok(ds) => match (&ds["code"], ds["text"].as_str()) {
                (code, Some(text)) if code.is_number() => println!("{code} :: {text}"),
                _ => eprintln!("warning: not the JSON expected: {ds}"),
            },
            Err(e) => eprintln!("warning: not JSON: {e}: {}", show(&message)),
        }
    }
}

/// Prints the JSON of each request's first frame and echoes it, every frame.
pub async fn echo_server(args: BindArgs) -> Result {
    let mut socket = RepSocket::new();
    bind(&mut socket, &args.bind).await?;
    loop {
        let message = match socket.recv().await {
            Ok(message) => message,
            Err(e) => {
                eprintln!("warning: receive: {e}");
                continue;
            }
        };
        let frame = message.get(0).map(|frame| &frame[..]).unwrap_or_default();
        match serde_json::from_slice::<serde_json::Value>(frame) {
            Ok(data) => println!("{data}"),
            Err(e) => eprintln!("warning: not JSON: {e}: {}", show(&message)),
        }
        if let Err(e) = socket.send(message).await {
            eprintln!("warning: echo: {e}");
        }
    }
}

/// Sends the request five times and prints `MSG: <reply>` for each.
pub async fn echo_client(args: ConnectArgs) -> Result {
    let mut socket = ReqSocket::new();
    connect(&mut socket, &args.connect).await?;
    for _ in 0..5 {
        socket.send(REQUEST.into()).await?;
        let reply = within(TIMEOUT, "an echo", socket.recv()).await??;
        let frame = reply.get(0).map(|frame| &frame[..]).unwrap_or_default();
        println!("MSG: {}", String::from_utf8_lossy(frame));
    }
    Ok(())
}
