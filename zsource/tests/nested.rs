//! Nested dispatch: a source that dispatches another by hand inside its own
//! callback, and sends through it there, loses nothing and never stalls,
//! whether the inner source is dispatched once per event or twice (a second
//! call finds its wake-up already drained, which is no failure).

mod common;

use std::cell::Cell;
use std::rc::Rc;
use std::thread;
use std::time::{Duration, Instant};

use calloop::{EventLoop, EventSource, Poll, PostAction, Readiness, Token, TokenFactory};
use common::{Transport, bind};
use zsource::{Event, Multipart, ZmqSource};

const TOKENS: usize = 50;
const LAPS: usize = 200;

struct Pair {
    a: ZmqSource,
    b: ZmqSource,
    finished: Rc<Cell<usize>>,
    nested: Rc<Cell<usize>>,
    counts: Rc<[Cell<usize>; 3]>,
    /// Hand each event to B once only: nest B at the first of A's messages,
    /// and then skip B's own turn.
    careful: bool,
}

fn parse(message: &Multipart) -> (usize, usize) {
    let text = String::from_utf8_lossy(message.first()).into_owned();
    let mut parts = text.split(':').skip(1).map(|p| p.parse::<usize>().unwrap());
    (parts.next().unwrap(), parts.next().unwrap())
}

fn merge(a: PostAction, b: PostAction) -> PostAction {
    match (a, b) {
        (PostAction::Continue, other) | (other, PostAction::Continue) => other,
        (PostAction::Reregister, _) | (_, PostAction::Reregister) => PostAction::Reregister,
        (first, _) => first,
    }
}

impl EventSource for Pair {
    type Event = ();
    type Metadata = ();
    type Ret = ();
    type Error = zsource::Error;

    fn process_events<F>(
        &mut self,
        readiness: Readiness,
        token: Token,
        _callback: F,
    ) -> Result<PostAction, zsource::Error>
    where
        F: FnMut((), &mut ()),
    {
        let Pair {
            a,
            b,
            finished,
            nested,
            counts,
            careful,
        } = self;
        let careful = *careful;
        let mut b_done = false;
        counts[2].set(counts[2].get() + 1);
        let mut inner = PostAction::Continue;
        let outer_a = a.process_events(readiness, token, |event, a_handle| {
            if let Event::Failed(error) = &event {
                eprintln!("A failed: {error}");
            }
            let Event::Message(message) = event else {
                return;
            };
            counts[0].set(counts[0].get() + 1);
            let (token_number, lap) = parse(&message);
            b.send(format!("b:{token_number}:{lap}"))
                .expect("B takes it");
            // Dispatch B from in here, whatever the token.
            if careful && b_done {
                return;
            }
            b_done = true;
            let action = b
                .process_events(readiness, token, |event, _b_handle| {
                    if let Event::Failed(error) = &event {
                        eprintln!("B (nested) failed: {error}");
                    }
                    let Event::Message(message) = event else {
                        return;
                    };
                    let (token_number, lap) = parse(&message);
                    nested.set(nested.get() + 1);
                    if lap + 1 == LAPS {
                        finished.set(finished.get() + 1);
                    } else {
                        a_handle
                            .send(format!("a:{token_number}:{}", lap + 1))
                            .expect("A takes it");
                    }
                })
                .unwrap();
            inner = merge(inner, action);
        })?;
        if careful && b_done {
            return Ok(merge(outer_a, inner));
        }
        let outer_b = b.process_events(readiness, token, |event, _| {
            if let Event::Failed(error) = &event {
                eprintln!("B failed: {error}");
            }
            let Event::Message(message) = event else {
                return;
            };
            counts[1].set(counts[1].get() + 1);
            let (token_number, lap) = parse(&message);
            if lap + 1 == LAPS {
                finished.set(finished.get() + 1);
            } else {
                a.send(format!("a:{token_number}:{}", lap + 1))
                    .expect("A takes it");
            }
        })?;
        Ok(merge(merge(outer_a, outer_b), inner))
    }

    fn register(&mut self, poll: &mut Poll, tokens: &mut TokenFactory) -> calloop::Result<()> {
        self.a.register(poll, tokens)?;
        self.b.register(poll, tokens)
    }

    fn reregister(&mut self, poll: &mut Poll, tokens: &mut TokenFactory) -> calloop::Result<()> {
        self.a.reregister(poll, tokens)?;
        self.b.reregister(poll, tokens)
    }

    fn unregister(&mut self, poll: &mut Poll) -> calloop::Result<()> {
        self.a.unregister(poll)?;
        self.b.unregister(poll)
    }
}

fn echo(context: &zmq::Context, transport: Transport) -> (zmq::Socket, thread::JoinHandle<()>) {
    let echo = context.socket(zmq::DEALER).unwrap();
    let endpoint = bind(&echo, transport);
    let ours = context.socket(zmq::DEALER).unwrap();
    ours.connect(&endpoint).unwrap();
    let thread = thread::spawn(move || {
        echo.set_rcvtimeo(1000).unwrap();
        while let Ok(message) = echo.recv_multipart(0) {
            echo.send_multipart(message, 0).unwrap();
        }
    });
    (ours, thread)
}

#[test]
fn nested_dispatch_handing_each_event_to_b_once_never_stalls() {
    nested(true);
}

#[test]
fn nested_dispatch_of_b_inside_a_and_then_b_itself_never_stalls() {
    nested(false);
}

