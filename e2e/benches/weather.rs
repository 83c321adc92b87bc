//! How fast `wuserver` publishes, next to the guide's program written in
//! plain blocking Rust.
//!
//! Run it with `cargo bench -p e2e --bench weather` (release builds). Both
//! publishers run as processes of their own, bound on `tcp://127.0.0.1:*`,
//! publishing a fixed number of updates and exiting:
//!
//! - `wuserver --updates N`, the release binary;
//! - the guide's loop as a Rust programmer would first write it: `rand::rng()`,
//!   `format!` and a blocking `send` per update. It is this benchmark run
//!   again with `--blocking-publisher <endpoint> <N>`.
//!
//! Subscribers in this process, each in its own thread with its own zip code
//! (10001, 10002, ...), connect as soon as the publisher prints its
//! `listening on` line. The clock runs from that line to the publisher's
//! exit (after its last updates have left), and the figure is nanoseconds
//! per published update. Rounds alternate between the two publishers, so
//! both see the same machine; it prints each round, then the medians, their
//! ranges, the ratio blocking / wuserver (how many times faster wuserver
//! is) and the target: wuserver at most 100 ns per update (the guide's C
//! wuserver takes about 190 ns on the machines this was written on).
//!
//! On a busy machine the wall clock says as much about the neighbours as
//! about the publisher, so it also prints the CPU time the publisher used
//! (all its threads, from the kernel's accounting, in steps of 10 ms) per
//! update: the steadier figure when the two disagree.
//!
//! The subscribers can only connect once the publisher is up, so its first
//! updates go out before anyone has subscribed. That hardly makes them
//! cheaper: a PUB socket filters on its own side, and an update nobody wants
//! costs about the same with one subscriber attached or none
//! (`--subscribers 0` measures the latter). Still, to know: each subscriber
//! watches its socket's monitor for the end of the ZeroMQ handshake, after
//! which its subscription is on its way, and the benchmark reports the
//! latest: a few milliseconds after the `listening on` line for one
//! subscriber, some tens for fifty, in a run of about a second. Every
//! subscriber must receive some updates (one in 100,000 is for its zip
//! code), or the run fails.
//!
//! Options: `--updates N` (default 10,000,000), `--rounds N` (default 5),
//! `--subscribers LIST` (default 1; `1,5,20,50` for the scaling table),
//! `--csv FILE` (the table as CSV, for `docs/plot.py`):
//!
//! ```text
//! cargo bench -p e2e --bench weather -- --subscribers 1,5,20,50 --csv wuserver.csv
//! ```

use std::fmt::Write as _;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use e2e::{DEADLINE, Process};
use rand::RngExt;

/// The argument that makes this benchmark the blocking publisher.
const BLOCKING_PUBLISHER: &str = "--blocking-publisher";

/// The first subscriber's zip code, the guide's; the others take the next.
const FIRST_ZIPCODE: u32 = 10001;

/// wuserver's target, in nanoseconds per update.
const TARGET_NS: f64 = 100.0;

struct Options {
    updates: u64,
    rounds: usize,
    subscribers: Vec<usize>,
    csv: Option<String>,
}

fn options() -> Options {
    let mut options = Options {
        updates: 10_000_000,
        rounds: 5,
        subscribers: vec![1],
        csv: None,
    };
    let mut arguments = std::env::args().skip(1);
    while let Some(flag) = arguments.next() {
        let mut value = || {
            arguments
                .next()
                .unwrap_or_else(|| panic!("{flag} takes a value"))
        };
        let number = |value: &str| {
            value
                .parse::<usize>()
                .unwrap_or_else(|_| panic!("{flag} takes a number, not {value:?}"))
        };
        match flag.as_str() {
            "--updates" => options.updates = number(&value()) as u64,
            "--rounds" => options.rounds = number(&value()),
            "--subscribers" => options.subscribers = value().split(',').map(&number).collect(),
            "--csv" => options.csv = Some(value()),
            // cargo bench passes --bench; ignore what is not ours.
            _ => {}
        }
    }
    assert!(
        options.updates > 0 && options.rounds > 0,
        "--updates and --rounds take a positive number"
    );
    options
}

/// The two sides of the comparison.
#[derive(Clone, Copy)]
enum Publisher {
    Wuserver,
    Blocking,
}

