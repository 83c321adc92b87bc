//! The rrbroker example end to end: the broker as a process of its own, a
//! client and two workers in this one, every request answered, and Ctrl-C.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// The broker's process, killed if the test fails.
struct Broker {
    child: Child,
    stderr: mpsc::Receiver<String>,
}

impl Broker {
    fn start() -> Broker {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let built = Command::new(cargo)
            .args(["build", "--quiet", "-p", "zsource", "--example", "rrbroker"])
            .status()
            .expect("run cargo build");
        assert!(built.success(), "cargo build --example rrbroker failed");
        // This test runs as target/<profile>/deps/<test>-<hash>.
        let exe = std::env::current_exe().unwrap();
        let examples = exe.parent().unwrap().parent().unwrap().join("examples");
        let mut child = Command::new(examples.join("rrbroker"))
            .args([
                "--frontend",
                "tcp://127.0.0.1:*",
                "--backend",
                "tcp://127.0.0.1:*",
            ])
            .stderr(Stdio::piped())
            .spawn()
            .expect("start rrbroker");
        let (lines, stderr) = mpsc::channel();
        let pipe = child.stderr.take().unwrap();
        thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
        Broker { child, stderr }
    }

    /// The next `listening on` endpoint, or the test fails saying so.
    fn endpoint(&self) -> String {
        let line = self
            .stderr
            .recv_timeout(Duration::from_secs(30))
            .expect("rrbroker says where it listens");
        line.strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected line from rrbroker: {line}"))
            .to_string()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn broker_answers_every_client_through_its_workers() {
    const REQUESTS: usize = 500;
    let mut broker = Broker::start();
    let frontend = broker.endpoint();
    let backend = broker.endpoint();

    let context = zmq::Context::new();
    let workers: Vec<_> = (0..2)
        .map(|number| {
            let worker = context.socket(zmq::REP).unwrap();
            worker.connect(&backend).unwrap();
            worker.set_rcvtimeo(10_000).unwrap();
            thread::spawn(move || {
                let mut answered = 0;
                while let Ok(request) = worker.recv_bytes(0) {
                    if request == b"done" {
                        worker.send("bye", 0).unwrap();
                        break;
                    }
                    let reply = format!(
                        "World from {number} to {}",
                        String::from_utf8_lossy(&request)
                    );
                    worker.send(reply.as_bytes(), 0).unwrap();
                    answered += 1;
                }
                answered
            })
        })
        .collect();
    let client = context.socket(zmq::REQ).unwrap();
    client.connect(&frontend).unwrap();
    client.set_rcvtimeo(10_000).unwrap();
    for number in 0..REQUESTS {
        client
            .send(format!("Hello {number}").as_bytes(), 0)
            .unwrap();
        let reply = client.recv_string(0).expect("a reply within 10 s").unwrap();
        assert!(reply.ends_with(&format!(" to Hello {number}")), "{reply}");
    }
    for _ in 0..2 {
        client.send("done", 0).unwrap();
        client.recv_bytes(0).expect("each worker says bye");
    }
    let answered: Vec<usize> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    assert_eq!(answered.iter().sum::<usize>(), REQUESTS);
    assert!(
        answered.iter().all(|&n| n > 0),
        "one worker did all: {answered:?}"
    );

    // SIGTERM, as Ctrl-C would: a clean exit, status 0.
    let pid = broker.child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let (done, exited) = mpsc::channel();
    let mut child = std::mem::replace(&mut broker.child, Command::new("true").spawn().unwrap());
    thread::spawn(move || done.send(child.wait()));
    let status = exited
        .recv_timeout(Duration::from_secs(10))
        .expect("rrbroker exits on SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}");
}
