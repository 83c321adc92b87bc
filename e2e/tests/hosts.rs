//! The demos across hosts, and what they survive: `scripts/hosts.sh` makes
//! hosts out of network namespaces on one bridge and runs the pipeline,
//! weather and Lazy Pirate demos across them, over real (virtual) network
//! interfaces rather than loopback. These tests prove that each demo runs
//! so and that the script leaves no namespace, link or process behind, on
//! success, on failure and on SIGINT or SIGTERM; and they unplug hosts and
//! kill or stop programs mid-run to show what each pattern survives: a
//! worker unplugged for 3 s (the batch completes, late), a worker killed
//! (the sink's `--timeout-ms` reports the loss), the weather server
//! unplugged (every client finishes) and the Lazy Pirate's server unplugged
//! or stopped (the client retries and finishes).
//!
//! Making namespaces needs root (CI runs as root). Run as anyone else, each
//! such test prints one line saying why it did not run, and passes; the
//! script's own answer to a user who is not root is tested either way.
//!
//! Each run's names start with `zguide-<the script's pid>-`, so the tests
//! run in parallel without meeting; inside its namespaces a run is alone,
//! so the guide's fixed ports and addresses are safe there.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus};
use std::thread;
use std::time::{Duration, Instant};

use e2e::{COLLECTING, DEADLINE, Output, Process, Stream, euid, run_tool, signal_pid};

/// A whole run of the script, generous for a busy machine: the runs here
/// take a few seconds, a fault's 3 s included.
const RUN: Duration = Duration::from_secs(60);

/// How long a fault lasts.
const OUTAGE: Duration = Duration::from_secs(3);

/// Whether the test can make network namespaces; if not, says so in one
/// line, for the test to return.
fn root(test: &str) -> bool {
    let uid = euid();
    if uid != 0 {
        // Straight to stderr: the test harness captures `println!` and
        // `eprintln!` of a test that passes, and this line is for the user.
        let _ = writeln!(
            std::io::stderr(),
            "hosts::{test} did not run: network namespaces need root, and this is uid {uid}"
        );
    }
    uid == 0
}

/// A run of `scripts/hosts.sh`. Dropping it kills the script, and then
/// removes whatever the script did not (it was killed, or the test failed
/// first): every namespace whose name starts with the run's prefix, and
/// the processes in them.
struct Hosts {
    script: Process,
    /// `zguide-<pid>-`: what the names of the run's namespaces start with.
    prefix: String,
}

impl Hosts {
    /// Starts the script leading a process group of its own, as a shell
    /// starts a foreground job, so that [`Hosts::interrupt`] is Ctrl-C.
    fn start(args: &[&str]) -> Hosts {
        let script = Process::script_with("hosts.sh", args, |command| {
            command.process_group(0);
        });
        let prefix = format!("zguide-{}-", script.id());
        Hosts { script, prefix }
    }

    /// Stops the run as Ctrl-C or `kill` do: SIGINT to the script and all
    /// it runs, or SIGTERM to the script alone.
    fn interrupt(&self, signal: &str) {
        match signal {
            "INT" => self.script.ctrl_c(),
            _ => self.script.signal(signal),
        }
    }

    /// The namespace of the run's bridge, from the script's first line.
    fn switch(&self) -> String {
        let line = self
            .script
            .wait_for(Stream::Stdout, "bridge br0 in network namespace ");
        let switch = line
            .split_whitespace()
            .nth(5)
            .and_then(|name| name.strip_suffix(','))
            .unwrap_or_else(|| panic!("no namespace in {line:?}"));
        assert!(switch.starts_with(&self.prefix), "{line}");
        switch.to_string()
    }

    /// The namespace of host `host`.
    fn namespace(&self, host: u32) -> String {
        let switch = self.switch();
        format!("{}-h{host}", switch.strip_suffix("-sw").expect("-sw"))
    }

    /// Takes the host's cable out (its port on the bridge down) or puts it
    /// back in.
    fn cable(&self, host: u32, state: &str) {
        let port = format!("h{host}");
        run_tool("ip", &["-n", &self.switch(), "link", "set", &port, state]);
    }

