//! Hello world's round trip: `hwserver` and `hwclient` on zsource, side by
//! side with the same pair written the guide's way, with blocking calls.
//!
//! Run it with `cargo bench -p e2e --bench hello` (release builds of
//! everything). Both pairs run as two real processes on TCP loopback, the
//! server with no work to do (`hwserver --work-ms 0`), and both print the
//! guide's lines to /dev/null. The blocking pair is this benchmark itself,
//! run again with `--blocking-server` or `--blocking-client`.
//!
//! A round trip's time is the client's whole run, from spawn to exit, over
//! the number of requests. Nothing is subtracted: start-up and shutdown
//! count for both pairs alike, and the benchmark shows what they cost (a
//! run with one request), so you can see they are lost in the noise.
//!
//! A third pair, `hwserver` with the blocking client, shows the server's
//! share alone: the event loop on one end of the round trip instead of two.
//!
//! It first checks that the pairs print the same lines, then measures in
//! alternating rounds so that both see the same machine, and prints the
//! median of each, the range, and the ratio zsource / blocking; also the
//! median of the ratios within each round, which the machine's drift
//! disturbs less. On these shared 2-core VMs one run differs from the next
//! by up to 10% or so, whichever the program, hence 15 rounds. It also
//! shows the CPU time per round trip, client and server together: that is
//! where an event loop's extra system calls show. Options: `--requests N`
//! (default 20,000), `--rounds N` (default 15).

