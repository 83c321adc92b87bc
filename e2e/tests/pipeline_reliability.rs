//! The parallel pipeline when things go wrong: a worker dies mid-batch (the
//! sink's `--timeout-ms`), the sink restarts under a worker, the programs
//! start back to front, the sink starts long after the ventilator sent the
//! batch (or never: the ventilator's `--timeout-ms`), and every program
//! stops at once on SIGINT and SIGTERM, idle, busy, or with its peers gone.
//! `pipeline.rs` has the happy paths.

use std::any::Any;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

mod own_socket;

use e2e::{
    A_MINUTE, ANY_PORT, DEADLINE, IpcEndpoint, Output, PROMPT, Process, STOP, Stream, taskvent,
};

/// Starts our sink, and returns it with its endpoint.
fn sink(bind: &str, tasks: usize, extra: &[&str]) -> (Process, String) {
    let mut args = vec!["--bind", bind];
    let tasks = tasks.to_string();
    args.extend(["--tasks", &tasks]);
    args.extend(extra);
    let sink = Process::start("tasksink", &args);
    let endpoint = sink.endpoint();
    (sink, endpoint)
}

/// Starts our worker.
fn worker(ventilator: &str, sink: &str) -> Process {
    Process::start("taskwork", &["--connect", ventilator, "--sink", sink])
}

/// A PUSH socket of the test's own, bound to a fresh port: it stands in for
/// a ventilator, sending tasks to a worker.
fn test_ventilator(context: &zmq::Context) -> (zmq::Socket, String) {
    let socket = context.socket(zmq::PUSH).unwrap();
    socket.set_linger(0).unwrap();
    socket.bind(ANY_PORT).unwrap();
    let endpoint = socket.get_last_endpoint().unwrap().unwrap();
    (socket, endpoint)
}

/// A socket that receives the handshake events of `socket`: one message for
/// each peer that has connected and is ready.
fn monitor_handshakes(context: &zmq::Context, socket: &zmq::Socket) -> zmq::Socket {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let address = format!(
        "inproc://handshakes-{}",
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let events = zmq::SocketEvent::HANDSHAKE_SUCCEEDED.to_raw();
    socket.monitor(&address, i32::from(events)).unwrap();
    let monitor = context.socket(zmq::PAIR).unwrap();
    monitor.set_linger(0).unwrap();
    monitor.set_rcvtimeo(DEADLINE.as_millis() as i32).unwrap();
    monitor.connect(&address).unwrap();
    monitor
}

/// A PUSH socket of the test's own, connected to a sink: it stands in for
/// the ventilator's `0` and the workers' results.
fn test_sender(context: &zmq::Context, sink: &str) -> zmq::Socket {
    let socket = context.socket(zmq::PUSH).unwrap();
    socket.set_linger(0).unwrap();
    socket.set_sndtimeo(DEADLINE.as_millis() as i32).unwrap();
    socket.connect(sink).unwrap();
    socket
}

/// Waits until a sink or worker has printed something on stdout.
fn wait_for_progress(process: &Process) {
    process.wait_until("progress", DEADLINE, |output| {
        (!output.stdout.is_empty()).then_some(())
    });
}

/// Waits until the process has printed exactly `expected` on stdout.
fn wait_for_stdout(process: &Process, expected: &str) {
    process.wait_until(&format!("stdout {expected:?}"), DEADLINE, |output| {
        (output.stdout == expected).then_some(())
    });
}

/// The marks a sink prints for its first `results` results.
fn marks(results: usize) -> String {
    (0..results)
        .map(|index| if index % 10 == 0 { ':' } else { '.' })
        .collect()
}

/// Checks a sink's output for a complete batch.
fn assert_batch_complete(output: &Output, tasks: usize) {
    let elapsed = output
        .stdout
        .strip_prefix(&format!("{}Total elapsed time: ", marks(tasks)))
        .and_then(|rest| rest.strip_suffix(" msec\n"));
    assert!(
        elapsed.is_some_and(|ms| !ms.is_empty() && ms.bytes().all(|b| b.is_ascii_digit())),
        "{output}"
    );
}

/// Waits for a sink that timed out, checks it says so (exit 1, the count on
/// one stderr line, the marks on stdout agree) and returns the count.
fn assert_timed_out(sink: &mut Process, tasks: usize, timeout_ms: u64) -> usize {
    let status = sink.wait_exit(DEADLINE);
    let output = sink.output();
    assert_eq!(status.code(), Some(1), "{output}");
    let suffix = format!(" of {tasks} results arrived; none for {timeout_ms} ms");
    let count = output
        .stderr
        .lines()
        .find_map(|line| line.strip_prefix("error: ")?.strip_suffix(&suffix))
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("no timeout report\n{output}"));
    let expected_stdout = match count {
        0 => String::new(),
        _ => marks(count) + "\n",
    };
    assert_eq!(output.stdout, expected_stdout, "{output}");
    count
}

