//! Stopping: every program that runs until stopped exits with status 0
//! within 250 ms of SIGINT (Ctrl-C) and of SIGTERM, idle, in the middle of
//! its stream, and after its peers have gone (docs/DESIGN.md).
//!
//! The matrix is a table in code: the cases here ([`IDLE`], [`MID_STREAM`],
//! [`PEERS_GONE`]) and the cells other test files cover ([`ELSEWHERE`]).
//! `the_matrix_has_every_cell` checks that every program, state and signal
//! has its test, and that each test named in [`ELSEWHERE`] exists.

use std::any::Any;
use std::iter;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use e2e::{A_MINUTE, ANY_PORT, DEADLINE, IpcEndpoint, Process, Stream, Tested};

/// A request or update count no test reaches: the client runs until stopped.
const FOREVER: &str = "4000000000";

/// What a scene keeps alive until its process has stopped: peer processes,
/// sockets of the test's own, endpoints.
type Peers = Vec<Box<dyn Any>>;

/// One program in one state: `scene` starts it and brings it there, and
/// each of `signals` must then stop it.
struct Case {
    /// The program and its state, for the failure message.
    name: &'static str,
    signals: &'static [&'static str],
    scene: fn() -> (Process, Peers),
}

impl Case {
    /// The program, which each case's name starts with.
    fn program(&self) -> &'static str {
        self.name.split(' ').next().unwrap_or_default()
    }
}

const BOTH: &[&str] = &["INT", "TERM"];

/// For the cells whose SIGINT is tested in another file (see [`ELSEWHERE`]).
const TERM: &[&str] = &["TERM"];

const IDLE: &[Case] = &[
    Case {
        name: "hwserver waiting for its first request",
        signals: TERM,
        scene: hwserver_idle,
    },
    Case {
        name: "hwclient waiting for a server that is not there",
        signals: BOTH,
        scene: hwclient_without_server,
    },
    Case {
        name: "wuserver publishing to no one",
        signals: BOTH,
        scene: wuserver_alone,
    },
    Case {
        name: "wuclient subscribed to a quiet server",
        signals: BOTH,
        scene: wuclient_idle,
    },
    Case {
        name: "json-client between two messages a minute apart",
        signals: BOTH,
        scene: json_client_idle,
    },
    Case {
        name: "camera1 subscribed to a quiet server",
        signals: BOTH,
        scene: || camera_idle(1),
    },
    Case {
        name: "camera2 subscribed to a quiet server",
        signals: BOTH,
        scene: || camera_idle(2),
    },
];

const MID_STREAM: &[Case] = &[
    Case {
        name: "hwserver answering a client at full speed",
        signals: BOTH,
        scene: || {
            let (server, client) = hello_at_full_speed();
            (server, vec![Box::new(client)])
        },
    },
    Case {
        name: "hwserver in the middle of a minute's work",
        signals: TERM,
        scene: hwserver_mid_request,
    },
    Case {
        name: "hwclient requesting at full speed",
        signals: BOTH,
        scene: || {
            let (server, client) = hello_at_full_speed();
            (client, vec![Box::new(server)])
        },
    },
    Case {
        name: "lpclient waiting for a slow server",
        signals: TERM,
        scene: || lpclient_mid_request(false),
    },
    Case {
        name: "wuclient in a flood of updates",
        signals: BOTH,
        scene: || {
            let (client, flood) = wuclient_in_a_flood();
            (client, vec![Box::new(flood)])
        },
    },
    Case {
        name: "echo-server answering a client at full speed",
        signals: BOTH,
        scene: || {
            let (server, client) = echo_at_full_speed();
            (server, vec![Box::new(client)])
        },
    },
    Case {
        name: "waynes-world publishing to its cameras",
        signals: TERM,
        scene: || {
            let (server, cameras, ipc) = waynes_world_with_cameras();
            (server, vec![Box::new(cameras), Box::new(ipc)])
        },
    },
    Case {
        name: "camera1 receiving",
        signals: TERM,
        scene: || camera_receiving(1),
    },
    Case {
        name: "camera2 receiving",
        signals: TERM,
        scene: || camera_receiving(2),
    },
];

