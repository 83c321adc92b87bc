//! The Lazy Pirate pattern (guide chapter 4) in `lpclient --timeout-ms N
//! --retries M`: a client that survives a server restart and gives up
//! cleanly on a server that is gone or too slow.

use e2e::{DEADLINE, IpcEndpoint, Process, STOP, Stream, hwclient_output};

#[test]
fn with_retries_the_client_survives_a_server_restart() {
    // The restarted server must bind the same endpoint; a TCP wildcard
    // would give it another port.
    let ipc = IpcEndpoint::new("lazy-pirate-restart");
    let endpoint = ipc.as_str();
    // The first server's work paces the client, so that it still has
    // requests to make (6 x 100 ms of them) when the server is killed.
    let mut server = Process::start("hwserver", &["--bind", endpoint, "--work-ms", "100"]);
    server.endpoint();
    let mut client = Process::start(
        "lpclient",
        &[
            "--connect",
            endpoint,
            "--requests",
            "8",
            "--timeout-ms",
            "500",
            "--retries",
            "5",
        ],
    );
    client.wait_for(Stream::Stdout, "Received World 1");
    server.signal("KILL");
    server.wait_exit(DEADLINE);
    let restarted = Process::start("hwserver", &["--bind", endpoint, "--work-ms", "0"]);
    restarted.endpoint();

    let output = client.wait_success(DEADLINE);
    assert_eq!(output.stdout, hwclient_output(8), "{output}");
    // The request the killed server took with it was sent again.
    assert!(
        output
            .stderr
            .contains("retrying on a new socket (attempt 2 of 5)"),
        "{output}"
    );
    restarted.wait_for(Stream::Stdout, "Received Hello");
}

#[test]
fn with_retries_and_no_server_the_client_gives_up() {
    // Nothing ever binds this endpoint.
    let ipc = IpcEndpoint::new("lazy-pirate-nobody");
    let mut client = Process::start(
        "lpclient",
        &[
            "--connect",
            ipc.as_str(),
            "--timeout-ms",
            "100",
            "--retries",
            "3",
        ],
    );
    let status = client.wait_exit(DEADLINE);
    let output = client.output();
    assert_eq!(status.code(), Some(1), "{output}");
    assert_eq!(
        output.stdout,
        "Connecting to hello world server...\nSending Hello 0...\n"
    );
    // Three attempts: the first send, then two retries, then the end.
    let lines: Vec<&str> = output.stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{output}");
    assert!(lines[0].contains("(attempt 2 of 3)"), "{output}");
    assert!(lines[1].contains("(attempt 3 of 3)"), "{output}");
    assert!(
        lines[2].contains("no reply to request 0 after 3 attempts; giving up"),
        "{output}"
    );
    assert!(!output.stderr.contains("panicked"), "{output}");
}

#[test]
fn with_retries_a_server_slower_than_the_timeout_is_given_up_on() {
    // The server would reply after ten seconds, long after the client's
    // two attempts of 100 ms each.
    let server = Process::start(
        "hwserver",
        &["--bind", "tcp://127.0.0.1:*", "--work-ms", "10000"],
    );
    let endpoint = server.endpoint();
    let mut client = Process::start(
        "lpclient",
        &[
            "--connect",
            &endpoint,
            "--timeout-ms",
            "100",
            "--retries",
            "2",
        ],
    );
    let status = client.wait_exit(DEADLINE);
    let output = client.output();
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(!output.stdout.contains("Received"), "{output}");
    assert!(
        output
            .stderr
            .contains("no reply to request 0 after 2 attempts; giving up"),
        "{output}"
    );
}

#[test]
fn with_retries_and_a_healthy_server_the_output_is_the_guides() {
    let server = Process::start(
        "hwserver",
        &["--bind", "tcp://127.0.0.1:*", "--work-ms", "0"],
    );
    let endpoint = server.endpoint();
    // A timeout no debug build on a busy machine comes near, so that no
    // retry warning shows up.
    let mut client = Process::start(
        "lpclient",
        &[
            "--connect",
            &endpoint,
            "--requests",
            "3",
            "--timeout-ms",
            "10000",
        ],
    );
    let output = client.wait_success(DEADLINE);
    assert_eq!(output.stdout, hwclient_output(3), "{output}");
    assert_eq!(output.stderr, "", "{output}");
}

#[test]
fn ctrl_c_stops_a_client_waiting_with_retries() {
    let server = Process::start(
        "hwserver",
        &["--bind", "tcp://127.0.0.1:*", "--work-ms", "60000"],
    );
    let endpoint = server.endpoint();
    let mut client = Process::start(
        "lpclient",
        &["--connect", &endpoint, "--timeout-ms", "60000"],
    );
    server.wait_for(Stream::Stdout, "Received Hello");
    client.signal("INT");
    let status = client.wait_exit(STOP);
    assert!(status.success(), "{status}");
}

#[test]
fn ctrl_c_and_sigterm_stop_a_client_in_the_middle_of_retrying() {
    for signal in ["INT", "TERM"] {
        let ipc = IpcEndpoint::new("lazy-pirate-interrupted");
        let mut client = Process::start(
            "lpclient",
            &[
                "--connect",
                ipc.as_str(),
                "--timeout-ms",
                "20",
                "--retries",
                "1000000",
            ],
        );
        client.wait_for(Stream::Stderr, "(attempt 3 of 1000000)");
        client.signal(signal);
        let status = client.wait_exit(STOP);
        assert!(status.success(), "{signal}: {status}\n{}", client.output());
    }
}

#[test]
fn bad_retry_settings_are_usage_errors() {
    for (args, named) in [
        (&["--timeout-ms", "0"][..], "--timeout-ms"),
        (&["--timeout-ms", "soon"][..], "--timeout-ms"),
        (&["--timeout-ms", "100", "--retries", "0"][..], "--retries"),
        (&["--retries", "often"][..], "--retries"),
    ] {
        Process::start("lpclient", args).assert_usage_error(named);
    }
}

#[test]
fn the_chapter_1_client_has_no_retries() {
    for flag in ["--timeout-ms", "--retries"] {
        Process::start("hwclient", &[flag, "100"]).assert_usage_error(flag);
    }
}

#[test]
fn help_explains_the_retry_flags() {
    let mut client = Process::start("lpclient", &["--help"]);
    let output = client.wait_success(DEADLINE);
    assert!(output.stdout.contains("--timeout-ms <MS>"), "{output}");
    assert!(output.stdout.contains("--retries <N>"), "{output}");
}