fn nested(careful: bool) {
    for transport in [Transport::Inproc, Transport::Ipc, Transport::Tcp] {
        let context = zmq::Context::new();
        let (a, echo_a) = echo(&context, transport);
        let (b, echo_b) = echo(&context, transport);
        let a = ZmqSource::builder()
            .capacity(TOKENS * 2)
            .budget(7)
            .build(a)
            .unwrap();
        let b = ZmqSource::builder()
            .capacity(TOKENS * 2)
            .budget(5)
            .build(b)
            .unwrap();
        for token_number in 0..TOKENS {
            a.sender().try_send(format!("a:{token_number}:0")).unwrap();
        }
        let (a_queue, b_queue) = (a.sender(), b.sender());
        let finished = Rc::new(Cell::new(0));
        let nested = Rc::new(Cell::new(0));
        let counts: Rc<[Cell<usize>; 3]> = Rc::default();
        let pair = Pair {
            a,
            b,
            finished: Rc::clone(&finished),
            nested: Rc::clone(&nested),
            counts: Rc::clone(&counts),
            careful,
        };
        let mut event_loop: EventLoop<()> = EventLoop::try_new().unwrap();
        let token = event_loop
            .handle()
            .insert_source(pair, |_, _, _| {})
            .unwrap();
        let start = Instant::now();
        let mut last = (0, Instant::now());
        while finished.get() < TOKENS {
            event_loop
                .dispatch(Duration::from_millis(50), &mut ())
                .unwrap();
            let progress = nested.get() + finished.get();
            if progress != last.0 {
                last = (progress, Instant::now());
            }
            assert!(
                last.1.elapsed() < Duration::from_secs(3),
                "{transport:?}: stalled: {} of {TOKENS} tokens done, {} nested deliveries; \
                 queued on A {}, on B {}; echo threads finished {} {}; A got {}, B got outside {}, dispatches {}",
                finished.get(),
                nested.get(),
                a_queue.queued(),
                b_queue.queued(),
                echo_a.is_finished(),
                echo_b.is_finished(),
                counts[0].get(),
                counts[1].get(),
                counts[2].get()
            );
        }
        eprintln!(
            "{transport:?}: {TOKENS} x {LAPS} laps in {:?}, {} delivered nested",
            start.elapsed(),
            nested.get()
        );
        event_loop.handle().remove(token);
        drop(event_loop);
        echo_a.join().unwrap();
        echo_b.join().unwrap();
    }
}

/// Calls the inner source's `process_events` twice for each event, as a
/// wrapper that dispatches a source from inside another's callback may.
struct Twice(ZmqSource, Rc<Cell<usize>>);

impl EventSource for Twice {
    type Event = Event;
    type Metadata = zsource::SocketHandle;
    type Ret = ();
    type Error = zsource::Error;

    fn process_events<F>(
        &mut self,
        readiness: Readiness,
        token: Token,
        mut callback: F,
    ) -> Result<PostAction, zsource::Error>
    where
        F: FnMut(Event, &mut zsource::SocketHandle),
    {
        let first = self.0.process_events(readiness, token, &mut callback)?;
        let second = self.0.process_events(readiness, token, &mut callback)?;
        self.1.set(self.1.get() + 1);
        Ok(merge(first, second))
    }

    fn register(&mut self, poll: &mut Poll, tokens: &mut TokenFactory) -> calloop::Result<()> {
        self.0.register(poll, tokens)
    }

    fn reregister(&mut self, poll: &mut Poll, tokens: &mut TokenFactory) -> calloop::Result<()> {
        self.0.reregister(poll, tokens)
    }

    fn unregister(&mut self, poll: &mut Poll) -> calloop::Result<()> {
        self.0.unregister(poll)
    }
}

#[test]
fn a_second_process_events_for_the_same_wake_up_is_harmless() {
    let context = zmq::Context::new();
    let push = context.socket(zmq::PUSH).unwrap();
    let endpoint = bind(&push, Transport::Inproc);
    let pull = context.socket(zmq::PULL).unwrap();
    pull.connect(&endpoint).unwrap();
    let source = ZmqSource::new(push).unwrap();
    let sender = source.sender();
    let calls = Rc::new(Cell::new(0));
    let failures = Rc::new(std::cell::RefCell::new(Vec::new()));
    let mut event_loop: EventLoop<()> = EventLoop::try_new().unwrap();
    {
        let failures = Rc::clone(&failures);
        event_loop
            .handle()
            .insert_source(Twice(source, Rc::clone(&calls)), move |event, _, _| {
                if let Event::Failed(error) = event {
                    failures.borrow_mut().push(error.to_string());
                }
            })
            .unwrap();
    }
    pull.set_rcvtimeo(0).unwrap();
    let mut arrived = 0;
    for number in 0..10 {
        let _ = sender.try_send(number.to_string());
        let deadline = Instant::now() + Duration::from_millis(200);
        while Instant::now() < deadline && arrived <= number {
            event_loop
                .dispatch(Duration::from_millis(10), &mut ())
                .unwrap();
            while pull.recv_bytes(0).is_ok() {
                arrived += 1;
            }
        }
    }
    assert!(
        failures.borrow().is_empty() && arrived == 10,
        "{} of 10 arrived; the source failed: {:?}",
        arrived,
        failures.borrow()
    );
}
