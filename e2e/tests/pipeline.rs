//! The parallel pipeline end to end: `taskvent`, `taskwork` and `tasksink`
//! as real processes, with each other and with the guide's programs on zmq.rs
//! (`zmqrs-peer taskvent`, `taskwork` and `tasksink`).

use e2e::start_taskvent as ventilator;
use e2e::{ANY_PORT, DEADLINE, Output, PROMPT, Process, Stream};

mod own_socket;

/// A valid endpoint that no one binds: an inproc name in the program's own
/// context.
const NOWHERE: &str = "inproc://nowhere";

/// Starts our sink for a batch of `tasks`, and returns it with its endpoint.
fn sink(tasks: usize) -> (Process, String) {
    let sink = Process::start(
        "tasksink",
        &["--bind", ANY_PORT, "--tasks", &tasks.to_string()],
    );
    let endpoint = sink.endpoint();
    (sink, endpoint)
}

/// Starts the foreign ventilator: it waits for one worker, then sends `0`
/// to the sink (if any) and the `tasks` as they are written.
fn foreign_ventilator(sink: Option<&str>, extra: &[&str], tasks: &[&str]) -> (Process, String) {
    let mut args = vec!["taskvent", "--bind", ANY_PORT];
    if let Some(sink) = sink {
        args.extend(["--sink", sink]);
    }
    for message in extra {
        args.extend(["--sink-extra", message]);
    }
    args.push("--");
    args.extend(tasks);
    let ventilator = Process::peer(&args);
    let endpoint = ventilator.endpoint();
    (ventilator, endpoint)
}

/// Starts the foreign sink, for a batch of `tasks`.
fn foreign_sink(tasks: usize) -> Process {
    let tasks = tasks.to_string();
    Process::peer(&["tasksink", "--bind", ANY_PORT, "--tasks", &tasks])
}

/// Starts the foreign worker, which returns empty results.
fn foreign_worker(ventilator: &str, sink: &str) -> Process {
    Process::peer(&["taskwork", "--connect", ventilator, "--sink", sink])
}

/// The cost a ventilator printed.
fn expected_cost(output: &Output) -> u64 {
    let line = output
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("Total expected cost: "))
        .unwrap_or_else(|| panic!("no expected cost\n{output}"));
    line.strip_suffix(" msec")
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("a malformed expected cost\n{output}"))
}

/// The workloads a worker printed, `N.` each.
fn workloads(stdout: &str) -> Vec<u64> {
    stdout
        .split_terminator('.')
        .map(|workload| {
            workload
                .parse()
                .unwrap_or_else(|_| panic!("{workload:?} in {stdout:?}"))
        })
        .collect()
}

/// Checks the sink's whole output: one mark per result, a `:` every tenth,
/// then the elapsed time.
fn assert_sink_output(output: &Output, tasks: usize) {
    let marks: String = (0..tasks)
        .map(|index| if index % 10 == 0 { ':' } else { '.' })
        .collect();
    let elapsed = output
        .stdout
        .strip_prefix(&format!("{marks}Total elapsed time: "))
        .and_then(|rest| rest.strip_suffix(" msec\n"));
    assert!(
        elapsed.is_some_and(|ms| !ms.is_empty() && ms.bytes().all(|b| b.is_ascii_digit())),
        "{output}"
    );
}

/// Waits until the worker has printed exactly `expected`.
fn wait_for_progress(worker: &Process, expected: &str) {
    worker.wait_until(&format!("progress {expected:?}"), DEADLINE, |output| {
        (output.stdout == expected).then_some(())
    });
}

