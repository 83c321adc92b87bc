//! One source's failure stays with that source: the loop's other sources go
//! on, and the failing source's own callback and senders hear of it.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use calloop::EventLoop;
use common::{Transport, bind};
use zsource::{Event, ZmqSource};

const DEADLINE: Duration = Duration::from_secs(20);
const ROUNDS: usize = 20;

#[derive(Debug, Default)]
struct Seen {
    /// Messages the healthy source received.
    healthy: usize,
    /// Failures the failing source's callback was told of.
    failures: Vec<String>,
}

/// Waits until the descriptor is readable, without touching its socket, so
/// that both sources are ready when the loop polls.
fn wait_readable(fd: std::os::fd::RawFd) {
    let mut items = [zmq::PollItem::from_fd(fd, zmq::POLLIN)];
    assert_eq!(
        zmq::poll(&mut items, 10_000),
        Ok(1),
        "fd {fd} never became readable"
    );
}

#[test]
fn a_terminated_context_stalls_no_other_source() {
    for round in 0..ROUNDS {
        let mut event_loop: EventLoop<Seen> = EventLoop::try_new().unwrap();
        let handle = event_loop.handle();

        let doomed_context = zmq::Context::new();
        let doomed = doomed_context.socket(zmq::PULL).unwrap();
        bind(&doomed, Transport::Inproc);
        let doomed_fd = doomed.get_fd().unwrap();
        let doomed = ZmqSource::new(doomed).unwrap();
        let doomed_sender = doomed.sender();
        handle
            .insert_source(doomed, |event, _, seen: &mut Seen| {
                if let Event::Failed(error) = event {
                    seen.failures.push(error.to_string());
                }
            })
            .unwrap();

        let context = zmq::Context::new();
        let healthy = context.socket(zmq::PULL).unwrap();
        let endpoint = bind(&healthy, Transport::Inproc);
        let healthy_fd = healthy.get_fd().unwrap();
        handle
            .insert_source(
                ZmqSource::new(healthy).unwrap(),
                |event, _, seen: &mut Seen| {
                    if let Event::Message(_) = event {
                        seen.healthy += 1;
                    }
                },
            )
            .unwrap();
        let push = context.socket(zmq::PUSH).unwrap();
        push.connect(&endpoint).unwrap();
        let mut seen = Seen::default();
        // Let both sources settle, so that each next wakes for what follows.
        for _ in 0..3 {
            event_loop.dispatch(Duration::ZERO, &mut seen).unwrap();
        }

        // The doomed context's termination reaches its socket first, then a
        // message reaches the healthy one: one poll reports both, in that
        // order.
        let mut terminating = doomed_context.clone();
        drop(doomed_context);
        let terminator = thread::spawn(move || terminating.destroy());
        wait_readable(doomed_fd);
        push.send("still here", 0).unwrap();
        wait_readable(healthy_fd);

        let deadline = Instant::now() + DEADLINE;
        while seen.healthy == 0 || seen.failures.is_empty() {
            assert!(
                Instant::now() < deadline,
                "round {round}: the loop stalled: {seen:?}"
            );
            event_loop
                .dispatch(Duration::from_millis(100), &mut seen)
                .unwrap_or_else(|error| panic!("round {round}: dispatch failed: {error}"));
        }
        assert_eq!(seen.healthy, 1, "round {round}");
        assert_eq!(seen.failures.len(), 1, "round {round}: {seen:?}");
        assert!(
            seen.failures[0].contains("terminated"),
            "round {round}: {seen:?}"
        );
        // The failed source left the loop and closed its socket, so the
        // context's termination can finish, and its senders know.
        terminator
            .join()
            .unwrap()
            .unwrap_or_else(|error| panic!("round {round}: {error}"));
        assert!(doomed_sender.is_closed(), "round {round}");
    }
}
