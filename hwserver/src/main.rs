//! Hello World server: request-reply, the REP side, on a calloop loop.
//!
//! The ZeroMQ guide, chapter 1, "Ask and Ye Shall Receive" (`hwserver.c`).
//! It binds a REP socket, prints each request, "works" for a while and
//! replies "World". The guide's server sleeps to work; this one sets a
//! timer, so its loop stays free meanwhile and Ctrl-C stops it at once.
//!
//! ```text
//! cargo run -p hwserver              # --bind tcp://*:5555 --work-ms 1000
//! cargo run -p hwclient              # in a second terminal
//! ```

mod request;

use std::process::ExitCode;
use std::time::Duration;

use calloop::EventLoop;
use calloop::timer::{TimeoutAction, Timer};
use clap::Parser;
use zsource::{Event, ZmqSource};

/// Replies "World" to every request, after some simulated work.
#[derive(Parser)]
#[command(version = zhelpers::version!(), about)]
struct Args {
    /// Endpoint to bind the REP socket to.
    #[arg(long, default_value = "tcp://*:5555")]
    bind: String,
    /// Milliseconds of simulated work before each reply.
    #[arg(long, default_value_t = 1000)]
    work_ms: u64,
}

fn main() -> ExitCode {
    zhelpers::main(|| {
        let args = Args::parse();
        let mut event_loop: EventLoop<()> = EventLoop::try_new()?;
        zhelpers::stop_on_ctrl_c(&event_loop)?;

        let context = zmq::Context::new();
        let responder = context.socket(zmq::REP)?;
        zhelpers::cap_message_size(&responder)?;
        zhelpers::bind(&responder, &args.bind)?;
        let responder = ZmqSource::new(responder)?;

        let work = Duration::from_millis(args.work_ms);
        let replies = responder.sender();
        let timers = event_loop.handle();
        event_loop
            .handle()
            .insert_source(responder, move |event, socket, _| {
                let Event::Message(request) = event else {
                    return eprintln!("warning: {event:?}");
                };
                // A malformed request gets its reply too: a REP socket hears
                // the next request only once it has answered this one.
                request::print(&request);
                if work.is_zero() {
                    return request::sent(socket.send("World"));
                }
                // Do some 'work': a timer sends the reply when it is done.
                let replies = replies.clone();
                let reply = move |_, _: &mut (), _: &mut ()| {
                    request::sent(replies.try_send("World"));
                    TimeoutAction::Drop
                };
                if let Err(e) = timers.insert_source(Timer::from_duration(work), reply) {
                    eprintln!("warning: cannot start the work timer: {e}");
                }
            })?;

        event_loop.run(None, &mut (), |_| {})?;
        Ok(())
    })
}