/// A ventilator run against sockets of the test's own, standing in for one
/// worker and the sink: returns the workloads sent, in order, and what the
/// ventilator printed.
fn capture_batch(tasks: usize, seed: &str) -> (Vec<u64>, Output) {
    let context = zmq::Context::new();
    let (sink, sink_endpoint) = own_socket::bind(&context, zmq::PULL);
    let (mut ventilator, endpoint) = ventilator(&sink_endpoint, tasks, seed, 1);
    let worker = context.socket(zmq::PULL).unwrap();
    worker.set_linger(0).unwrap();
    worker.set_rcvtimeo(DEADLINE.as_millis() as i32).unwrap();
    worker.connect(&endpoint).unwrap();
    let output = ventilator.wait_success(DEADLINE);
    assert_eq!(sink.recv_bytes(0).unwrap(), b"0", "{output}");
    let sent = (0..tasks)
        .map(|_| {
            let task = worker.recv_string(0).unwrap().unwrap();
            task.parse().unwrap()
        })
        .collect();
    (sent, output)
}

#[test]
fn a_batch_goes_through_two_workers_and_adds_up() {
    const TASKS: usize = 20;
    let (mut sink, sink_endpoint) = sink(TASKS);
    let (mut ventilator, endpoint) = ventilator(&sink_endpoint, TASKS, "7", 2);
    let args = [
        "--connect",
        endpoint.as_str(),
        "--sink",
        sink_endpoint.as_str(),
    ];
    let workers = [
        Process::start("taskwork", &args),
        Process::start("taskwork", &args),
    ];
    let vent_output = ventilator.wait_success(DEADLINE);
    assert_eq!(
        vent_output.stdout,
        format!(
            "Sending tasks to workers...\nTotal expected cost: {} msec\n",
            expected_cost(&vent_output)
        )
    );
    assert_sink_output(&sink.wait_success(DEADLINE), TASKS);

    // A worker prints a task before its result, so all are printed by now.
    let mut done: Vec<u64> = Vec::new();
    for worker in &workers {
        let mine = workloads(&worker.output().stdout);
        // Both were connected before the first task: PUSH deals in turn.
        assert_eq!(mine.len(), TASKS / 2, "{}", worker.output());
        done.extend(mine);
    }
    assert_eq!(done.iter().sum::<u64>(), expected_cost(&vent_output));

    // The same seed again, to a worker of the test's own, says what was sent.
    let (mut sent, again) = capture_batch(TASKS, "7");
    assert_eq!(expected_cost(&again), expected_cost(&vent_output));
    sent.sort_unstable();
    done.sort_unstable();
    assert_eq!(sent, done);
}

#[test]
fn the_same_seed_sends_the_same_workloads() {
    let (first, first_output) = capture_batch(10, "12345");
    let (second, second_output) = capture_batch(10, "12345");
    assert_eq!(first, second);
    assert!(first.iter().all(|workload| (1..=100).contains(workload)));
    assert_eq!(expected_cost(&first_output), first.iter().sum::<u64>());
    assert_eq!(expected_cost(&second_output), expected_cost(&first_output));
}

/// Our ventilator without `--workers`, and our sink and one worker.
fn ventilator_waiting_for_enter() -> (Process, Process, Process) {
    let (sink, sink_endpoint) = sink(5);
    let ventilator = Process::start(
        "taskvent",
        &["--bind", ANY_PORT, "--sink", &sink_endpoint, "--tasks", "5"],
    );
    let endpoint = ventilator.endpoint();
    let worker = Process::start(
        "taskwork",
        &["--connect", &endpoint, "--sink", &sink_endpoint],
    );
    ventilator.wait_until("the prompt", DEADLINE, |output| {
        (output.stdout == PROMPT).then_some(())
    });
    (ventilator, worker, sink)
}

#[test]
fn enter_starts_the_batch() {
    let (mut ventilator, _worker, mut sink) = ventilator_waiting_for_enter();
    ventilator.write_stdin("\n");
    let output = ventilator.wait_success(DEADLINE);
    let cost = expected_cost(&output);
    assert_eq!(
        output.stdout,
        format!("{PROMPT}Sending tasks to workers...\nTotal expected cost: {cost} msec\n")
    );
    assert_sink_output(&sink.wait_success(DEADLINE), 5);
}