impl Publisher {
    fn start(self, updates: u64) -> Process {
        let updates = updates.to_string();
        match self {
            Publisher::Wuserver => Process::start(
                "wuserver",
                &["--bind", "tcp://127.0.0.1:*", "--updates", &updates],
            ),
            Publisher::Blocking => {
                let mut command = Command::new(std::env::current_exe().expect("own path"));
                command.args([BLOCKING_PUBLISHER, "tcp://127.0.0.1:*", &updates]);
                Process::spawn("blocking publisher", command)
            }
        }
    }
}

/// The guide's wuserver loop, written the obvious way: a fresh random number
/// generator call, a fresh `String` and a blocking send per update.
fn blocking_publisher(endpoint: &str, updates: u64) {
    let context = zmq::Context::new();
    let publisher = context.socket(zmq::PUB).unwrap();
    publisher.bind(endpoint).unwrap();
    let bound = publisher.get_last_endpoint().unwrap().unwrap();
    eprintln!("listening on {bound}");
    let mut random = rand::rng();
    for _ in 0..updates {
        let zipcode = random.random_range(0..100_000);
        let temperature = random.random_range(-80..=134);
        let humidity = random.random_range(10..=59);
        let update = format!("{zipcode:05} {temperature} {humidity}");
        publisher.send(&update, 0).unwrap();
    }
    // libzmq's default linger is forever: dropping the socket and the
    // context waits for the last updates to leave, as wuserver's flush does.
}

/// What one subscriber saw.
struct Subscription {
    /// Updates received, all for its zip code.
    received: u64,
    /// When its handshake with the publisher was done, counted from the
    /// `listening on` line.
    attached: Duration,
}

/// A subscriber thread for `zipcode`, which counts updates until `stop` is
/// set and no more come.
fn subscriber(
    context: &zmq::Context,
    endpoint: &str,
    zipcode: u32,
    started: Instant,
    stop: &Arc<AtomicBool>,
) -> thread::JoinHandle<Subscription> {
    let (context, endpoint, stop) = (context.clone(), endpoint.to_string(), Arc::clone(stop));
    thread::spawn(move || {
        let subscriber = context.socket(zmq::SUB).unwrap();
        subscriber.set_linger(0).unwrap();
        subscriber
            .set_subscribe(format!("{zipcode} ").as_bytes())
            .unwrap();
        // The subscription goes out as soon as the handshake is done; the
        // monitor says when that is.
        let monitor_endpoint = format!("inproc://monitor-{zipcode}");
        let handshake = zmq::SocketEvent::HANDSHAKE_SUCCEEDED.to_raw();
        subscriber
            .monitor(&monitor_endpoint, i32::from(handshake))
            .unwrap();
        let monitor = context.socket(zmq::PAIR).unwrap();
        monitor.connect(&monitor_endpoint).unwrap();
        monitor.set_rcvtimeo(DEADLINE.as_millis() as i32).unwrap();
        subscriber.connect(&endpoint).unwrap();
        monitor
            .recv_multipart(0)
            .unwrap_or_else(|e| panic!("{zipcode}: no handshake with {endpoint}: {e}"));
        let attached = started.elapsed();

        // Once the publisher has exited, `stop` is set; everything it sent
        // is here, or nearly: wait for a quiet moment before stopping.
        subscriber.set_rcvtimeo(100).unwrap();
        let mut update = zmq::Message::new();
        let mut received = 0;
        loop {
            match subscriber.recv(&mut update, 0) {
                Ok(()) => received += 1,
                Err(zmq::Error::EAGAIN) if stop.load(Ordering::Relaxed) => break,
                Err(zmq::Error::EAGAIN) => {}
                Err(e) => panic!("{zipcode}: receive: {e}"),
            }
        }
        Subscription { received, attached }
    })
}

/// One timed run of a publisher.
struct Run {
    updates: u64,
    /// From the `listening on` line to the publisher's exit.
    elapsed: Duration,
    /// The CPU time the publisher used, all its threads together.
    cpu: Duration,
    subscriptions: Vec<Subscription>,
}

impl Run {
    fn wall_ns(&self) -> f64 {
        self.elapsed.as_secs_f64() * 1e9 / self.updates as f64
    }

    fn cpu_ns(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e9 / self.updates as f64
    }

    /// The latest handshake.
    fn attached(&self) -> Duration {
        let attached = self.subscriptions.iter().map(|s| s.attached);
        attached.max().unwrap_or_default()
    }

