//! Weather update server: publish-subscribe, the PUB side, on a calloop loop.
//!
//! The ZeroMQ guide, chapter 1, "Getting the Message Out" (`wuserver.c`). It
//! binds a PUB socket and publishes random weather updates, `"%05d %d %d"`
//! (zip code, temperature, relative humidity), as fast as it can, for ever.
//! Subscribers join whenever they like and miss what came before.
//!
//! The guide publishes in a `while (1)` loop. Here the updates go out in
//! batches, one per turn of the loop (a ping that pings itself again), so
//! the loop's other sources, Ctrl-C among them, have their turn between
//! batches even at full speed. They go through the `ZmqSource` with
//! `send_borrowed`, which sends from the reused buffer without a copy of its
//! own; a PUB socket never refuses an update (it drops it for a subscriber
//! that is full), so none ever waits.
//!
//! ```text
//! cargo run --release -p wuserver    # --bind tcp://*:5556 --bind ipc://weather.ipc
//! cargo run --release -p wuclient    # in other terminals; zip code 10001
//! cargo run --release -p wuclient -- "12345 "
//! ```

mod update;

use std::process::ExitCode;
use std::time::Duration;

use calloop::ping::make_ping;
use calloop::{Dispatcher, EventLoop};
use clap::Parser;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use zsource::ZmqSource;

/// Publishes random weather updates, as fast as it can, for ever.
#[derive(Parser)]
#[command(version = zhelpers::version!(), about)]
struct Args {
    /// Endpoint to bind the PUB socket to. Repeat the flag to bind several;
    /// any given replaces both defaults.
    #[arg(long, default_values = ["tcp://*:5556", "ipc://weather.ipc"])]
    bind: Vec<String>,
    /// Seed for the random updates, to make the stream repeatable.
    #[arg(long)]
    seed: Option<u64>,
    /// Publish this many updates, then exit: for timing the server. Without
    /// it, the server publishes for ever, as the guide's does.
    #[arg(long)]
    updates: Option<u64>,
}

/// Updates per turn of the loop: enough that the loop's own cost (a ping
/// and a poll, a few microseconds) vanishes next to the batch, few enough
/// that a batch takes well under a millisecond, so Ctrl-C never waits.
const BATCH: u64 = 2048;

fn main() -> ExitCode {
    zhelpers::main(|| {
        let args = Args::parse();
        let mut event_loop: EventLoop<Option<String>> = EventLoop::try_new()?;
        zhelpers::stop_on_ctrl_c(&event_loop)?;

        let context = zmq::Context::new();
        let publisher = context.socket(zmq::PUB)?;
        for endpoint in &args.bind {
            zhelpers::bind(&publisher, endpoint)?;
        }
        // A PUB socket never receives, so the callback never runs; the
        // Dispatcher keeps a hold on the source for the batches below.
        let publisher = Dispatcher::new(ZmqSource::new(publisher)?, |_, _, _| {});
        event_loop.handle().register_dispatcher(publisher.clone())?;

        let mut random = match args.seed {
            Some(seed) => SmallRng::seed_from_u64(seed),
            None => SmallRng::from_rng(&mut rand::rng()),
        };
        let mut buffer = [0; update::CAPACITY];
        // "For ever" is 2^64 updates: some thousands of years at full speed.
        let mut left = args.updates.unwrap_or(u64::MAX);
        let (next_batch, batches) = make_ping()?;
        next_batch.ping();
        let signal = event_loop.get_signal();
        let publishing = publisher.clone();
        event_loop
            .handle()
            .insert_source(batches, move |(), _, failure| {
                let publisher = publishing.as_source_ref();
                for _ in 0..BATCH.min(left) {
                    left -= 1;
                    let zipcode = random.random_range(0..100_000);
                    let temperature = random.random_range(-80..=134);
                    let humidity = random.random_range(10..=59);
                    let update = update::write(&mut buffer, zipcode, temperature, humidity);
                    if let Err(e) = publisher.send_borrowed([update]) {
                        *failure = Some(format!("publish an update: {e}"));
                        return signal.stop();
                    }
                }
                match left {
                    0 => signal.stop(),
                    // The next batch after the loop's other sources have had
                    // their turn.
                    _ => next_batch.ping(),
                }
            })?;

        let mut failure = None;
        event_loop.run(None, &mut failure, |_| {})?;
        if let Some(failure) = failure {
            return Err(failure.into());
        }
        if args.updates.is_some() {
            // Give the last updates, on their way, a moment to leave.
            publisher.as_source_ref().flush(Duration::from_secs(1))?;
        }
        Ok(())
    })
}