const PEERS_GONE: &[Case] = &[
    Case {
        name: "hwserver after its clients were killed",
        signals: BOTH,
        scene: hwserver_clients_killed,
    },
    Case {
        name: "hwclient after its server was killed with the request",
        signals: BOTH,
        scene: hwclient_server_killed,
    },
    Case {
        name: "lpclient after its server was killed with the request",
        signals: BOTH,
        scene: || lpclient_mid_request(true),
    },
    Case {
        name: "wuserver after its subscriber was killed",
        signals: BOTH,
        scene: wuserver_subscriber_killed,
    },
    Case {
        name: "wuclient after its server went away mid-stream",
        signals: BOTH,
        scene: || {
            let (client, flood) = wuclient_in_a_flood();
            drop(flood);
            (client, vec![])
        },
    },
    Case {
        name: "json-server after its clients were killed",
        signals: BOTH,
        scene: json_server_clients_killed,
    },
    Case {
        name: "echo-server after its client was killed",
        signals: BOTH,
        scene: || {
            let (server, client) = echo_at_full_speed();
            drop(client); // SIGKILL
            (server, vec![])
        },
    },
    Case {
        name: "echo-client after its server was killed",
        signals: BOTH,
        scene: || {
            let (server, client) = echo_at_full_speed();
            drop(server); // SIGKILL
            (client, vec![])
        },
    },
    Case {
        name: "waynes-world after its cameras were killed",
        signals: BOTH,
        scene: || {
            let (server, cameras, ipc) = waynes_world_with_cameras();
            drop(cameras); // SIGKILL
            (server, vec![Box::new(ipc)])
        },
    },
    Case {
        name: "camera1 after its server was killed",
        signals: BOTH,
        scene: || camera_server_killed(1),
    },
    Case {
        name: "camera2 after its server was killed",
        signals: BOTH,
        scene: || camera_server_killed(2),
    },
];

/// Every program that runs until it is stopped. (A client that has
/// collected all it came for exits by itself, tested where its output is.)
const PROGRAMS: &[&str] = &[
    "hwserver",
    "hwclient",
    "lpclient",
    "wuserver",
    "wuclient",
    "taskvent",
    "taskwork",
    "tasksink",
    "waynes-world",
    "camera1",
    "camera2",
    "json-server",
    "json-client",
    "echo-server",
    "echo-client",
];

/// The states of the matrix, each with the cases of this file in it.
const STATES: &[(&str, &[Case])] = &[
    ("idle", IDLE),
    ("mid-stream", MID_STREAM),
    ("peers gone", PEERS_GONE),
];

/// A cell (or several) of the matrix tested in another file.
struct Elsewhere {
    program: &'static str,
    state: &'static str,
    signals: &'static [&'static str],
    tested: Tested,
}

const INT: &[&str] = &["INT"];