#[test]
fn the_end_of_stdin_counts_as_enter() {
    let (mut ventilator, _worker, mut sink) = ventilator_waiting_for_enter();
    ventilator.close_stdin();
    let output = ventilator.wait_success(DEADLINE);
    assert!(output.stdout.contains("Total expected cost: "), "{output}");
    assert!(output.stderr.contains("stdin closed"), "{output}");
    assert_sink_output(&sink.wait_success(DEADLINE), 5);
}

#[test]
fn ctrl_c_stops_a_ventilator_waiting_for_enter() {
    let (mut ventilator, _worker, _sink) = ventilator_waiting_for_enter();
    ventilator.assert_stops("INT", "ventilator");
    assert_eq!(ventilator.output().stdout, PROMPT);
}

#[test]
fn ctrl_c_stops_a_ventilator_waiting_for_workers() {
    let (_sink, sink_endpoint) = sink(5);
    let (mut ventilator, endpoint) = ventilator(&sink_endpoint, 5, "1", 2);
    let _worker = Process::start(
        "taskwork",
        &["--connect", &endpoint, "--sink", &sink_endpoint],
    );
    ventilator.wait_for(Stream::Stderr, "1 of 2 workers connected");
    ventilator.assert_stops("INT", "ventilator");
    assert_eq!(ventilator.output().stdout, "");
}

#[test]
fn ctrl_c_stops_an_idle_worker() {
    let (_sink, sink_endpoint) = sink(1);
    let (_ventilator, endpoint) = foreign_ventilator(Some(&sink_endpoint), &[], &["1"]);
    let mut worker = Process::start(
        "taskwork",
        &["--connect", &endpoint, "--sink", &sink_endpoint],
    );
    wait_for_progress(&worker, "1.");
    worker.assert_stops("INT", "worker");
}

#[test]
fn ctrl_c_stops_a_worker_in_the_middle_of_a_task() {
    // A minute's work; Ctrl-C must not wait for it.
    let (_ventilator, endpoint) = foreign_ventilator(None, &[], &["60000"]);
    let mut worker = Process::start("taskwork", &["--connect", &endpoint, "--sink", NOWHERE]);
    wait_for_progress(&worker, "60000.");
    worker.assert_stops("INT", "worker");
}

#[test]
fn ctrl_c_stops_a_waiting_sink() {
    let (mut sink, _) = sink(10);
    sink.assert_stops("INT", "sink");
    assert_eq!(sink.output().stdout, "");
}

#[test]
fn a_bad_flag_is_a_usage_error() {
    for program in ["taskvent", "taskwork", "tasksink"] {
        Process::start(program, &["--no-such-flag"]).assert_usage_error("--no-such-flag");
    }
}

#[test]
fn an_endpoint_that_cannot_be_used_is_one_line_and_exit_1() {
    // Not an endpoint at all, and an address this machine does not have
    // (192.0.2.0/24 is reserved for documentation).
    for endpoint in ["nonsense", "tcp://192.0.2.1:*"] {
        for (program, flag) in [("taskvent", "--bind"), ("tasksink", "--bind")] {
            Process::start(program, &[flag, endpoint]).assert_fails_naming(endpoint);
        }
    }
    for (upstream, downstream) in [("nonsense", NOWHERE), (NOWHERE, "nonsense")] {
        Process::start("taskwork", &["--connect", upstream, "--sink", downstream])
            .assert_fails_naming("nonsense");
    }
}