    /// Unplugs the host for [`OUTAGE`], and returns how long it was away
    /// from `since` on: the time from `since` to its cable going back in.
    fn unplug_for_a_while(&self, host: u32, since: Instant) -> Duration {
        self.cable(host, "down");
        thread::sleep(OUTAGE); // The fault itself, not a wait for readiness.
        self.cable(host, "up");
        since.elapsed()
    }

    /// The processes running on a host.
    fn pids_on(&self, host: u32) -> Vec<u32> {
        run_tool("ip", &["netns", "pids", &self.namespace(host)])
            .lines()
            .map(|pid| pid.parse().expect("a pid"))
            .collect()
    }

    /// Waits for the sink's first mark: the batch is under way.
    fn wait_for_first_result(&self) {
        self.script
            .wait_until("the sink's first mark", DEADLINE, |output| {
                output.stdout.contains("\n:").then_some(())
            });
    }

    /// Waits for the script to exit, checks it left nothing behind, and
    /// returns its status and what it printed.
    fn finish(&mut self) -> (ExitStatus, Output) {
        let status = self.script.wait_exit(RUN);
        let output = self.script.output();
        self.assert_nothing_left(&output);
        (status, output)
    }

    /// Waits for the script to succeed, and checks it left nothing behind.
    fn succeed(&mut self) -> Output {
        let (status, output) = self.finish();
        assert!(status.success(), "{status}\n{output}");
        output
    }

    /// No namespace of the run's, no link with its names, no process.
    fn assert_nothing_left(&self, output: &Output) {
        let namespaces = self.namespaces();
        assert_eq!(namespaces, Vec::<String>::new(), "{output}");
        // The script makes its links inside its namespaces (the bridge br0
        // and the veths h<N> and eth0), none here; and a link there goes
        // with its namespace, which goes once no process holds it.
        let links = run_tool("ip", &["-o", "link"]);
        assert!(!links.contains(&self.prefix), "{links}\n{output}");
        assert_eq!(self.script.leftovers(), Vec::<String>::new(), "{output}");
    }

    /// The run's namespaces that exist.
    fn namespaces(&self) -> Vec<String> {
        run_tool("ip", &["netns", "list"])
            .lines()
            .filter_map(|line| line.split_whitespace().next())
            .filter(|name| name.starts_with(&self.prefix))
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        if self.script.output().status().is_none() {
            let _ = Command::new("kill")
                .args(["-KILL", &self.script.id().to_string()])
                .status();
        }
        // What the script left is the run's: its namespaces were made for
        // it, so whatever runs in them is its programs.
        for namespace in self.namespaces() {
            let pids = Command::new("ip")
                .args(["netns", "pids", &namespace])
                .output()
                .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
                .unwrap_or_default();
            for pid in pids.lines() {
                let _ = Command::new("kill").args(["-KILL", pid]).status();
            }
            let _ = Command::new("ip")
                .args(["netns", "del", &namespace])
                .status();
        }
    }
}

/// The number in the first line of `output` that reads `before<N>after`.
fn number_between(output: &Output, before: &str, after: &str) -> u64 {
    output
        .stdout
        .lines()
        .chain(output.stderr.lines())
        .find_map(|line| {
            let (_, rest) = line.split_once(before)?;
            rest.split_once(after)?.0.parse().ok()
        })
        .unwrap_or_else(|| panic!("no {before:?}N{after:?}\n{output}"))
}

/// The work each worker host did, in ms, from the script's summary lines.
fn work_per_host(output: &Output) -> Vec<u64> {
    output
        .stdout
        .lines()
        .filter(|line| line.contains(": taskwork did "))
        .filter_map(|line| {
            let (_, work) = line.split_once(" tasks, ")?;
            work.strip_suffix(" msec of work")?.parse().ok()
        })
        .collect()
}

