//! Bounded memory: `wuserver` publishing at full speed to five subscribers
//! that stop reading (SIGSTOP) for 30 seconds stays under 64 MB resident,
//! and serves them again once they continue (SIGCONT).
//!
//! Why it stays bounded: libzmq's PUB queues at most SNDHWM messages (1000
//! by default) for each subscriber and drops the rest, and what the stopped
//! subscribers have not read beyond that waits in the kernel's TCP buffers,
//! which are not the server's resident memory.
//!
//! `cargo test -p e2e --test memory` measures the debug build, as every
//! other test does; `cargo test --release` measures the release build. Run
//! with `-- --nocapture` to see the figures.

use std::fs;
use std::thread;
use std::time::{Duration, Instant};

use e2e::{DEADLINE, Process};

/// The requirement: this long with every subscriber stopped. Not a wait for
/// readiness: the test is that nothing grows in all this time.
const STOPPED_FOR: Duration = Duration::from_secs(30);

/// How often the test reads the server's resident memory while it waits.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// The most the server may ever have resident, in kB as /proc reports it.
const LIMIT_KB: u64 = 64 * 1024;

const SUBSCRIBERS: usize = 5;

/// A subscriber prints a line every this many updates.
const EVERY: u64 = 10_000;

/// The fewest bytes an update takes on the wire: a two-byte ZMTP frame
/// header and the shortest update, "00000 0 10".
const SMALLEST_UPDATE: u64 = 12;

/// Updates the two ZeroMQs may hold for one subscriber besides the kernel:
/// at the server, libzmq's pipe to it (SNDHWM, 1000 by default) and a batch
/// of 8 KiB being encoded; at the subscriber, zmq.rs's read buffer, at most
/// 64 KiB (it queues nothing beyond what it has read). Counted as updates
/// of the smallest size.
const ZEROMQ_HOLDS: u64 = 1000 + (8192 + 65536) / SMALLEST_UPDATE;

/// How long the subscribers have to catch up after SIGCONT: each reads a
/// backlog of up to a million updates first, five at once on a busy 2-core
/// machine. (zmq.rs sets a 4 MiB SO_RCVBUF, which the kernel doubles, so
/// its subscribers' backlogs are larger than libzmq's.)
const CATCH_UP: Duration = Duration::from_secs(60);

#[test]
fn stopped_subscribers_do_not_grow_the_servers_memory() {
    let server = Process::start("wuserver", &["--bind", "tcp://127.0.0.1:*"]);
    let endpoint = server.endpoint();
    let port = endpoint.rsplit(':').next().expect("a port");
    let port: u16 = port.parse().expect("a TCP port");

    // The empty filter, everything, is the most demanding case: each
    // subscriber's queue at the server fills within a thousand updates, and
    // stays full while the server keeps publishing to all five. With a zip
    // code filter (the server filters for TCP subscribers) only one update
    // in 100000 is queued for a subscriber, so its queue fills a hundred
    // thousand times slower.
    let subscribers: Vec<Process> = (0..SUBSCRIBERS)
        .map(|_| {
            let every = EVERY.to_string();
            Process::peer(&["subscriber", "--connect", &endpoint, "--every", &every])
        })
        .collect();
    for subscriber in &subscribers {
        wait_for_count(subscriber, EVERY, DEADLINE);
    }
    let served = memory_kb(server.id(), "VmHWM");

    for subscriber in &subscribers {
        subscriber.signal("STOP");
    }
    let started = Instant::now();
    let mut largest_rss = 0;
    while started.elapsed() < STOPPED_FOR {
        largest_rss = largest_rss.max(memory_kb(server.id(), "VmRSS"));
        thread::sleep(SAMPLE_EVERY);
    }
    // VmHWM is the peak since the server started, samples or not. (The
    // kernel's resident counts are approximate, gathered up now and then, so
    // a sample may be a little over a VmHWM read after it: take the larger.)
    let hwm = memory_kb(server.id(), "VmHWM");
    let peak = hwm.max(largest_rss);
    let queued: Vec<u64> = subscribers
        .iter()
        .map(|subscriber| kernel_queued_bytes(port, subscriber.id()))
        .collect();
    let all_queued: u64 = queued.iter().sum();
    println!(
        "wuserver peak resident (VmHWM): {served} kB while serving, {hwm} kB after \
         {STOPPED_FOR:?} with {SUBSCRIBERS} subscribers stopped (largest VmRSS sampled: \
         {largest_rss} kB); in the kernel's TCP buffers, not resident: {all_queued} bytes"
    );
    for subscriber in &subscribers {
        assert_eq!(state(subscriber.id()), 'T', "a subscriber was not stopped");
    }
    assert!(
        peak < LIMIT_KB,
        "wuserver peaked at {peak} kB, over {LIMIT_KB} kB"
    );

    // Read now, the stop long past, so no line is still on its way. A
    // subscriber has read fewer than EVERY updates past its last line.
    let stopped_at: Vec<u64> = subscribers.iter().map(count).collect();
    for subscriber in &subscribers {
        subscriber.signal("CONT");
    }
    // What a subscriber reads first was queued while it was stopped: in the
    // kernel, on its connection, and in the two ZeroMQs. Once it has read
    // more than that could be, it is being served again.
    for ((subscriber, stopped_at), queued) in subscribers.iter().zip(stopped_at).zip(queued) {
        let backlog = queued / SMALLEST_UPDATE + ZEROMQ_HOLDS + EVERY;
        wait_for_count(subscriber, stopped_at + backlog + 1, CATCH_UP);
    }
}

