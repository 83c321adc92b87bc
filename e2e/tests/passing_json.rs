//! Passing JSON end to end: `json-server` and `json-client` as real
//! processes, with each other and with the seed's programs on zmq.rs
//! (`zmqrs-peer json-server`, `json-client`). It proves the output of both,
//! that clients take turns, that the server's message waits for a client
//! as the original's blocking send does (and goes at once when one comes),
//! that a malformed message is warned about and skipped, and the shared
//! behaviour: start order, Ctrl-C and SIGTERM, bad flags, bad endpoints.

use std::fs;
use std::thread;
use std::time::Duration;

use e2e::{A_MINUTE, ANY_PORT, DEADLINE, Output, Process, Stream, TempDir, count_lines};

/// What a client prints per message, ours and the original's.
const HELLO: &str = "200 :: hello world";

/// What the server prints per message.
const ASKED: &str = "Hello world?";

/// Milliseconds between messages, so tests see many quickly.
const INTERVAL_MS: &str = "20";

/// Starts our server and returns it with its endpoint.
fn start_server(bind: &str, interval_ms: &str) -> (Process, String) {
    let server = Process::start(
        "json-server",
        &["--bind", bind, "--interval-ms", interval_ms],
    );
    let endpoint = server.endpoint();
    (server, endpoint)
}

fn start_client(endpoint: &str, extra: &[&str]) -> Process {
    let mut args = vec!["--connect", endpoint];
    args.extend(extra);
    Process::start("json-client", &args)
}

/// How many messages a client has printed; fails on any other line.
fn printed(output: &Output) -> usize {
    let count = count_lines(&output.stdout, HELLO);
    assert_eq!(
        count,
        e2e::complete_lines(&output.stdout).count(),
        "{output}"
    );
    count
}

#[test]
fn a_client_prints_each_message_the_server_sends() {
    let (server, endpoint) = start_server(ANY_PORT, INTERVAL_MS);
    let mut client = start_client(&endpoint, &["--messages", "3"]);
    let output = client.wait_success(DEADLINE);
    assert_eq!(output.stdout, format!("{HELLO}\n").repeat(3), "{output}");
    assert_eq!(output.stderr, "", "{output}");
    server.wait_until("3 messages sent", DEADLINE, |output| {
        (count_lines(&output.stdout, ASKED) >= 3).then_some(())
    });
    let output = server.output();
    assert_eq!(
        output.stdout.lines().count(),
        count_lines(&output.stdout, ASKED)
    );
}

#[test]
fn two_clients_take_turns() {
    let (_server, endpoint) = start_server(ANY_PORT, INTERVAL_MS);
    let first = start_client(&endpoint, &[]);
    let second = start_client(&endpoint, &[]);
    // Once each has had one, both are connected, and PUSH deals in turn:
    // from then on neither gets ahead of the other by more than the one
    // message that may be on its way.
    first.wait_for(Stream::Stdout, HELLO);
    second.wait_for(Stream::Stdout, HELLO);
    let (a, b) = (printed(&first.output()), printed(&second.output()));
    // (The first's output is locked while its wait looks at it.)
    first.wait_until("20 more messages between the two", DEADLINE, |output| {
        (printed(output) + printed(&second.output()) >= a + b + 20).then_some(())
    });
    let (more_a, more_b) = (printed(&first.output()) - a, printed(&second.output()) - b);
    assert!(
        more_a.abs_diff(more_b) <= 2,
        "not in turn: {more_a} and {more_b} of the last messages\n{}\n{}",
        first.output(),
        second.output()
    );
}

#[test]
fn with_no_client_the_server_says_hello_once_and_waits() {
    let (server, endpoint) = start_server(ANY_PORT, INTERVAL_MS);
    server.wait_for(Stream::Stdout, ASKED);
    // The one sleep here: to show that nothing happens. Fifteen intervals
    // would have printed fifteen lines.
    thread::sleep(Duration::from_millis(300));
    assert_eq!(
        server.output().stdout,
        format!("{ASKED}\n"),
        "{}",
        server.output()
    );
    let client = start_client(&endpoint, &[]);
    client.wait_for(Stream::Stdout, HELLO);
    server.wait_until("more messages once a client is there", DEADLINE, |output| {
        (count_lines(&output.stdout, ASKED) >= 3).then_some(())
    });
}

#[test]
fn when_its_last_client_leaves_the_server_waits_again() {
    // "Disconnect your client and you will see the server block again."
    let (server, endpoint) = start_server(ANY_PORT, INTERVAL_MS);
    let mut first = start_client(&endpoint, &["--messages", "3"]);
    first.wait_success(DEADLINE);
    // Sleeps, to show that nothing happens: a message or two may still go
    // to the client that left before the server sees it gone; after that,
    // none, where 300 ms would have printed 15.
    let asked = || count_lines(&server.output().stdout, ASKED);
    thread::sleep(Duration::from_millis(200));
    let before = asked();
    thread::sleep(Duration::from_millis(300));
    assert_eq!(asked(), before, "{}", server.output());
    let second = start_client(&endpoint, &[]);
    second.wait_for(Stream::Stdout, HELLO);
    server.wait_until("more messages for the new client", DEADLINE, |output| {
        (count_lines(&output.stdout, ASKED) >= before + 2).then_some(())
    });
}

#[test]
fn the_waiting_message_goes_to_the_first_client_at_once() {
    // The next message is a minute away: a client that gets one gets the
    // one that waited.
    let (server, endpoint) = start_server(ANY_PORT, A_MINUTE);
    server.wait_for(Stream::Stdout, ASKED);
    let client = start_client(&endpoint, &[]);
    client.wait_for(Stream::Stdout, HELLO);
    assert_eq!(server.output().stdout, format!("{ASKED}\n"));
}

