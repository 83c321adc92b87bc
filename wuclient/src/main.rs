//! Weather update client: publish-subscribe (SUB) on a calloop event loop.
//!
//! A port of `wuclient` from chapter 1 of the ZeroMQ guide ("Getting the
//! Message Out"). It subscribes to the updates of one zip code, collects a
//! hundred of them and prints their average temperature. The subscription is
//! a prefix of the update's text, hence the trailing space in the default
//! `"10001 "`: without it, zip codes such as 100010 would match too.
//!
//! The server publishes about 100,000 zip codes, so a hundred updates for one
//! of them means some ten million published. With ZeroMQ doing the filtering
//! on the server's side, only the hundred cross the wire. Start the client
//! before the server if you like, or restart the server while the client
//! runs: ZeroMQ reconnects, and the client just goes on counting.
//!
//! Run the server, then the client in a second terminal:
//!
//! ```text
//! cargo run --release -p wuserver
//! cargo run --release -p wuclient       # "10001 " --connect tcp://localhost:5556 --updates 100
//! cargo run --release -p wuclient -- "12345 " --updates 10
//! ```

use std::error::Error;
use std::process::ExitCode;

use calloop::ping::make_ping;
use calloop::{EventLoop, LoopSignal};
use clap::Parser;
use zsource::{Event, Multipart, ZmqSource};

/// Averages the temperature of one zip code's weather updates.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Prefix of the updates to collect: a zip code and a space.
    #[arg(default_value = "10001 ")]
    filter: String,
    /// Endpoint of the weather server.
    #[arg(long, default_value = "tcp://localhost:5556")]
    connect: String,
    /// How many updates to average.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    updates: u32,
}

/// An update is a dozen bytes: a longer message is skipped, with a warning.
const MAX_UPDATE_BYTES: usize = 256;

/// libzmq's own limit (ZMQ_MAXMSGSIZE), so that a rogue publisher cannot make
/// the client buffer gigabytes. It is far above `MAX_UPDATE_BYTES` because
/// libzmq does not skip a message over it: it drops the connection as broken,
/// and a connecting socket does not reconnect after that. The client would
/// wait forever.
const ZMQ_MAX_MESSAGE_BYTES: i64 = 1 << 20;

/// What the loop's callbacks share.
struct Client {
    /// Updates counted so far.
    received: u32,
    /// How many to count.
    wanted: u32,
    total_temperature: i64,
    signal: LoopSignal,
}

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
    // Ctrl-C that came before would be lost.) Set up before the first line
    // is printed, so no signal meets the default handler once the client is
    // seen to run.
    let mut event_loop: EventLoop<Client> = EventLoop::try_new()?;
    let (interrupt, interrupted) = make_ping()?;
    ctrlc::set_handler(move || interrupt.ping())?;
    let signal = event_loop.get_signal();
    event_loop
        .handle()
        .insert_source(interrupted, move |(), _, _| signal.stop())?;

    println!("Collecting updates from weather server...");
    let context = zmq::Context::new();
    let subscriber = context.socket(zmq::SUB)?;
    subscriber.set_maxmsgsize(ZMQ_MAX_MESSAGE_BYTES)?;
    zsource::retry_interrupted(|| subscriber.connect(&args.connect))
        .map_err(|e| format!("connect {}: {e}", args.connect))?;
    // Without a subscription, a SUB socket receives nothing at all.
    subscriber.set_subscribe(args.filter.as_bytes())?;

    event_loop.handle().insert_source(
        ZmqSource::new(subscriber)?,
        |event, _, client: &mut Client| {
            let Event::Message(update) = event else {
                return;
            };
            // The rest of this dispatch's batch may arrive after we have
            // enough; the loop stops once the batch is done.
            if client.received == client.wanted {
                return;
            }
            match temperature(&update) {
                Ok(temperature) => {
                    client.total_temperature += i64::from(temperature);
                    client.received += 1;
                    if client.received == client.wanted {
                        client.signal.stop();
                    }
                }
                Err(why) => eprintln!("warning: skipping a malformed update ({why}): {update:?}"),
            }
        },
    )?;

    let mut client = Client {
        received: 0,
        wanted: args.updates,
        total_temperature: 0,
        signal: event_loop.get_signal(),
    };
    event_loop.run(None, &mut client, |_| {})?;
    // Stopped by Ctrl-C before the count was reached: nothing to report.
    if client.received == client.wanted {
        println!(
            "Average temperature for zipcode '{}' was {}F",
            args.filter,
            average(client.total_temperature, client.received)
        );
    }
    Ok(())
}

/// The temperature of an update, `"zipcode temperature humidity"`: three
/// whole numbers, in one frame of UTF-8 text. The text ends at the first
/// NUL, if there is one, as the guide's C client reads it: the C++ server
/// sends a 20-byte buffer holding a C string, and whatever follows its NUL
/// is leftover memory.
fn temperature(update: &Multipart) -> Result<i32, String> {
    let frame = update
        .single()
        .ok_or_else(|| format!("{} frames, expected one", update.frame_count()))?;
    if frame.len() > MAX_UPDATE_BYTES {
        return Err(format!(
            "{} bytes, more than {MAX_UPDATE_BYTES}",
            frame.len()
        ));
    }
    let c_string = frame.split(|&byte| byte == 0).next().unwrap_or_default();
    let text = std::str::from_utf8(c_string).map_err(|_| "not UTF-8")?;
    let fields: Vec<&str> = text.split_whitespace().collect();
    let [zipcode, temperature, humidity] = fields[..] else {
        return Err(format!("{} fields, expected three", fields.len()));
    };
    let number = |field: &str| {
        field
            .parse::<i32>()
            .map_err(|e| format!("{field:?} is not a whole number: {e}"))
    };
    number(zipcode)?;
    let temperature = number(temperature)?;
    number(humidity)?;
    Ok(temperature)
}

/// The average as the guide's C computes it: integer division, which
/// truncates toward zero.
fn average(total: i64, count: u32) -> i64 {
    total / i64::from(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_temperature_of_an_update() {
        assert_eq!(temperature(&Multipart::from("10001 23 45")), Ok(23));
        assert_eq!(temperature(&Multipart::from("00042 -80 10")), Ok(-80));
        // The guide's Python server does not pad zip codes.
        assert_eq!(temperature(&Multipart::from("42 134 59")), Ok(134));
    }

    #[test]
    fn reads_an_update_as_a_c_string() {
        // As the guide's C++ server sends it: 20 bytes, the rest leftovers.
        let cpp = b"10001 23 45\0\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa";
        assert_eq!(temperature(&Multipart::from(&cpp[..])), Ok(23));
        assert_eq!(temperature(&Multipart::from(&b"10001 23 45\0"[..])), Ok(23));
        assert!(temperature(&Multipart::from(&b"\x0010001 23 45"[..])).is_err());
    }

    #[test]
    fn rejects_malformed_updates() {
        let malformed = [
            Multipart::from(""),
            Multipart::from("10001 hot humid"),
            Multipart::from("10001 23"),
            Multipart::from("10001 23 45 67"),
            Multipart::from("10001 99999999999 45"),
            Multipart::from(&b"10001 23 \xff"[..]),
            Multipart::new("10001 23 45").with("extra"),
            Multipart::from(format!("10001 23 45{}", " ".repeat(300))),
        ];
        for update in malformed {
            assert!(temperature(&update).is_err(), "{update:?}");
        }
    }

    #[test]
    fn the_average_truncates_toward_zero() {
        assert_eq!(average(47, 2), 23);
        assert_eq!(average(-47, 2), -23);
        assert_eq!(average(-80 * 3, 3), -80);
    }
}