/// The cells other files test. What "idle" or "mid-stream" means for each
/// program is in the tests named.
const ELSEWHERE: &[Elsewhere] = &[
    Elsewhere {
        program: "hwserver",
        state: "idle",
        signals: INT,
        tested: Tested {
            file: "hello.rs",
            test: "ctrl_c_stops_an_idle_server_at_once",
        },
    },
    Elsewhere {
        program: "lpclient",
        state: "idle",
        signals: BOTH,
        tested: Tested {
            file: "lazy_pirate.rs",
            test: "ctrl_c_and_sigterm_stop_a_client_in_the_middle_of_retrying",
        },
    },
    Elsewhere {
        program: "lpclient",
        state: "mid-stream",
        signals: INT,
        tested: Tested {
            file: "lazy_pirate.rs",
            test: "ctrl_c_stops_a_client_waiting_with_retries",
        },
    },
    Elsewhere {
        program: "wuserver",
        state: "mid-stream",
        signals: BOTH,
        tested: Tested {
            file: "weather.rs",
            test: "ctrl_c_stops_a_server_publishing_at_full_speed",
        },
    },
    Elsewhere {
        program: "taskvent",
        state: "idle",
        signals: BOTH,
        tested: Tested {
            file: "pipeline_reliability.rs",
            test: "idle_programs_stop_at_once",
        },
    },
    Elsewhere {
        // Waiting for its batch to be delivered to a sink not there yet: it
        // exits with status 1 then, not 0, since the batch is lost.
        program: "taskvent",
        state: "mid-stream",
        signals: BOTH,
        tested: Tested {
            file: "pipeline_reliability.rs",
            test: "a_ventilator_stopped_before_its_sink_came_says_the_batch_is_lost",
        },
    },
    Elsewhere {
        program: "taskvent",
        state: "peers gone",
        signals: BOTH,
        tested: Tested {
            file: "pipeline_reliability.rs",
            test: "programs_stop_at_once_after_their_peers_are_gone",
        },
    },
    Elsewhere {
        program: "taskwork",
        state: "idle",
        signals: BOTH,
        tested: Tested {
            file: "pipeline_reliability.rs",
            test: "idle_programs_stop_at_once",
        },
    },
    Elsewhere {
        program: "taskwork",
        state: "mid-stream",
        signals: BOTH,
        tested: Tested {
            file: "pipeline_reliability.rs",
            test: "busy_programs_stop_at_once",
        },
    },
    Elsewhere {
        program: "taskwork",
        state: "peers gone",
        signals: BOTH,
        tested: Tested {
            file: "pipeline_reliability.rs",
            test: "programs_stop_at_once_after_their_peers_are_gone",
        },
    },
    Elsewhere {
        program: "tasksink",
        state: "idle",
        signals: BOTH,
        tested: Tested {
            file: "pipeline_reliability.rs",
            test: "idle_programs_stop_at_once",
        },
    },
    Elsewhere {
        program: "tasksink",
        state: "mid-stream",
        signals: BOTH,
        tested: Tested {
            file: "pipeline_reliability.rs",
            test: "busy_programs_stop_at_once",
        },
    },
    Elsewhere {
        program: "tasksink",
        state: "peers gone",
        signals: BOTH,
        tested: Tested {
            file: "pipeline_reliability.rs",
            test: "programs_stop_at_once_after_their_peers_are_gone",
        },
    },
    Elsewhere {
        program: "waynes-world",
        state: "idle",
        signals: BOTH,
        tested: Tested {
            file: "waynes_world.rs",
            test: "ctrl_c_stops_an_idle_server_at_once",
        },
    },
    Elsewhere {
        program: "waynes-world",
        state: "mid-stream",
        signals: INT,
        tested: Tested {
            file: "waynes_world.rs",
            test: "ctrl_c_stops_the_server_then_the_cameras_it_left",
        },
    },
    Elsewhere {
        program: "camera1",
        state: "mid-stream",
        signals: INT,
        tested: Tested {
            file: "waynes_world.rs",
            test: "ctrl_c_stops_a_receiving_camera",
        },
    },
    Elsewhere {
        program: "camera2",
        state: "mid-stream",
        signals: INT,
        tested: Tested {
            file: "waynes_world.rs",
            test: "ctrl_c_stops_a_receiving_camera",
        },
    },
    Elsewhere {
        program: "json-server",
        state: "idle",
        signals: BOTH,
        tested: Tested {
            file: "passing_json.rs",
            test: "ctrl_c_and_sigterm_stop_them_at_once",
        },
    },
    Elsewhere {
        program: "json-server",
        state: "mid-stream",
        signals: BOTH,
        tested: Tested {
            file: "passing_json.rs",
            test: "ctrl_c_and_sigterm_stop_them_at_once",
        },
    },
    Elsewhere {
        program: "json-client",
        state: "mid-stream",
        signals: BOTH,
        tested: Tested {
            file: "passing_json.rs",
            test: "ctrl_c_and_sigterm_stop_them_at_once",
        },
    },
    Elsewhere {
        program: "json-client",
        state: "peers gone",
        signals: BOTH,
        tested: Tested {
            file: "passing_json.rs",
            test: "ctrl_c_and_sigterm_stop_them_at_once",
        },
    },
    Elsewhere {
        program: "echo-server",
        state: "idle",
        signals: BOTH,
        tested: Tested {
            file: "echo.rs",
            test: "ctrl_c_and_sigterm_stop_them_at_once",
        },
    },
    Elsewhere {
        // Waiting for an echo that never comes.
        program: "echo-client",
        state: "mid-stream",
        signals: BOTH,
        tested: Tested {
            file: "echo.rs",
            test: "ctrl_c_and_sigterm_stop_them_at_once",
        },
    },
];

