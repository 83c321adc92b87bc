//! Whatever safe code does with a source, no edge of ZMQ_FD is lost and no
//! descriptor is confused with another.
//!
//! ZMQ_FD is edge-triggered, and any use of the socket (a send, a read of
//! ZMQ_EVENTS, a `poll`, a `connect`) can swallow the edge that announces a
//! message. These tests use the socket the ways a real program does outside
//! the source's own dispatch: from a timer through a `Dispatcher`, from
//! another source's callback, and in a nested dispatch, and check that every
//! message still arrives.

mod common;

use std::cell::{OnceCell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use calloop::timer::{TimeoutAction, Timer};
use calloop::{
    Dispatcher, EventLoop, EventSource, Poll, PostAction, Readiness, Token, TokenFactory,
};
use common::{TRANSPORTS_WITH_IPC, Transport, bind, run_until};
use zsource::{Event, Multipart, SocketHandle, ZmqSource};

const DEADLINE: Duration = Duration::from_secs(30);

/// A REP server whose replies are sent by a timer, through the `Dispatcher`
/// that holds the server's source: the way a server that "works" on a
/// request before it answers is written.
#[test]
fn rep_server_replying_from_a_timer_answers_every_request() {
    const REQUESTS: usize = 20;
    let context = zmq::Context::new();
    let server = context.socket(zmq::REP).unwrap();
    let endpoint = bind(&server, Transport::Tcp);

    #[derive(Debug, Default)]
    struct Server {
        unanswered: usize,
        answered: usize,
    }
    let server = Dispatcher::new(
        ZmqSource::new(server).unwrap(),
        |event, _: &mut SocketHandle, state: &mut Server| {
            if let Event::Message(_) = event {
                state.unanswered += 1;
            }
        },
    );
    let mut event_loop: EventLoop<Server> = EventLoop::try_new().unwrap();
    let handle = event_loop.handle();
    handle.register_dispatcher(server.clone()).unwrap();
    handle
        .insert_source(Timer::immediate(), move |_, _, state: &mut Server| {
            if state.unanswered > 0 {
                server.as_source_ref().send("World").unwrap();
                state.unanswered -= 1;
                state.answered += 1;
            }
            TimeoutAction::ToDuration(Duration::from_millis(1))
        })
        .unwrap();

    let client = context.socket(zmq::REQ).unwrap();
    client.connect(&endpoint).unwrap();
    client.set_rcvtimeo(10_000).unwrap();
    let asking = thread::spawn(move || {
        (0..REQUESTS)
            .take_while(|_| {
                client.send("Hello", 0).unwrap();
                client.recv_bytes(0).is_ok()
            })
            .count()
    });
    let mut state = Server::default();
    run_until(&mut event_loop, &mut state, DEADLINE, |_| {
        asking.is_finished()
    });
    assert_eq!(asking.join().unwrap(), REQUESTS, "{state:?}");
}

/// The guide's request-reply broker, ROUTER in front and DEALER behind, in
/// one loop: each source's callback forwards through the other source's
/// `send`, outside that other source's own dispatch.
#[test]
fn broker_forwarding_through_the_other_source_never_stalls() {
    const ROUND_TRIPS: usize = 20_000;
    for transport in [Transport::Inproc, Transport::Tcp] {
        let context = zmq::Context::new();
        let frontend = context.socket(zmq::ROUTER).unwrap();
        let frontend_endpoint = bind(&frontend, transport);
        let backend = context.socket(zmq::DEALER).unwrap();
        let backend_endpoint = bind(&backend, transport);

        type Forward = OnceCell<Box<dyn Fn(Multipart)>>;
        let to_backend: Rc<Forward> = Rc::default();
        let to_frontend: Rc<Forward> = Rc::default();
        let forward_to = |to: &Rc<Forward>| {
            let to = Rc::clone(to);
            move |event: Event, _: &mut SocketHandle, _: &mut ()| {
                if let Event::Message(message) = event {
                    (to.get().expect("both sources exist"))(message);
                }
            }
        };
        let frontend = Dispatcher::new(
            ZmqSource::builder()
                .capacity(ROUND_TRIPS)
                .build(frontend)
                .unwrap(),
            forward_to(&to_backend),
        );
        let backend = Dispatcher::new(
            ZmqSource::builder()
                .capacity(ROUND_TRIPS)
                .build(backend)
                .unwrap(),
            forward_to(&to_frontend),
        );
        let sender_of = |dispatcher: &Dispatcher<'static, ZmqSource, ()>| {
            let dispatcher = dispatcher.clone();
            Box::new(move |message: Multipart| {
                dispatcher.as_source_ref().send(message).unwrap();
            }) as Box<dyn Fn(Multipart)>
        };
        let _ = to_backend.set(sender_of(&backend));
        let _ = to_frontend.set(sender_of(&frontend));

        let mut event_loop: EventLoop<()> = EventLoop::try_new().unwrap();
        let handle = event_loop.handle();
        handle.register_dispatcher(frontend.clone()).unwrap();
        handle.register_dispatcher(backend.clone()).unwrap();

        // Two workers and a client that keeps a window of requests in
        // flight, so that replies and requests cross in the broker, and a
        // message often waits on one socket while the other is being sent on.
        let done = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let worker = context.socket(zmq::REP).unwrap();
                worker.connect(&backend_endpoint).unwrap();
                worker.set_rcvtimeo(50).unwrap();
                let done = Arc::clone(&done);
                thread::spawn(move || {
                    while !done.load(Ordering::Relaxed) {
                        if let Ok(request) = worker.recv_bytes(0) {
                            worker.send(request, 0).unwrap();
                        }
                    }
                })
            })
            .collect();
        let client = context.socket(zmq::DEALER).unwrap();
        client.connect(&frontend_endpoint).unwrap();
        client.set_rcvtimeo(10_000).unwrap();
        let asking = thread::spawn(move || {
            const WINDOW: usize = 32;
            let mut answered = vec![false; ROUND_TRIPS];
            let (mut sent, mut received) = (0, 0);
            while received < ROUND_TRIPS {
                while sent < ROUND_TRIPS && sent - received < WINDOW {
                    client.send("", zmq::SNDMORE).unwrap();
                    client.send(&sent.to_string(), 0).unwrap();
                    sent += 1;
                }
                let Ok(reply) = client.recv_multipart(0) else {
                    break;
                };
                let number: usize = std::str::from_utf8(&reply[1]).unwrap().parse().unwrap();
                assert!(!answered[number], "reply {number} came twice");
                answered[number] = true;
                received += 1;
            }
            received
        });
        run_until(&mut event_loop, &mut (), DEADLINE, |_| asking.is_finished());
        assert_eq!(asking.join().unwrap(), ROUND_TRIPS, "over {transport:?}");
        done.store(true, Ordering::Relaxed);
        for worker in workers {
            worker.join().unwrap();
        }
    }
}