use std::error::Error;
use std::io::{self, BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::Instant;

const BLOCKING_SERVER: &str = "--blocking-server";
const BLOCKING_CLIENT: &str = "--blocking-client";

/// Where the servers bind: loopback, on a port the system picks.
const BIND: &str = "tcp://127.0.0.1:*";

/// What a blocking REQ/REP round trip between two C processes on TCP
/// loopback takes on the project's machines, to set the figures in context.
const C_ANCHOR: &str = "a blocking REQ/REP round trip between C processes on TCP loopback \
                        takes about 110-140 us on these machines";

/// The guide's hwserver, blocking: receive, print, reply, for ever.
fn blocking_server(bind: &str) -> Result<(), Box<dyn Error>> {
    let context = zmq::Context::new();
    let responder = context.socket(zmq::REP)?;
    responder.bind(bind)?;
    let endpoint = responder
        .get_last_endpoint()?
        .unwrap_or_else(|raw| String::from_utf8_lossy(&raw).into_owned());
    eprintln!("listening on {endpoint}");
    loop {
        let request = responder.recv_bytes(0)?;
        println!("Received {}", String::from_utf8_lossy(&request));
        responder.send("World", 0)?;
    }
}

/// The guide's hwclient, blocking: send "Hello", wait for the reply, print.
fn blocking_client(endpoint: &str, requests: usize) -> Result<(), Box<dyn Error>> {
    println!("Connecting to hello world server...");
    let context = zmq::Context::new();
    let requester = context.socket(zmq::REQ)?;
    requester.connect(endpoint)?;
    for number in 0..requests {
        println!("Sending Hello {number}...");
        requester.send("Hello", 0)?;
        let reply = requester.recv_bytes(0)?;
        println!("Received {} {number}", String::from_utf8_lossy(&reply));
    }
    Ok(())
}

/// Which pair of programs to run.
#[derive(Debug, Clone, Copy)]
enum Pair {
    /// This benchmark as `--blocking-server` and `--blocking-client`.
    Blocking,
    /// `hwserver` and `hwclient`, on zsource.
    Zsource,
    /// `hwserver` with the blocking client.
    Server,
}

impl Pair {
    fn server(self) -> Command {
        match self {
            Pair::Zsource | Pair::Server => {
                let mut command = Command::new(e2e::program("hwserver"));
                command.args(["--bind", BIND, "--work-ms", "0"]);
                command
            }
            Pair::Blocking => {
                let mut command = Command::new(std::env::current_exe().unwrap());
                command.args([BLOCKING_SERVER, BIND]);
                command
            }
        }
    }

    fn client(self, endpoint: &str, requests: usize) -> Command {
        let requests = requests.to_string();
        match self {
            Pair::Zsource => {
                let mut command = Command::new(e2e::program("hwclient"));
                command.args(["--connect", endpoint, "--requests", &requests]);
                command
            }
            Pair::Blocking | Pair::Server => {
                let mut command = Command::new(std::env::current_exe().unwrap());
                command.args([BLOCKING_CLIENT, endpoint, &requests]);
                command
            }
        }
    }
}

/// A running server; dropping it kills it.
struct Server {
    child: Child,
    endpoint: String,
}

impl Server {
    /// Starts the pair's server with its stdout going to `stdout`, and waits
    /// until it listens: a client that came first would wait for ZeroMQ's
    /// reconnect timer, and that is not what we measure.
    fn start(pair: Pair, stdout: Stdio) -> Server {
        let mut child = pair
            .server()
            .stdout(stdout)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        let endpoint = loop {
            line.clear();
            assert_ne!(
                stderr.read_line(&mut line).unwrap(),
                0,
                "{pair:?}: no endpoint"
            );
            if let Some(endpoint) = line.trim_end().strip_prefix("listening on ") {
                break endpoint.to_string();
            }
            eprint!("{pair:?} server: {line}");
        };
        // Pass on any warning, and keep the pipe from filling up.
        thread::spawn(move || io::copy(&mut stderr, &mut io::stderr()));
        Server { child, endpoint }
    }

    /// Stops the server and returns what it printed, if its stdout was piped.
    fn stop(mut self) -> String {
        self.child.kill().unwrap();
        let mut printed = String::new();
        if let Some(mut stdout) = self.child.stdout.take() {
            stdout.read_to_string(&mut printed).unwrap();
        }
        printed
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the pair with a few requests and returns what the client and the
/// server printed.
fn printed(pair: Pair) -> (String, String) {
    let server = Server::start(pair, Stdio::piped());
    let client = pair.client(&server.endpoint, 3).output().unwrap();
    assert!(
        client.status.success(),
        "{pair:?} client: {}",
        client.status
    );
    let client = String::from_utf8(client.stdout).unwrap();
    (client, server.stop())
}

/// What one client run took.
struct Run {
    /// From the client's spawn to its exit.
    seconds: f64,
    /// CPU time, user and system, of the client and the server together.
    cpu_seconds: f64,
}

/// Runs a server and a client that makes `requests` round trips, with
/// everything printed going to /dev/null.
fn client_run(pair: Pair, requests: usize) -> Run {
    let cpu_before = children_cpu_seconds();
    let server = Server::start(pair, Stdio::null());
    let mut client = pair.client(&server.endpoint, requests);
    client.stdout(Stdio::null());
    let started = Instant::now();
    let status = client.status().unwrap();
    let seconds = started.elapsed().as_secs_f64();
    assert!(status.success(), "{pair:?} client: {status}");
    drop(server);
    Run {
        seconds,
        cpu_seconds: children_cpu_seconds() - cpu_before,
    }
}

/// The CPU time used by this process's children that have exited and been
/// waited for: cutime and cstime, fields 16 and 17 of /proc/self/stat, in
/// ticks of 1/100 s (Linux's USER_HZ).
fn children_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // Count from the end of the command name, which may contain spaces:
    // the first field after it is field 3.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .collect();
    let ticks = |field: usize| fields[field - 3].parse::<u64>().unwrap();
    (ticks(16) + ticks(17)) as f64 / 100.0
}

/// What one pair measured, round by round, in seconds.
#[derive(Default)]
struct Samples {
    round_trip: Vec<f64>,
    /// CPU time per round trip, client and server together.
    cpu: Vec<f64>,
    /// A client run with one request.
    once: Vec<f64>,
}

struct Options {
    requests: usize,
    rounds: usize,
}

fn options() -> Options {
    let mut options = Options {
        requests: 20_000,
        rounds: 15,
    };
    let mut arguments = std::env::args().skip(1);
    while let Some(flag) = arguments.next() {
        let slot = match flag.as_str() {
            "--requests" => &mut options.requests,
            "--rounds" => &mut options.rounds,
            // cargo bench passes --bench; ignore what is not ours.
            _ => continue,
        };
        *slot = arguments
            .next()
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("{flag} takes a number"));
    }
    assert!(options.requests > 0, "--requests must be at least 1");
    options
}

/// The median of some samples, and the range they span.
struct Summary {
    median: f64,
    low: f64,
    high: f64,
}

fn summarize(mut samples: Vec<f64>, scale: f64) -> Summary {
    samples.sort_by(f64::total_cmp);
    Summary {
        median: samples[samples.len() / 2] * scale,
        low: samples[0] * scale,
        high: samples[samples.len() - 1] * scale,
    }
}

fn row(name: &str, blocking: &Summary, zsource: &Summary, target: &str) {
    let range = |s: &Summary| format!("{:.1}..{:.1}", s.low, s.high);
    println!(
        "{name:<30} {:>10.1} {:>10.1} {:>7.3}  {target:<8} ranges: blocking {}, zsource {}",
        blocking.median,
        zsource.median,
        zsource.median / blocking.median,
        range(blocking),
        range(zsource),
    );
}

/// The machine is shared: the load says how far to trust the figures.
fn load() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    load.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn main() {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    match arguments.first().map(String::as_str) {
        Some(BLOCKING_SERVER) => return blocking_server(&arguments[1]).unwrap(),
        Some(BLOCKING_CLIENT) => {
            let requests = arguments[2].parse().unwrap();
            return blocking_client(&arguments[1], requests).unwrap();
        }
        _ => {}
    }
    let options = options();
    // Build hwserver and hwclient first, so no build falls in a measurement.
    e2e::build_dir();
    println!(
        "hello benchmark: hwserver --work-ms 0 and hwclient against a blocking REQ/REP pair, \
         processes on TCP loopback, {} requests, median of {} alternating rounds, \
         load average {}",
        options.requests,
        options.rounds,
        load()
    );

    // Like for like: the pairs print the same lines.
    let blocking = printed(Pair::Blocking);
    assert_eq!(
        blocking,
        printed(Pair::Zsource),
        "the pairs print different lines"
    );
    assert_eq!(
        blocking,
        printed(Pair::Server),
        "the pairs print different lines"
    );

    let mut samples = [Samples::default(), Samples::default(), Samples::default()];
    // zsource / blocking within each round: the machine's speed drifts, and
    // both runs of a round see nearly the same machine.
    let mut ratios = Vec::new();
    let requests = options.requests as f64;
    for round in 0..options.rounds {
        // Take turns at going first.
        let pairs = match round % 3 {
            0 => [Pair::Blocking, Pair::Zsource, Pair::Server],
            1 => [Pair::Zsource, Pair::Server, Pair::Blocking],
            _ => [Pair::Server, Pair::Blocking, Pair::Zsource],
        };
        for pair in pairs {
            let samples = &mut samples[pair as usize];
            let run = client_run(pair, options.requests);
            samples.round_trip.push(run.seconds / requests);
            samples.cpu.push(run.cpu_seconds / requests);
            samples.once.push(client_run(pair, 1).seconds);
        }
        let [blocking, zsource, _] = samples.each_ref().map(|s| s.round_trip[round]);
        ratios.push(zsource / blocking);
    }
    let [blocking, zsource, server] = samples;

    println!();
    println!(
        "{:<30} {:>10} {:>10} {:>7}  target",
        "median", "blocking", "zsource", "ratio"
    );
    row(
        "hello round trip (us)",
        &summarize(blocking.round_trip.clone(), 1e6),
        &summarize(zsource.round_trip, 1e6),
        "<= 1.05",
    );
    row(
        "hwserver only, round trip (us)",
        &summarize(blocking.round_trip, 1e6),
        &summarize(server.round_trip, 1e6),
        "-",
    );
    row(
        "CPU per round trip, both (us)",
        &summarize(blocking.cpu, 1e6),
        &summarize(zsource.cpu, 1e6),
        "-",
    );
    row(
        "client run, 1 request (ms)",
        &summarize(blocking.once, 1e3),
        &summarize(zsource.once, 1e3),
        "-",
    );
    let ratios = summarize(ratios, 1.0);
    println!(
        "{:<30} {:>29.3}  {:<8} range {:.3}..{:.3}",
        "round trip, ratio per round", ratios.median, "<= 1.05", ratios.low, ratios.high
    );
    println!();
    println!("context: {C_ANCHOR}");
    println!("load average at the end: {}", load());
}
