//! The Eventloop echo end to end: `echo-server` and `echo-client` as real
//! processes, with each other and with the seed's programs on zmq.rs
//! (`zmqrs-peer echo-server`, `echo-client`). It proves the output of both,
//! that every frame comes back unchanged, that a request that is not JSON
//! is warned about and still answered, that an oversized one costs only
//! its own client's connection, and the shared behaviour: start order,
//! Ctrl-C and SIGTERM, bad flags, bad endpoints.

mod own_socket;

use e2e::{ANY_PORT, DEADLINE, Process, Stream, TempDir, count_lines};

/// What the client sends, as Python's `json.dumps` writes it; the server
/// prints it so too.
const REQUEST: &str = r#"{"j2": "was here", "word": "up"}"#;

fn start_server(bind: &str) -> (Process, String) {
    let server = Process::start("echo-server", &["--bind", bind]);
    let endpoint = server.endpoint();
    (server, endpoint)
}

/// Waits until `process` has printed `count` lines `line`: what it printed
/// before the echo that a client has seen may still be on its way to the
/// test.
fn wait_for_lines(process: &Process, line: &str, count: usize) {
    process.wait_until(&format!("{count} lines {line:?}"), DEADLINE, |output| {
        (count_lines(&output.stdout, line) >= count).then_some(())
    });
}

/// What our client, or the original, prints for five echoes.
fn five_echoes() -> String {
    format!("MSG: {REQUEST}\n").repeat(5)
}

/// Sends the requests from a zmq.rs REQ peer that sends exactly what it is
/// given, and returns it once it has had every reply.
fn bad_client(endpoint: &str, requests: &[&str]) -> Process {
    let mut args = vec!["bad-peer", "req", "--connect", endpoint, "--"];
    args.extend(requests);
    let client = Process::peer(&args);
    client.wait_for(Stream::Stdout, "done");
    client
}

#[test]
fn the_client_gets_its_request_back_five_times() {
    let (server, endpoint) = start_server(ANY_PORT);
    let mut client = Process::start("echo-client", &["--connect", &endpoint]);
    let output = client.wait_success(DEADLINE);
    assert_eq!(output.stdout, five_echoes(), "{output}");
    assert_eq!(output.stderr, "", "{output}");
    wait_for_lines(&server, REQUEST, 5);
    let output = server.output();
    assert_eq!(output.stdout, format!("{REQUEST}\n").repeat(5), "{output}");
    assert_eq!(output.stderr.lines().count(), 1, "{output}"); // listening on
}

#[test]
fn every_frame_comes_back_unchanged_and_what_is_not_json_is_warned_about() {
    let (server, endpoint) = start_server(ANY_PORT);
    let requests = [
        r#"{"a": 1}|{"b": 2}|hex:00ff"#, // three frames
        "not json",
        "hex:fffe", // not UTF-8
        "",         // empty
        "bytes:2000",
        r#"{"word": "up", "j2": "was here"}"#,
    ];
    let client = bad_client(&endpoint, &requests);
    let expected = [
        r#""{\"a\": 1}"|"{\"b\": 2}"|"\x00\xff""#,
        r#""not json""#,
        r#""\xff\xfe""#,
        r#""""#,
        r#""xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx..." (2000 bytes)"#,
        r#""{\"word\": \"up\", \"j2\": \"was here\"}""#,
    ];
    let replies: String = expected
        .iter()
        .map(|reply| format!("reply: {reply}\n"))
        .collect();
    assert_eq!(client.output().stdout, replies + "done\n");
    // Only the last is JSON: printed with its keys sorted, as serde_json
    // keeps an object (a BTreeMap), and the spacing of json.dumps.
    wait_for_lines(&server, REQUEST, 1);
    server.wait_until("5 warnings", DEADLINE, |output| {
        (output.stderr.matches("warning: ").count() >= 5).then_some(())
    });
    let output = server.output();
    assert_eq!(output.stdout, format!("{REQUEST}\n"), "{output}");
    let warnings: Vec<&str> = output.stderr.lines().skip(1).collect();
    assert_eq!(warnings.len(), 5, "{output}");
    for (warning, why) in warnings.iter().zip([
        "3 frames",
        "not the JSON",
        "not UTF-8",
        "empty",
        "not the JSON",
    ]) {
        assert!(
            warning.starts_with("warning: ") && warning.contains(why),
            "{why}: {output}"
        );
    }
}