/// The cells that are not states a program can be seen in, and why.
const NOT_APPLICABLE: &[(&str, &str, &str)] = &[(
    "echo-client",
    "idle",
    "it prints nothing before its first echo, and waiting for a server that is not there \
     is waiting for an echo, the mid-stream cell",
)];

#[test]
fn the_matrix_has_every_cell() {
    let mut missing = Vec::new();
    for program in PROGRAMS {
        for (state, cases) in STATES {
            for signal in BOTH {
                let here = cases
                    .iter()
                    .any(|case| case.program() == *program && case.signals.contains(signal));
                let elsewhere = ELSEWHERE.iter().any(|cell| {
                    cell.program == *program
                        && cell.state == *state
                        && cell.signals.contains(signal)
                });
                let not_applicable = NOT_APPLICABLE
                    .iter()
                    .any(|(which, when, _)| which == program && when == state);
                if !here && !elsewhere && !not_applicable {
                    missing.push(format!("{program} {state} SIG{signal}"));
                }
            }
        }
    }
    assert_eq!(missing, Vec::<String>::new(), "cells without a test");
    for cell in ELSEWHERE {
        assert!(PROGRAMS.contains(&cell.program), "{}", cell.program);
        assert!(
            STATES.iter().any(|(state, _)| *state == cell.state),
            "{}",
            cell.state
        );
        cell.tested.assert_exists();
    }
    for (_, cases) in STATES {
        for case in *cases {
            assert!(PROGRAMS.contains(&case.program()), "{}", case.name);
        }
    }
}

#[test]
fn idle_programs_stop_at_once() {
    let _turn = one_at_a_time();
    stop_each(IDLE);
}

#[test]
fn programs_stop_at_once_in_the_middle_of_their_stream() {
    let _turn = one_at_a_time();
    stop_each(MID_STREAM);
}

#[test]
fn programs_stop_at_once_after_their_peers_are_gone() {
    let _turn = one_at_a_time();
    stop_each(PEERS_GONE);
}

#[test]
fn sigterm_stops_wuserver_at_full_speed_every_time() {
    let _turn = one_at_a_time();
    let context = zmq::Context::new();
    for attempt in 0..20 {
        let mut server = Process::start("wuserver", &["--bind", ANY_PORT]);
        // A subscriber to everything, so that every update really goes out.
        let subscriber = context.socket(zmq::SUB).unwrap();
        subscriber.set_linger(0).unwrap();
        subscriber.set_rcvtimeo(deadline_ms()).unwrap();
        subscriber.connect(&server.endpoint()).unwrap();
        subscriber.set_subscribe(b"").unwrap();
        subscriber.recv_bytes(0).expect("the server publishes");
        server.assert_stops("TERM", &format!("wuserver, attempt {attempt}"));
    }
}

#[test]
fn sigint_stops_wuclient_in_a_flood_every_time() {
    let _turn = one_at_a_time();
    for attempt in 0..20 {
        let (mut client, _flood) = wuclient_in_a_flood();
        client.assert_stops("INT", &format!("wuclient, attempt {attempt}"));
    }
}

#[test]
fn sigint_stops_a_camera_that_has_just_subscribed_every_time() {
    // Its subscription can reach the publisher before the camera's loop
    // runs: Ctrl-C must be handled from the start, not only in the loop.
    let _turn = one_at_a_time();
    for attempt in 0..50 {
        let publisher = TestPublisher::bind(ANY_PORT);
        let mut camera = start_camera(1, &publisher.endpoint);
        publisher.wait_for_subscriber();
        let case = format!("camera1 just subscribed, attempt {attempt}");
        camera.assert_stops("INT", &case);
    }
}

