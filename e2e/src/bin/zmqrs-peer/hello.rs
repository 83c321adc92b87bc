//! Hello world, after the guide's hwserver and hwclient.

use zeromq::{RepSocket, ReqSocket, Socket, SocketRecv, SocketSend};

use crate::{Result, TIMEOUT, bind, connect, show, within};

#[derive(clap::Args)]
pub struct ServerArgs {
    #[arg(long)]
    bind: String,
}

#[derive(clap::Args)]
pub struct ClientArgs {
    #[arg(long)]
    connect: String,
    #[arg(long, default_value_t = 10)]
    requests: u32,
}

/// Prints `Received request: "Hello"` per request and replies "World".
pub async fn server(args: ServerArgs) -> Result {
    let mut socket = RepSocket::new();
    bind(&mut socket, &args.bind).await?;
    loop {
        // A client that leaves mid-request shows as an error here; the
        // server goes on, as libzmq's does.
        match socket.recv().await {
            Ok(request) => println!("Received request: {}", show(&request)),
            Err(e) => {
                eprintln!("warning: receive: {e}");
                continue;
            }
        }
        if let Err(e) = socket.send("World".into()).await {
            eprintln!("warning: reply: {e}");
        }
    }
}

/// Prints the guide's lines, with each reply as it came.
pub async fn client(args: ClientArgs) -> Result {
    println!("Connecting to hello world server...");
    let mut socket = ReqSocket::new();
    connect(&mut socket, &args.connect).await?;
    for request in 0..args.requests {
        println!("Sending request {request} ...");
        socket.send("Hello".into()).await?;
        let what = format!("the reply to request {request}");
        let reply = within(TIMEOUT, &what, socket.recv())
            .await?
            .map_err(|e| format!("no reply to request {request}: {e}"))?;
        println!("Received reply {request} [ {} ]", show(&reply));
    }
    Ok(())
}
