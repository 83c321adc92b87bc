//! Weather update client: publish-subscribe, the SUB side, on a calloop loop.
//!
//! The ZeroMQ guide, chapter 1, "Getting the Message Out" (`wuclient.c`). It
//! subscribes to one zip code's updates, collects a hundred and prints their
//! average temperature. A subscription is a prefix of the update's text,
//! hence the trailing space in the default `"10001 "`: without it, 100010
//! would match too. With the filtering done at the server, only those
//! updates cross the wire. Start the client before the server, or restart
//! the server while it runs: ZeroMQ reconnects, and the client counts on.
//!
//! ```text
//! cargo run --release -p wuserver    # in another terminal
//! cargo run --release -p wuclient    # "10001 " --connect tcp://localhost:5556 --updates 100
//! ```

mod update;

use std::process::ExitCode;

use calloop::{EventLoop, LoopSignal};
use clap::Parser;
use zsource::{Event, ZmqSource};

/// Averages the temperature of one zip code's weather updates.
#[derive(Parser)]
#[command(version = zhelpers::version!(), about)]
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

/// What the callback keeps.
struct Client {
    received: u32,
    wanted: u32,
    total_temperature: i64,
    signal: LoopSignal,
}

fn main() -> ExitCode {
    zhelpers::main(|| {
        let args = Args::parse();
        let mut event_loop: EventLoop<Client> = EventLoop::try_new()?;
        zhelpers::stop_on_ctrl_c(&event_loop)?;

        println!("Collecting updates from weather server...");
        let context = zmq::Context::new();
        let subscriber = context.socket(zmq::SUB)?;
        // A guard only: a connecting socket that meets a message over the
        // cap drops the connection for good, so the client skips long
        // updates itself.
        zhelpers::cap_message_size(&subscriber)?;
        zhelpers::connect(&subscriber, &args.connect)?;
        // Without a subscription, a SUB socket receives nothing at all.
        subscriber.set_subscribe(args.filter.as_bytes())?;
        let subscriber = ZmqSource::new(subscriber)?;

        event_loop
            .handle()
            .insert_source(subscriber, |event, _, client| {
                let Event::Message(update) = event else {
                    return eprintln!("warning: {event:?}");
                };
                // The rest of a dispatch's batch may come after we have enough.
                if client.received == client.wanted {
                    return;
                }
                match update::temperature(&update) {
                    Ok(temperature) => {
                        client.total_temperature += i64::from(temperature);
                        client.received += 1;
                        if client.received == client.wanted {
                            client.signal.stop();
                        }
                    }
                    Err(why) => {
                        eprintln!("warning: skipping a malformed update ({why}): {update:?}")
                    }
                }
            })?;

        let signal = event_loop.get_signal();
        let mut client = Client {
            received: 0,
            wanted: args.updates,
            total_temperature: 0,
            signal,
        };
        event_loop.run(None, &mut client, |_| {})?;
        // Stopped by Ctrl-C before the count was reached: nothing to report.
        if client.received == client.wanted {
            let average = update::average(client.total_temperature, client.received);
            println!(
                "Average temperature for zipcode '{}' was {average}F",
                args.filter
            );
        }
        Ok(())
    })
}
