//! What the ventilator's callbacks share, and the bookkeeping of its two
//! waits: for the workers, before the batch; for the batch's delivery,
//! after.

use std::error::Error;
use std::time::Duration;

use calloop::timer::{TimeoutAction, Timer};
use calloop::{EventLoop, LoopHandle, LoopSignal};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use zsource::{Sender, ZmqSource};

use crate::Args;
use crate::waiting::Undelivered;

/// How long the ventilator waits for its sink or a worker before it says
/// on stderr that it is waiting.
const MOMENT: Duration = Duration::from_secs(1);

/// What the loop's callbacks share.
pub struct Ventilator {
    /// Queues on the sockets, which are in the loop: the loop sends what
    /// they hold as soon as ZeroMQ takes it.
    pub tasks: Sender,
    pub sink: Sender,
    /// How many tasks to send, and where their workloads come from.
    pub batch_size: u32,
    pub random: SmallRng,
    /// With `--workers N`, the workers to wait for before sending.
    pub wanted: Option<u32>,
    /// Workers connected now: handshakes less disconnections.
    pub workers: u32,
    /// Workers that have ever completed their handshake.
    pub handshakes: u32,
    /// Whether the batch has been sent: then the wait is for its delivery.
    pub sent: bool,
    /// Whether ZeroMQ has taken the whole batch for peers that are there.
    pub delivered: bool,
    /// How long the delivery may take: `--timeout-ms`.
    pub timeout: Option<Duration>,
    /// Why the ventilator gave up, if it did.
    pub failure: Option<String>,
    /// Where the workers connect, and where the sink is.
    pub endpoint: String,
    pub sink_endpoint: String,
    pub handle: LoopHandle<'static, Ventilator>,
    pub signal: LoopSignal,
}

impl Ventilator {
    /// Before the batch: no worker seen yet, nothing sent.
    pub fn new(
        args: &Args,
        endpoint: String,
        [tasks, sink]: [&ZmqSource; 2],
        event_loop: &EventLoop<'static, Ventilator>,
    ) -> Ventilator {
        Ventilator {
            tasks: tasks.sender(),
            sink: sink.sender(),
            batch_size: args.tasks,
            random: match args.seed {
                Some(seed) => SmallRng::seed_from_u64(seed),
                None => rand::make_rng(),
            },
            wanted: args.workers,
            workers: 0,
            handshakes: 0,
            sent: false,
            delivered: false,
            timeout: args.timeout_ms.map(Duration::from_millis),
            failure: None,
            endpoint,
            sink_endpoint: args.sink.clone(),
            handle: event_loop.handle(),
            signal: event_loop.get_signal(),
        }
    }

    /// Counts a worker that completed its handshake.
    pub fn worker_connected(&mut self) {
        self.workers += 1;
        self.handshakes += 1;
        if let Some(wanted) = self.wanted.filter(|_| !self.sent) {
            eprintln!("{} of {wanted} workers connected", self.handshakes);
        }
    }

    /// With `--workers N`, whether the batch waits and N workers have come.
    pub fn has_enough_workers(&self) -> bool {
        let enough = self.wanted.is_some_and(|wanted| self.handshakes >= wanted);
        enough && !self.sent && self.failure.is_none()
    }

    pub fn worker_disconnected(&mut self) {
        self.workers = self.workers.saturating_sub(1);
    }

    /// From now on the loop waits for the batch's delivery: it says after a
    /// moment what that waits for, and gives up at the timeout.
    pub fn wait_for_delivery(&mut self) {
        self.sent = true;
        let say = |_, _: &mut (), ventilator: &mut Ventilator| {
            ventilator.undelivered().say_waiting();
            TimeoutAction::Drop
        };
        let timer = Timer::from_duration(MOMENT);
        if let Err(e) = self.handle.insert_source(timer, say) {
            eprintln!("warning: cannot start a timer: {e}");
        }
        let Some(timeout) = self.timeout else {
            return;
        };
        let give_up = move |_, _: &mut (), ventilator: &mut Ventilator| {
            let why = ventilator.undelivered().timed_out(timeout);
            ventilator.give_up(why);
            TimeoutAction::Drop
        };
        let timer = Timer::from_duration(timeout);
        if let Err(e) = self.handle.insert_source(timer, give_up) {
            self.give_up(format!("start the timeout's timer: {e}"));
        }
    }

    /// Stops the loop once the batch is delivered. ZeroMQ has it all when
    /// the queues are empty: the PUSH socket takes tasks only for workers
    /// that are connected, the sink's socket the `0` only once the sink is.
    pub fn check_delivered(&mut self) {
        if self.sent && !self.delivered && self.undelivered().is_nothing() {
            self.delivered = true;
            self.signal.stop();
        }
    }

    /// What the batch still waits for.
    pub fn undelivered(&self) -> Undelivered<'_> {
        Undelivered {
            sink: (self.sink.queued() > 0).then_some(self.sink_endpoint.as_str()),
            endpoint: &self.endpoint,
            tasks: self.tasks.queued(),
            workers: self.workers,
        }
    }

    pub fn give_up(&mut self, why: String) {
        self.failure = Some(why);
        self.signal.stop();
    }

    /// How the program ends once the loop has stopped: with an error if
    /// the batch was sent and not delivered. (Stopped before sending, it
    /// has lost nothing.)
    pub fn outcome(self) -> Result<(), Box<dyn Error>> {
        match self.failure {
            Some(failure) => Err(failure.into()),
            None if self.sent && !self.delivered => Err(self.undelivered().stopped().into()),
            None => Ok(()),
        }
    }
}