#[test]
fn a_worker_sends_a_result_for_every_task_even_a_malformed_one() {
    // Each task, the work the worker does for it (as the guide's C worker
    // reads it, with atoi: 0 where that finds no number; and none for a
    // workload that is negative or over a minute), and whether it warns.
    let long = format!("{}3", "0".repeat(199));
    let tasks = [
        (long.as_str(), 3, false), // 3, in 200 bytes
        ("seven", 0, true),        // not a number
        ("hex:fffe", 0, true),     // not UTF-8, and no number
        ("5|5", 5, true),          // two frames: the first is read
        ("99999999", 0, true),     // more than a minute of work
        ("", 0, true),             // empty
        ("-3", 0, true),           // negative
        ("hex:2b330a", 3, true),   // "+3\n": atoi reads 3
        ("hex:3400", 4, false),    // "4" and a NUL: a C string
        ("3", 3, false),
    ];
    let mut sink = foreign_sink(tasks.len());
    let sink_endpoint = sink.endpoint();
    let written: Vec<&str> = tasks.iter().map(|(task, _, _)| *task).collect();
    let (_ventilator, endpoint) = foreign_ventilator(Some(&sink_endpoint), &[], &written);
    let worker = Process::start(
        "taskwork",
        &["--connect", &endpoint, "--sink", &sink_endpoint],
    );
    // The sink gets a result for each task, or it would not finish.
    sink.wait_success(DEADLINE);
    let progress: String = tasks
        .iter()
        .map(|(_, work, _)| format!("{work}."))
        .collect();
    wait_for_progress(&worker, &progress);
    let output = worker.output();
    let warnings: Vec<&str> = output
        .stderr
        .lines()
        .filter(|line| line.starts_with("warning: "))
        .collect();
    let odd = tasks.iter().filter(|(_, _, warned)| *warned).count();
    assert_eq!(warnings.len(), odd, "{output}");
    assert_eq!(output.stderr.lines().count(), odd, "{output}");
}

#[test]
fn our_worker_takes_the_guides_cpp_tasks() {
    // The guide's C++ taskvent sends each workload as a 10-byte buffer, a C
    // string padded with NULs: "5\0\0\0\0\0\0\0\0\0".
    let mut sink = foreign_sink(3);
    let sink_endpoint = sink.endpoint();
    let ventilator = Process::peer(&[
        "taskvent",
        "--bind",
        ANY_PORT,
        "--sink",
        &sink_endpoint,
        "--cpp",
        "--",
        "5",
        "10",
        "15",
    ]);
    let endpoint = ventilator.endpoint();
    let worker = Process::start(
        "taskwork",
        &["--connect", &endpoint, "--sink", &sink_endpoint],
    );
    let output = sink.wait_success(DEADLINE);
    assert!(
        output.stdout.starts_with(":..Total elapsed time: "),
        "{output}"
    );
    wait_for_progress(&worker, "5.10.15.");
    assert_eq!(worker.output().stderr, "", "{}", worker.output());
}

#[test]
fn a_sink_counts_whatever_a_worker_sends() {
    // Sent to the sink right after the batch start, before any result: the
    // guide's sink counts any message as a result, and so does ours, with a
    // warning for the odd ones.
    let results = [
        ("done", false),
        ("hex:ff", false),
        ("", false),
        ("|", true), // two empty frames, counted once
        ("0", true), // another batch start, in the middle of the batch
    ];
    let extra: Vec<&str> = results.iter().map(|(result, _)| *result).collect();
    let tasks = ["1", "2", "3"];
    let (mut sink, sink_endpoint) = sink(results.len() + tasks.len());
    let (_ventilator, endpoint) = foreign_ventilator(Some(&sink_endpoint), &extra, &tasks);
    let _worker = foreign_worker(&endpoint, &sink_endpoint);
    let output = sink.wait_success(DEADLINE);
    assert_sink_output(&output, results.len() + tasks.len());
    let warnings = output
        .stderr
        .lines()
        .filter(|line| line.starts_with("warning: "));
    let odd = results.iter().filter(|(_, odd)| *odd).count();
    assert_eq!(warnings.count(), odd, "{output}");
}

