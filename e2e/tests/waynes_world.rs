//! Wayne's World end to end: the `waynes-world` server and its two cameras
//! as real processes, and with versions of each on zmq.rs (`zmqrs-peer`).

use std::fs;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::process::Command;

use e2e::{DEADLINE, Output, Process, STOP, Stream, TempDir, complete_lines, program};

/// Milliseconds between one camera and the next, so tests see many quickly.
const INTERVAL_MS: &str = "20";

/// Starts the server and returns it with its TCP and IPC endpoints.
fn start_server(tcp: &str, ipc: &str, interval_ms: &str) -> (Process, String, String) {
    let server = Process::start(
        "waynes-world",
        &["--tcp", tcp, "--ipc", ipc, "--interval-ms", interval_ms],
    );
    let mut endpoints = server.endpoints(2);
    let ipc = endpoints.remove(1);
    let tcp = endpoints.remove(0);
    (server, tcp, ipc)
}

fn start_camera(number: u32, endpoint: &str) -> Process {
    Process::start(&format!("camera{number}"), &["--connect", endpoint])
}

/// The lines camera `number` prints for its own message.
fn picture(number: u32) -> String {
    format!("MSG {number}:  'Camera {number}'")
}

/// How many of its own messages a camera has printed.
fn pictures(output: &Output, number: u32) -> usize {
    let picture = picture(number);
    complete_lines(&output.stdout)
        .filter(|line| *line == picture)
        .count()
}

/// Waits until camera `number` has printed `count` more of its own messages
/// than `seen`, and checks that it printed nothing else: a subscriber may
/// miss the first messages (the slow joiner), but never sees the other
/// camera's.
fn wait_for_pictures(camera: &Process, number: u32, seen: usize, count: usize) -> usize {
    let total = camera.wait_until(
        &format!("{count} more lines of {:?}", picture(number)),
        DEADLINE,
        |output| {
            let total = pictures(output, number);
            (total >= seen + count).then_some(total)
        },
    );
    let output = camera.output();
    for line in complete_lines(&output.stdout) {
        assert_eq!(line, picture(number), "{output}");
    }
    total
}

/// Checks that the server asked for camera 1, camera 2, camera 1, ...
fn assert_alternates(server: &Process) {
    let output = server.output();
    let lines: Vec<&str> = complete_lines(&output.stdout).collect();
    assert!(!lines.is_empty(), "{output}");
    for (index, line) in lines.iter().enumerate() {
        let expected = ["Camera 1?", "Camera 2?"][index % 2];
        assert_eq!(*line, expected, "line {index}\n{output}");
    }
}

#[test]
fn each_camera_sees_only_its_own_camera() {
    let dir = TempDir::new("own");
    let (server, tcp, ipc) = start_server("tcp://127.0.0.1:*", &dir.ipc("s.ipc"), INTERVAL_MS);
    assert!(tcp.starts_with("tcp://127.0.0.1:"), "{tcp}");
    assert_eq!(ipc, dir.ipc("s.ipc"));
    let camera1 = start_camera(1, &tcp);
    let camera2 = start_camera(2, &ipc);
    wait_for_pictures(&camera1, 1, 0, 3);
    wait_for_pictures(&camera2, 2, 0, 3);
    assert_alternates(&server);
    for camera in [&camera1, &camera2] {
        assert_eq!(camera.output().stderr, "", "{}", camera.output());
    }
}

#[test]
fn cameras_started_before_the_server_still_receive() {
    let dir = TempDir::new("early");
    // Reserve a free port by binding and closing it, so camera 1 has a real
    // address to wait on; the server then binds that same port.
    let context = zmq::Context::new();
    let probe = context.socket(zmq::PUB).unwrap();
    probe.bind("tcp://127.0.0.1:*").unwrap();
    let tcp = probe.get_last_endpoint().unwrap().unwrap();
    drop(probe);
    let ipc = dir.ipc("s.ipc");

    let camera1 = start_camera(1, &tcp);
    let camera2 = start_camera(2, &ipc);
    let (_server, _, _) = start_server(&tcp, &ipc, INTERVAL_MS);
    wait_for_pictures(&camera1, 1, 0, 3);
    wait_for_pictures(&camera2, 2, 0, 3);
}

