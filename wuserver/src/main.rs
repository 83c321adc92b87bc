//! Weather update server: publish-subscribe (PUB) on a calloop event loop.
//!
//! A port of `wuserver` from chapter 1 of the ZeroMQ guide ("Getting the
//! Message Out"). It binds a PUB socket and publishes random weather updates,
//! `"%05d %d %d"` (zip code, temperature, relative humidity), as fast as it
//! can, forever. There is no start and no end to the stream: subscribers
//! join whenever they like and miss what came before.
//!
//! The guide publishes in a plain `while (1)` loop. Here the updates go out
//! in batches from a calloop ping that pings itself after each batch, so the
//! loop's other sources, Ctrl-C among them, still get their turn between
//! batches, even at full speed.
//!
//! Run it, then one or more clients in other terminals:
//!
//! ```text
//! cargo run --release -p wuserver       # --bind tcp://*:5556 --bind ipc://weather.ipc
//! cargo run --release -p wuclient       # zip code 10001
//! cargo run --release -p wuclient -- "12345 "
//! ```

use std::error::Error;
use std::process::ExitCode;
use std::time::Duration;

use calloop::ping::make_ping;
use calloop::{Dispatcher, EventLoop};
use clap::Parser;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use zsource::ZmqSource;

/// Publishes random weather updates, as fast as it can, forever.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Endpoint to bind the PUB socket to. Repeat the flag to bind several;
    /// any given replaces both defaults.
    #[arg(long, default_values = ["tcp://*:5556", "ipc://weather.ipc"])]
    bind: Vec<String>,
    /// Seed for the random updates, to make the stream repeatable.
    #[arg(long)]
    seed: Option<u64>,
    /// Publish this many updates, then exit: for timing the server. Without
    /// it, the server publishes forever, as the guide's does.
    #[arg(long)]
    updates: Option<u64>,
}

/// Updates published per turn of the loop: enough that the loop's own cost
/// (a ping and a poll, a few microseconds) vanishes next to the batch, few
/// enough that a batch takes well under a millisecond, so Ctrl-C is never
/// kept waiting.
const BATCH: u64 = 2048;

/// How long `--updates` waits for the last updates to leave before exiting.
const FLUSH: Duration = Duration::from_secs(1);

/// Room for the longest update [`write_update`] can write: three numbers of
/// up to ten digits, a minus sign and two spaces.
const UPDATE_CAPACITY: usize = 34;

/// Errors are one plain line, `error: ...`, and exit status 1 (returned
/// from `main`, Rust would print them Debug-quoted).
fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    let args = Args::parse();

    // Ctrl-C and SIGTERM come in on another thread, as a ping the loop
    // handles like any other event. (Calling `signal.stop()` from the
    // handler is not enough: `run` clears that flag when it starts, so a
    // Ctrl-C that came before would be lost.) Set up before binding, so no
    // signal meets the default handler once the server is seen to be up.
    let mut event_loop: EventLoop<Option<String>> = EventLoop::try_new()?;
    let (interrupt, interrupted) = make_ping()?;
    ctrlc::set_handler(move || interrupt.ping())?;
    let signal = event_loop.get_signal();
    event_loop
        .handle()
        .insert_source(interrupted, move |(), _, _| signal.stop())?;

    let context = zmq::Context::new();
    let publisher = context.socket(zmq::PUB)?;
    for endpoint in &args.bind {
        zsource::retry_interrupted(|| publisher.bind(endpoint))
            .map_err(|e| format!("bind {endpoint}: {e}"))?;
        // With a wildcard such as tcp://127.0.0.1:*, this says which port we got.
        let bound = publisher
            .get_last_endpoint()?
            .unwrap_or_else(|raw| String::from_utf8_lossy(&raw).into_owned());
        eprintln!("listening on {bound}");
    }

    // The source owns the socket. A PUB socket never receives, and nothing
    // is queued in the source (updates go straight to the socket below), so
    // its callback never runs. Registering it through a Dispatcher keeps a
    // handle on it for the publishing callback.
    let publisher = Dispatcher::new(ZmqSource::new(publisher)?, |_, _, _| {});
    let handle = event_loop.handle();
    handle.register_dispatcher(publisher.clone())?;
    let publishing = publisher.clone();

    let mut random = match args.seed {
        Some(seed) => SmallRng::seed_from_u64(seed),
        None => SmallRng::from_rng(&mut rand::rng()),
    };
    let mut buffer = [0; UPDATE_CAPACITY];
    // "Forever" is 2^64 updates: some thousands of years at full speed.
    let mut left = args.updates.unwrap_or(u64::MAX);
    let signal = event_loop.get_signal();
    let (next_batch, batches) = make_ping()?;
    next_batch.ping();
    handle.insert_source(batches, move |(), &mut (), failure: &mut Option<String>| {
        let source = publishing.as_source_ref();
        let socket = source.socket();
        for _ in 0..BATCH.min(left) {
            left -= 1;
            let zipcode = random.random_range(0..100_000);
            let temperature = random.random_range(-80..=134);
            let humidity = random.random_range(10..=59);
            let update = write_update(&mut buffer, zipcode, temperature, humidity);
            // Straight to the socket, not through the source's queue: a PUB
            // socket never blocks, it drops updates for a subscriber that is
            // at its high-water mark (that is PUB's contract), so there is
            // nothing to queue or retry.
            match socket.send(update, zmq::DONTWAIT) {
                Ok(()) => {}
                Err(zmq::Error::EAGAIN | zmq::Error::EINTR) => break,
                Err(e) => {
                    *failure = Some(format!("publish an update: {e}"));
                    signal.stop();
                    return;
                }
            }
        }
        if left == 0 {
            signal.stop();
            return;
        }
        // Come back for the next batch after the other sources have had
        // their turn.
        next_batch.ping();
    })?;

    let mut failure = None;
    event_loop.run(None, &mut failure, |_| {})?;
    if args.updates.is_some() && failure.is_none() {
        // Give the last updates, still on their way, a moment to leave.
        publisher.as_source_mut().flush(FLUSH)?;
    }
    match failure {
        Some(failure) => Err(failure.into()),
        None => Ok(()),
    }
}