/// The tests here take turns: on a small machine the busy scenes of one
/// would slow down the stopping of another, and the 250 ms are what is
/// tested.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    // A test that failed still hands over its turn.
    TURN.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Sets up each case once for each of its signals, and stops it with that
/// signal.
fn stop_each(cases: &[Case]) {
    for case in cases {
        for signal in case.signals {
            let (mut process, _peers) = (case.scene)();
            process.assert_stops(signal, case.name);
        }
    }
}

fn deadline_ms() -> i32 {
    i32::try_from(DEADLINE.as_millis()).expect("the deadline fits")
}

// Hello world.

fn hwserver_idle() -> (Process, Peers) {
    let server = Process::start("hwserver", &["--bind", ANY_PORT]);
    server.endpoint();
    (server, vec![])
}

fn hwserver_mid_request() -> (Process, Peers) {
    let server = Process::start("hwserver", &["--bind", ANY_PORT, "--work-ms", A_MINUTE]);
    let client = Process::start("hwclient", &["--connect", &server.endpoint()]);
    server.wait_for(Stream::Stdout, "Received Hello");
    (server, vec![Box::new(client)])
}

/// A server without work and a client that never stops asking, a hundred
/// requests in.
fn hello_at_full_speed() -> (Process, Process) {
    let server = Process::start("hwserver", &["--bind", ANY_PORT, "--work-ms", "0"]);
    let client = Process::start(
        "hwclient",
        &["--connect", &server.endpoint(), "--requests", FOREVER],
    );
    client.wait_for(Stream::Stdout, "Received World 100");
    (server, client)
}

fn hwserver_clients_killed() -> (Process, Peers) {
    // The work is short, so that the reply to the killed client is sent
    // (into the void) and the server goes on to the next one.
    let server = Process::start("hwserver", &["--bind", ANY_PORT, "--work-ms", "100"]);
    let endpoint = server.endpoint();
    let one_request = ["--connect", endpoint.as_str(), "--requests", "1"];
    let first = Process::start("hwclient", &one_request);
    server.wait_for(Stream::Stdout, "Received Hello");
    drop(first); // SIGKILL, waiting for its reply
    let second = Process::start("hwclient", &one_request);
    // A REP server hears the next request only once it has replied.
    server.wait_until("a second request", DEADLINE, |output| {
        (output.stdout.matches("Received Hello").count() == 2).then_some(())
    });
    drop(second); // SIGKILL
    (server, vec![])
}

fn hwclient_without_server() -> (Process, Peers) {
    let nowhere = IpcEndpoint::new("no-hello-server");
    let client = Process::start("hwclient", &["--connect", nowhere.as_str()]);
    // Printed once connected, unlike `Connecting to...` (see wuclient_idle).
    client.wait_for(Stream::Stdout, "Sending Hello 0...");
    (client, vec![Box::new(nowhere)])
}

fn hwclient_server_killed() -> (Process, Peers) {
    let server = Process::start("hwserver", &["--bind", ANY_PORT, "--work-ms", A_MINUTE]);
    let client = Process::start("hwclient", &["--connect", &server.endpoint()]);
    server.wait_for(Stream::Stdout, "Received Hello");
    // Without --timeout-ms the client waits for this reply forever.
    drop(server); // SIGKILL
    (client, vec![])
}

fn lpclient_mid_request(kill_the_server: bool) -> (Process, Peers) {
    let server = Process::start("hwserver", &["--bind", ANY_PORT, "--work-ms", A_MINUTE]);
    let args = ["--connect", &server.endpoint(), "--timeout-ms", A_MINUTE];
    let client = Process::start("lpclient", &args);
    server.wait_for(Stream::Stdout, "Received Hello");
    if kill_the_server {
        drop(server); // SIGKILL
        return (client, vec![]);
    }
    (client, vec![Box::new(server)])
}

// Passing JSON and the Eventloop echo.

