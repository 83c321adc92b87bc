//! The parallel pipeline, after the guide's taskvent, taskwork and tasksink.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use futures::StreamExt;
use rand::RngExt;
use zeromq::{
    PubSocket, PullSocket, PushSocket, Socket, SocketEvent, SocketRecv, SocketSend, SubSocket,
    ZmqMessage,
};

use crate::{Result, TIMEOUT, bind, connect, parse_message, show, stay, within};

#[derive(clap::Args)]
pub struct VentilatorArgs {
    #[arg(long)]
    bind: String,
    /// The sink, told "0" when the batch starts.
    #[arg(long)]
    sink: Option<String>,
    /// How many workers to wait for (their handshakes) before sending.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// How many random workloads of 1 to 100 ms to send, without TASKs.
    #[arg(long, default_value_t = 100)]
    tasks: u32,
    /// A message for the sink right after the "0", written as a TASK is.
    #[arg(long)]
    sink_extra: Vec<String>,
    /// Send as the guide's C++ taskvent does: each workload a C string in a
    /// 10-byte buffer padded with NULs ("49\0\0\0\0\0\0\0\0"), and the batch
    /// start a 2-byte buffer with "0" in the first byte and whatever was in
    /// memory in the second (here 0xAA).
    #[arg(long)]
    cpp: bool,
    /// The tasks to send: text, "hex:<bytes in hex>", "bytes:N" (N bytes of
    /// "x"), and "|" splits a message into frames.
    task: Vec<String>,
}

#[derive(clap::Args)]
pub struct WorkerArgs {
    #[arg(long)]
    connect: String,
    #[arg(long)]
    sink: String,
    /// What to send the sink for each task: empty, as the guide's C worker
    /// does, or this text, as some of its other languages' do.
    #[arg(long, default_value = "")]
    result: String,
    /// As the guide's taskwork2: also subscribe to the sink's control
    /// socket here, and exit on any message from it.
    #[arg(long)]
    control: Option<String>,
}

#[derive(clap::Args)]
pub struct SinkArgs {
    #[arg(long)]
    bind: String,
    #[arg(long, default_value_t = 100)]
    tasks: u32,
    /// As the guide's tasksink2: also bind a PUB socket here, and send
    /// "KILL" on it once the batch is done.
    #[arg(long)]
    control: Option<String>,
}

/// Waits for the workers, sends the batch start and the tasks, and prints
/// the guide's lines. Then it stays, so that what it sent is delivered.
pub async fn ventilator(args: VentilatorArgs) -> Result {
    let mut sender = PushSocket::new();
    // Watched from before the bind, so that no worker connects unseen.
    let mut events = sender.monitor();
    bind(&mut sender, &args.bind).await?;
    let mut sink = PushSocket::new();
    if let Some(endpoint) = &args.sink {
        connect(&mut sink, endpoint).await?;
    }

    let mut connected = 0;
    while connected < args.workers {
        let what = format!("{} of {} workers", connected + 1, args.workers);
        match within(TIMEOUT, &what, events.next()).await? {
            // zmq.rs reports Accepted once the handshake is done.
            Some(SocketEvent::Accepted(..)) => connected += 1,
            Some(_) => {}
            None => return Err("the socket monitor closed".into()),
        }
    }
    println!("Sending tasks to workers...");

    if args.sink.is_some() {
        let start = if args.cpp {
            ZmqMessage::from(vec![b'0', 0xAA])
        } else {
            ZmqMessage::from("0")
        };
        sink.send(start).await?;
        for extra in &args.sink_extra {
            sink.send(parse_message(extra)?).await?;
        }
    }

    let tasks: Vec<String> = if args.task.is_empty() {
        let mut random = rand::rng();
        (0..args.tasks)
            .map(|_| random.random_range(1..=100).to_string())
            .collect()
    } else {
        args.task
    };
    let mut total_msec: u64 = 0;
    for task in &tasks {
        if let Ok(workload) = task.parse::<u64>() {
            total_msec += workload;
        }
        let message = if args.cpp {
            let mut buffer = vec![0; 10.max(task.len() + 1)];
            buffer[..task.len()].copy_from_slice(task.as_bytes());
            ZmqMessage::from(buffer)
        } else {
            parse_message(task)?
        };
        sender.send(message).await?;
    }
    println!("Total expected cost: {total_msec} msec");
    stay().await
}

/// Prints each task and a dot, works that many milliseconds (the number at
/// the start of its text, as C's atoi reads it), and sends a result.
pub async fn worker(args: WorkerArgs) -> Result {
    let mut controller = SubSocket::new();
    if let Some(endpoint) = &args.control {
        connect(&mut controller, endpoint).await?;
        controller.subscribe("").await?;
    }
    let mut receiver = PullSocket::new();
    connect(&mut receiver, &args.connect).await?;
    let mut sender = PushSocket::new();
    connect(&mut sender, &args.sink).await?;
    loop {
        let task = tokio::select! {
            task = receiver.recv() => task?,
            kill = controller.recv(), if args.control.is_some() => {
                println!("control: {}", show(&kill?));
                return Ok(());
            }
        };
        let frame = task.get(0).map(|frame| &frame[..]).unwrap_or_default();
        // A C string: up to the first NUL.
        let text = frame.split(|&byte| byte == 0).next().unwrap_or_default();
        let text = String::from_utf8_lossy(text);
        print!("{text}.");
        io::stdout().flush()?;
        let digits: String = text
            .trim_start()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let workload = digits.parse().unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(workload)).await;
        sender.send(args.result.clone().into()).await?;
    }
}

/// Waits for the batch start, counts the results (`:` every tenth, `.` for
/// the others) and prints how long the batch took.
pub async fn sink(args: SinkArgs) -> Result {
    let mut receiver = PullSocket::new();
    bind(&mut receiver, &args.bind).await?;
    let mut controller = PubSocket::new();
    if let Some(endpoint) = &args.control {
        bind(&mut controller, endpoint).await?;
    }
    receiver.recv().await?;
    let started = Instant::now();
    for task in 0..args.tasks {
        receiver.recv().await?;
        print!("{}", if task.is_multiple_of(10) { ':' } else { '.' });
        io::stdout().flush()?;
    }
    println!("Total elapsed time: {} msec", started.elapsed().as_millis());
    if args.control.is_none() {
        return Ok(());
    }
    // Send kill signal to workers
    controller.send("KILL".into()).await?;
    println!("KILL sent");
    stay().await
}
