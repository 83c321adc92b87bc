//! Task ventilator: the head of a parallel pipeline (PUSH), on a calloop
//! loop.
//!
//! The ZeroMQ guide, chapter 1, "Divide and Conquer" (`taskvent.c`). It
//! binds a PUSH socket that deals tasks out to the workers in turn, and
//! connects a second PUSH socket to the sink. Each task is a workload in
//! milliseconds (1 to 100) for a worker to "do". Before the batch, it tells
//! the sink `0`, so the sink starts its clock.
//!
//! The batch must wait until every worker has connected, or the first one
//! to connect gets all the tasks. The guide waits for Enter; so does this
//! program, but from its loop, so Ctrl-C still works while it waits (the end
//! of stdin counts as Enter). With `--workers N` it waits for N workers
//! instead: the PUSH socket's monitor reports each completed handshake.
//!
//! Sending only queues the batch; the loop delivers it as the peers come,
//! for as long as it takes, as the guide's does (its sockets linger for
//! ever): to the sink, which may connect long after, and to a worker, if
//! none has yet. Without that wait the `0` would be lost with the
//! ventilator, and the sink would wait for ever for its last result. After
//! a second it says on stderr what it waits for. Stopped meanwhile (Ctrl-C),
//! or past `--timeout-ms`, it says what was not delivered and exits with
//! status 1.
//!
//! ```text
//! cargo run -p tasksink
//! cargo run -p taskwork                 # in two or more terminals
//! cargo run -p taskvent                 # --bind tcp://*:5557 --sink tcp://localhost:5558
//! cargo run -p taskvent -- --workers 2 --seed 7 --tasks 100
//! ```

mod stdin;
mod ventilator;
mod waiting;

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use calloop::EventLoop;
use clap::Parser;
use rand::RngExt;
use zsource::{MonitorEventKind, ZmqSource};

use ventilator::Ventilator;

/// Sends a batch of tasks to the workers, once they are ready.
#[derive(Parser)]
#[command(version = zhelpers::version!(), about)]
struct Args {
    /// Endpoint to bind the PUSH socket that hands out the tasks to.
    #[arg(long, default_value = "tcp://*:5557")]
    bind: String,
    /// Endpoint of the sink, which hears when the batch starts.
    #[arg(long, default_value = "tcp://localhost:5558")]
    sink: String,
    /// How many tasks to send.
    #[arg(long, default_value_t = 100)]
    tasks: u32,
    /// Seed for the workloads, to send the same batch again.
    #[arg(long)]
    seed: Option<u64>,
    /// Instead of waiting for Enter, start once this many workers have
    /// connected.
    #[arg(long)]
    workers: Option<u32>,
    /// Give up, with exit status 1, when the batch has not been delivered
    /// (the sink or every worker is missing) this many milliseconds after
    /// it was sent. Without it, the ventilator waits for them for ever.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    timeout_ms: Option<u64>,
}

/// How long libzmq may go on delivering once the sockets close, without
/// `--timeout-ms`: for ever, as far as ZMQ_LINGER goes (2^31 - 1 ms).
const FOREVER: Duration = Duration::from_millis(i32::MAX as u64);

fn main() -> ExitCode {
    zhelpers::main(|| {
        let args = Args::parse();
        let mut event_loop: EventLoop<Ventilator> = EventLoop::try_new()?;
        zhelpers::stop_on_ctrl_c(&event_loop)?;

        // Both sockets linger when they close, so that libzmq delivers the
        // last tasks. The loop lets them close only once the peers are there.
        let linger = args.timeout_ms.map_or(FOREVER, Duration::from_millis);
        let context = zmq::Context::new();
        // Socket to send messages on. Its monitor, made before it binds,
        // sees every worker that connects.
        let sender = ZmqSource::builder()
            .capacity(usize::try_from(args.tasks)?)
            .linger(linger)
            .build(context.socket(zmq::PUSH)?)?;
        let workers = sender.monitor(&context)?;
        let endpoint = zhelpers::bind(&sender.socket(), &args.bind)?;

        // Socket to send start of batch message on. With ZMQ_IMMEDIATE it
        // takes the `0` only once the sink has connected: until then the
        // `0` waits in the source's queue, where the loop sees it.
        let sink = context.socket(zmq::PUSH)?;
        sink.set_immediate(true)?;
        zhelpers::connect(&sink, &args.sink)?;
        let sink = ZmqSource::builder().linger(linger).build(sink)?;

        let handle = event_loop.handle();
        let mut ventilator = Ventilator::new(&args, endpoint, [&sender, &sink], &event_loop);
        // A worker is in the PUSH socket's round once its handshake is done:
        // a task sent before then would go to the others.
        handle.insert_source(workers, |event, _, ventilator: &mut Ventilator| {
            match event.kind {
                MonitorEventKind::HandshakeSucceeded => ventilator.worker_connected(),
                // (A connection whose handshake failed is reported as
                // disconnected too, so a stranger's could make this short.)
                MonitorEventKind::Disconnected => ventilator.worker_disconnected(),
                _ => return,
            }
            if ventilator.has_enough_workers() {
                send_batch(ventilator);
            }
        })?;
        for socket in [sender, sink] {
            handle.insert_source(socket, |event, _, _| eprintln!("warning: {event:?}"))?;
        }

        let ready = match args.workers {
            Some(wanted) => wanted == 0,
            None => {
                print!("Press Enter when the workers are ready: ");
                io::stdout().flush()?;
                stdin::on_enter(&handle, send_batch)?
            }
        };
        if ready {
            send_batch(&mut ventilator);
        }
        // After each turn of the loop, look whether the batch is delivered.
        event_loop.run(None, &mut ventilator, Ventilator::check_delivered)?;
        ventilator.outcome()
    })
}

/// The guide's batch: the sink's `0`, then the tasks, each a random
/// workload. They go into the sockets' queues, from which the loop delivers
/// them as the peers come.
fn send_batch(ventilator: &mut Ventilator) {
    println!("Sending tasks to workers...");
    // The first message is "0" and signals start of batch
    if let Err(e) = ventilator.sink.try_send("0") {
        return ventilator.give_up(format!("signal the sink: {e}"));
    }
    let mut total_msec = 0;
    for _ in 0..ventilator.batch_size {
        // Random workload from 1 to 100 msecs
        let workload: u32 = ventilator.random.random_range(1..=100);
        total_msec += u64::from(workload);
        if let Err(e) = ventilator.tasks.try_send(workload.to_string()) {
            return ventilator.give_up(format!("send a task: {e}"));
        }
    }
    println!("Total expected cost: {total_msec} msec");
    ventilator.wait_for_delivery();
}