#[test]
fn our_sink_counts_a_workers_text_results() {
    // Not every language's worker sends an empty result, as the guide's C
    // one does: these two send "done" and a kilobyte of text.
    const TASKS: usize = 10;
    let (mut sink, sink_endpoint) = sink(TASKS);
    let (mut ventilator, endpoint) = ventilator(&sink_endpoint, TASKS, "4", 2);
    let kilobyte = "x".repeat(1024);
    let _workers = ["done", &kilobyte].map(|result| {
        Process::peer(&[
            "taskwork",
            "--connect",
            &endpoint,
            "--sink",
            &sink_endpoint,
            "--result",
            result,
        ])
    });
    ventilator.wait_success(DEADLINE);
    let output = sink.wait_success(DEADLINE);
    assert_sink_output(&output, TASKS);
    assert_eq!(output.stderr.lines().count(), 1, "{output}"); // listening on
}

#[test]
fn our_sink_takes_the_guides_cpp_batch_start() {
    // The guide's C++ taskvent sends the batch start as a 2-byte buffer:
    // "0", then whatever was in memory.
    let (mut sink, sink_endpoint) = sink(3);
    let ventilator = Process::peer(&[
        "taskvent",
        "--bind",
        ANY_PORT,
        "--sink",
        &sink_endpoint,
        "--cpp",
        "--",
        "5",
        "10",
        "15",
    ]);
    let endpoint = ventilator.endpoint();
    let _worker = foreign_worker(&endpoint, &sink_endpoint);
    let output = sink.wait_success(DEADLINE);
    assert_sink_output(&output, 3);
    assert_eq!(output.stderr.lines().count(), 1, "{output}"); // listening on
}

#[test]
fn our_ventilator_and_sink_work_with_a_foreign_worker() {
    const TASKS: usize = 10;
    let (mut sink, sink_endpoint) = sink(TASKS);
    let (mut ventilator, endpoint) = ventilator(&sink_endpoint, TASKS, "99", 1);
    let worker = foreign_worker(&endpoint, &sink_endpoint);
    let cost = expected_cost(&ventilator.wait_success(DEADLINE));
    assert_sink_output(&sink.wait_success(DEADLINE), TASKS);
    let done = workloads(&worker.output().stdout);
    assert_eq!(done.len(), TASKS);
    assert_eq!(done.iter().sum::<u64>(), cost);
}

#[test]
fn our_worker_works_with_a_foreign_ventilator_and_sink() {
    let mut sink = foreign_sink(3);
    let sink_endpoint = sink.endpoint();
    let (ventilator, endpoint) = foreign_ventilator(Some(&sink_endpoint), &[], &["5", "10", "15"]);
    let worker = Process::start(
        "taskwork",
        &["--connect", &endpoint, "--sink", &sink_endpoint],
    );
    // zmq.rs has no linger: the foreign ventilator stays, so that its tasks
    // are delivered, and the test waits for its last line instead.
    ventilator.wait_for(Stream::Stdout, "Total expected cost");
    assert_eq!(expected_cost(&ventilator.output()), 30);
    let output = sink.wait_success(DEADLINE);
    assert!(
        output.stdout.starts_with(":..Total elapsed time: "),
        "{output}"
    );
    wait_for_progress(&worker, "5.10.15.");
}

#[test]
fn a_foreign_sink_works_with_our_ventilator_and_worker() {
    const TASKS: usize = 10;
    let mut sink = foreign_sink(10);
    let sink_endpoint = sink.endpoint();
    let (mut ventilator, endpoint) = ventilator(&sink_endpoint, TASKS, "5", 1);
    let worker = Process::start(
        "taskwork",
        &["--connect", &endpoint, "--sink", &sink_endpoint],
    );
    let cost = expected_cost(&ventilator.wait_success(DEADLINE));
    assert_sink_output(&sink.wait_success(DEADLINE), TASKS);
    assert_eq!(workloads(&worker.output().stdout).iter().sum::<u64>(), cost);
}