/// A peer's message lands while a timer is using the socket (here with
/// `poll`, as a program waiting for it might): the source must still
/// deliver it.
#[test]
fn message_landing_while_a_timer_uses_the_socket_is_delivered() {
    const MESSAGES: usize = 7;
    for transport in TRANSPORTS_WITH_IPC {
        let context = zmq::Context::new();
        let pull = context.socket(zmq::PULL).unwrap();
        let endpoint = bind(&pull, transport);
        let push = context.socket(zmq::PUSH).unwrap();
        push.connect(&endpoint).unwrap();

        let pull = Dispatcher::new(
            ZmqSource::new(pull).unwrap(),
            |event, _: &mut SocketHandle, got: &mut Vec<String>| {
                if let Event::Message(message) = event {
                    got.push(String::from_utf8_lossy(message.first()).into_owned());
                }
            },
        );
        let mut event_loop: EventLoop<Vec<String>> = EventLoop::try_new().unwrap();
        let handle = event_loop.handle();
        handle.register_dispatcher(pull.clone()).unwrap();
        let mut sent = 0;
        handle
            .insert_source(Timer::immediate(), move |_, _, got: &mut Vec<String>| {
                // One message at a time, each once the one before has been
                // delivered, so that every one lands during a `poll`.
                if got.len() == sent && sent < MESSAGES {
                    push.send(&sent.to_string(), 0).unwrap();
                    let ready = pull.as_source_ref().socket().poll(zmq::POLLIN, 10_000);
                    assert_eq!(ready, Ok(1), "the message did not arrive");
                    sent += 1;
                }
                TimeoutAction::ToDuration(Duration::from_millis(1))
            })
            .unwrap();
        let mut got = Vec::new();
        run_until(&mut event_loop, &mut got, DEADLINE, |got| {
            got.len() == MESSAGES
        });
        let expected: Vec<String> = (0..MESSAGES).map(|n| n.to_string()).collect();
        assert_eq!(got, expected, "over {transport:?}");
    }
}