#[test]
fn a_sink_with_a_timeout_waits_for_the_batch_then_reports_a_stall() {
    let (mut sink, endpoint) = sink(ANY_PORT, 5, &["--timeout-ms", "100"]);
    let context = zmq::Context::new();
    let sender = test_sender(&context, &endpoint);
    // Not a wait for readiness: three of its timeouts go by before the
    // batch starts. A sink that timed out already would report 0 results.
    thread::sleep(Duration::from_millis(300));
    sender.send("0", 0).unwrap();
    sender.send("", 0).unwrap();
    assert_eq!(assert_timed_out(&mut sink, 5, 100), 1);
}

#[test]
fn each_result_pushes_the_timeout_back() {
    // Results 250 ms apart for 2.5 s: longer than the timeout in all, but
    // never that long without one (an eighth of it, so that a busy machine
    // that delays one send cannot make a gap look like a stall).
    const TASKS: usize = 10;
    let (mut sink, endpoint) = sink(ANY_PORT, TASKS, &["--timeout-ms", "2000"]);
    let context = zmq::Context::new();
    let sender = test_sender(&context, &endpoint);
    sender.send("0", 0).unwrap();
    for _ in 0..TASKS {
        thread::sleep(Duration::from_millis(250));
        sender.send("", 0).unwrap();
    }
    assert_batch_complete(&sink.wait_success(DEADLINE), TASKS);
}

#[test]
fn a_worker_killed_mid_batch_leaves_the_sink_to_report_a_partial_count() {
    // Each of the two workers gets 20 tasks of 1 to 100 ms, about a second
    // of work: the one killed after its first task cannot finish them all.
    const TASKS: usize = 40;
    let (mut sink, sink_endpoint) = sink(ANY_PORT, TASKS, &["--timeout-ms", "500"]);
    let ventilator = taskvent(ANY_PORT, &sink_endpoint, TASKS, "7", 2);
    let endpoint = ventilator.endpoint();
    let doomed = worker(&endpoint, &sink_endpoint);
    let _survivor = worker(&endpoint, &sink_endpoint);
    doomed.wait_until("the first task", DEADLINE, |output| {
        output.stdout.contains('.').then_some(())
    });
    drop(doomed); // SIGKILL
    let count = assert_timed_out(&mut sink, TASKS, 500);
    assert!(count < TASKS, "{}", sink.output());
}

#[test]
fn a_worker_keeps_working_across_a_sink_restart() {
    // Endpoints known before anything binds them, so that the new sink (and
    // the second ventilator) can bind the same ones.
    let sink_ipc = IpcEndpoint::new("restarted-sink");
    let ventilator_ipc = IpcEndpoint::new("ventilator");
    let (sink_endpoint, endpoint) = (sink_ipc.as_str(), ventilator_ipc.as_str());

    // A first batch of 3 to a sink that expects more, so that it is still
    // running when all three are in.
    let (first_sink, _) = sink(sink_endpoint, 100, &[]);
    let worker = worker(endpoint, sink_endpoint);
    taskvent(endpoint, sink_endpoint, 3, "1", 1).wait_success(DEADLINE);
    wait_for_stdout(&first_sink, &marks(3));
    drop(first_sink); // SIGKILL

    let (mut second_sink, _) = sink(sink_endpoint, 3, &[]);
    taskvent(endpoint, sink_endpoint, 3, "2", 1).wait_success(DEADLINE);
    assert_batch_complete(&second_sink.wait_success(DEADLINE), 3);
    // A worker prints a task before its result: all six are printed by now.
    let done = worker.output().stdout;
    assert_eq!(done.matches('.').count(), 6, "{}", worker.output());
}

