//! Weather updates end to end: `wuserver` and `wuclient` as real processes,
//! with each other and with the guide's programs on zmq.rs (`zmqrs-peer`).
//!
//! PUB/SUB loses whatever is published before a subscriber has joined (the
//! guide's "slow joiner"), so the tests count updates and never expect a
//! particular first one.

use std::time::Instant;

use e2e::{COLLECTING, DEADLINE, Output, Process, STOP, Stream, TempDir};

/// Checks a client's output, `Collecting...` then the average line for
/// `filter`, and returns the average.
fn average(output: &Output, filter: &str) -> i64 {
    let mut lines = output.stdout.lines();
    assert_eq!(lines.next(), Some(COLLECTING), "{output}");
    let line = lines
        .next()
        .unwrap_or_else(|| panic!("no average\n{output}"));
    assert_eq!(lines.next(), None, "{output}");
    let prefix = format!("Average temperature for zipcode '{filter}' was ");
    let average = line
        .strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix('F'))
        .and_then(|number| number.parse::<i64>().ok())
        .unwrap_or_else(|| panic!("not the guide's average line: {line:?}\n{output}"));
    assert!((-80..=134).contains(&average), "{output}");
    average
}

/// Checks that an update is the guide's `"%05d %d %d"` within its ranges.
fn assert_guide_update(update: &[u8]) {
    let text = std::str::from_utf8(update).expect("updates are text");
    let fields: Vec<&str> = text.split(' ').collect();
    let [zipcode, temperature, humidity] = fields[..] else {
        panic!("not three fields: {text:?}");
    };
    assert!(
        zipcode.len() == 5 && zipcode.bytes().all(|b| b.is_ascii_digit()),
        "{text:?}"
    );
    let number = |field: &str| field.parse::<i32>().expect(text);
    assert!((-80..=134).contains(&number(temperature)), "{text:?}");
    assert!((10..=59).contains(&number(humidity)), "{text:?}");
}

/// A subscriber to everything `endpoint` publishes, from this test.
fn subscriber(context: &zmq::Context, endpoint: &str) -> zmq::Socket {
    let subscriber = context.socket(zmq::SUB).unwrap();
    subscriber.set_linger(0).unwrap();
    let timeout = i32::try_from(DEADLINE.as_millis()).unwrap();
    subscriber.set_rcvtimeo(timeout).unwrap();
    subscriber.connect(endpoint).unwrap();
    subscriber.set_subscribe(b"").unwrap();
    subscriber
}

#[test]
fn a_client_started_first_averages_what_the_server_publishes() {
    // An IPC path is known before anyone binds it, so the client can be
    // waiting for a server that does not exist yet.
    let dir = TempDir::new("client-first");
    let endpoint = dir.ipc("weather.ipc");
    let mut client = Process::start("wuclient", &["--connect", &endpoint, "--updates", "5"]);
    client.wait_for(Stream::Stdout, COLLECTING);
    let server = Process::start("wuserver", &["--bind", &endpoint]);
    assert_eq!(server.endpoint(), endpoint);
    let output = client.wait_success(DEADLINE);
    average(&output, "10001 ");
    assert_eq!(output.stderr, "", "{output}");
}

#[test]
fn updates_are_the_guides_format() {
    let server = Process::start("wuserver", &["--bind", "tcp://127.0.0.1:*"]);
    let context = zmq::Context::new();
    let subscriber = subscriber(&context, &server.endpoint());
    for _ in 0..1000 {
        let update = subscriber.recv_multipart(0).expect("an update");
        assert_eq!(update.len(), 1, "{update:?}");
        assert_guide_update(&update[0]);
    }
}

#[test]
fn ctrl_c_stops_a_server_publishing_at_full_speed() {
    // SIGTERM too, which the programs treat as Ctrl-C.
    for signal in ["INT", "TERM", "INT", "TERM", "INT"] {
        let mut server = Process::start("wuserver", &["--bind", "tcp://127.0.0.1:*"]);
        // A subscriber to everything, so that every update really goes out.
        let context = zmq::Context::new();
        let subscriber = subscriber(&context, &server.endpoint());
        subscriber.recv_bytes(0).expect("the server publishes");
        server.signal(signal);
        let started = Instant::now();
        let status = server.wait_exit(STOP);
        assert!(status.success(), "{status} after {:?}", started.elapsed());
    }
}

#[test]
fn ctrl_c_stops_a_waiting_client() {
    let dir = TempDir::new("waiting-client");
    let mut client = Process::start("wuclient", &["--connect", &dir.ipc("nobody.ipc")]);
    client.wait_for(Stream::Stdout, COLLECTING);
    client.signal("INT");
    let status = client.wait_exit(STOP);
    let output = client.output();
    assert!(status.success(), "{status}\n{output}");
    assert_eq!(output.stdout, format!("{COLLECTING}\n"), "{output}");
}