#[test]
fn an_oversized_request_costs_only_its_own_connection() {
    // Over ZMQ_MAXMSGSIZE, libzmq drops the connection it came on; the peer
    // goes on with a new one, as a Lazy Pirate client would, and the server
    // answers it, and another client too.
    let (_server, endpoint) = start_server(ANY_PORT);
    let client = bad_client(&endpoint, &["bytes:1048577", "DROPPED", REQUEST]);
    let expected = format!("dropped\nreply: {:?}\ndone\n", REQUEST);
    assert_eq!(client.output().stdout, expected);
    let mut other = Process::start("echo-client", &["--connect", &endpoint]);
    assert_eq!(other.wait_success(DEADLINE).stdout, five_echoes());
}

#[test]
fn our_server_answers_a_foreign_client() {
    let (server, endpoint) = start_server(ANY_PORT);
    let mut client = Process::peer(&["echo-client", "--connect", &endpoint]);
    let output = client.wait_success(DEADLINE);
    assert_eq!(output.stdout, five_echoes(), "{output}");
    wait_for_lines(&server, REQUEST, 5);
}

#[test]
fn our_client_works_with_a_foreign_server() {
    let server = Process::peer(&["echo-server", "--bind", ANY_PORT]);
    let endpoint = server.endpoint();
    let mut client = Process::start("echo-client", &["--connect", &endpoint]);
    let output = client.wait_success(DEADLINE);
    assert_eq!(output.stdout, five_echoes(), "{output}");
    // The foreign server prints serde_json's compact form.
    let compact = r#"{"j2":"was here","word":"up"}"#;
    wait_for_lines(&server, compact, 5);
}

#[test]
fn a_client_started_before_its_server_still_gets_its_echoes() {
    let dir = TempDir::new("echo-early");
    let endpoint = dir.ipc("echo.ipc");
    let mut client = Process::start("echo-client", &["--connect", &endpoint]);
    let (_server, bound) = start_server(&endpoint);
    assert_eq!(bound, endpoint);
    assert_eq!(client.wait_success(DEADLINE).stdout, five_echoes());
}

#[test]
fn ctrl_c_and_sigterm_stop_them_at_once() {
    for signal in ["INT", "TERM"] {
        // An idle server (it has answered a client, so it is in its loop).
        let (mut server, endpoint) = start_server(ANY_PORT);
        bad_client(&endpoint, &[REQUEST]);
        server.assert_stops(signal, "server");
        // A client waiting for an echo that never comes: the test's own
        // REP socket answers the first request only.
        let context = zmq::Context::new();
        let (quiet, endpoint) = own_socket::bind(&context, zmq::REP);
        let mut client = Process::start("echo-client", &["--connect", &endpoint]);
        let request = quiet.recv_bytes(0).unwrap();
        quiet.send(request, 0).unwrap();
        client.wait_for(Stream::Stdout, "MSG: ");
        quiet.recv_bytes(0).unwrap(); // The second, never answered.
        client.assert_stops(signal, "client");
    }
}

#[test]
fn a_bad_flag_is_a_usage_error() {
    for program in ["echo-server", "echo-client"] {
        Process::start(program, &["--no-such-flag"]).assert_usage_error("--no-such-flag");
    }
    Process::start("echo-client", &["--requests", "many"]).assert_usage_error("--requests");
}

#[test]
fn an_endpoint_that_cannot_be_used_is_one_line_and_exit_1() {
    for endpoint in ["nonsense", "tcp://192.0.2.1:*"] {
        Process::start("echo-server", &["--bind", endpoint]).assert_fails_naming(endpoint);
    }
    Process::start("echo-client", &["--connect", "nonsense"]).assert_fails_naming("nonsense");
}