#[test]
fn a_batch_completes_when_the_programs_start_back_to_front() {
    // Each program starts before the ones it connects to: the workers, then
    // the ventilator (which sends the batch as soon as both workers are
    // there), then the sink. The ventilator's `0` and the results race to
    // the sink; the batch must complete whichever wins.
    const TASKS: usize = 10;
    let sink_ipc = IpcEndpoint::new("sink-last");
    let ventilator_ipc = IpcEndpoint::new("ventilator-second");
    let (sink_endpoint, endpoint) = (sink_ipc.as_str(), ventilator_ipc.as_str());
    let _workers = [
        worker(endpoint, sink_endpoint),
        worker(endpoint, sink_endpoint),
    ];
    let ventilator = taskvent(endpoint, sink_endpoint, TASKS, "3", 2);
    ventilator.wait_for(Stream::Stdout, "Total expected cost");
    let (mut sink, _) = sink(sink_endpoint, TASKS, &[]);
    assert_batch_complete(&sink.wait_success(DEADLINE), TASKS);
    // Not `ventilator.wait_success`: when all the results beat the `0`, the
    // sink is done and gone before the ventilator has connected, and the
    // ventilator rightly goes on waiting to deliver its `0` to a sink.
    drop(ventilator);
}

#[test]
fn a_ventilator_waits_for_a_sink_that_starts_late() {
    // The guide's sink, on zmq.rs: it takes the first message for the batch
    // start and then counts the results, so it completes only if it gets
    // the ventilator's `0`. (Ours counts results that come first, and may be
    // done before the `0` comes: see the test above.)
    const TASKS: usize = 10;
    let sink_ipc = IpcEndpoint::new("late-sink");
    let sink_endpoint = sink_ipc.as_str();
    let mut ventilator = taskvent(ANY_PORT, sink_endpoint, TASKS, "5", 1);
    let _worker = worker(&ventilator.endpoint(), sink_endpoint);
    let waiting = format!("waiting for the sink at {sink_endpoint}");
    ventilator.wait_for(Stream::Stderr, &waiting);
    // Not a wait for readiness: the sink comes later than the 5 s after
    // which the ventilator used to give up, exit 0 and lose the batch start,
    // so that the sink then waited for ever for its last result.
    thread::sleep(Duration::from_secs(6));
    let output = ventilator.output();
    assert_eq!(output.status(), None, "{output}");
    let tasks = TASKS.to_string();
    let mut sink = Process::peer(&["tasksink", "--bind", sink_endpoint, "--tasks", &tasks]);
    assert_batch_complete(&sink.wait_success(DEADLINE), TASKS);
    ventilator.wait_success(DEADLINE);
}

#[test]
fn a_ventilator_stopped_before_its_sink_came_says_the_batch_is_lost() {
    for signal in ["INT", "TERM"] {
        let sink_ipc = IpcEndpoint::new("no-sink");
        let sink_endpoint = sink_ipc.as_str();
        let mut ventilator = taskvent(ANY_PORT, sink_endpoint, 3, "1", 1);
        let endpoint = ventilator.endpoint();
        let _worker = worker(&endpoint, sink_endpoint);
        ventilator.wait_for(Stream::Stderr, "waiting for the sink at");
        ventilator.signal(signal);
        let status = ventilator.wait_exit(STOP);
        let output = ventilator.output();
        assert_eq!(status.code(), Some(1), "SIG{signal}\n{output}");
        let expected = format!("error: stopped before the sink at {sink_endpoint} connected");
        assert!(
            last_line(&output).starts_with(&expected),
            "SIG{signal}\n{output}"
        );
    }
}

#[test]
fn a_ventilator_with_a_timeout_gives_up_on_a_missing_sink_or_worker() {
    let sink_ipc = IpcEndpoint::new("never-sink");
    let sink_endpoint = sink_ipc.as_str();
    // `--workers 0`: the batch goes at once, with no one to take it.
    let args = |sink: &str| {
        let args = ["--bind", ANY_PORT, "--sink", sink, "--workers", "0"];
        let mut args: Vec<String> = args.map(String::from).to_vec();
        args.extend(["--tasks", "3", "--timeout-ms", "300"].map(String::from));
        args
    };
    let start = |args: &[String]| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Process::start("taskvent", &args)
    };

    let mut ventilator = start(&args(sink_endpoint));
    let status = ventilator.wait_exit(DEADLINE);
    let output = ventilator.output();
    assert_eq!(status.code(), Some(1), "{output}");
    let expected = format!("error: the sink at {sink_endpoint} did not connect within 300 ms");
    assert!(last_line(&output).starts_with(&expected), "{output}");

    let (_sink, sink_endpoint) = sink(ANY_PORT, 3, &[]);
    let mut ventilator = start(&args(&sink_endpoint));
    let endpoint = ventilator.endpoint();
    let status = ventilator.wait_exit(DEADLINE);
    let output = ventilator.output();
    assert_eq!(status.code(), Some(1), "{output}");
    let expected = format!(
        "error: no worker connected to {endpoint} within 300 ms: 3 tasks were not delivered"
    );
    assert_eq!(last_line(&output), expected, "{output}");
}