#[test]
fn ctrl_c_stops_an_idle_server_at_once() {
    for signal in ["INT", "TERM"] {
        let dir = TempDir::new(&format!("idle-{signal}"));
        // The next tick is a minute away.
        let (mut server, _, _) = start_server("tcp://127.0.0.1:*", &dir.ipc("s.ipc"), "60000");
        server.wait_for(Stream::Stdout, "Camera 1?");
        server.signal(signal);
        let status = server.wait_exit(STOP);
        assert!(
            status.success(),
            "SIG{signal}: {status}\n{}",
            server.output()
        );
        assert_eq!(server.output().stdout, "Camera 1?\n");
    }
}

#[test]
fn ctrl_c_stops_the_server_then_the_cameras_it_left() {
    let dir = TempDir::new("stop");
    let (mut server, tcp, ipc) = start_server("tcp://127.0.0.1:*", &dir.ipc("s.ipc"), INTERVAL_MS);
    let mut camera1 = start_camera(1, &tcp);
    let mut camera2 = start_camera(2, &ipc);
    wait_for_pictures(&camera1, 1, 0, 1);
    wait_for_pictures(&camera2, 2, 0, 1);
    server.assert_stops("INT", "server");
    assert_alternates(&server);
    camera1.assert_stops("INT", "camera1");
    camera2.assert_stops("INT", "camera2");
}

#[test]
fn ctrl_c_stops_a_receiving_camera() {
    let dir = TempDir::new("camera");
    let (_server, tcp, ipc) = start_server("tcp://127.0.0.1:*", &dir.ipc("s.ipc"), INTERVAL_MS);
    for (number, endpoint) in [(1, &tcp), (2, &ipc)] {
        let mut camera = start_camera(number, endpoint);
        wait_for_pictures(&camera, number, 0, 1);
        camera.assert_stops("INT", "camera");
    }
}

#[test]
fn a_bad_flag_is_a_usage_error() {
    for program in ["waynes-world", "camera1", "camera2"] {
        Process::start(program, &["--no-such-flag"]).assert_usage_error("--no-such-flag");
    }
}

#[test]
fn an_endpoint_that_cannot_be_bound_is_one_line_and_exit_1() {
    let dir = TempDir::new("unbindable");
    let good_tcp = "tcp://127.0.0.1:*";
    let good_ipc = dir.ipc("s.ipc");
    let missing_dir = dir.ipc("missing/s.ipc");
    // An IPC path in a directory that does not exist, endpoints that do not
    // parse, and an address this machine does not have (192.0.2.0/24 is
    // reserved for documentation).
    let cases = [
        (good_tcp, missing_dir.as_str(), missing_dir.as_str()),
        (good_tcp, "nonsense", "nonsense"),
        ("nonsense", good_ipc.as_str(), "nonsense"),
        ("tcp://192.0.2.1:*", good_ipc.as_str(), "tcp://192.0.2.1:*"),
    ];
    for (tcp, ipc, bad) in cases {
        let server = Process::start("waynes-world", &["--tcp", tcp, "--ipc", ipc]);
        server.assert_fails_naming(bad);
    }
    for number in [1, 2] {
        start_camera(number, "nonsense").assert_fails_naming("nonsense");
    }
}

#[test]
fn the_ipc_socket_file_is_removed_on_exit() {
    let dir = TempDir::new("cleanup");
    let (mut server, _, _) = start_server("tcp://127.0.0.1:*", &dir.ipc("s.ipc"), INTERVAL_MS);
    let socket_file = dir.path("s.ipc");
    assert!(is_socket(&socket_file));
    server.wait_for(Stream::Stdout, "Camera 1?");
    server.assert_stops("INT", "server");
    assert!(!socket_file.exists(), "{}", server.output());
}

#[test]
fn a_socket_file_left_by_a_killed_server_does_not_block_the_next() {
    let dir = TempDir::new("stale");
    let ipc = dir.ipc("s.ipc");
    let (mut killed, _, _) = start_server("tcp://127.0.0.1:*", &ipc, INTERVAL_MS);
    killed.signal("KILL");
    killed.wait_exit(DEADLINE);
    assert!(is_socket(&dir.path("s.ipc")), "no stale file to test with");

    let (_server, _, ipc) = start_server("tcp://127.0.0.1:*", &ipc, INTERVAL_MS);
    let camera2 = start_camera(2, &ipc);
    wait_for_pictures(&camera2, 2, 0, 3);
}

