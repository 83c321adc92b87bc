//! The demo scripts in `scripts/`, run as a user runs them, with small
//! parameters: each shows its demo's output, succeeds, and leaves no process
//! behind, also when stopped with Ctrl-C.

use std::process::Command;
use std::time::Duration;

use e2e::{
    DEADLINE, Output, Process, Stream, TempDir, hwclient_output, signal_pid, workspace_root,
};

/// A script's run, generous for a busy machine; the scripts themselves
/// finish in a few seconds.
const RUN: Duration = Duration::from_secs(60);

/// Runs a script to the end, checks it succeeded and left nothing running.
fn run(script: &str, args: &[&str]) -> Output {
    let mut process = Process::script(script, args);
    let output = process.wait_success(RUN);
    assert_eq!(process.leftovers(), Vec::<String>::new(), "{output}");
    output
}

#[test]
fn every_script_answers_help() {
    // Every script in the directory, so that a new one cannot be missed.
    let mut scripts: Vec<String> = std::fs::read_dir(workspace_root().join("scripts"))
        .expect("list scripts/")
        .map(|entry| entry.expect("read scripts/").file_name())
        .filter_map(|name| name.into_string().ok())
        .filter(|name| name.ends_with(".sh") && name != "common.sh")
        .collect();
    scripts.sort();
    assert!(scripts.len() >= 5, "{scripts:?}");
    for script in &scripts {
        let output = run(script, &["--help"]);
        let usage = format!("Usage: scripts/{script}");
        assert!(output.stdout.starts_with(&usage), "{output}");
    }
}

#[test]
fn a_bad_option_is_a_usage_error() {
    let mut process = Process::script("pipeline.sh", &["--no-such-option"]);
    let status = process.wait_exit(DEADLINE);
    assert_eq!(status.code(), Some(2), "{}", process.output());
}

#[test]
fn hello_runs_the_client_against_the_server() {
    let output = run("hello.sh", &["--requests", "2", "--work-ms", "0"]);
    // The server's lines and the client's share the terminal.
    let client: Vec<&str> = output
        .stdout
        .lines()
        .filter(|line| *line != "Received Hello")
        .collect();
    assert_eq!(
        client,
        [
            "Connecting to hello world server...",
            "Sending Hello 0...",
            "Received World 0",
            "Sending Hello 1...",
            "Received World 1"
        ],
        "{output}"
    );
    assert_eq!(
        output.stdout.matches("Received Hello").count(),
        2,
        "{output}"
    );
}

#[test]
fn weather_gives_each_client_its_own_zip_code() {
    let output = run("weather.sh", &["--updates", "3", "2"]);
    for zipcode in ["10001", "10002"] {
        let line = format!("Average temperature for zipcode '{zipcode} ' was ");
        assert!(output.stdout.contains(&line), "{output}");
    }
    assert!(
        output
            .stdout
            .contains("2 clients collected 3 updates each in "),
        "{output}"
    );
}

#[test]
fn a_failing_program_fails_the_script() {
    // A whole number to the script, too big for wuclient, which rejects
    // it: the demo cannot succeed.
    let mut process = Process::script("weather.sh", &["--updates", "99999999999999999999", "1"]);
    let status = process.wait_exit(RUN);
    let output = process.output();
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(
        output.stderr.contains("wuclient-1 exited with status 2"),
        "{output}"
    );
    assert_eq!(process.leftovers(), Vec::<String>::new(), "{output}");
}

#[test]
fn pipeline_with_one_count_prints_speedup_and_efficiency() {
    let output = run("pipeline.sh", &["--tasks", "10", "2"]);
    let sink = output.stdout.lines().find(|line| line.starts_with(':'));
    assert!(
        sink.is_some_and(|line| line.starts_with(":........."))
            && output.stdout.contains("Total elapsed time: "),
        "{output}"
    );
    for line in [
        "Expected cost: ",
        "Elapsed time: ",
        "Speedup: ",
        "Efficiency: ",
    ] {
        assert!(output.stdout.contains(line), "{line}\n{output}");
    }
}

#[test]
fn pipeline_with_several_counts_prints_a_table_and_a_chart() {
    let output = run("pipeline.sh", &["--tasks", "8", "1", "2"]);
    assert!(output.stdout.contains("workers  expected cost"), "{output}");
    assert!(output.stdout.contains("  1 worker(s) | #"), "{output}");
    assert!(output.stdout.contains("  2 worker(s) | #"), "{output}");
}

#[test]
fn lazy_pirate_carries_on_through_a_killed_server() {
    let output = run(
        "lazy-pirate.sh",
        &["--requests", "5", "--kill-after", "2", "--down-ms", "300"],
    );
    // Every request answered, in order, although the server died with one.
    assert_eq!(output.stdout, hwclient_output(5), "{output}");
    assert!(
        output.stderr.contains("--- hwserver killed;")
            && output.stderr.contains("--- hwserver started again ---")
            // The request the server died with: on a busy machine, maybe
            // a later one than the third.
            && output
                .stderr
                .contains("in 1000 ms, retrying on a new socket (attempt 2 of 3)"),
        "{output}"
    );
}

