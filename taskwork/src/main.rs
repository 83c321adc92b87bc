//! Task worker: the middle of a parallel pipeline (PULL in, PUSH out), on a
//! calloop loop.
//!
//! The ZeroMQ guide, chapter 1, "Divide and Conquer" (`taskwork.c`). It
//! connects a PULL socket to the ventilator for tasks and a PUSH socket to
//! the sink for results. Each task is a workload in milliseconds: the worker
//! prints it, "works" that long, and tells the sink it is done with an empty
//! message. Start as many workers as you like.
//!
//! The guide's worker sleeps. This one sets a calloop timer, so Ctrl-C stops
//! it at once even in the middle of a task. Tasks that arrive while one is
//! in progress wait their turn in a local queue. The next task's deadline is
//! the previous one's plus its workload, not "now" plus its workload: a
//! timer always fires a little late, and chained that way the lateness does
//! not add up over a batch.
//!
//! With `--control ENDPOINT` it is the guide's chapter 2 worker
//! (`taskwork2.c`, "Handling Multiple Sockets"): it also subscribes to the
//! sink's control socket and exits, with status 0, on any message there
//! (the sink sends `KILL` once the batch is done). The guide polls its two
//! sockets with `zmq_poll`; here both are sources of the one loop, beside
//! the task timer, and the `KILL` stops it even in the middle of a task.
//!
//! A task is read as the guide's C worker reads it, with `atoi`
//! (`workload.rs`). Whatever task it takes, the worker sends a result, so
//! one odd task never leaves the sink waiting.
//!
//! ```text
//! cargo run -p tasksink
//! cargo run -p taskwork                 # --connect tcp://localhost:5557 --sink tcp://localhost:5558
//! cargo run -p taskvent
//! cargo run -p tasksink -- --control    # the kill signal: tcp://*:5559
//! cargo run -p taskwork -- --control    # tcp://localhost:5559
//! ```

mod workload;

use std::collections::VecDeque;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use calloop::timer::{TimeoutAction, Timer};
use calloop::{EventLoop, LoopHandle};
use clap::Parser;
use zsource::{Event, Sender, ZmqSource};

/// Does the ventilator's tasks and reports each one to the sink.
#[derive(Parser)]
#[command(version = zhelpers::version!(), about)]
struct Args {
    /// Endpoint of the ventilator, which hands out the tasks.
    #[arg(long, default_value = "tcp://localhost:5557")]
    connect: String,
    /// Endpoint of the sink, which collects the results.
    #[arg(long, default_value = "tcp://localhost:5558")]
    sink: String,
    /// Also subscribe to the sink's control socket here, and exit on any
    /// message from it (the guide's `taskwork2`; without a value, its
    /// `tcp://localhost:5559`).
    #[arg(long, num_args = 0..=1, default_missing_value = "tcp://localhost:5559")]
    control: Option<String>,
}

/// The most tasks the worker takes and holds unstarted. Beyond it, it
/// stops reading, and the tasks wait in ZeroMQ, up to its high-water mark,
/// and then in the ventilator, as they would for the guide's blocking
/// worker: a ventilator that floods cannot make it hold more.
const MAX_WAITING: usize = 100;

/// What the loop's callbacks share.
struct Worker {
    /// Workloads received and not started yet, in arrival order.
    waiting: VecDeque<u64>,
    /// Whether a task is in progress (its timer is running).
    busy: bool,
    results: Sender,
    /// The task socket's, to stop and start reading it.
    tasks: Sender,
    /// For the tasks' timers. Here, not in a callback: a handle a source
    /// holds would keep the loop, and its sockets, alive for ever.
    timers: LoopHandle<'static, Worker>,
}

fn main() -> ExitCode {
    zhelpers::main(|| {
        let Args {
            connect,
            sink,
            control,
        } = Args::parse();
        let mut event_loop: EventLoop<Worker> = EventLoop::try_new()?;
        zhelpers::stop_on_ctrl_c(&event_loop)?;

        let context = zmq::Context::new();
        // Socket for control input, first, so that it has subscribed well
        // before the batch this worker takes part in is done.
        let controller = match &control {
            Some(endpoint) => {
                let controller = context.socket(zmq::SUB)?;
                zhelpers::cap_message_size(&controller)?;
                controller.set_subscribe(b"")?;
                zhelpers::connect(&controller, endpoint)?;
                Some(ZmqSource::new(controller)?)
            }
            None => None,
        };
        // Socket to receive messages on. (The cap is a guard only: a
        // connecting socket that meets a message over it drops the
        // connection and never reconnects.)
        let receiver = context.socket(zmq::PULL)?;
        zhelpers::cap_message_size(&receiver)?;
        zhelpers::connect(&receiver, &connect)?;
        // Socket to send messages to
        let sender = context.socket(zmq::PUSH)?;
        zhelpers::connect(&sender, &sink)?;
        let sender = ZmqSource::new(sender)?;

        let receiver = ZmqSource::new(receiver)?;
        let mut worker = Worker {
            waiting: VecDeque::new(),
            busy: false,
            results: sender.sender(),
            tasks: receiver.sender(),
            timers: event_loop.handle(),
        };
        let handle = event_loop.handle();
        handle.insert_source(sender, |event, _, _| {
            if let Event::SendFailed { error, .. } = event {
                eprintln!("warning: result not sent: {error}");
            }
        })?;
        // Any control message is a KILL.
        if let Some(controller) = controller {
            let signal = event_loop.get_signal();
            handle.insert_source(controller, move |event, _, _| match event {
                Event::Message(_) => signal.stop(),
                other => eprintln!("warning: control socket: {other:?}"),
            })?;
        }
        handle.insert_source(receiver, |event, _, worker| {
            let Event::Message(task) = event else {
                return eprintln!("warning: {event:?}");
            };
            worker.waiting.push_back(workload::read(&task));
            if worker.waiting.len() >= MAX_WAITING {
                worker.tasks.pause_receiving();
            }
            if !worker.busy {
                start_work(worker);
            }
        })?;

        event_loop.run(None, &mut worker, |_| {})?;
        Ok(())
    })
}

/// Starts the first waiting task, now, on a timer that goes on to the tasks
/// queued behind it.
fn start_work(worker: &mut Worker) {
    let Some(workload) = next_task(worker) else {
        return;
    };
    workload::show(workload);
    // Do the work: the timer's event is the deadline it was set for, not
    // the time it fired, and the next deadline counts from it.
    let timer = Timer::from_duration(Duration::from_millis(workload));
    let inserted =
        worker
            .timers
            .insert_source(timer, |deadline: Instant, _, worker: &mut Worker| {
                // Send results to sink
                if let Err(e) = worker.results.try_send("") {
                    eprintln!("warning: result not sent: {e}");
                }
                match next_task(worker) {
                    Some(workload) => {
                        workload::show(workload);
                        TimeoutAction::ToInstant(deadline + Duration::from_millis(workload))
                    }
                    None => {
                        worker.busy = false;
                        TimeoutAction::Drop
                    }
                }
            });
    match inserted {
        Ok(_) => worker.busy = true,
        Err(e) => eprintln!("warning: cannot start the task's timer: {e}"),
    }
}

/// The next waiting task; there is room for more once it leaves the queue.
fn next_task(worker: &mut Worker) -> Option<u64> {
    let workload = worker.waiting.pop_front()?;
    if worker.waiting.len() + 1 == MAX_WAITING {
        worker.tasks.resume_receiving();
    }
    Some(workload)
}
