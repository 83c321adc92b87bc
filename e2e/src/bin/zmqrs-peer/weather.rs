//! Weather updates, after the guide's wuserver and wuclient.

use std::time::Duration;

use rand::RngExt;
use zeromq::{PubSocket, Socket, SocketRecv, SocketSend, SubSocket, ZmqMessage};

use crate::{Result, bind, connect};

#[derive(clap::Args)]
pub struct ServerArgs {
    #[arg(long)]
    bind: String,
    /// Send each update as the guide's C++ wuserver does: a 20-byte buffer
    /// holding a C string, the text and a NUL, then whatever was in memory
    /// (here 0xAA bytes, which are not even UTF-8).
    #[arg(long, conflicts_with = "malformed")]
    cpp: bool,
    /// Instead of random updates, publish a fixed cycle about once a
    /// millisecond: five malformed messages (a word for a number, bytes that
    /// are not UTF-8, two frames, an empty message, a kilobyte of spaces),
    /// then the good update "10001 42 50". A client that skips the bad ones
    /// averages exactly 42.
    #[arg(long)]
    malformed: bool,
}

#[derive(clap::Args)]
pub struct ClientArgs {
    #[arg(long)]
    connect: String,
    /// The zip code prefix to subscribe to.
    #[arg(long, default_value = "10001 ")]
    filter: String,
    #[arg(long, default_value_t = 100)]
    updates: u32,
}

#[derive(clap::Args)]
pub struct SubscriberArgs {
    #[arg(long)]
    connect: String,
    #[arg(long, default_value = "")]
    filter: String,
    #[arg(long, default_value_t = 100_000)]
    every: u64,
}

/// How many messages a publisher sends between yields to zmq.rs's tasks.
const BURST: u32 = 64;

pub async fn server(args: ServerArgs) -> Result {
    let mut socket = PubSocket::new();
    bind(&mut socket, &args.bind).await?;
    if args.malformed {
        return malformed(socket).await;
    }
    let mut random = rand::rng();
    loop {
        for _ in 0..BURST {
            let zipcode = random.random_range(0..100_000);
            let temperature = random.random_range(-80..=134);
            let humidity = random.random_range(10..=59);
            let update = format!("{zipcode:05} {temperature} {humidity}");
            let message = if args.cpp {
                let mut buffer = vec![0xAA; 20];
                buffer[..update.len()].copy_from_slice(update.as_bytes());
                buffer[update.len()] = 0;
                ZmqMessage::from(buffer)
            } else {
                ZmqMessage::from(update)
            };
            socket.send(message).await?;
        }
        tokio::task::yield_now().await;
    }
}

async fn malformed(mut socket: PubSocket) -> Result {
    let mut two_frames = ZmqMessage::from("10001 -80 10");
    two_frames.push_back("10001 -80 10".into());
    let cycle = [
        ZmqMessage::from("10001 hot humid"),
        ZmqMessage::from(b"10001 -80 \xff\xfe".to_vec()),
        two_frames,
        ZmqMessage::from(""),
        ZmqMessage::from(format!("10001 -80 10{}", " ".repeat(1000))),
        ZmqMessage::from("10001 42 50"),
    ];
    loop {
        for message in &cycle {
            socket.send(message.clone()).await?;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Averages the temperatures as the guide's client does, and prints its line.
pub async fn client(args: ClientArgs) -> Result {
    let mut socket = SubSocket::new();
    println!("Collecting updates from weather server...");
    connect(&mut socket, &args.connect).await?;
    socket.subscribe(&args.filter).await?;
    let mut total: i64 = 0;
    for _ in 0..args.updates {
        let update = socket.recv().await?;
        let text = String::from_utf8(update.into_vec().concat())?;
        let temperature = text
            .split_whitespace()
            .nth(1)
            .and_then(|field| field.parse::<i64>().ok())
            .ok_or_else(|| format!("not an update: {text:?}"))?;
        total += temperature;
    }
    // As the C version: integer division, truncated toward zero.
    let average = total / i64::from(args.updates);
    println!(
        "Average temperature for zipcode '{}' was {average}F",
        args.filter
    );
    Ok(())
}

pub async fn subscriber(args: SubscriberArgs) -> Result {
    let mut socket = SubSocket::new();
    connect(&mut socket, &args.connect).await?;
    socket.subscribe(&args.filter).await?;
    let mut received: u64 = 0;
    loop {
        socket.recv().await?;
        received += 1;
        if received.is_multiple_of(args.every) {
            println!("received {received} updates");
        }
    }
}
