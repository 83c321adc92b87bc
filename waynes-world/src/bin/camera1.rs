//! Wayne's World cameras: a SUB socket on a calloop loop, subscribed to
//! everything one of the server's two sockets publishes.
//!
//! The Python "Wayne's World" example's `camera1.py` and `camera2.py`: one
//! program here, this one, built twice (`camera2.rs` only calls it), each
//! knowing by its name which camera it is. `camera1` listens to the server's TCP socket
//! and prints `MSG 1:  'Camera 1'` for each message, as the original does;
//! `camera2` listens to its IPC socket and prints `MSG 2:  'Camera 2'`.
//! Neither ever sees the other's name: the server publishes each on its own
//! socket. Like any subscriber, a camera misses what was published before it
//! connected. (The original camera 2 connects to `ipc://*:5567`, a path a
//! server on libzmq 4 never binds: see the server's notes.)
//!
//! ```text
//! cargo run -p waynes-world                  # in another terminal
//! cargo run -p waynes-world --bin camera1    # --connect tcp://127.0.0.1:5566
//! cargo run -p waynes-world --bin camera2    # --connect ipc:///tmp/waynes-world.ipc
//! ```

use std::process::ExitCode;

use calloop::EventLoop;
use clap::Parser;
use zsource::{Event, ZmqSource};

/// Which camera this is: the last character of the program's name.
const CAMERA: &str = match env!("CARGO_BIN_NAME").as_bytes() {
    [.., b'1'] => "1",
    _ => "2",
};

/// The server's socket for this camera.
const SERVER: &str = match CAMERA.as_bytes() {
    b"1" => "tcp://127.0.0.1:5566",
    _ => "ipc:///tmp/waynes-world.ipc",
};

/// Prints every message the Wayne's World server publishes on one socket.
#[derive(Parser)]
#[command(name = env!("CARGO_BIN_NAME"), version = zhelpers::version!(), about)]
struct Args {
    /// Endpoint of the server's socket for this camera.
    #[arg(long, default_value = SERVER)]
    connect: String,
}

/// A camera's name is a few bytes: a longer message is skipped, with a
/// warning.
const MAX_MESSAGE_BYTES: usize = 1024;

/// The camera; `camera2` is this too.
pub fn main() -> ExitCode {
    zhelpers::main(|| {
        let args = Args::parse();
        let mut event_loop: EventLoop<()> = EventLoop::try_new()?;
        zhelpers::stop_on_ctrl_c(&event_loop)?;

        let context = zmq::Context::new();
        let subscriber = context.socket(zmq::SUB)?;
        // A guard only: a connecting socket that meets a message over the
        // cap drops the connection for good, so the camera skips long ones.
        zhelpers::cap_message_size(&subscriber)?;
        // An empty prefix matches every message.
        subscriber.set_subscribe(b"")?;
        zhelpers::connect(&subscriber, &args.connect)?;
        let subscriber = ZmqSource::new(subscriber)?;

        event_loop
            .handle()
            .insert_source(subscriber, |event, _, _| {
                let Event::Message(message) = event else {
                    return eprintln!("warning: {event:?}");
                };
                let size: usize = message.frames().map(<[u8]>::len).sum();
                match message.single().map(std::str::from_utf8) {
                    _ if size > MAX_MESSAGE_BYTES => {
                        eprintln!("warning: skipping a message of {size} bytes");
                    }
                    // Escaped, as Python's repr() does, so one message is a line.
                    Some(Ok(text)) if !text.is_empty() => {
                        println!("MSG {CAMERA}:  '{}'", text.escape_debug());
                    }
                    _ => eprintln!("warning: skipping a malformed message: {message:?}"),
                }
            })?;

        event_loop.run(None, &mut (), |_| {})?;
        Ok(())
    })
}