/// The last line a process printed on stderr.
fn last_line(output: &Output) -> &str {
    output.stderr.lines().last().unwrap_or_default()
}

/// What a case keeps alive until its process has stopped: peer processes
/// and the test's own sockets.
type Peers = Vec<Box<dyn Any>>;

/// Runs `case` once with SIGINT and once with SIGTERM: it sets up the
/// process to stop, and returns it with the peers to keep meanwhile.
fn for_both_signals(name: &str, case: impl Fn() -> (Process, Peers)) {
    for signal in ["INT", "TERM"] {
        let (mut process, _peers) = case();
        process.assert_stops(signal, name);
    }
}

#[test]
fn idle_programs_stop_at_once() {
    for_both_signals("a sink waiting for its batch", || {
        // The timeout does not run before the batch starts.
        (sink(ANY_PORT, 10, &["--timeout-ms", "100"]).0, vec![])
    });
    for_both_signals("a worker waiting for its first task", || {
        let context = zmq::Context::new();
        let (tasks, endpoint) = test_ventilator(&context);
        let handshakes = monitor_handshakes(&context, &tasks);
        let worker = worker(&endpoint, IpcEndpoint::new("no-sink").as_str());
        // The worker connects once it is set up, Ctrl-C handler included.
        handshakes.recv_multipart(0).unwrap();
        (worker, vec![Box::new(tasks), Box::new(handshakes)])
    });
    for_both_signals("a worker done with its task", || {
        let context = zmq::Context::new();
        let (tasks, endpoint) = test_ventilator(&context);
        let (sink, sink_endpoint) = sink(ANY_PORT, 10, &[]);
        let worker = worker(&endpoint, &sink_endpoint);
        tasks.send("1", 0).unwrap();
        wait_for_stdout(&sink, ":");
        (worker, vec![Box::new(sink), Box::new(tasks)])
    });
    for_both_signals("a ventilator waiting for Enter", || {
        let (sink, sink_endpoint) = sink(ANY_PORT, 10, &[]);
        let ventilator =
            Process::start("taskvent", &["--bind", ANY_PORT, "--sink", &sink_endpoint]);
        wait_for_stdout(&ventilator, PROMPT);
        (ventilator, vec![Box::new(sink)])
    });
    for_both_signals("a ventilator waiting for workers", || {
        let (sink, sink_endpoint) = sink(ANY_PORT, 10, &[]);
        let ventilator = taskvent(ANY_PORT, &sink_endpoint, 10, "1", 1);
        ventilator.endpoint();
        (ventilator, vec![Box::new(sink)])
    });
}

#[test]
fn busy_programs_stop_at_once() {
    for_both_signals("a worker in the middle of a task", || {
        let context = zmq::Context::new();
        let (tasks, endpoint) = test_ventilator(&context);
        let (sink, sink_endpoint) = sink(ANY_PORT, 10, &[]);
        let worker = worker(&endpoint, &sink_endpoint);
        // One done, one in progress, one waiting.
        for task in ["1", A_MINUTE, "1"] {
            tasks.send(task, 0).unwrap();
        }
        wait_for_stdout(&worker, "1.60000.");
        (worker, vec![Box::new(sink), Box::new(tasks)])
    });
    for_both_signals("a sink in the middle of a batch", || {
        let (sink, sink_endpoint) = sink(ANY_PORT, 10, &["--timeout-ms", "60000"]);
        let context = zmq::Context::new();
        let sender = test_sender(&context, &sink_endpoint);
        sender.send("0", 0).unwrap();
        sender.send("", 0).unwrap();
        wait_for_stdout(&sink, ":");
        (sink, vec![Box::new(sender)])
    });
}

