//! The guide's chapter 2 kill signal end to end (`taskwork2`, `tasksink2`):
//! `tasksink --control` and `taskwork --control` as real processes, with
//! each other and with the guide's programs on zmq.rs (`zmqrs-peer
//! tasksink --control`, `taskwork --control`, and a publisher of whatever a
//! test gives it). It proves that the sink's `KILL` reaches every worker
//! that subscribed, ours and foreign, after the batch; that our worker exits
//! with status 0 on any control message, from our sink or a foreign one,
//! even in the middle of a task; and the shared behaviour: Ctrl-C with both
//! sockets in the loop, bad control endpoints.

use e2e::{A_MINUTE, ANY_PORT, DEADLINE, IpcEndpoint, Process, Stream, start_taskvent};

mod own_socket;

/// A valid endpoint that no one binds: an inproc name in the program's own
/// context.
const NOWHERE: &str = "inproc://nowhere";

/// Starts our sink with a control socket, and returns it with the endpoints
/// of its results and its control sockets.
fn control_sink(tasks: usize) -> (Process, String, String) {
    let tasks = tasks.to_string();
    let sink = Process::start(
        "tasksink",
        &["--bind", ANY_PORT, "--tasks", &tasks, "--control", ANY_PORT],
    );
    let mut endpoints = sink.endpoints(2);
    let control = endpoints.remove(1);
    (sink, endpoints.remove(0), control)
}

fn worker(ventilator: &str, sink: &str, control: &str) -> Process {
    Process::start(
        "taskwork",
        &[
            "--connect",
            ventilator,
            "--sink",
            sink,
            "--control",
            control,
        ],
    )
}

/// Waits for the sink to finish, checks it says it sent KILL to `workers`.
fn assert_killed(sink: &mut Process, workers: usize) {
    let output = sink.wait_success(DEADLINE);
    assert!(output.stdout.contains("Total elapsed time: "), "{output}");
    let said = format!("KILL sent to the {workers} worker(s) subscribed");
    assert!(output.stderr.contains(&said), "{said}\n{output}");
}

#[test]
fn the_sinks_kill_stops_our_workers_once_the_batch_is_done() {
    const TASKS: usize = 10;
    let (mut sink, results, control) = control_sink(TASKS);
    let (mut ventilator, tasks) = start_taskvent(&results, TASKS, "3", 2);
    let mut workers = [0, 1].map(|_| worker(&tasks, &results, &control));
    ventilator.wait_success(DEADLINE);
    assert_killed(&mut sink, 2);
    for worker in &mut workers {
        // By themselves: no signal.
        let output = worker.wait_success(DEADLINE);
        assert_eq!(output.stderr, "", "{output}");
        assert!(output.stdout.ends_with('.'), "{output}");
    }
}

#[test]
fn our_sinks_kill_reaches_a_foreign_worker() {
    let (mut sink, results, control) = control_sink(5);
    let (_ventilator, tasks) = start_taskvent(&results, 5, "3", 1);
    let mut worker = Process::peer(&[
        "taskwork",
        "--connect",
        &tasks,
        "--sink",
        &results,
        "--control",
        &control,
    ]);
    assert_killed(&mut sink, 1);
    let output = worker.wait_success(DEADLINE);
    assert!(output.stdout.ends_with("control: \"KILL\"\n"), "{output}");
}

#[test]
fn a_foreign_sinks_kill_stops_our_worker() {
    let sink = Process::peer(&[
        "tasksink",
        "--bind",
        ANY_PORT,
        "--tasks",
        "3",
        "--control",
        ANY_PORT,
    ]);
    let mut endpoints = sink.endpoints(2);
    let control = endpoints.remove(1);
    let results = endpoints.remove(0);
    let ventilator = Process::peer(&[
        "taskvent", "--bind", ANY_PORT, "--sink", &results, "--", "5", "10", "15",
    ]);
    let tasks = ventilator.endpoint();
    let mut worker = worker(&tasks, &results, &control);
    sink.wait_for(Stream::Stdout, "KILL sent");
    let output = worker.wait_success(DEADLINE);
    assert_eq!(output.stdout, "5.10.15.", "{output}");
}

#[test]
fn any_control_message_stops_our_worker() {
    // The foreign publisher waits for the worker's subscription, then sends.
    for message in ["KILL", "", "bye", "two|frames", "bytes:2000", "hex:fffe"] {
        let publisher = Process::peer(&["bad-peer", "pub", "--bind", ANY_PORT, "--", message]);
        let control = publisher.endpoint();
        let mut worker = worker(NOWHERE, NOWHERE, &control);
        let output = worker.wait_success(DEADLINE);
        assert_eq!(output.stdout, "", "{message:?}: {output}");
        assert_eq!(output.stderr, "", "{message:?}: {output}");
    }
}

