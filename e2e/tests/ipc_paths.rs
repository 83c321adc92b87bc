//! IPC paths: libzmq deletes whatever is at a path before it binds there.
//! Every server checks first, so that a file that is not a socket is left
//! alone and a path a running server holds is not taken from it: each one
//! exits 1 with one line instead.

use std::fs;

use e2e::{ANY_PORT, DEADLINE, Process, Stream, TempDir};

/// Each server, with the flags that make it bind `PATH` (an `ipc://`
/// endpoint), and the flags it needs besides.
const SERVERS: &[(&str, &[&str])] = &[
    ("hwserver", &["--bind", "PATH"]),
    ("wuserver", &["--bind", "PATH"]),
    ("taskvent", &["--bind", "PATH", "--workers", "1"]),
    ("tasksink", &["--bind", "PATH"]),
    ("tasksink", &["--bind", ANY_PORT, "--control", "PATH"]),
    ("waynes-world", &["--tcp", ANY_PORT, "--ipc", "PATH"]),
    ("json-server", &["--bind", "PATH"]),
    ("echo-server", &["--bind", "PATH"]),
];

fn args<'a>(flags: &[&'a str], endpoint: &'a str) -> Vec<&'a str> {
    flags
        .iter()
        .map(|flag| if *flag == "PATH" { endpoint } else { flag })
        .collect()
}

#[test]
fn a_file_that_is_not_a_socket_is_left_alone() {
    let temp = TempDir::new("ipc-paths-file");
    let path = temp.path("not-a-socket");
    let endpoint = format!("ipc://{}", path.display());
    for (program, flags) in SERVERS {
        fs::write(&path, "precious").unwrap();
        Process::start(program, &args(flags, &endpoint)).assert_fails_naming("is not a socket");
        assert_eq!(fs::read_to_string(&path).unwrap(), "precious", "{program}");
    }
}

#[test]
fn a_path_a_running_server_holds_is_not_taken() {
    let temp = TempDir::new("ipc-paths-live");
    let endpoint = temp.ipc("held");
    let holder = Process::start("hwserver", &["--bind", &endpoint]);
    holder.wait_for(Stream::Stderr, "listening on");
    for (program, flags) in SERVERS {
        Process::start(program, &args(flags, &endpoint))
            .assert_fails_naming("another server is listening there");
    }
    // And the first server still has it.
    let mut client = Process::start("hwclient", &["--connect", &endpoint, "--requests", "1"]);
    client.wait_success(DEADLINE);
}
