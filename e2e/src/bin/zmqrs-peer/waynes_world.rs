//! Wayne's World, after the Python example's server.py, camera1.py and
//! camera2.py, and a publisher of garbage.

use std::time::Duration;

use zeromq::{PubSocket, Socket, SocketRecv, SocketSend, SubSocket, ZmqMessage};

use crate::{Result, bind, connect};

#[derive(clap::Args)]
pub struct ServerArgs {
    #[arg(long)]
    tcp: String,
    #[arg(long)]
    ipc: String,
    #[arg(long, default_value_t = 1000)]
    interval_ms: u64,
}

#[derive(clap::Args)]
pub struct CameraArgs {
    /// 1 or 2: which camera it is, as it says when it prints.
    number: u32,
    #[arg(long)]
    connect: String,
}

#[derive(clap::Args)]
pub struct GarbageArgs {
    #[arg(long)]
    bind: String,
    #[arg(long, default_value_t = 20)]
    interval_ms: u64,
}

/// Alternately "Camera 1" on the TCP socket and "Camera 2" on the IPC one.
pub async fn server(args: ServerArgs) -> Result {
    // Both binds first, as ours does, so the two lines come together.
    let mut tcp = PubSocket::new();
    bind(&mut tcp, &args.tcp).await?;
    let mut ipc = PubSocket::new();
    bind(&mut ipc, &args.ipc).await?;
    let interval = Duration::from_millis(args.interval_ms);
    loop {
        println!("Camera 1?");
        tcp.send("Camera 1".into()).await?;
        tokio::time::sleep(interval).await;
        println!("Camera 2?");
        ipc.send("Camera 2".into()).await?;
        tokio::time::sleep(interval).await;
    }
}

/// Prints each message as the original's Python 2 did: `MSG 1:  'Camera 1'`.
pub async fn camera(args: CameraArgs) -> Result {
    let mut socket = SubSocket::new();
    connect(&mut socket, &args.connect).await?;
    socket.subscribe("").await?;
    loop {
        let message = socket.recv().await?;
        let text = String::from_utf8_lossy(&message.into_vec().concat()).into_owned();
        println!("MSG {}:  '{text}'", args.number);
    }
}

/// Each tick, a good picture and then one malformed message of each kind.
pub async fn garbage(args: GarbageArgs) -> Result {
    let mut socket = PubSocket::new();
    bind(&mut socket, &args.bind).await?;
    let mut multipart = ZmqMessage::from("multi");
    multipart.push_back("part".into());
    let burst = [
        ZmqMessage::from("Camera 1"),
        ZmqMessage::from(b"\xff\xfe not UTF-8".to_vec()),
        multipart,
        ZmqMessage::from(""),
        ZmqMessage::from(vec![b'x'; 100_000]),
    ];
    let interval = Duration::from_millis(args.interval_ms);
    loop {
        for message in &burst {
            socket.send(message.clone()).await?;
        }
        tokio::time::sleep(interval).await;
    }
}
