//! Start order and restarts: a client started before its server connects
//! when the server appears (docs/DESIGN.md), and when its server goes away and
//! another takes its place, the client carries on with the new one.
//!
//! Where each client is tested for either is in the tables [`CLIENTS_FIRST`] and
//! [`RESTARTS`]; this file adds the subscribers across a restart and
//! lpclient started first, and checks that the tables name real tests.
//!
//! A restarted server must bind the endpoint its clients know: an IPC path
//! chosen in advance, or the TCP port the first server was given. (Another
//! program could take that port in the moment between the two servers;
//! none has been seen to.)

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};

use e2e::{
    ANY_PORT, COLLECTING, DEADLINE, IpcEndpoint, Output, Process, Stream, Tested, complete_lines,
    hwclient_output,
};

const fn at(file: &'static str, test: &'static str) -> Tested {
    Tested { file, test }
}

/// Each client started before its server, and where.
const CLIENTS_FIRST: &[(&str, Tested)] = &[
    (
        "hwclient",
        at(
            "hello.rs",
            "client_started_first_connects_when_the_server_appears",
        ),
    ),
    (
        "lpclient",
        at(
            "restarts.rs",
            "lpclient_started_first_connects_when_the_server_appears",
        ),
    ),
    (
        "wuclient",
        at(
            "weather.rs",
            "a_client_started_first_averages_what_the_server_publishes",
        ),
    ),
    // The workers, then the ventilator, then the sink: back to front.
    (
        "taskwork",
        at(
            "pipeline_reliability.rs",
            "a_batch_completes_when_the_programs_start_back_to_front",
        ),
    ),
    (
        "taskvent",
        at(
            "pipeline_reliability.rs",
            "a_batch_completes_when_the_programs_start_back_to_front",
        ),
    ),
    (
        "json-client",
        at(
            "passing_json.rs",
            "a_client_started_before_its_server_still_receives",
        ),
    ),
    (
        "echo-client",
        at(
            "echo.rs",
            "a_client_started_before_its_server_still_gets_its_echoes",
        ),
    ),
    (
        "camera1",
        at(
            "waynes_world.rs",
            "cameras_started_before_the_server_still_receive",
        ),
    ),
    (
        "camera2",
        at(
            "waynes_world.rs",
            "cameras_started_before_the_server_still_receive",
        ),
    ),
];

/// Each client across its server's restart, and where. Not hwclient: the
/// request the dead server took is never answered, which is the guide's
/// point, and lpclient's reason to be.
const RESTARTS: &[(&str, Tested)] = &[
    (
        "lpclient",
        at(
            "lazy_pirate.rs",
            "with_retries_the_client_survives_a_server_restart",
        ),
    ),
    (
        "taskwork",
        at(
            "pipeline_reliability.rs",
            "a_worker_keeps_working_across_a_sink_restart",
        ),
    ),
    (
        "wuclient",
        at(
            "restarts.rs",
            "wuclient_completes_across_a_server_killed_and_restarted_on_ipc",
        ),
    ),
    (
        "wuclient",
        at(
            "restarts.rs",
            "wuclient_completes_across_a_server_that_stopped_and_one_that_took_its_port",
        ),
    ),
    (
        "camera1",
        at(
            "restarts.rs",
            "cameras_carry_on_across_a_server_killed_and_restarted",
        ),
    ),
    (
        "camera2",
        at(
            "restarts.rs",
            "cameras_carry_on_across_a_server_killed_and_restarted",
        ),
    ),
];

#[test]
fn the_tables_name_real_tests() {
    for (_, tested) in CLIENTS_FIRST.iter().chain(RESTARTS) {
        tested.assert_exists();
    }
}

#[test]
fn lpclient_started_first_connects_when_the_server_appears() {
    let ipc = IpcEndpoint::new("lazy-pirate-first");
    let endpoint = ipc.as_str();
    // A timeout far beyond the test's: the first request waits for the
    // server, it is not sent again.
    let args = [
        "--connect",
        endpoint,
        "--requests",
        "2",
        "--timeout-ms",
        "60000",
    ];
    let mut client = Process::start("lpclient", &args);
    client.wait_for(Stream::Stdout, "Sending Hello 0...");
    let server = Process::start("hwserver", &["--bind", endpoint, "--work-ms", "0"]);
    server.endpoint();
    let output = client.wait_success(DEADLINE);
    assert_eq!(output.stdout, hwclient_output(2), "{output}");
    assert_eq!(output.stderr, "", "{output}");
}

/// How many updates the client averages. Its filter, "", matches them all.
const UPDATES: u32 = 100_000;

/// The first of two servers: it publishes fewer updates than the client
/// wants, then exits by itself. The client cannot complete with it alone,
/// whatever the timing; if it does complete, the second server gave it the
/// rest. (It may have missed the first server's updates altogether, the
/// slow joiner: that changes nothing.)
fn first_server(bind: &str) -> Process {
    let updates = (UPDATES - 1).to_string();
    Process::start("wuserver", &["--bind", bind, "--updates", &updates])
}