#[test]
fn our_server_feeds_a_foreign_client() {
    let (_server, endpoint) = start_server(ANY_PORT, INTERVAL_MS);
    let client = Process::peer(&["json-client", "--connect", &endpoint]);
    client.wait_until("three messages", DEADLINE, |output| {
        (count_lines(&output.stdout, HELLO) >= 3).then_some(())
    });
    assert_eq!(client.output().stderr, "", "{}", client.output());
}

#[test]
fn a_foreign_server_feeds_our_client() {
    let server = Process::peer(&[
        "json-server",
        "--bind",
        ANY_PORT,
        "--interval-ms",
        INTERVAL_MS,
    ]);
    let endpoint = server.endpoint();
    let mut client = start_client(&endpoint, &["--messages", "3"]);
    let output = client.wait_success(DEADLINE);
    assert_eq!(output.stdout, format!("{HELLO}\n").repeat(3), "{output}");
    assert_eq!(output.stderr, "", "{output}");
}

#[test]
fn our_client_warns_about_bad_messages_and_skips_them() {
    let bad = [
        "not json",                        // not JSON
        "hex:fffe",                        // not UTF-8
        "",                                // empty
        r#"{"code": 200, "text": "a"}|x"#, // two frames
        r#"{"code": "200", "text": "a"}"#, // JSON, but not the server's
        "bytes:70000",                     // too long for a client
    ];
    let mut args = vec!["bad-peer", "push", "--bind", ANY_PORT, "--"];
    args.extend(bad);
    args.push(r#"{"code": 200, "text": "hello world"}"#);
    let pusher = Process::peer(&args);
    let endpoint = pusher.endpoint();
    let mut client = start_client(&endpoint, &["--messages", "1"]);
    let output = client.wait_success(DEADLINE);
    assert_eq!(output.stdout, format!("{HELLO}\n"), "{output}");
    let warnings: Vec<&str> = output.stderr.lines().collect();
    assert_eq!(warnings.len(), bad.len(), "{output}");
    for (warning, why) in warnings.iter().zip([
        "not the JSON expected",
        "not UTF-8",
        "empty",
        "2 frames",
        "not the JSON expected",
        "70000 bytes",
    ]) {
        assert!(
            warning.starts_with("warning: skipping a message: "),
            "{output}"
        );
        assert!(warning.contains(why), "{why}: {warning}");
    }
}

#[test]
fn a_client_started_before_its_server_still_receives() {
    let dir = TempDir::new("json-early");
    let endpoint = dir.ipc("json.ipc");
    let mut client = start_client(&endpoint, &["--messages", "2"]);
    let (_server, bound) = start_server(&endpoint, INTERVAL_MS);
    assert_eq!(bound, endpoint);
    let output = client.wait_success(DEADLINE);
    assert_eq!(output.stdout, format!("{HELLO}\n").repeat(2), "{output}");
}

#[test]
fn ctrl_c_and_sigterm_stop_them_at_once() {
    for signal in ["INT", "TERM"] {
        // A server whose message waits for a client.
        let (mut server, _) = start_server(ANY_PORT, INTERVAL_MS);
        server.wait_for(Stream::Stdout, ASKED);
        server.assert_stops(signal, "server");
        // Both while messages flow; then a client whose server is gone. (A
        // client prints from its loop, so its handler is set by then.)
        let (mut server, endpoint) = start_server(ANY_PORT, INTERVAL_MS);
        let mut client = start_client(&endpoint, &[]);
        let mut other = start_client(&endpoint, &[]);
        client.wait_for(Stream::Stdout, HELLO);
        other.wait_for(Stream::Stdout, HELLO);
        client.assert_stops(signal, "client");
        server.assert_stops(signal, "server");
        other.assert_stops(signal, "other");
    }
}

#[test]
fn a_bad_flag_is_a_usage_error() {
    for program in ["json-server", "json-client"] {
        Process::start(program, &["--no-such-flag"]).assert_usage_error("--no-such-flag");
    }
    Process::start("json-server", &["--interval-ms", "0"]).assert_usage_error("--interval-ms");
    Process::start("json-client", &["--messages", "0"]).assert_usage_error("--messages");
}

#[test]
fn an_endpoint_that_cannot_be_used_is_one_line_and_exit_1() {
    let dir = TempDir::new("json-bad-endpoint");
    let file = dir.path("not-a-socket");
    fs::write(&file, "keep me").unwrap();
    let file_endpoint = format!("ipc://{}", file.display());
    for endpoint in ["nonsense", "tcp://192.0.2.1:*", file_endpoint.as_str()] {
        Process::start("json-server", &["--bind", endpoint]).assert_fails_naming(endpoint);
    }
    assert_eq!(fs::read_to_string(&file).unwrap(), "keep me");
    Process::start("json-client", &["--connect", "nonsense"]).assert_fails_naming("nonsense");
}

#[test]
fn a_second_server_cannot_take_the_path_of_one_running() {
    let dir = TempDir::new("json-twice");
    let endpoint = dir.ipc("json.ipc");
    let (_first, _) = start_server(&endpoint, INTERVAL_MS);
    Process::start("json-server", &["--bind", &endpoint])
        .assert_fails_naming("another server is listening there");
    let mut client = start_client(&endpoint, &["--messages", "1"]);
    client.wait_success(DEADLINE);
}