fn json_client_idle() -> (Process, Peers) {
    let server = Process::start(
        "json-server",
        &["--bind", ANY_PORT, "--interval-ms", A_MINUTE],
    );
    let client = Process::start("json-client", &["--connect", &server.endpoint()]);
    // The first message comes at once; the next in a minute.
    client.wait_for(Stream::Stdout, "200 :: hello world");
    (client, vec![Box::new(server)])
}

fn json_server_clients_killed() -> (Process, Peers) {
    let server = Process::start("json-server", &["--bind", ANY_PORT, "--interval-ms", "20"]);
    let endpoint = server.endpoint();
    for _ in 0..2 {
        let client = Process::start("json-client", &["--connect", &endpoint]);
        client.wait_for(Stream::Stdout, "200 :: hello world");
        drop(client); // SIGKILL
    }
    (server, vec![])
}

/// An echo server and a client that never stops asking, some echoes in.
fn echo_at_full_speed() -> (Process, Process) {
    let server = Process::start("echo-server", &["--bind", ANY_PORT]);
    let client = Process::start(
        "echo-client",
        &["--connect", &server.endpoint(), "--requests", FOREVER],
    );
    client.wait_until("a hundred echoes", DEADLINE, |output| {
        (output.stdout.matches("MSG: ").count() >= 100).then_some(())
    });
    (server, client)
}

// Weather updates.

fn wuserver_alone() -> (Process, Peers) {
    let server = Process::start("wuserver", &["--bind", ANY_PORT]);
    server.endpoint();
    (server, vec![])
}

fn wuserver_subscriber_killed() -> (Process, Peers) {
    let server = Process::start("wuserver", &["--bind", ANY_PORT]);
    // Any subscriber to everything will do. A camera prints each message it
    // gets, so it shows when the updates reach it, which wuclient does not.
    let subscriber = Process::start("camera1", &["--connect", &server.endpoint()]);
    subscriber.wait_for(Stream::Stdout, "MSG 1:  '");
    drop(subscriber); // SIGKILL
    (server, vec![])
}

fn wuclient_idle() -> (Process, Peers) {
    let publisher = TestPublisher::bind(ANY_PORT);
    let client = Process::start("wuclient", &["--connect", &publisher.endpoint]);
    // Not `Collecting updates...`: the client prints that before it
    // connects, and a signal that interrupts the connect fails it.
    publisher.wait_for_subscriber();
    (client, vec![Box::new(publisher)])
}

/// A client that never has enough, under a flood of updates for its zip
/// code. wuclient prints nothing while it collects; the flood has updates it
/// warns about among the good ones, so the test sees them arrive.
fn wuclient_in_a_flood() -> (Process, Flood) {
    let publisher = TestPublisher::bind(ANY_PORT);
    let client = Process::start(
        "wuclient",
        &["--connect", &publisher.endpoint, "--updates", FOREVER],
    );
    publisher.wait_for_subscriber();
    let flood = publisher.flood("10001 23 45", "10001 hot humid");
    client.wait_for(Stream::Stderr, "warning: skipping a malformed update");
    (client, flood)
}

/// A publisher of the test's own, standing in for a server: an XPUB socket,
/// which receives each subscription. Our subscribers print nothing when
/// they connect; this is how a test knows one is there.
struct TestPublisher {
    socket: zmq::Socket,
    endpoint: String,
}

impl TestPublisher {
    fn bind(endpoint: &str) -> TestPublisher {
        let socket = zmq::Context::new().socket(zmq::XPUB).unwrap();
        socket.set_linger(0).unwrap();
        socket.set_rcvtimeo(deadline_ms()).unwrap();
        socket.bind(endpoint).unwrap();
        let endpoint = socket.get_last_endpoint().unwrap().unwrap();
        TestPublisher { socket, endpoint }
    }

    /// Waits for a subscription: what is published after it reaches the
    /// subscriber.
    fn wait_for_subscriber(&self) {
        let message = self.socket.recv_bytes(0).expect("a subscriber");
        assert_eq!(message.first(), Some(&1), "not a subscription: {message:?}");
    }

    fn publish(&self, message: &str) {
        self.socket.send(message, 0).unwrap();
    }

