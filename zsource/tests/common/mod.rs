//! Helpers shared by zsource's integration tests.
#![allow(dead_code)]

use std::fmt::Debug;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use calloop::EventLoop;

/// Runs the loop until `done` holds, and fails the test, showing the state,
/// if that takes longer than `timeout`.
pub fn run_until<T: Debug>(
    event_loop: &mut EventLoop<'_, T>,
    state: &mut T,
    timeout: Duration,
    done: impl Fn(&T) -> bool,
) {
    let deadline = Instant::now() + timeout;
    while !done(state) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "deadline of {timeout:?} passed; state: {state:?}"
        );
        event_loop
            .dispatch(left.min(Duration::from_millis(100)), state)
            .expect("dispatch");
    }
}

/// The transports every pattern is tested over.
#[derive(Debug, Clone, Copy)]
pub enum Transport {
    Inproc,
    Tcp,
}

pub const TRANSPORTS: [Transport; 2] = [Transport::Inproc, Transport::Tcp];

/// Binds `socket` to a fresh endpoint of the transport and returns the
/// endpoint to connect to: a unique inproc name, or an ephemeral TCP port on
/// loopback (never a fixed one: this machine is shared).
pub fn bind(socket: &zmq::Socket, transport: Transport) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let endpoint = match transport {
        Transport::Inproc => format!("inproc://test-{}", NEXT.fetch_add(1, Ordering::Relaxed)),
        Transport::Tcp => "tcp://127.0.0.1:*".to_string(),
    };
    socket.bind(&endpoint).expect("bind");
    socket
        .get_last_endpoint()
        .expect("ZMQ_LAST_ENDPOINT")
        .expect("endpoint is UTF-8")
}