#[test]
fn programs_stop_at_once_after_their_peers_are_gone() {
    // Batches of 100 tasks, about five seconds for one worker: still going
    // when the peers are killed and the signal comes.
    for_both_signals("a worker in the middle of a task", || {
        let (sink, sink_endpoint) = sink(ANY_PORT, 100, &[]);
        let mut ventilator = taskvent(ANY_PORT, &sink_endpoint, 100, "1", 1);
        let worker = worker(&ventilator.endpoint(), &sink_endpoint);
        wait_for_progress(&worker);
        ventilator.wait_success(DEADLINE); // Gone once the tasks are out.
        drop(sink); // SIGKILL
        (worker, vec![])
    });
    for_both_signals("a sink in the middle of a batch", || {
        let (sink, sink_endpoint) = sink(ANY_PORT, 100, &["--timeout-ms", "60000"]);
        let mut ventilator = taskvent(ANY_PORT, &sink_endpoint, 100, "1", 1);
        let worker = worker(&ventilator.endpoint(), &sink_endpoint);
        wait_for_progress(&sink);
        ventilator.wait_success(DEADLINE); // Gone once the tasks are out.
        drop(worker); // SIGKILL
        (sink, vec![])
    });
    for_both_signals("a ventilator waiting for workers", || {
        let (sink, sink_endpoint) = sink(ANY_PORT, 10, &[]);
        let ventilator = taskvent(ANY_PORT, &sink_endpoint, 10, "1", 2);
        let worker = worker(&ventilator.endpoint(), &sink_endpoint);
        ventilator.wait_for(Stream::Stderr, "1 of 2 workers connected");
        drop((worker, sink)); // SIGKILL
        (ventilator, vec![])
    });
    for_both_signals("a ventilator waiting for Enter", || {
        let (sink, sink_endpoint) = sink(ANY_PORT, 10, &[]);
        let ventilator =
            Process::start("taskvent", &["--bind", ANY_PORT, "--sink", &sink_endpoint]);
        let worker = worker(&ventilator.endpoint(), &sink_endpoint);
        wait_for_stdout(&ventilator, PROMPT);
        drop((worker, sink)); // SIGKILL
        (ventilator, vec![])
    });
}

#[test]
fn sigterm_stops_a_sink_mid_batch_every_time() {
    let context = zmq::Context::new();
    for attempt in 0..20 {
        let (mut sink, endpoint) = sink(ANY_PORT, 10, &[]);
        let sender = test_sender(&context, &endpoint);
        sender.send("0", 0).unwrap();
        sender.send("", 0).unwrap();
        wait_for_stdout(&sink, ":");
        sink.assert_stops("TERM", &format!("attempt {attempt}"));
    }
}

#[test]
fn sigint_stops_a_worker_mid_task_every_time() {
    let context = zmq::Context::new();
    let nowhere = IpcEndpoint::new("no-sink");
    for attempt in 0..20 {
        // A ventilator socket for each: a task sent to the last one's dead
        // worker would be lost.
        let (tasks, endpoint) = test_ventilator(&context);
        let mut worker = worker(&endpoint, nowhere.as_str());
        tasks.send(A_MINUTE, 0).unwrap();
        wait_for_stdout(&worker, "60000.");
        worker.assert_stops("INT", &format!("attempt {attempt}"));
    }
}

#[test]
fn a_worker_holds_a_bounded_number_of_tasks_from_a_flooding_ventilator() {
    // Tasks of a minute each, sent as fast as the worker takes them: it
    // starts one and keeps a few waiting; the rest must wait in ZeroMQ,
    // then in the kernel's socket buffers, and then in the ventilator,
    // whose sends then time out. A worker that read them all into memory
    // would take every one. Each task is a C string padded to a kilobyte,
    // as the guide's C++ ventilator pads its own, so that a few megabytes
    // of socket buffers cannot hold them all.
    const SENDS: usize = 100_000;
    let mut task = format!("{A_MINUTE}\0").into_bytes();
    task.resize(1024, 0);
    let context = zmq::Context::new();
    let (tasks, endpoint) = own_socket::bind(&context, zmq::PUSH);
    tasks.set_sndtimeo(2000).unwrap();
    let (_sink, sink_endpoint) = own_socket::bind(&context, zmq::PULL);
    let worker = worker(&endpoint, &sink_endpoint);
    let mut sent = 0;
    while sent < SENDS && tasks.send(&task, 0).is_ok() {
        sent += 1;
    }
    assert!(sent < SENDS, "the worker took all {SENDS} tasks");
    // It has started the first, and printed it (without a newline).
    let started = format!("{A_MINUTE}.");
    worker.wait_until("the first task", DEADLINE, |output| {
        output.stdout.contains(&started).then_some(())
    });
    eprintln!("the worker took {sent} tasks before the ventilator had to wait");
}