#[test]
fn waynes_world_shows_both_cameras() {
    let output = run("waynes-world.sh", &["--interval-ms", "20", "1"]);
    assert!(output.stdout.contains("MSG 1:  'Camera 1'"), "{output}");
    assert!(output.stdout.contains("MSG 2:  'Camera 2'"), "{output}");
    assert!(output.stdout.contains("Camera 1?\nCamera 2?\n"), "{output}");
}

#[test]
fn passing_json_deals_the_messages_to_the_clients_in_turn() {
    let output = run(
        "passing-json.sh",
        &["--interval-ms", "20", "--messages", "3", "2"],
    );
    for client in ["client 1: ", "client 2: "] {
        let lines = output
            .stdout
            .lines()
            .filter(|line| line.starts_with(client));
        let hello = format!("{client}200 :: hello world");
        assert_eq!(lines.clone().count(), 3, "{output}");
        assert!(lines.into_iter().all(|line| line == hello), "{output}");
    }
    assert!(
        output.stdout.matches("Hello world?\n").count() >= 6,
        "{output}"
    );
}

#[test]
fn echo_prints_each_request_and_its_echo() {
    let output = run("echo.sh", &["--requests", "2"]);
    let request = r#"{"j2": "was here", "word": "up"}"#;
    let expected = format!("{request}\nMSG: {request}\n").repeat(2);
    assert_eq!(output.stdout, expected, "{output}");
}

#[test]
fn ctrl_c_stops_passing_json_and_every_client_it_started() {
    // Each client's lines go through a sed of the script's, which must go
    // too.
    let mut process = Process::script(
        "passing-json.sh",
        &["--interval-ms", "20", "--messages", "100000", "3"],
    );
    process.wait_for(Stream::Stdout, "client ");
    process.signal("INT");
    let status = process.wait_exit(DEADLINE);
    assert_eq!(status.code(), Some(130), "{}", process.output());
    assert_eq!(process.leftovers(), Vec::<String>::new());
}

#[test]
fn ctrl_c_stops_a_script_and_everything_it_started() {
    let mut process = Process::script("waynes-world.sh", &["--interval-ms", "20", "600"]);
    process.wait_for(Stream::Stdout, "MSG 2:  'Camera 2'");
    process.signal("INT");
    let status = process.wait_exit(DEADLINE);
    assert_eq!(status.code(), Some(130), "{}", process.output());
    assert_eq!(process.leftovers(), Vec::<String>::new());
}

#[test]
fn sigterm_stops_a_pipeline_in_the_middle_of_a_batch() {
    let mut process = Process::script("pipeline.sh", &["--tasks", "100", "1"]);
    process.wait_for(Stream::Stdout, "--- 1 worker(s)");
    process.signal("TERM");
    let status = process.wait_exit(DEADLINE);
    assert_eq!(status.code(), Some(143), "{}", process.output());
    assert_eq!(process.leftovers(), Vec::<String>::new());
}

#[test]
fn a_log_that_is_not_there_yet_does_not_fail_the_script() {
    // `start` runs a program in the background with its stderr redirected
    // to a log, and `endpoints` reads the `listening on` line from that log.
    // The redirect happens in the background shell, which may not have got
    // that far yet: the log may not exist when `endpoints` first reads it.
    // (About once in 100 runs of hello.sh, the script died there, with
    // sed's exit status 2.) Here the window is wide open: `late` is a
    // process whose log appears only after a while, and `quick`, started
    // with `start`, must have its log at once.
    let test = r#"
        . "$(dirname "$0")/common.sh"
        (sleep 0.3; echo "listening on tcp://127.0.0.1:1" >"$work/late.err"; exec sleep 60) &
        late=$!
        pids="$pids $late"
        endpoints late "$late" 1
        echo "late listening on $listening"
        bin=$(dirname "$(command -v sleep)")
        start quick sleep 60
        [ -e "$work/quick.err" ] || fail "no log for quick"
        echo "quick has its log"
    "#;
    // $0, by which common.sh finds the workspace, is a script in scripts/.
    let mut command = Command::new("bash");
    let as_if = workspace_root().join("scripts").join("late-log-test");
    command.arg("-c").arg(test).arg(as_if);
    let mut process = Process::spawn("late-log-test", command);
    let output = process.wait_success(DEADLINE);
    assert_eq!(
        output.stdout, "late listening on tcp://127.0.0.1:1\nquick has its log\n",
        "{output}"
    );
}

