//! What every program says about itself: `--help` shows its usage, an
//! unknown flag is a usage error (exit 2), and `--version` names its
//! version and the libzmq it is linked with, as the guide's chapter 1
//! "Version Reporting" program does: `hwserver 0.1.0 (libzmq 4.3.4)`. The
//! programs are found in the workspace, so a new one cannot be missed.

use std::fs;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;

use e2e::{ANY_PORT, DEADLINE, Process, program, signal_pid, workspace_root};

/// Every program in the workspace: each package's `src/main.rs`, named
/// after its package, and each of its `src/bin/*.rs`.
fn programs() -> Vec<String> {
    let root = workspace_root();
    let manifest = fs::read_to_string(root.join("Cargo.toml")).expect("read Cargo.toml");
    let members = manifest
        .split_once("members = [")
        .and_then(|(_, rest)| rest.split_once(']'))
        .expect("the workspace lists its members")
        .0;
    let mut programs = Vec::new();
    for member in members.split(',').map(|m| m.trim().trim_matches('"')) {
        // The harness's own peers are not the project's programs.
        if member.is_empty() || member == "e2e" {
            continue;
        }
        let source = root.join(member).join("src");
        if source.join("main.rs").exists() {
            let manifest = fs::read_to_string(root.join(member).join("Cargo.toml"))
                .expect("read a member's Cargo.toml");
            programs.push(main_binary(&manifest).unwrap_or(member).to_string());
        }
        if let Ok(bins) = fs::read_dir(source.join("bin")) {
            for bin in bins {
                let name = bin.expect("read src/bin").file_name();
                let name = name.to_string_lossy();
                if let Some(stem) = name.strip_suffix(".rs") {
                    programs.push(stem.to_string());
                }
            }
        }
    }
    programs.sort();
    programs
}

/// The name a package gives its `src/main.rs` in a `[[bin]]` section, if it
/// does not leave it the package's name (`passing-json` calls it
/// `json-server`).
fn main_binary(manifest: &str) -> Option<&str> {
    manifest.split("[[bin]]").skip(1).find_map(|section| {
        let section = section.split("\n[").next().unwrap_or_default();
        let value = |key: &str| {
            section.lines().find_map(|line| {
                let (name, value) = line.split_once('=')?;
                (name.trim() == key).then(|| value.trim().trim_matches('"'))
            })
        };
        (value("path") == Some("src/main.rs"))
            .then(|| value("name"))
            .flatten()
    })
}

#[test]
fn the_programs_are_found() {
    let programs = programs();
    for expected in [
        "hwserver",
        "lpclient",
        "taskvent",
        "camera2",
        "json-server",
        "json-client",
        "echo-server",
        "echo-client",
    ] {
        assert!(programs.iter().any(|p| p == expected), "{programs:?}");
    }
}

#[test]
fn every_program_names_its_libzmq_version() {
    let (major, minor, patch) = zmq::version();
    for program in programs() {
        let mut process = Process::start(&program, &["--version"]);
        let output = process.wait_success(DEADLINE);
        assert_eq!(
            output.stdout,
            format!("{program} 0.1.0 (libzmq {major}.{minor}.{patch})\n"),
            "{output}"
        );
    }
}

#[test]
fn every_program_answers_help() {
    for program in programs() {
        let mut process = Process::start(&program, &["--help"]);
        let output = process.wait_success(DEADLINE);
        assert!(
            output.stdout.contains(&format!("Usage: {program}")),
            "{output}"
        );
    }
}

#[test]
fn every_program_refuses_an_unknown_flag_with_status_2() {
    for program in programs() {
        Process::start(&program, &["--no-such-flag"]).assert_usage_error("--no-such-flag");
    }
}

#[test]
fn a_closed_stdout_stops_a_program_quietly() {
    // `json-client | head -1`: the client's next line meets a closed pipe.
    // It stops as a C program killed by SIGPIPE, without a panic.
    let server = Process::start("json-server", &["--bind", ANY_PORT, "--interval-ms", "20"]);
    let mut client = Command::new(program("json-client"))
        .args(["--connect", &server.endpoint()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start json-client");
    let mut first = String::new();
    BufReader::new(client.stdout.take().expect("its stdout"))
        .read_line(&mut first)
        .expect("read a line");
    assert_eq!(first, "200 :: hello world\n");
    // The reader is dropped: the pipe is closed. The client's exit is
    // waited for on a thread, so that the wait has a deadline.
    let pid = client.id();
    let (exited, exit) = mpsc::channel();
    thread::spawn(move || {
        let output = client.wait_with_output().expect("wait for json-client");
        let _ = exited.send(output);
    });
    let Ok(output) = exit.recv_timeout(DEADLINE) else {
        signal_pid(pid, "KILL");
        panic!("json-client went on printing into a closed pipe");
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(141), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