/// A client collecting every update from `endpoint`.
fn client(endpoint: &str) -> Process {
    let updates = UPDATES.to_string();
    let client = Process::start(
        "wuclient",
        &["--connect", endpoint, "--updates", &updates, ""],
    );
    client.wait_for(Stream::Stdout, COLLECTING);
    client
}

/// Starts the second server on the first one's endpoint, and checks that
/// the client then completes.
fn second_server_completes(endpoint: &str, mut client: Process) {
    let second = Process::start("wuserver", &["--bind", endpoint]);
    assert_eq!(second.endpoint(), endpoint);
    assert_average(&client.wait_success(DEADLINE));
}

/// Checks the guide's two lines, for the filter "".
fn assert_average(output: &Output) {
    let mut lines = output.stdout.lines();
    assert_eq!(lines.next(), Some(COLLECTING), "{output}");
    let average = lines
        .next()
        .and_then(|line| line.strip_prefix("Average temperature for zipcode '' was "))
        .and_then(|rest| rest.strip_suffix('F'))
        .and_then(|number| number.parse::<i64>().ok());
    assert!(
        average.is_some_and(|average| (-80..=134).contains(&average)),
        "{output}"
    );
    assert_eq!(lines.next(), None, "{output}");
    assert_eq!(output.stderr, "", "{output}");
}

/// SIGKILL, unless the process has exited by itself already (the harness's
/// `signal` would fail then). Returns how it ended, once it has.
fn kill_unless_exited(process: &mut Process) -> ExitStatus {
    let _ = Command::new("kill")
        .args(["-KILL", &process.id().to_string()])
        .stderr(Stdio::null())
        .status();
    process.wait_exit(DEADLINE)
}

#[test]
fn wuclient_completes_across_a_server_killed_and_restarted_on_ipc() {
    let ipc = IpcEndpoint::new("weather-restart");
    let mut first = first_server(ipc.as_str());
    let endpoint = first.endpoint();
    let client = client(&endpoint);
    // Killed as it publishes, unless it was quicker than the test. It
    // leaves its socket file behind; the next bind replaces it. (The
    // client is usually still joining then and has had none of its
    // updates; in the next test it usually has had some.)
    let status = kill_unless_exited(&mut first);
    assert!(
        status.signal() == Some(9) || status.success(),
        "{status}\n{}",
        first.output()
    );
    second_server_completes(&endpoint, client);
}

#[test]
fn wuclient_completes_across_a_server_that_stopped_and_one_that_took_its_port() {
    let mut first = first_server(ANY_PORT);
    let endpoint = first.endpoint();
    let client = client(&endpoint);
    // Gone once it has published its updates.
    first.wait_success(DEADLINE);
    second_server_completes(&endpoint, client);
}

/// The line camera `number` prints for its own message.
fn picture(number: u32) -> String {
    format!("MSG {number}:  'Camera {number}'")
}

/// Waits until camera `number` has printed at least `count` pictures in
/// all, and returns how many it has.
fn wait_for_pictures(camera: &Process, number: u32, count: usize) -> usize {
    let picture = picture(number);
    camera.wait_until(&format!("{count} of {picture:?}"), DEADLINE, |output| {
        let seen = complete_lines(&output.stdout)
            .filter(|line| *line == picture)
            .count();
        (seen >= count).then_some(seen)
    })
}

fn waynes_world(tcp: &str, ipc: &str) -> Process {
    Process::start(
        "waynes-world",
        &["--tcp", tcp, "--ipc", ipc, "--interval-ms", "20"],
    )
}

#[test]
fn cameras_carry_on_across_a_server_killed_and_restarted() {
    let ipc = IpcEndpoint::new("waynes-world-restart");
    let mut first = waynes_world(ANY_PORT, ipc.as_str());
    let endpoints = first.endpoints(2);
    let cameras: Vec<Process> = [1, 2]
        .into_iter()
        .zip(&endpoints)
        .map(|(number, endpoint)| {
            Process::start(&format!("camera{number}"), &["--connect", endpoint])
        })
        .collect();
    for (number, camera) in (1..).zip(&cameras) {
        wait_for_pictures(camera, number, 1);
    }
    first.signal("KILL");
    first.wait_exit(DEADLINE);
    // Counted once the first server is gone. A message of its own may still
    // be on its way to each camera: of three more, two at least come from
    // the second server.
    let seen: Vec<usize> = (1..)
        .zip(&cameras)
        .map(|(number, camera)| wait_for_pictures(camera, number, 1))
        .collect();

    let second = waynes_world(&endpoints[0], &endpoints[1]);
    assert_eq!(second.endpoints(2), endpoints);
    for ((number, camera), seen) in (1..).zip(&cameras).zip(seen) {
        wait_for_pictures(camera, number, seen + 3);
        let output = camera.output();
        assert!(
            complete_lines(&output.stdout).all(|line| line == picture(number)),
            "{output}"
        );
        assert_eq!(output.stderr, "", "{output}");
    }
}