/// An option of each script that takes a number.
const NUMBER_OPTIONS: &[(&str, &str)] = &[
    ("hello.sh", "--requests"),
    ("weather.sh", "--updates"),
    ("pipeline.sh", "--tasks"),
    ("waynes-world.sh", "--interval-ms"),
    ("lazy-pirate.sh", "--kill-after"),
    ("passing-json.sh", "--messages"),
    ("echo.sh", "--requests"),
    ("hosts.sh", "--hosts"),
];

#[test]
fn a_missing_or_bad_number_is_a_usage_error() {
    for (script, option) in NUMBER_OPTIONS {
        for args in [&[*option][..], &[*option, "abc"], &[*option, "2.5"]] {
            let mut process = Process::script(script, args);
            let status = process.wait_exit(DEADLINE);
            let output = process.output();
            assert_eq!(status.code(), Some(2), "{script} {args:?}: {output}");
            assert!(
                output.stderr.contains("needs a whole number"),
                "{script} {args:?}: {output}"
            );
        }
    }
    // And a count where a script takes one.
    for (script, count) in [("weather.sh", "5abc"), ("waynes-world.sh", "1x")] {
        let mut process = Process::script(script, &[count]);
        let status = process.wait_exit(DEADLINE);
        assert_eq!(status.code(), Some(2), "{script}: {}", process.output());
    }
}

#[test]
fn a_script_run_through_a_symlink_works() {
    let temp = TempDir::new("scripts-symlink");
    let link = temp.path("hello");
    std::os::unix::fs::symlink(workspace_root().join("scripts/hello.sh"), &link)
        .expect("make a symlink");
    let link = link.to_str().expect("a UTF-8 path");
    // Process::script takes an absolute path as it is.
    let mut process = Process::script(link, &["--requests", "1", "--work-ms", "0"]);
    let output = process.wait_success(RUN);
    assert!(output.stdout.contains("Received World 0"), "{output}");
    assert_eq!(process.leftovers(), Vec::<String>::new(), "{output}");
}

#[test]
fn a_stopped_program_does_not_hang_the_scripts_cleanup() {
    // SIGSTOP, as the README suggests trying on a server: a stopped program
    // dies of SIGTERM only once continued, and the cleanup waits for it.
    let mut process = Process::script("waynes-world.sh", &["--interval-ms", "20", "600"]);
    process.wait_for(Stream::Stdout, "MSG 2:  'Camera 2'");
    let leftovers = process.leftovers();
    let camera = leftovers
        .iter()
        .find(|line| line.contains("camera2"))
        .and_then(|line| line.split(':').next())
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no camera2 among {leftovers:?}"));
    signal_pid(camera, "STOP");
    process.signal("INT");
    let status = process.wait_exit(DEADLINE);
    assert_eq!(status.code(), Some(130), "{}", process.output());
    assert_eq!(process.leftovers(), Vec::<String>::new());
}

#[test]
fn a_temporary_directory_with_a_space_gives_the_right_figures() {
    let temp = TempDir::new("scripts-space");
    let tmpdir = temp.path("a b");
    std::fs::create_dir(&tmpdir).expect("make a directory with a space");
    let mut process =
        Process::script_with("pipeline.sh", &["--tasks", "10", "1", "2"], |command| {
            command.env("TMPDIR", &tmpdir);
        });
    let output = process.wait_success(RUN);
    // workers, cost, msec, busiest, msec, ...: the busiest worker did work.
    let rows: Vec<Vec<&str>> = output
        .stdout
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .filter(|fields| fields.len() == 11 && fields[2] == "msec")
        .collect();
    assert_eq!(rows.len(), 2, "{output}");
    for row in rows {
        let busiest: u64 = row[3].parse().expect("a number");
        assert!(busiest > 0, "{row:?}\n{output}");
    }
}

#[test]
fn a_signal_at_start_up_leaves_no_temporary_directory() {
    // The signal at a different moment of the start-up each time, from at
    // once to 10 ms in: not a wait for readiness, the fault's timing.
    let temp = TempDir::new("scripts-start-up");
    for attempt in 0..50 {
        let mut process = Process::script_with("hello.sh", &["--requests", "1"], |command| {
            command.env("TMPDIR", temp.dir());
        });
        std::thread::sleep(Duration::from_micros(200 * attempt));
        process.signal("TERM");
        let status = process.wait_exit(RUN);
        let left: Vec<_> = std::fs::read_dir(temp.dir())
            .expect("list the temporary directory")
            .flatten()
            .map(|entry| entry.file_name())
            .collect();
        assert!(left.is_empty(), "attempt {attempt}, {status}: {left:?}");
    }
}

#[test]
fn sigterm_stops_lazy_pirate_while_its_server_is_down() {
    let mut process = Process::script("lazy-pirate.sh", &["--down-ms", "60000"]);
    process.wait_for(Stream::Stderr, "--- hwserver killed;");
    process.signal("TERM");
    let status = process.wait_exit(Duration::from_secs(5));
    assert_eq!(status.code(), Some(143), "{}", process.output());
    assert_eq!(process.leftovers(), Vec::<String>::new());
}