#[test]
fn a_bad_flag_is_a_usage_error() {
    for (program, args, named) in [
        ("wuserver", &["--no-such-flag"][..], "--no-such-flag"),
        ("wuclient", &["--no-such-flag"], "--no-such-flag"),
        // An average of no updates would divide by zero.
        ("wuclient", &["--updates", "0"], "--updates"),
    ] {
        Process::start(program, args).assert_usage_error(named);
    }
}

#[test]
fn an_endpoint_that_cannot_be_used_is_one_line_and_exit_1() {
    // Not an endpoint at all, and an address this machine does not have
    // (192.0.2.0/24 is reserved for documentation).
    for endpoint in ["nonsense", "tcp://192.0.2.1:*"] {
        Process::start("wuserver", &["--bind", endpoint]).assert_fails_naming(endpoint);
    }
    Process::start("wuclient", &["--connect", "nonsense"]).assert_fails_naming("nonsense");
}

#[test]
fn bind_is_repeatable_and_every_endpoint_publishes() {
    let dir = TempDir::new("two-binds");
    let ipc = dir.ipc("weather.ipc");
    let server = Process::start("wuserver", &["--bind", "tcp://127.0.0.1:*", "--bind", &ipc]);
    let endpoints = server.endpoints(2);
    assert!(
        endpoints[0].starts_with("tcp://127.0.0.1:"),
        "{endpoints:?}"
    );
    assert_eq!(endpoints[1], ipc);
    assert_eq!(
        server.output().stderr.lines().count(),
        2,
        "{}",
        server.output()
    );
    // A short filter, one zip code in a hundred, for a quick average.
    for endpoint in &endpoints {
        let mut client = Process::start("wuclient", &["--connect", endpoint, "012"]);
        average(&client.wait_success(DEADLINE), "012");
    }
}

#[test]
fn malformed_updates_are_warned_about_and_skipped() {
    // The foreign server's cycle: five malformed messages, then "10001 42
    // 50". The empty filter lets all of them through, the empty one too.
    let server = Process::peer(&["wuserver", "--bind", "tcp://127.0.0.1:*", "--malformed"]);
    let endpoint = server.endpoint();
    let mut client = Process::start("wuclient", &["--connect", &endpoint, "--updates", "20", ""]);
    let output = client.wait_success(DEADLINE);
    // Had any malformed one been counted, the average would be lower.
    assert_eq!(average(&output, ""), 42);
    for warning in [
        "\"hot\" is not a whole number",
        "not UTF-8",
        "2 frames, expected one",
        "0 fields, expected three",
        "1012 bytes, more than 256",
    ] {
        assert!(output.stderr.contains(warning), "{warning:?}\n{output}");
    }
    assert!(
        output
            .stderr
            .lines()
            .all(|line| line.starts_with("warning: skipping a malformed update")),
        "{output}"
    );
}

#[test]
fn our_client_averages_a_foreign_server() {
    let server = Process::peer(&["wuserver", "--bind", "tcp://127.0.0.1:*"]);
    let endpoint = server.endpoint();
    // A debug build of zmq.rs publishes slower than we do: a short filter,
    // one zip code in a thousand, keeps the test quick.
    let mut client = Process::start(
        "wuclient",
        &["--connect", &endpoint, "--updates", "5", "100"],
    );
    let output = client.wait_success(DEADLINE);
    average(&output, "100");
    assert_eq!(output.stderr, "", "{output}");
}

#[test]
fn our_client_reads_the_guides_cpp_updates() {
    // The guide's C++ wuserver sends each update as a 20-byte buffer: a C
    // string, its NUL, then whatever was in memory. Its C client reads
    // them with sscanf, which stops at the NUL; so must ours.
    let server = Process::peer(&["wuserver", "--bind", "tcp://127.0.0.1:*", "--cpp"]);
    let endpoint = server.endpoint();
    let mut client = Process::start(
        "wuclient",
        &["--connect", &endpoint, "--updates", "5", "100"],
    );
    let output = client.wait_success(DEADLINE);
    average(&output, "100");
    assert_eq!(output.stderr, "", "{output}");
}

#[test]
fn a_foreign_client_averages_our_server() {
    let server = Process::start("wuserver", &["--bind", "tcp://127.0.0.1:*"]);
    let endpoint = server.endpoint();
    let mut client = Process::peer(&[
        "wuclient",
        "--connect",
        &endpoint,
        "--filter",
        "10001 ",
        "--updates",
        "5",
    ]);
    let output = client.wait_success(DEADLINE);
    average(&output, "10001 ");
}