/// As root, runs the script with `args` to success, checks it printed
/// each of `lines` on stdout and left nothing behind, and returns what it
/// printed. Not as root, says why `test` did not run.
fn run_demo(test: &str, args: &[&str], lines: &[&str]) -> Option<Output> {
    if !root(test) {
        return None;
    }
    let output = Hosts::start(args).succeed();
    for line in lines {
        assert!(output.stdout.contains(line), "{line}\n{output}");
    }
    Some(output)
}

/// The sink's marks for `results` results.
fn marks(results: usize) -> String {
    (0..results)
        .map(|index| if index % 10 == 0 { ':' } else { '.' })
        .collect()
}

#[test]
fn help_and_bad_command_lines_need_no_root() {
    let mut help = Process::script("hosts.sh", &["--help"]);
    let output = help.wait_success(DEADLINE);
    assert!(
        output.stdout.starts_with("Usage: scripts/hosts.sh"),
        "{output}"
    );
    for args in [&[][..], &["--hosts", "1", "pipeline"], &["teapot"]] {
        let mut process = Process::script("hosts.sh", args);
        let status = process.wait_exit(DEADLINE);
        assert_eq!(status.code(), Some(2), "{args:?}\n{}", process.output());
    }
}

#[test]
fn without_root_the_script_says_so_in_one_line_and_exits_2() {
    let script = e2e::workspace_root().join("scripts").join("hosts.sh");
    let mut command = if euid() == 0 {
        // As root, as the user nobody (no capabilities either: setpriv
        // drops them with the user id).
        let mut command = Command::new("setpriv");
        command.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
        command.arg(script);
        command
    } else {
        Command::new(script)
    };
    command.arg("pipeline");
    let mut process = Process::spawn("hosts.sh as nobody", command);
    let status = process.wait_exit(DEADLINE);
    let output = process.output();
    assert_eq!(status.code(), Some(2), "{output}");
    assert_eq!(output.stdout, "", "{output}");
    assert_eq!(output.stderr.lines().count(), 1, "{output}");
    assert!(output.stderr.contains("needs root"), "{output}");
}

#[test]
fn the_pipeline_runs_across_hosts_and_leaves_nothing_behind() {
    let Some(output) = run_demo(
        "the_pipeline_runs_across_hosts_and_leaves_nothing_behind",
        &["--hosts", "3", "--tasks", "10", "pipeline"],
        // The guide's ports, as on real hosts: each run's namespaces are
        // its own, so no other program can be listening there (see the
        // header), which is what a test binding 127.0.0.1:* guards against.
        &[
            "host 1: tasksink --bind 'tcp://*:5558' --tasks 10 --control 'tcp://*:5559'\n",
            "host 1: taskvent --bind 'tcp://*:5557' --sink tcp://localhost:5558 --tasks 10 --workers 2",
            "host 2: taskwork --connect tcp://198.18.0.1:5557 --sink tcp://198.18.0.1:5558 --control tcp://198.18.0.1:5559\n",
            "host 3: taskwork --connect tcp://198.18.0.1:5557 --sink tcp://198.18.0.1:5558 --control tcp://198.18.0.1:5559\n",
            ":.........Total elapsed time: ",
            "Speedup: ",
        ],
    ) else {
        return;
    };
    // Both workers had a share.
    let work = work_per_host(&output);
    assert!(work.len() == 2 && work.iter().all(|&ms| ms > 0), "{output}");
}

#[test]
fn weather_runs_across_hosts_and_leaves_nothing_behind() {
    run_demo(
        "weather_runs_across_hosts_and_leaves_nothing_behind",
        &["--hosts", "3", "--updates", "5", "weather"],
        &[
            "host 1: wuserver --bind 'tcp://*:5556'\n",
            "host 2: wuclient '10001 ' --connect tcp://198.18.0.1:5556 --updates 5\n",
            "Average temperature for zipcode '10001 ' was ",
            "Average temperature for zipcode '10002 ' was ",
            "2 clients collected 5 updates each in ",
        ],
    );
}