/// Waits until `subscriber` says it has received at least `updates`.
fn wait_for_count(subscriber: &Process, updates: u64, timeout: Duration) {
    let what = format!("received {updates} updates or more");
    subscriber.wait_until(&what, timeout, |output| {
        (last_count(&output.stdout) >= updates).then_some(())
    });
}

/// How many updates `subscriber` has said it received, by its last line.
fn count(subscriber: &Process) -> u64 {
    last_count(&subscriber.output().stdout)
}

fn last_count(stdout: &str) -> u64 {
    e2e::complete_lines(stdout)
        .next_back()
        .and_then(|line| line.strip_prefix("received "))
        .and_then(|rest| rest.strip_suffix(" updates"))
        .map_or(0, |number| number.parse().expect("a count"))
}

/// A figure in kB from /proc/<pid>/status: VmRSS, resident now, or VmHWM,
/// the most ever resident.
fn memory_kb(pid: u32, field: &str) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("read the status of process {pid}: {e}"));
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().strip_suffix(" kB"))
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in\n{status}"))
}

/// A process's state from /proc/<pid>/stat: `T` when stopped by a signal.
fn state(pid: u32) -> char {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))
        .unwrap_or_else(|e| panic!("read the stat of process {pid}: {e}"));
    // The state follows the command name, which is in parentheses and may
    // contain anything.
    stat.rsplit_once(") ")
        .and_then(|(_, rest)| rest.chars().next())
        .unwrap_or_else(|| panic!("no state in {stat:?}"))
}

/// The bytes waiting in the kernel's buffers on the TCP connection between
/// the server's `port` and the process `pid`: sent but not yet acknowledged
/// at one end, received but not yet read at the other.
fn kernel_queued_bytes(port: u16, pid: u32) -> u64 {
    let table = fs::read_to_string("/proc/net/tcp").expect("read /proc/net/tcp");
    let hex = |number: &str| u64::from_str_radix(number, 16).expect("a hex number");
    let port_of = |address: &str| address.rsplit(':').next().map(hex);
    // Columns: number, local address, remote address, state,
    // tx_queue:rx_queue, ..., and the socket's inode tenth.
    let rows: Vec<Vec<&str>> = table
        .lines()
        .skip(1)
        .map(|line| line.split_whitespace().collect())
        .collect();
    let queued = |row: &Vec<&str>| {
        let (sent, received) = row[4].split_once(':').expect("tx:rx");
        hex(sent) + hex(received)
    };
    // The process's end: a socket of its own, connected to the port.
    let sockets = process_sockets(pid);
    let Some(own) = rows.iter().find(|row| {
        sockets.iter().any(|inode| inode == row[9]) && port_of(row[2]) == Some(u64::from(port))
    }) else {
        panic!("process {pid} has no connection to port {port}:\n{table}");
    };
    // The server's end: from the port, to the process's port.
    let server = rows
        .iter()
        .find(|row| port_of(row[1]) == Some(u64::from(port)) && row[2] == own[1]);
    queued(own) + server.map_or(0, queued)
}

/// The inodes of a process's sockets, from the links in /proc/<pid>/fd.
fn process_sockets(pid: u32) -> Vec<String> {
    let fds = fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap_or_else(|e| panic!("read the descriptors of process {pid}: {e}"));
    fds.flatten()
        .filter_map(|fd| fs::read_link(fd.path()).ok())
        .filter_map(|link| {
            let link = link.to_string_lossy().into_owned();
            let inode = link.strip_prefix("socket:[")?.strip_suffix(']')?;
            Some(inode.to_string())
        })
        .collect()
}
