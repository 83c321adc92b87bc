//! Bad input from a foreign peer, `zmqrs-peer bad-peer`, to the programs
//! that receive: each malformed message gets a warning on stderr and is
//! skipped (or, in a pipeline, where skipping would stall the batch, still
//! gets its result, or is still counted as one), the program keeps running,
//! and the good messages after it still arrive.
//!
//! Which kinds each program is tried with, and where, is the table
//! [`MATRIX`]; `the_matrix_names_real_tests` checks it.

use e2e::{
    ANY_PORT, DEADLINE, IpcEndpoint, Output, Process, Stream, Tested, complete_lines,
    hwclient_output,
};

/// The kinds of bad input: the columns of [`MATRIX`].
const KINDS: [&str; 5] = [
    "does not parse",
    "not UTF-8",
    "empty",
    "multipart",
    "over the cap",
];

/// Where one program is tried with one kind of bad input.
#[derive(Clone, Copy)]
enum Cell {
    Tested(Tested),
    /// The kind is a good message for this program: any text is a request,
    /// a reply or a picture, and any message at all is a result.
    Good,
}
use Cell::Good;

const fn here(test: &'static str) -> Cell {
    at("bad_input.rs", test)
}

const fn at(file: &'static str, test: &'static str) -> Cell {
    Cell::Tested(Tested { file, test })
}

const WEATHER: Cell = at(
    "weather.rs",
    "malformed_updates_are_warned_about_and_skipped",
);
const WORKER: Cell = at(
    "pipeline.rs",
    "a_worker_sends_a_result_for_every_task_even_a_malformed_one",
);
const REPLIES: Cell = here("clients_warn_about_malformed_replies_and_ask_again");
const CAMERAS: Cell = here("cameras_warn_about_malformed_messages_and_go_on");
const PASSING_JSON: Cell = at(
    "passing_json.rs",
    "our_client_warns_about_bad_messages_and_skips_them",
);
const ECHO_SERVER: Cell = at(
    "echo.rs",
    "every_frame_comes_back_unchanged_and_what_is_not_json_is_warned_about",
);
const ECHOES: Cell = here("echo_client_warns_about_odd_echoes_and_counts_them");

/// Every program that receives, and where it is tried with each of
/// [`KINDS`]. (An echo is whatever comes back: any text is a good one, the
/// empty text too.) (The others only send: wuserver, waynes-world, taskvent,
/// whose input is Enter.)
///
/// Over the cap, a bound server caps what it takes with ZMQ_MAXMSGSIZE,
/// and libzmq drops a peer that sends more, connection and all: the
/// server's own code never sees the message, so it cannot warn. (A socket
/// monitor would not help: it reports ZMQ_EVENT_DISCONNECTED, as for any
/// peer that leaves.) Its tests check that the server goes on, and that a
/// good message from a new connection gets through. A client is tried
/// twice: over its own cap, skipped with a warning, and over the far
/// higher ZMQ_MAXMSGSIZE it sets, where libzmq drops the connection and,
/// since the client connected, never reconnects: only lpclient's new
/// socket gets it going again.
const MATRIX: &[(&str, [Cell; 5])] = &[
    (
        "hwserver",
        [
            Good,
            here("hwserver_warns_about_malformed_requests_and_still_replies"),
            here("empty_requests_and_replies_are_warned_about"),
            here("hwserver_warns_about_malformed_requests_and_still_replies"),
            here("hwserver_answers_every_request_up_to_its_cap"),
        ],
    ),
    (
        "hwclient",
        [
            Good,
            REPLIES,
            here("empty_requests_and_replies_are_warned_about"),
            REPLIES,
            REPLIES,
        ],
    ),
    (
        "lpclient",
        [
            Good,
            REPLIES,
            here("empty_requests_and_replies_are_warned_about"),
            REPLIES,
            here("lpclient_survives_a_reply_over_libzmqs_cap"),
        ],
    ),
    ("wuclient", [WEATHER; 5]),
    ("taskwork", [WORKER; 5]),
    (
        "tasksink",
        [
            Good,
            Good,
            Good,
            at("pipeline.rs", "a_sink_counts_whatever_a_worker_sends"),
            here("tasksink_survives_a_message_over_its_size_cap"),
        ],
    ),
    ("json-client", [PASSING_JSON; 5]),
    (
        "echo-server",
        [
            ECHO_SERVER,
            ECHO_SERVER,
            ECHO_SERVER,
            ECHO_SERVER,
            at(
                "echo.rs",
                "an_oversized_request_costs_only_its_own_connection",
            ),
        ],
    ),
    ("echo-client", [Good, ECHOES, Good, ECHOES, ECHOES]),
    ("camera1", [Good, CAMERAS, CAMERAS, CAMERAS, CAMERAS]),
    ("camera2", [Good, CAMERAS, CAMERAS, CAMERAS, CAMERAS]),
];

