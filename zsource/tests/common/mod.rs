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
    Ipc,
    Tcp,
}

pub const TRANSPORTS: [Transport; 2] = [Transport::Inproc, Transport::Tcp];

pub const TRANSPORTS_WITH_IPC: [Transport; 3] = [Transport::Inproc, Transport::Ipc, Transport::Tcp];

/// Binds `socket` to a fresh endpoint of the transport and returns the
/// endpoint to connect to: a unique inproc name, a unique socket file in the
/// temporary directory, or an ephemeral TCP port on loopback (never a fixed
/// one: this machine is shared).
pub fn bind(socket: &zmq::Socket, transport: Transport) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let endpoint = match transport {
        Transport::Inproc => format!("inproc://test-{}", NEXT.fetch_add(1, Ordering::Relaxed)),
        Transport::Ipc => format!(
            "ipc://{}",
            std::env::temp_dir()
                .join(format!(
                    "zsource-test-{}-{}.ipc",
                    std::process::id(),
                    NEXT.fetch_add(1, Ordering::Relaxed)
                ))
                .display()
        ),
        Transport::Tcp => "tcp://127.0.0.1:*".to_string(),
    };
    socket.bind(&endpoint).expect("bind");
    socket
        .get_last_endpoint()
        .expect("ZMQ_LAST_ENDPOINT")
        .expect("endpoint is UTF-8")
}

/// Wraps a source to count how often the loop dispatches it, and the most
/// callbacks any one dispatch made.
pub struct Counted {
    pub inner: zsource::ZmqSource,
    pub counts: std::rc::Rc<Counts>,
}

/// What a [`Counted`] source has seen.
#[derive(Debug, Default)]
pub struct Counts {
    pub dispatches: std::cell::Cell<usize>,
    pub most_callbacks: std::cell::Cell<usize>,
}

impl Counted {
    pub fn new(inner: zsource::ZmqSource) -> (Self, std::rc::Rc<Counts>) {
        let counts = std::rc::Rc::new(Counts::default());
        let counted = Counted {
            inner,
            counts: std::rc::Rc::clone(&counts),
        };
        (counted, counts)
    }
}

impl calloop::EventSource for Counted {
    type Event = zsource::Event;
    type Metadata = zsource::SocketHandle;
    type Ret = ();
    type Error = zsource::Error;

    fn process_events<F>(
        &mut self,
        readiness: calloop::Readiness,
        token: calloop::Token,
        mut callback: F,
    ) -> Result<calloop::PostAction, zsource::Error>
    where
        F: FnMut(zsource::Event, &mut zsource::SocketHandle),
    {
        let mut calls = 0;
        let action = self
            .inner
            .process_events(readiness, token, |event, socket| {
                calls += 1;
                callback(event, socket)
            });
        let counts = &self.counts;
        counts.dispatches.set(counts.dispatches.get() + 1);
        counts
            .most_callbacks
            .set(counts.most_callbacks.get().max(calls));
        action
    }

    fn register(
        &mut self,
        poll: &mut calloop::Poll,
        tokens: &mut calloop::TokenFactory,
    ) -> calloop::Result<()> {
        self.inner.register(poll, tokens)
    }

    fn reregister(
        &mut self,
        poll: &mut calloop::Poll,
        tokens: &mut calloop::TokenFactory,
    ) -> calloop::Result<()> {
        self.inner.reregister(poll, tokens)
    }

    fn unregister(&mut self, poll: &mut calloop::Poll) -> calloop::Result<()> {
        self.inner.unregister(poll)
    }
}