/// A source that, in its callback, dispatches a second source by hand and
/// swaps the two callbacks' `SocketHandle`s: safe code, so it must not
/// leave a source polling a descriptor that belongs to another socket.
struct Nested {
    outer: ZmqSource,
    inner: Rc<RefCell<Option<ZmqSource>>>,
}

impl EventSource for Nested {
    type Event = Event;
    type Metadata = SocketHandle;
    type Ret = ();
    type Error = zsource::Error;

    fn process_events<F>(
        &mut self,
        readiness: Readiness,
        token: Token,
        mut callback: F,
    ) -> Result<PostAction, zsource::Error>
    where
        F: FnMut(Event, &mut SocketHandle),
    {
        let inner = Rc::clone(&self.inner);
        self.outer
            .process_events(readiness, token, |event, outer_handle| {
                if let Some(inner) = inner.borrow_mut().as_mut() {
                    let _ = inner.process_events(readiness, token, |_, inner_handle| {
                        std::mem::swap(outer_handle, inner_handle);
                    });
                }
                callback(event, outer_handle);
            })
    }

    fn register(&mut self, poll: &mut Poll, tokens: &mut TokenFactory) -> calloop::Result<()> {
        self.outer.register(poll, tokens)
    }

    fn reregister(&mut self, poll: &mut Poll, tokens: &mut TokenFactory) -> calloop::Result<()> {
        self.outer.reregister(poll, tokens)
    }

    fn unregister(&mut self, poll: &mut Poll) -> calloop::Result<()> {
        self.outer.unregister(poll)
    }
}

#[test]
fn swapping_handles_in_a_nested_dispatch_confuses_no_descriptor() {
    let context = zmq::Context::new();
    let outer = context.socket(zmq::PULL).unwrap();
    let outer_endpoint = bind(&outer, Transport::Inproc);
    let outer_fd = outer.get_fd().unwrap();
    let inner = context.socket(zmq::PULL).unwrap();
    let inner_endpoint = bind(&inner, Transport::Inproc);
    let to_outer = context.socket(zmq::PUSH).unwrap();
    to_outer.connect(&outer_endpoint).unwrap();
    let to_inner = context.socket(zmq::PUSH).unwrap();
    to_inner.connect(&inner_endpoint).unwrap();

    let inner = Rc::new(RefCell::new(Some(ZmqSource::new(inner).unwrap())));
    let nested = Nested {
        outer: ZmqSource::new(outer).unwrap(),
        inner: Rc::clone(&inner),
    };
    let mut event_loop: EventLoop<usize> = EventLoop::try_new().unwrap();
    let handle = event_loop.handle();
    let nested = handle
        .insert_source(nested, |event, _, swaps: &mut usize| {
            if let Event::Message(_) = event {
                *swaps += 1;
            }
        })
        .unwrap();
    // The inner source needs a message for its callback to run, and so for
    // the swap to happen.
    to_inner.send("for the inner callback", 0).unwrap();
    to_outer.send("for the outer callback", 0).unwrap();
    let mut swaps = 0;
    run_until(&mut event_loop, &mut swaps, DEADLINE, |swaps| *swaps == 1);

    // Close the inner source's socket (whichever it holds now), then open a
    // third socket, which may get the closed one's descriptor number, and
    // take the outer source out of the loop: that must not take the third
    // socket's registration with it. libzmq closes a socket's descriptor in
    // its reaper thread once the socket's pipes are gone, so close the peers
    // first and give the descriptor a moment to go (it never goes if the
    // outer socket is still open, as it should be).
    drop((to_outer, to_inner));
    drop(inner.borrow_mut().take());
    let outer_fd_path = format!("/proc/self/fd/{outer_fd}");
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while std::path::Path::new(&outer_fd_path).exists() && std::time::Instant::now() < deadline {
        thread::sleep(Duration::from_millis(1));
    }
    let third = context.socket(zmq::PULL).unwrap();
    let third_endpoint = bind(&third, Transport::Inproc);
    let third = handle
        .insert_source(
            ZmqSource::new(third).unwrap(),
            |event, _, got: &mut usize| {
                if let Event::Message(_) = event {
                    *got += 1;
                }
            },
        )
        .unwrap();
    handle.remove(nested);
    let to_third = context.socket(zmq::PUSH).unwrap();
    to_third.connect(&third_endpoint).unwrap();
    let mut got = 0;
    event_loop.dispatch(Duration::ZERO, &mut got).unwrap();
    for number in 0..10 {
        to_third.send(&number.to_string(), 0).unwrap();
    }
    run_until(&mut event_loop, &mut got, DEADLINE, |got| *got == 10);
    handle.remove(third);
}
