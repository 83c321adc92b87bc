//! Wayne's World server: two PUB sockets, one on TCP and one on IPC, taking
//! turns on a calloop loop.
//!
//! The Python "Wayne's World" example's `server.py`: the scene where Wayne
//! closes one eye and says "Camera 1", then the other: "Camera 2". On each
//! tick it prints `Camera 1?` and publishes `Camera 1` on its TCP socket,
//! then `Camera 2?` and `Camera 2` on its IPC socket. Each camera subscribes
//! to one socket and only ever sees its own name: one program can publish on
//! several transports at once. The original sleeps between sends; here a
//! timer ticks, so Ctrl-C stops the server at once.
//!
//! The original binds `ipc://*:5567`. Since libzmq 4 an IPC endpoint that
//! starts with `*` means "make up a fresh path", so the original camera 2
//! never hears a thing. This server binds an explicit path (and refuses to
//! take it from a server still running there).
//!
//! ```text
//! cargo run -p waynes-world                  # --tcp tcp://127.0.0.1:5566 --ipc ipc:///tmp/waynes-world.ipc
//! cargo run -p waynes-world --bin camera1    # in other terminals
//! cargo run -p waynes-world --bin camera2
//! ```

use std::process::ExitCode;
use std::time::Duration;

use calloop::EventLoop;
use calloop::timer::{TimeoutAction, Timer};
use clap::Parser;
use zhelpers::ipc_path;
use zsource::ZmqSource;

/// Alternately publishes "Camera 1" on a TCP socket and "Camera 2" on an IPC
/// socket.
#[derive(Parser)]
#[command(version = zhelpers::version!(), about)]
struct Args {
    /// Endpoint to bind camera 1's PUB socket to.
    #[arg(long, default_value = "tcp://127.0.0.1:5566")]
    tcp: String,
    /// Endpoint to bind camera 2's PUB socket to.
    #[arg(long, default_value = "ipc:///tmp/waynes-world.ipc")]
    ipc: String,
    /// Milliseconds between one camera and the next.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    interval_ms: u64,
}

fn main() -> ExitCode {
    zhelpers::main(|| {
        let args = Args::parse();
        let mut event_loop: EventLoop<()> = EventLoop::try_new()?;
        zhelpers::stop_on_ctrl_c(&event_loop)?;

        // Declared before the context, so dropped after it: libzmq leaves
        // the IPC socket's file behind, and this removes it.
        let mut socket_files = Vec::new();
        let context = zmq::Context::new();
        let mut publisher = |endpoint: &str| -> Result<_, Box<dyn std::error::Error>> {
            ipc_path::check(endpoint)?;
            let socket = context.socket(zmq::PUB)?;
            let bound = zhelpers::bind_quietly(&socket, endpoint)?;
            socket_files.extend(ipc_path::SocketFile::of(&bound));
            Ok((ZmqSource::new(socket)?, bound))
        };
        let (tcp, tcp_endpoint) = publisher(&args.tcp)?;
        let (ipc, ipc_endpoint) = publisher(&args.ipc)?;

        // The timer publishes through the sockets' senders; a PUB socket
        // never blocks: with no subscriber, or a slow one, ZeroMQ drops it.
        let cameras = [(tcp.sender(), "Camera 1"), (ipc.sender(), "Camera 2")];
        for camera in [tcp, ipc] {
            event_loop.handle().insert_source(camera, |event, _, _| {
                eprintln!("warning: {event:?}");
            })?;
        }
        let interval = Duration::from_millis(args.interval_ms);
        let mut turn = 0;
        event_loop
            .handle()
            .insert_source(Timer::immediate(), move |_, _, _| {
                let (camera, name) = &cameras[turn];
                println!("{name}?");
                if let Err(e) = camera.try_send(*name) {
                    eprintln!("warning: {name} not published: {e}");
                }
                turn = 1 - turn;
                TimeoutAction::ToDuration(interval)
            })?;

        // Only now that both are bound, so that a server that cannot bind
        // one says only that.
        eprintln!("listening on {tcp_endpoint}");
        eprintln!("listening on {ipc_endpoint}");
        event_loop.run(None, &mut (), |_| {})?;
        Ok(())
    })
}