#[test]
fn ctrl_c_or_sigterm_mid_batch_stops_the_script_and_it_leaves_nothing_behind() {
    if !root("ctrl_c_or_sigterm_mid_batch_stops_the_script_and_it_leaves_nothing_behind") {
        return;
    }
    for (signal, code) in [("INT", 130), ("TERM", 143)] {
        // About 5 s of work for each worker: still going at the signal.
        let mut hosts = Hosts::start(&["--hosts", "3", "--tasks", "200", "pipeline"]);
        hosts.wait_for_first_result();
        hosts.interrupt(signal);
        let (status, output) = hosts.finish();
        assert_eq!(status.code(), Some(code), "SIG{signal}\n{output}");
    }
}

#[test]
fn ctrl_c_or_sigterm_while_the_hosts_are_made_leaves_nothing_behind() {
    if !root("ctrl_c_or_sigterm_while_the_hosts_are_made_leaves_nothing_behind") {
        return;
    }
    for (signal, code) in [("INT", 130), ("TERM", 143)] {
        // The bridge is there, and the script goes on to make 50 hosts.
        let mut hosts = Hosts::start(&["--hosts", "50", "pipeline"]);
        hosts.switch();
        hosts.interrupt(signal);
        let (status, output) = hosts.finish();
        assert_eq!(status.code(), Some(code), "SIG{signal}\n{output}");
        assert!(
            !output.stdout.contains("host 50: "),
            "SIG{signal} came after the set-up: no test\n{output}"
        );
    }
}

#[test]
fn a_worker_unplugged_for_3_s_mid_batch_delays_the_batch_but_loses_nothing() {
    if !root("a_worker_unplugged_for_3_s_mid_batch_delays_the_batch_but_loses_nothing") {
        return;
    }
    // A small batch, 10 tasks a worker: without the fault it takes about
    // 500 ms, so the outage stands out, and each worker still has a few
    // hundred ms of work when the first result comes.
    const TASKS: usize = 20;
    let mut hosts = Hosts::start(&["--hosts", "3", "--tasks", "20", "--seed", "1", "pipeline"]);
    hosts.wait_for_first_result();
    // The sink's clock started before its first mark: it has run at least
    // as long as from that mark to the cable going back in.
    let away = hosts.unplug_for_a_while(2, Instant::now());
    let output = hosts.succeed();
    assert!(
        output
            .stdout
            .contains(&format!("{}Total elapsed time: ", marks(TASKS))),
        "every result arrived\n{output}"
    );
    let elapsed = number_between(&output, "Total elapsed time: ", " msec");
    let busiest = work_per_host(&output).into_iter().max().unwrap_or_default();
    // The worker went on working while unplugged (its results waited in
    // its TCP buffers), so the batch took the outage, not the outage plus
    // its work: the stall shows as seconds beyond the busiest worker's
    // work, which is all a healthy batch takes.
    println!("unplugged for {away:?}: elapsed {elapsed} msec, busiest worker {busiest} msec");
    assert!(elapsed >= away.as_millis() as u64, "{away:?}\n{output}");
    assert!(busiest < 1000, "{output}");
}

#[test]
fn a_worker_killed_mid_batch_leaves_the_sink_to_report_how_many_arrived() {
    if !root("a_worker_killed_mid_batch_leaves_the_sink_to_report_how_many_arrived") {
        return;
    }
    // 20 tasks a worker, about a second of work: the killed one cannot
    // have finished at the sink's first mark.
    let mut hosts = Hosts::start(&[
        "--hosts",
        "3",
        "--tasks",
        "40",
        "--seed",
        "7",
        "--timeout-ms",
        "1000",
        "pipeline",
    ]);
    hosts.wait_for_first_result();
    let worker = hosts.pids_on(2);
    assert_eq!(worker.len(), 1, "one worker on host 2: {worker:?}");
    signal_pid(worker[0], "KILL");
    // The script fails with its sink, and still leaves nothing behind.
    let (status, output) = hosts.finish();
    assert_eq!(status.code(), Some(1), "{output}");
    let arrived = number_between(
        &output,
        "error: ",
        " of 40 results arrived; none for 1000 ms",
    );
    println!("worker killed mid-batch: {arrived} of 40 results arrived");
    assert!(arrived < 40, "{output}");
    assert!(
        output
            .stdout
            .contains(&format!("{}\n", marks(arrived as usize))),
        "a mark for each result that arrived\n{output}"
    );
    assert!(
        output.stderr.contains("tasksink-2 exited with status 1"),
        "{output}"
    );
}