/// Writes an update as C's `"%05d %d %d"` would, into `buffer`, and returns
/// the bytes written. This runs millions of times a second, so it writes the
/// digits itself rather than allocate a `String` with `format!` each time.
fn write_update(
    buffer: &mut [u8; UPDATE_CAPACITY],
    zipcode: u32,
    temperature: i32,
    humidity: u32,
) -> &[u8] {
    let mut end = write_decimal(buffer, 0, zipcode, 5);
    buffer[end] = b' ';
    // The minus sign is always written, and kept only for a negative
    // temperature: cheaper than a branch the processor cannot predict.
    buffer[end + 1] = b'-';
    end += 1 + usize::from(temperature < 0);
    end = write_decimal(buffer, end, temperature.unsigned_abs(), 1);
    buffer[end] = b' ';
    end += 1;
    end = write_decimal(buffer, end, humidity, 1);
    &buffer[..end]
}

/// "00" to "99": two digits per division halves the work of printing a
/// number.
const DIGIT_PAIRS: [[u8; 2]; 100] = {
    let mut pairs = [[0; 2]; 100];
    let mut number = 0;
    while number < 100 {
        pairs[number] = [b'0' + (number / 10) as u8, b'0' + (number % 10) as u8];
        number += 1;
    }
    pairs
};

/// Writes `value` in decimal at `buffer[start..]`, padded with zeros to at
/// least `width` digits, and returns where it ended.
fn write_decimal(buffer: &mut [u8], start: usize, value: u32, width: usize) -> usize {
    let digits = value.checked_ilog10().map_or(1, |log| log as usize + 1);
    let end = start + digits.max(width);
    // Last digits first; once the value runs out, the rest is zero padding.
    let mut rest = value;
    let mut at = end;
    while at - start >= 2 {
        buffer[at - 2..at].copy_from_slice(&DIGIT_PAIRS[(rest % 100) as usize]);
        rest /= 100;
        at -= 2;
    }
    if at > start {
        buffer[start] = b'0' + (rest % 10) as u8;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(zipcode: u32, temperature: i32, humidity: u32) -> String {
        let mut buffer = [0; UPDATE_CAPACITY];
        let bytes = write_update(&mut buffer, zipcode, temperature, humidity);
        String::from_utf8(bytes.to_vec()).expect("digits are ASCII")
    }

    #[test]
    fn zip_codes_are_padded_to_five_digits() {
        assert_eq!(update(0, 0, 10), "00000 0 10");
        assert_eq!(update(7, 21, 45), "00007 21 45");
        assert_eq!(update(1001, 21, 45), "01001 21 45");
        assert_eq!(update(10001, 21, 45), "10001 21 45");
    }

    #[test]
    fn negative_temperatures_have_a_minus_sign() {
        assert_eq!(update(10001, -1, 50), "10001 -1 50");
        assert_eq!(update(10001, -80, 50), "10001 -80 50");
    }

    #[test]
    fn the_extremes_of_the_guides_ranges() {
        assert_eq!(update(0, -80, 10), "00000 -80 10");
        assert_eq!(update(99999, 134, 59), "99999 134 59");
    }

    #[test]
    fn the_extremes_of_the_types_fit() {
        assert_eq!(
            update(u32::MAX, i32::MIN, u32::MAX),
            "4294967295 -2147483648 4294967295"
        );
        assert_eq!(update(123456, i32::MAX, 0), "123456 2147483647 0");
    }

    #[test]
    fn agrees_with_format_over_the_guides_ranges() {
        let mut random = SmallRng::seed_from_u64(1);
        for _ in 0..100_000 {
            let zipcode = random.random_range(0..100_000);
            let temperature = random.random_range(-80..=134);
            let humidity = random.random_range(10..=59);
            assert_eq!(
                update(zipcode, temperature, humidity),
                format!("{zipcode:05} {temperature} {humidity}")
            );
        }
    }
}