    /// Publishes bursts of `update`, each led by one `marker`, faster than
    /// a subscriber can take them, until the flood is dropped.
    fn flood(self, update: &'static str, marker: &'static str) -> Flood {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                // A burst fills the subscriber's queue (1000 messages, the
                // default high-water mark; a PUB socket drops the rest). The
                // marker goes first, into the room the subscriber has made.
                // The pause keeps this thread from taking a core of its own
                // from the programs under test: a debug build's subscriber
                // takes longer than that to empty its queue.
                for message in iter::once(marker).chain(iter::repeat_n(update, 999)) {
                    if self.socket.send(message, 0).is_err() {
                        return;
                    }
                }
                thread::sleep(Duration::from_millis(1));
            }
        });
        Flood {
            stop,
            thread: Some(thread),
        }
    }
}

/// A [`TestPublisher::flood`] going on. Dropping it stops the flood and
/// closes the socket: the server is gone.
struct Flood {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Flood {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

// Wayne's World.

/// Starts the server, ticking every 20 ms, and returns it with its TCP and
/// IPC endpoints.
fn waynes_world(ipc: &IpcEndpoint) -> (Process, String, String) {
    let server = Process::start(
        "waynes-world",
        &[
            "--tcp",
            ANY_PORT,
            "--ipc",
            ipc.as_str(),
            "--interval-ms",
            "20",
        ],
    );
    let mut endpoints = server.endpoints(2);
    let ipc = endpoints.remove(1);
    (server, endpoints.remove(0), ipc)
}

fn start_camera(number: u32, endpoint: &str) -> Process {
    Process::start(&format!("camera{number}"), &["--connect", endpoint])
}

/// Waits until camera `number` has printed its own message.
fn wait_for_picture(camera: &Process, number: u32) {
    camera.wait_for(Stream::Stdout, &format!("MSG {number}:  'Camera {number}'"));
}

/// Starts camera `number` and waits until it has received its own message.
fn camera(number: u32, endpoint: &str) -> Process {
    let camera = start_camera(number, endpoint);
    wait_for_picture(&camera, number);
    camera
}

/// The server, and both cameras, each having received its own message.
fn waynes_world_with_cameras() -> (Process, [Process; 2], IpcEndpoint) {
    let ipc = IpcEndpoint::new("waynes-world");
    let (server, tcp, ipc_endpoint) = waynes_world(&ipc);
    let cameras = [camera(1, &tcp), camera(2, &ipc_endpoint)];
    (server, cameras, ipc)
}

/// Camera `number` receiving from the server, and the server.
fn camera_and_server(number: u32) -> (Process, Process, IpcEndpoint) {
    let ipc = IpcEndpoint::new("waynes-world");
    let (server, tcp, ipc_endpoint) = waynes_world(&ipc);
    let endpoint = if number == 1 { tcp } else { ipc_endpoint };
    (camera(number, &endpoint), server, ipc)
}

fn camera_receiving(number: u32) -> (Process, Peers) {
    let (camera, server, ipc) = camera_and_server(number);
    (camera, vec![Box::new(server), Box::new(ipc)])
}

fn camera_server_killed(number: u32) -> (Process, Peers) {
    let (camera, server, ipc) = camera_and_server(number);
    drop(server); // SIGKILL
    (camera, vec![Box::new(ipc)])
}

/// A camera that has received one message, from a server that then says
/// nothing more: camera 1 over TCP, camera 2 over IPC, as they are meant to.
fn camera_idle(number: u32) -> (Process, Peers) {
    let ipc = IpcEndpoint::new("quiet-server");
    let publisher = TestPublisher::bind(if number == 1 { ANY_PORT } else { ipc.as_str() });
    let camera = start_camera(number, &publisher.endpoint);
    publisher.wait_for_subscriber();
    publisher.publish(&format!("Camera {number}"));
    // The camera prints from its loop, so its Ctrl-C handler is set by now.
    wait_for_picture(&camera, number);
    (camera, vec![Box::new(publisher), Box::new(ipc)])
}
