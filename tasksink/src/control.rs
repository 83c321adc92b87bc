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
//! control socket before it takes any task, so one that took part in the
//! batch has, in practice, long subscribed.

use std::cell::Cell;
use std::error::Error;
use std::rc::Rc;
use std::time::Duration;

use calloop::{Dispatcher, LoopHandle};
use zsource::{Event, ZmqSource};

use crate::Sink;

/// How long the sink may take to hand `KILL` to its workers before exiting.
pub const GRACE: Duration = Duration::from_secs(1);

/// The control socket, in the sink's loop, counting the workers that
/// subscribe to it.
pub struct Control {
    publisher: Dispatcher<'static, ZmqSource, Sink>,
    subscriptions: Rc<Cell<u32>>,
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
        let publisher = Dispatcher::new(publisher, move |event, _, _: &mut Sink| match event {
            // 1 and a prefix subscribes, 0 and a prefix unsubscribes (which
            // libzmq passes on only for the last subscriber of a prefix).
            Event::Message(message) if message.first().first() == Some(&1) => {
                counted.set(counted.get() + 1);
            }
            Event::Message(_) => {}
            other => eprintln!("warning: control socket: {other:?}"),
        });
        handle.register_dispatcher(publisher.clone())?;
        Ok((
            Control {
                publisher,
                subscriptions,
            },
            bound,
        ))
    }

    /// Sends `KILL` to the workers and grants it [`GRACE`] to leave when the
    /// socket closes; says on stderr how many workers had subscribed.
    pub fn kill(&self) {
        let publisher = self.publisher.as_source_ref();
        // Send kill signal to workers
        if let Err(e) = publisher.send("KILL") {
            return eprintln!("warning: KILL not sent: {e}");
        }
        if let Err(e) = publisher.flush(GRACE) {
            eprintln!("warning: KILL may not reach the workers: {e}");
        }
        let workers = self.subscriptions.get();
        eprintln!("KILL sent to the {workers} worker(s) subscribed");
    }
}