#[test]
fn a_second_server_does_not_take_the_ipc_path_of_a_running_one() {
    let dir = TempDir::new("twice");
    let (_server, _, ipc) = start_server("tcp://127.0.0.1:*", &dir.ipc("s.ipc"), INTERVAL_MS);
    let camera2 = start_camera(2, &ipc);
    let seen = wait_for_pictures(&camera2, 2, 0, 1);

    let second = Process::start(
        "waynes-world",
        &["--tcp", "tcp://127.0.0.1:*", "--ipc", &ipc],
    );
    second.assert_fails_naming(&ipc);
    // The first server still has its path, and its camera.
    wait_for_pictures(&camera2, 2, seen, 3);
}

#[test]
fn a_file_that_is_not_a_socket_is_not_deleted() {
    let dir = TempDir::new("regular");
    let path = dir.path("notes.txt");
    fs::write(&path, "keep me").unwrap();
    let ipc = dir.ipc("notes.txt");
    let server = Process::start(
        "waynes-world",
        &["--tcp", "tcp://127.0.0.1:*", "--ipc", &ipc],
    );
    server.assert_fails_naming(&ipc);
    assert_eq!(fs::read_to_string(&path).unwrap(), "keep me");
}

#[test]
fn the_originals_wildcard_ipc_endpoint_binds_a_made_up_path() {
    // The Python original binds ipc://*:5567; libzmq 4 makes up a path in
    // $TMPDIR for it. The `listening on` line says which.
    let dir = TempDir::new("wildcard");
    let mut command = Command::new(program("waynes-world"));
    command.env("TMPDIR", dir.dir()).args([
        "--tcp",
        "tcp://127.0.0.1:*",
        "--ipc",
        "ipc://*:5567",
        "--interval-ms",
        INTERVAL_MS,
    ]);
    let mut server = Process::spawn("waynes-world", command);
    let ipc = server.endpoints(2).remove(1);
    let prefix = format!("ipc://{}/", dir.dir().display());
    assert!(ipc.starts_with(&prefix), "{ipc}");
    let camera2 = start_camera(2, &ipc);
    wait_for_pictures(&camera2, 2, 0, 3);
    server.assert_stops("INT", "server");
    // Nothing is left behind in $TMPDIR.
    let left: Vec<_> = fs::read_dir(dir.dir()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_camera_warns_about_malformed_messages_and_goes_on() {
    let publisher = Process::peer(&[
        "garbage",
        "--bind",
        "tcp://127.0.0.1:*",
        "--interval-ms",
        "20",
    ]);
    let camera1 = start_camera(1, &publisher.endpoint());
    // Each burst is a good message, then one that is not UTF-8, a multipart
    // one, an empty one, and one over the camera's size limit.
    let kinds = [
        "[255, 254,",
        "[\"multi\", \"part\"]",
        "[\"\"]",
        "of 100000 bytes",
    ];
    camera1.wait_until("a warning for each kind", DEADLINE, |output| {
        let warnings: Vec<&str> = complete_lines(&output.stderr)
            .filter(|line| line.starts_with("warning: skipping a "))
            .collect();
        let warned = |kind: &&str| warnings.iter().any(|line| line.contains(kind));
        kinds.iter().all(warned).then_some(())
    });
    // And good messages still arrive after them.
    let seen = pictures(&camera1.output(), 1);
    wait_for_pictures(&camera1, 1, seen, 3);
}

#[test]
fn foreign_cameras_see_our_server() {
    let dir = TempDir::new("foreign-cameras");
    let (_server, tcp, ipc) = start_server("tcp://127.0.0.1:*", &dir.ipc("s.ipc"), INTERVAL_MS);
    let camera1 = Process::peer(&["camera", "1", "--connect", &tcp]);
    let camera2 = Process::peer(&["camera", "2", "--connect", &ipc]);
    wait_for_pictures(&camera1, 1, 0, 3);
    wait_for_pictures(&camera2, 2, 0, 3);
}

#[test]
fn our_cameras_see_a_foreign_server() {
    let dir = TempDir::new("foreign-server");
    let ipc = dir.ipc("s.ipc");
    let server = Process::peer(&[
        "waynes-world",
        "--tcp",
        "tcp://127.0.0.1:*",
        "--ipc",
        &ipc,
        "--interval-ms",
        INTERVAL_MS,
    ]);
    let endpoints = server.endpoints(2);
    let camera1 = start_camera(1, &endpoints[0]);
    let camera2 = start_camera(2, &endpoints[1]);
    wait_for_pictures(&camera1, 1, 0, 3);
    wait_for_pictures(&camera2, 2, 0, 3);
    assert_alternates(&server);
}

fn is_socket(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|found| found.file_type().is_socket())
}