    /// The round's line for this run: its times, what the subscribers
    /// received and when they were attached.
    fn describe(&self) -> String {
        let times = format!(
            "{:6.1} ns/update, CPU {:6.1}",
            self.wall_ns(),
            self.cpu_ns()
        );
        let received = self.subscriptions.iter().map(|s| s.received);
        let (Some(fewest), Some(most)) = (received.clone().min(), received.max()) else {
            return format!("{times}, no subscribers");
        };
        let received = if fewest < most {
            format!("{fewest}..{most}")
        } else {
            format!("{most}")
        };
        format!(
            "{times}, received {received} each, attached after {:.1} ms",
            self.attached().as_secs_f64() * 1e3,
        )
    }
}

/// Runs `publisher` for `updates` with `subscribers` attached, and checks
/// that it succeeded and that every subscriber received something.
fn run(publisher: Publisher, updates: u64, subscribers: usize) -> Run {
    let mut process = publisher.start(updates);
    let cpu_before = children_cpu_time();
    let endpoint = process.endpoint();
    let started = Instant::now();

    let context = zmq::Context::new();
    let stop = Arc::new(AtomicBool::new(false));
    let zipcodes = (FIRST_ZIPCODE..).take(subscribers);
    let threads: Vec<_> = zipcodes
        .clone()
        .map(|zipcode| subscriber(&context, &endpoint, zipcode, started, &stop))
        .collect();

    // Generous: a deadline only to catch a publisher that hangs.
    let timeout = DEADLINE + Duration::from_micros(updates.saturating_mul(10));
    let status = process.wait_exit(timeout);
    let elapsed = started.elapsed();
    let cpu = children_cpu_time() - cpu_before;
    assert!(status.success(), "{status}\n{}", process.output());

    stop.store(true, Ordering::Relaxed);
    let subscriptions: Vec<Subscription> = threads
        .into_iter()
        .map(|thread| thread.join().expect("a subscriber panicked"))
        .collect();
    for (zipcode, subscription) in zipcodes.zip(&subscriptions) {
        assert!(
            subscription.received > 0,
            "the subscriber for {zipcode} received nothing out of {updates} updates \
             (one in 100,000 is for it): the measurement is bogus"
        );
    }
    Run {
        updates,
        elapsed,
        cpu,
        subscriptions,
    }
}

/// The CPU time, user and system, of this process's children that have
/// been waited for (the harness waits for each as it exits), from Linux's
/// /proc/self/stat, in steps of 10 ms.
fn children_cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("read /proc/self/stat");
    // The fields after the command name, which is in parentheses, from
    // field 3 on.
    let fields: Vec<&str> = stat[stat.rfind(')').expect("(command)") + 1..]
        .split_whitespace()
        .collect();
    let ticks = |field: usize| fields[field - 3].parse::<u64>().expect("clock ticks");
    // Fields 16 and 17, cutime and cstime, in USER_HZ: 100 a second.
    Duration::from_millis((ticks(16) + ticks(17)) * 10)
}

/// The median of some samples, and the range they span.
struct Summary {
    median: f64,
    low: f64,
    high: f64,
}

fn summarize(runs: &[Run], measure: fn(&Run) -> f64) -> Summary {
    let mut samples: Vec<f64> = runs.iter().map(measure).collect();
    samples.sort_by(f64::total_cmp);
    Summary {
        median: samples[samples.len() / 2],
        low: samples[0],
        high: samples[samples.len() - 1],
    }
}

/// The runs of both publishers with one number of subscribers.
struct Row {
    subscribers: usize,
    wuserver: Vec<Run>,
    blocking: Vec<Run>,
}

/// A table of medians and ranges, in ns per update as `measure` counts
/// them, with the rates they make.
fn print_table(title: &str, rows: &[Row], measure: fn(&Run) -> f64) {
    println!("{title}");
    println!(
        "{:<12} {:>10} {:>10} {:>7}  {:<8} {:>11} {:>11}  ranges (ns)",
        "subscribers", "wuserver", "blocking", "ratio", "target", "wuserver/s", "blocking/s"
    );
    let range = |s: &Summary| format!("{:.1}..{:.1}", s.low, s.high);
    for row in rows {
        let wuserver = summarize(&row.wuserver, measure);
        let blocking = summarize(&row.blocking, measure);
        println!(
            "{:<12} {:>10.1} {:>10.1} {:>7.2}  <= {TARGET_NS:<5} {:>10.2}M {:>10.2}M  \
             wuserver {}, blocking {}",
            row.subscribers,
            wuserver.median,
            blocking.median,
            blocking.median / wuserver.median,
            1e3 / wuserver.median,
            1e3 / blocking.median,
            range(&wuserver),
            range(&blocking),
        );
    }
    println!();
}

