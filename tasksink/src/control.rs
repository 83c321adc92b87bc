//! The sink's `--control` (the guide's chapter 2, "Handling Multiple
//! Sockets", `tasksink2.c`): once the batch is done, it publishes `KILL` to
//! the workers, which then exit. Not chapter 1's lesson, so out of `main`.
//!
//! What "delivered" can mean on PUB/SUB, which has no acknowledgement: the
//! guide's sink sends and then sleeps a second, hoping that is enough. This
//! one binds an XPUB socket, so it sees each worker's subscription come in
//! (and says how many it saw), sends `KILL`, and then grants the socket's
//! close up to a second of linger ([`GRACE`]): libzmq writes the `KILL` to
//! every worker that had subscribed, and the sink exits as soon as it has,
//! not a fixed second later. A worker whose subscription has not reached
//! the sink when it sends (one started after the batch, or a slow joiner)
//! misses it, as with the guide's, and so does one whose connection is
//! broken; the sink cannot tell that from its side. A worker connects its
//! control socket before it takes any task, but when the sink starts last,
//! the results a worker has queued can complete the batch before the
//! worker's control socket has reconnected: so the sink stays until its
//! control socket has been bound for [`GRACE`], and sends `KILL` again to
//! each subscription that comes meanwhile. (A worker retries its connection
//! every 100 ms, libzmq's default.)

use std::cell::Cell;
use std::error::Error;
use std::rc::Rc;
use std::time::{Duration, Instant};

use calloop::timer::{TimeoutAction, Timer};
use calloop::{Dispatcher, EventLoop, LoopHandle};
use zsource::{Event, ZmqSource};

use crate::Sink;

/// How long the sink may take to hand `KILL` to its workers before exiting.
pub const GRACE: Duration = Duration::from_secs(1);

/// The control socket, in the sink's loop, counting the workers that
/// subscribe to it.
pub struct Control {
    publisher: Dispatcher<'static, ZmqSource, Sink>,
    subscriptions: Rc<Cell<u32>>,
    bound: Instant,
}

impl Control {
    /// Binds the control socket (quietly: `main` says where once all its
    /// sockets are bound) and puts it in the loop. Returns it and its
    /// endpoint.
    pub fn bind(
        context: &zmq::Context,
        endpoint: &str,
        handle: &LoopHandle<'static, Sink>,
    ) -> Result<(Control, String), Box<dyn Error>> {
        // Socket for worker control
        let publisher = context.socket(zmq::XPUB)?;
        // Every subscription comes up, even a second one to the same
        // (empty) prefix: one per worker.
        publisher.set_xpub_verbose(true)?;
        let bound = zhelpers::bind_quietly(&publisher, endpoint)?;
        let subscriptions = Rc::new(Cell::new(0));
        let counted = Rc::clone(&subscriptions);
        let publisher = ZmqSource::new(publisher)?;
        let publisher = Dispatcher::new(
            publisher,
            move |event, socket, sink: &mut Sink| match event {
                // 1 and a prefix subscribes, 0 and a prefix unsubscribes (which
                // libzmq passes on only for the last subscriber of a prefix).
                Event::Message(message) if message.first().first() == Some(&1) => {
                    counted.set(counted.get() + 1);
                    // A worker that subscribes after the batch is done gets
                    // its KILL too (the others get it again, and are gone).
                    if sink.elapsed.is_some() {
                        if let Err(e) = socket.send("KILL") {
                            eprintln!("warning: KILL not sent: {e}");
                        }
                    }
                }
                Event::Message(_) => {}
                other => eprintln!("warning: control socket: {other:?}"),
            },
        );
        handle.register_dispatcher(publisher.clone())?;
        Ok((
            Control {
                publisher,
                subscriptions,
                bound: Instant::now(),
            },
            bound,
        ))
    }

    /// Sends `KILL` to the workers; runs the loop until the control socket
    /// has been bound for [`GRACE`], for workers that subscribe late; and
    /// grants the last `KILL` [`GRACE`] to leave when the socket closes.
    /// Says on stderr how many workers had subscribed.
    pub fn kill(&self, event_loop: &mut EventLoop<'static, Sink>, sink: &mut Sink) {
        // Send kill signal to workers
        if let Err(e) = self.publisher.as_source_ref().send("KILL") {
            return eprintln!("warning: KILL not sent: {e}");
        }
        if let Some(late) = (self.bound + GRACE).checked_duration_since(Instant::now()) {
            // Ctrl-C stops this run too.
            let signal = event_loop.get_signal();
            let stop = move |_, _: &mut (), _: &mut Sink| {
                signal.stop();
                TimeoutAction::Drop
            };
            let waited = event_loop
                .handle()
                .insert_source(Timer::from_duration(late), stop)
                .map_err(|e| e.error.to_string())
                .and_then(|_| {
                    event_loop
                        .run(None, sink, |_| {})
                        .map_err(|e| e.to_string())
                });
            if let Err(e) = waited {
                eprintln!("warning: cannot wait for late workers: {e}");
            }
        }
        let publisher = self.publisher.as_source_ref();
        if let Err(e) = publisher.flush(GRACE) {
            eprintln!("warning: KILL may not reach the workers: {e}");
        }
        let workers = self.subscriptions.get();
        eprintln!("KILL sent to the {workers} worker(s) subscribed");
    }
}