#[test]
fn the_matrix_names_real_tests() {
    for (program, cells) in MATRIX {
        for (kind, cell) in KINDS.iter().zip(cells) {
            if let Cell::Tested(tested) = cell {
                eprintln!("{program}, {kind}: {}", tested.test);
                tested.assert_exists();
            }
        }
    }
}

/// Starts the foreign peer: a socket of `kind` (`req`, `rep`, `pub` or
/// `push`) that binds or connects (`--bind` or `--connect`) to `endpoint`
/// and sends `messages` in its notation (see `zmqrs-peer/bad_peer.rs`).
fn bad_peer(kind: &str, place: &str, endpoint: &str, messages: &[&str]) -> Process {
    let mut args = vec!["bad-peer", kind, place, endpoint, "--"];
    args.extend(messages);
    Process::peer(&args)
}

/// The warnings a program printed.
fn warnings(output: &Output) -> Vec<&str> {
    complete_lines(&output.stderr)
        .filter(|line| line.starts_with("warning: "))
        .collect()
}

/// Waits until a program has printed exactly `stdout` and `count`
/// warnings, and returns what it printed. (Its stdout and stderr arrive
/// apart, and after what the peer saw.)
fn wait_for_output(process: &Process, stdout: &str, count: usize) -> Output {
    let what = format!("stdout {stdout:?} and {count} warnings");
    process.wait_until(&what, DEADLINE, |output| {
        (output.stdout == stdout && warnings(output).len() == count).then_some(())
    });
    process.output()
}

/// Checks that a program printed one warning for each of `malformed`, in
/// order, each showing the message (as zsource's `Multipart` debug shows
/// it), and no other.
fn assert_warned_about(output: &Output, malformed: &[&str]) {
    let warnings = warnings(output);
    assert_eq!(warnings.len(), malformed.len(), "{output}");
    for (warning, shown) in warnings.iter().zip(malformed) {
        assert!(warning.contains(shown), "{shown:?}\n{output}");
    }
}

fn hwserver() -> (Process, String) {
    let server = Process::start("hwserver", &["--bind", ANY_PORT, "--work-ms", "0"]);
    let endpoint = server.endpoint();
    (server, endpoint)
}