/// The medians and ranges as CSV, for docs/plot.py, which draws every
/// column ending in `ns_per_update`: the wall-clock figures.
fn write_csv(path: &str, rows: &[Row]) {
    let mut csv = String::from(
        "subscribers,wuserver_ns_per_update,blocking_ns_per_update,\
         wuserver_ns_low,wuserver_ns_high,blocking_ns_low,blocking_ns_high,\
         wuserver_cpu_ns,blocking_cpu_ns\n",
    );
    for row in rows {
        let (w, b) = (
            summarize(&row.wuserver, Run::wall_ns),
            summarize(&row.blocking, Run::wall_ns),
        );
        let (w_cpu, b_cpu) = (
            summarize(&row.wuserver, Run::cpu_ns),
            summarize(&row.blocking, Run::cpu_ns),
        );
        writeln!(
            csv,
            "{},{:.2},{:.2},{:.2},{:.2},{:.2},{:.2},{:.2},{:.2}",
            row.subscribers,
            w.median,
            b.median,
            w.low,
            w.high,
            b.low,
            b.high,
            w_cpu.median,
            b_cpu.median
        )
        .expect("writing to a String");
    }
    std::fs::write(path, csv).unwrap_or_else(|e| panic!("write {path}: {e}"));
}

fn main() {
    let arguments: Vec<String> = std::env::args().collect();
    if let [_, flag, endpoint, updates] = &arguments[..]
        && flag == BLOCKING_PUBLISHER
    {
        blocking_publisher(endpoint, updates.parse().expect("a number of updates"));
        return;
    }

    let options = options();
    let counts: Vec<String> = options.subscribers.iter().map(usize::to_string).collect();
    println!(
        "weather benchmark: ns per update published, {} updates per run, subscribers {} \
         on zip codes from {FIRST_ZIPCODE}, median of {} alternating rounds",
        options.updates,
        counts.join(","),
        options.rounds
    );
    println!();

    let mut rows: Vec<Row> = options
        .subscribers
        .iter()
        .map(|&subscribers| Row {
            subscribers,
            wuserver: Vec::new(),
            blocking: Vec::new(),
        })
        .collect();
    for round in 1..=options.rounds {
        // Every number of subscribers in each round, so that a noisy moment
        // on the machine spreads over all of them.
        for row in &mut rows {
            println!(
                "round {round}/{}, subscribers: {}",
                options.rounds, row.subscribers
            );
            for (name, publisher, runs) in [
                ("wuserver", Publisher::Wuserver, &mut row.wuserver),
                ("blocking", Publisher::Blocking, &mut row.blocking),
            ] {
                let run = run(publisher, options.updates, row.subscribers);
                println!("  {name:<8} {}", run.describe());
                runs.push(run);
            }
        }
    }
    println!();

    print_table(
        "wall clock, ns per update (median); ratio = blocking / wuserver, \
         how many times faster wuserver is",
        &rows,
        Run::wall_ns,
    );
    print_table(
        "CPU time, ns per update (median): the publisher's threads together, \
         whatever else the machine is doing",
        &rows,
        Run::cpu_ns,
    );

    let runs = rows
        .iter()
        .flat_map(|row| row.wuserver.iter().chain(&row.blocking));
    if let Some(latest) = runs.max_by_key(|run| run.attached()) {
        println!(
            "latest handshake: {:.1} ms after the listening line, in a run of {:.0} ms",
            latest.attached().as_secs_f64() * 1e3,
            latest.elapsed.as_secs_f64() * 1e3
        );
    }
    // The target is for the guide's setting, one subscriber.
    let main = rows
        .iter()
        .find(|row| row.subscribers == 1)
        .unwrap_or(&rows[0]);
    let wall = summarize(&main.wuserver, Run::wall_ns).median;
    let cpu = summarize(&main.wuserver, Run::cpu_ns).median;
    let verdict = if wall <= TARGET_NS { "met" } else { "missed" };
    println!(
        "target: wuserver <= {TARGET_NS} ns per update (the guide's C wuserver: about 190): \
         {verdict}, {wall:.1} ns (CPU time {cpu:.1}), subscribers: {}",
        main.subscribers
    );
    if let Some(path) = &options.csv {
        write_csv(path, &rows);
        println!("wrote {path}");
    }
}