#[test]
fn the_kill_stops_our_worker_in_the_middle_of_a_task() {
    // A minute's work. The test's own XPUB sees the worker subscribe, and
    // sends KILL once the task has started.
    let context = zmq::Context::new();
    let (controller, control) = own_socket::bind(&context, zmq::XPUB);
    let ventilator = Process::peer(&["taskvent", "--bind", ANY_PORT, "--", A_MINUTE]);
    let tasks = ventilator.endpoint();
    let mut worker = worker(&tasks, NOWHERE, &control);
    assert_eq!(controller.recv_bytes(0).unwrap(), b"\x01");
    worker.wait_until("the task to start", DEADLINE, |output| {
        (output.stdout == format!("{A_MINUTE}.")).then_some(())
    });
    controller.send("KILL", 0).unwrap();
    worker.wait_success(DEADLINE);
}

#[test]
fn a_sink_with_no_worker_subscribed_still_finishes() {
    let (mut sink, results, _control) = control_sink(3);
    let ventilator = Process::peer(&[
        "taskvent", "--bind", ANY_PORT, "--sink", &results, "--", "1", "2", "3",
    ]);
    let tasks = ventilator.endpoint();
    let _worker = Process::peer(&["taskwork", "--connect", &tasks, "--sink", &results]);
    assert_killed(&mut sink, 0);
}

#[test]
fn ctrl_c_stops_a_worker_with_both_sockets_in_its_loop() {
    for signal in ["INT", "TERM"] {
        // Idle, once it has done a task; and in the middle of one.
        for workload in ["1", A_MINUTE] {
            let ventilator = Process::peer(&["taskvent", "--bind", ANY_PORT, "--", workload]);
            let tasks = ventilator.endpoint();
            // Its control socket waits for a sink that never comes.
            let mut worker = worker(&tasks, NOWHERE, NOWHERE);
            worker.wait_until("the task to start", DEADLINE, |output| {
                (output.stdout == format!("{workload}.")).then_some(())
            });
            worker.assert_stops(signal, "worker");
        }
    }
}

#[test]
fn a_control_endpoint_that_cannot_be_used_is_one_line_and_exit_1() {
    for endpoint in ["nonsense", "tcp://192.0.2.1:*"] {
        Process::start("tasksink", &["--bind", ANY_PORT, "--control", endpoint])
            .assert_fails_naming(endpoint);
    }
    Process::start(
        "taskwork",
        &[
            "--connect",
            NOWHERE,
            "--sink",
            NOWHERE,
            "--control",
            "nonsense",
        ],
    )
    .assert_fails_naming("nonsense");
}

#[test]
fn control_without_a_value_is_the_guides_port_5559() {
    for (program, endpoint) in [
        ("tasksink", "tcp://*:5559"),
        ("taskwork", "tcp://localhost:5559"),
    ] {
        let mut help = Process::start(program, &["--help"]);
        let output = help.wait_success(DEADLINE);
        assert!(output.stdout.contains(endpoint), "{program}: {output}");
    }
}

#[test]
fn a_worker_started_before_its_sink_still_gets_the_kill() {
    // The worker does its tasks with no sink there; their results wait in
    // its socket and complete the batch the moment the sink binds, before
    // the worker's control socket has reconnected and subscribed. The sink
    // must still reach it.
    let results = IpcEndpoint::new("kill-late-sink-results");
    let control = IpcEndpoint::new("kill-late-sink-control");
    let (ventilator, tasks) = start_taskvent(results.as_str(), 3, "1", 1);
    let mut worker = worker(&tasks, results.as_str(), control.as_str());
    // Three tasks of at most 100 ms each; the ventilator says it is waiting
    // for its sink a second after it sent them, by when the worker is done.
    worker.wait_until("three tasks", DEADLINE, |output| {
        (output.stdout.matches('.').count() == 3).then_some(())
    });
    let waiting = format!("waiting for the sink at {}", results.as_str());
    ventilator.wait_for(Stream::Stderr, &waiting);
    let mut sink = Process::start(
        "tasksink",
        &[
            "--bind",
            results.as_str(),
            "--tasks",
            "3",
            "--control",
            control.as_str(),
        ],
    );
    assert!(
        sink.wait_success(DEADLINE)
            .stdout
            .contains("Total elapsed time: ")
    );
    // (The ventilator goes on waiting to hand its `0` to a sink that came
    // and went, as docs/DESIGN.md says. It is killed at the end.)
    drop(ventilator);
    let status = worker.wait_exit(DEADLINE);
    assert!(status.success(), "{status}\n{}", worker.output());
}