#[test]
fn hwserver_warns_about_malformed_requests_and_still_replies() {
    let (server, endpoint) = hwserver();
    // A REP socket must reply before it can receive again, so each
    // malformed request gets its "World" too.
    let client = bad_peer(
        "req",
        "--connect",
        &endpoint,
        &["hex:fffe", "Hello|extra", "Hello"],
    );
    client.wait_for(Stream::Stdout, "done");
    assert_eq!(
        client.output().stdout,
        "reply: \"World\"\n".repeat(3) + "done\n"
    );
    let output = wait_for_output(&server, "Received Hello\n", 2);
    assert_warned_about(&output, &["[255, 254]", r#"["Hello", "extra"]"#]);
}

#[test]
fn hwserver_answers_every_request_up_to_its_cap() {
    let (server, endpoint) = hwserver();
    // The guide's servers answer a request of any size. Ours answers any
    // up to 1 MiB; over that, libzmq (not hwserver) drops it, and the
    // connection with it, without a reply. The peer then asks again on a
    // new socket, as a Lazy Pirate client would.
    let client = bad_peer(
        "req",
        "--connect",
        &endpoint,
        &[
            "bytes:2000",
            "bytes:1048576",
            "bytes:1048577",
            "DROPPED",
            "Hello",
        ],
    );
    client.wait_for(Stream::Stdout, "done");
    assert_eq!(
        client.output().stdout,
        "reply: \"World\"\n".repeat(2) + "dropped\nreply: \"World\"\ndone\n"
    );
    let x64 = "x".repeat(64);
    let expected = format!(
        "Received {x64}... (2000 bytes)\nReceived {x64}... (1048576 bytes)\nReceived Hello\n"
    );
    let output = wait_for_output(&server, &expected, 0);
    assert_eq!(output.stderr.lines().count(), 1, "{output}"); // listening on
}

#[test]
fn hwserver_reads_a_request_as_c_does() {
    // Up to the first NUL: a client in C may send "Hello" with its NUL, or
    // in a buffer with leftovers after it.
    let (server, endpoint) = hwserver();
    let client = bad_peer(
        "req",
        "--connect",
        &endpoint,
        &["hex:48656c6c6f00", "hex:48656c6c6f00aaaa"],
    );
    client.wait_for(Stream::Stdout, "done");
    let output = wait_for_output(&server, &"Received Hello\n".repeat(2), 0);
    assert_eq!(output.stderr.lines().count(), 1, "{output}"); // listening on
}

#[test]
fn clients_warn_about_malformed_replies_and_ask_again() {
    for client in ["hwclient", "lpclient"] {
        // A reply over the client's 1024 bytes, but under libzmq's cap,
        // which it sets far higher: the client sees that one and skips it
        // itself.
        let server = bad_peer(
            "rep",
            "--bind",
            ANY_PORT,
            &["hex:fffe", "World|extra", "bytes:2000", "World"],
        );
        let endpoint = server.endpoint();
        let mut client = Process::start(client, &["--connect", &endpoint, "--requests", "2"]);
        let output = client.wait_success(DEADLINE);
        assert_eq!(output.stdout, hwclient_output(2), "{output}");
        assert_warned_about(
            &output,
            &["[255, 254]", r#"["World", "extra"]"#, "(2000 bytes)"],
        );
        // Each malformed reply was asked again for.
        server.wait_until("five requests", DEADLINE, |output| {
            (output.stdout == "request: \"Hello\"\n".repeat(5)).then_some(())
        });
    }
}

#[test]
fn lpclient_survives_a_reply_over_libzmqs_cap() {
    // Over the 1 MiB that lpclient sets as ZMQ_MAXMSGSIZE: libzmq drops the
    // connection and, since the client connected, never reconnects. Lazy
    // Pirate's new socket gets the client going again. The peer answers
    // every request after the first with "World".
    let server = bad_peer("rep", "--bind", ANY_PORT, &["bytes:2000000", "World"]);
    let endpoint = server.endpoint();
    let mut client = Process::start(
        "lpclient",
        &[
            "--connect",
            &endpoint,
            "--requests",
            "2",
            "--timeout-ms",
            "500",
            "--retries",
            "5",
        ],
    );
    let output = client.wait_success(DEADLINE);
    assert_eq!(output.stdout, hwclient_output(2), "{output}");
    assert!(
        output
            .stderr
            .contains("warning: no reply to request 0 in 500 ms, retrying on a new socket"),
        "{output}"
    );
    // libzmq skipped it: lpclient never saw it.
    assert!(!output.stderr.contains("skipping"), "{output}");
}

#[test]
fn empty_requests_and_replies_are_warned_about() {
    let (server, endpoint) = hwserver();
    let client = bad_peer("req", "--connect", &endpoint, &["", "Hello"]);
    client.wait_for(Stream::Stdout, "done");
    let output = wait_for_output(&server, "Received Hello\n", 1);
    assert_warned_about(&output, &[r#"[""]"#]);

    for client in ["hwclient", "lpclient"] {
        let server = bad_peer("rep", "--bind", ANY_PORT, &["", "World"]);
        let endpoint = server.endpoint();
        let mut client = Process::start(client, &["--connect", &endpoint, "--requests", "1"]);
        let output = client.wait_success(DEADLINE);
        assert_eq!(output.stdout, hwclient_output(1), "{output}");
        assert_warned_about(&output, &[r#"[""]"#]);
    }
}

#[test]
fn tasksink_survives_a_message_over_its_size_cap() {
    let mut sink = Process::start("tasksink", &["--bind", ANY_PORT, "--tasks", "2"]);
    let endpoint = sink.endpoint();
    // Over the sink's 1 MiB: libzmq, not tasksink, skips it, and drops the
    // connection with it. The peer sends the batch start and two results on
    // a new connection.
    let pusher = bad_peer(
        "push",
        "--connect",
        &endpoint,
        &["bytes:1048577", "DROPPED", "0", "", ""],
    );
    let output = sink.wait_success(DEADLINE);
    assert!(
        output.stdout.starts_with(":.Total elapsed time: "),
        "{output}"
    );
    assert_warned_about(&output, &[]);
    pusher.wait_for(Stream::Stdout, "dropped");
}

#[test]
fn cameras_warn_about_malformed_messages_and_go_on() {
    let ipc = IpcEndpoint::new("bad-camera2");
    for (number, bind) in [(1, ANY_PORT), (2, ipc.as_str())] {
        // The peer publishes once its subscriber has subscribed, so all of
        // these arrive: a good one last, after the malformed ones. A
        // picture is at most 1024 bytes.
        let picture = format!("Camera {number}");
        let publisher = bad_peer(
            "pub",
            "--bind",
            bind,
            &["hex:fffe", "", "multi|part", "bytes:2000", &picture],
        );
        let endpoint = publisher.endpoint();
        let camera = Process::start(&format!("camera{number}"), &["--connect", &endpoint]);
        let expected = format!("MSG {number}:  'Camera {number}'\n");
        let output = wait_for_output(&camera, &expected, 4);
        assert_warned_about(
            &output,
            &[
                "[255, 254]",
                r#"[""]"#,
                r#"["multi", "part"]"#,
                "2000 bytes",
            ],
        );
    }
}

#[test]
fn echo_client_warns_about_odd_echoes_and_counts_them() {
    // A REP peer that answers each request with the next of these: the
    // client counts every echo, so it still exits after five.
    let server = bad_peer(
        "rep",
        "--bind",
        ANY_PORT,
        &["hex:fffe", "", "multi|part", "bytes:2000", "ok"],
    );
    let endpoint = server.endpoint();
    let mut client = Process::start("echo-client", &["--connect", &endpoint]);
    let output = client.wait_success(DEADLINE);
    assert_eq!(output.stdout, "MSG: \nMSG: ok\n", "{output}");
    assert_warned_about(
        &output,
        &["[255, 254]", r#"["multi", "part"]"#, "(2000 bytes)"],
    );
}