#[test]
fn every_weather_client_finishes_when_the_server_is_unplugged_and_back() {
    if !root("every_weather_client_finishes_when_the_server_is_unplugged_and_back") {
        return;
    }
    // 200 updates for one zip code out of 100,000: a second or two of the
    // server's publishing, more than the time to unplug it.
    let mut hosts = Hosts::start(&["--hosts", "3", "--updates", "200", "weather"]);
    hosts
        .script
        .wait_until("both clients collecting", DEADLINE, |output| {
            (output.stdout.matches(COLLECTING).count() == 2).then_some(())
        });
    let away = hosts.unplug_for_a_while(1, Instant::now());
    let before = hosts.script.output();
    assert!(
        !before.stdout.contains("Average"),
        "a client finished before the server was back: no test\n{before}"
    );
    let output = hosts.succeed();
    for zipcode in ["10001", "10002"] {
        let line = format!("Average temperature for zipcode '{zipcode} ' was ");
        assert!(output.stdout.contains(&line), "{output}");
    }
    let took = number_between(&output, "2 clients collected 200 updates each in ", " msec");
    println!("server unplugged for {away:?}: the clients took {took} msec");
    assert!(took >= away.as_millis() as u64, "{output}");
}

/// Runs the Lazy Pirate demo with one client, and `fault` on it once the
/// client has had two replies; checks that the client still got every
/// reply, and retried.
fn lazy_pirate_survives(fault_name: &str, fault: impl FnOnce(&Hosts)) {
    // Requests paced by the server's 100 ms of work; the client waits
    // 500 ms for a reply and tries 20 times: 10 s, far more than the
    // outage.
    let mut hosts = Hosts::start(&[
        "--hosts",
        "2",
        "--requests",
        "6",
        "--work-ms",
        "100",
        "--timeout-ms",
        "500",
        "--retries",
        "20",
        "lazy-pirate",
    ]);
    hosts.script.wait_for(Stream::Stdout, "Received World 1");
    let began = Instant::now();
    fault(&hosts);
    let output = hosts.succeed();
    let retries = output.stderr.matches("retrying on a new socket").count();
    println!(
        "server {fault_name}: the client retried {retries} times and finished {:?} after the fault began",
        began.elapsed()
    );
    for request in 0..6 {
        let line = format!("Received World {request}\n");
        assert_eq!(output.stdout.matches(&line).count(), 1, "{line}\n{output}");
    }
    assert!(
        output.stderr.lines().any(|line| line
            .starts_with("host 2: lpclient: warning: no reply to request ")
            && line.contains(" in 500 ms, retrying on a new socket")),
        "{output}"
    );
}

#[test]
fn the_lazy_pirate_client_survives_its_servers_host_unplugged_and_back() {
    if !root("the_lazy_pirate_client_survives_its_servers_host_unplugged_and_back") {
        return;
    }
    lazy_pirate_survives("unplugged for 3 s", |hosts| {
        hosts.unplug_for_a_while(1, Instant::now());
    });
}

#[test]
fn the_lazy_pirate_client_survives_its_server_stopped_and_continued() {
    if !root("the_lazy_pirate_client_survives_its_server_stopped_and_continued") {
        return;
    }
    lazy_pirate_survives("stopped for 3 s", |hosts| {
        let server = hosts.pids_on(1);
        assert_eq!(server.len(), 1, "one server on host 1: {server:?}");
        signal_pid(server[0], "STOP");
        thread::sleep(OUTAGE); // The fault itself.
        signal_pid(server[0], "CONT");
    });
}
