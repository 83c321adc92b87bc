//! Wayne's World server: two PUB sockets, one on TCP and one on IPC, taking
//! turns on a calloop event loop.
//!
//! A port of `server.py` from the Python "Wayne's World" example, the scene
//! where Wayne closes one eye and says "Camera 1", then the other: "Camera 2".
//! On every tick the server prints `Camera 1?` and publishes `Camera 1` on its
//! TCP socket, then on the next tick `Camera 2?` and `Camera 2` on its IPC
//! socket. Each camera subscribes to one of the two sockets, so it only ever
//! sees its own name: one program can publish on several transports at once.
//! The original sleeps between sends; here a calloop timer ticks, and both
//! sockets are event sources in the same loop, so Ctrl-C stops it at once.
//!
//! The original binds `ipc://*:5567`. Since libzmq 4 an IPC endpoint that
//! starts with `*` means "make up a fresh path" (a new temporary directory),
//! so the original camera 2, which connects to `ipc://*:5567`, never hears a
//! thing. This server binds an explicit path, and its `listening on` line
//! says where a wildcard ended up.
//!
//! Run the server, then each camera in a terminal of its own:
//!
//! ```text
//! cargo run -p waynes-world     # --tcp tcp://127.0.0.1:5566 --ipc ipc:///tmp/waynes-world.ipc --interval-ms 1000
//! cargo run -p waynes-world --bin camera1
//! cargo run -p waynes-world --bin camera2
//! ```

use std::error::Error;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use calloop::EventLoop;
use calloop::ping::make_ping;
use calloop::timer::{TimeoutAction, Timer};
use clap::Parser;
use zsource::{Event, ZmqSource};

/// Alternately publishes "Camera 1" on a TCP socket and "Camera 2" on an IPC
/// socket.
#[derive(Parser)]
#[command(version)]
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

    // Declared before the context, so dropped after it: by then libzmq has
    // closed the sockets and done its own cleaning up.
    let mut socket_files = Vec::new();
    let context = zmq::Context::new();
    let (tcp, tcp_endpoint) = publisher(&context, &args.tcp)?;
    let (ipc, ipc_endpoint) = publisher(&context, &args.ipc)?;
    socket_files.extend(SocketFile::of(&tcp_endpoint));
    socket_files.extend(SocketFile::of(&ipc_endpoint));

    let mut event_loop: EventLoop<()> = EventLoop::try_new()?;
    // Ctrl-C arrives as an event like any other. A ping keeps one that comes
    // before the loop runs, which a bare `LoopSignal::stop` would not: `run`
    // clears the stop flag when it starts.
    let (ctrl_c, stopped) = make_ping()?;
    ctrlc::set_handler(move || ctrl_c.ping())?;
    let signal = event_loop.get_signal();
    event_loop
        .handle()
        .insert_source(stopped, move |(), _, _| signal.stop())?;

    // The timer publishes through the sockets' senders; the sources, in the
    // loop, hand the messages to ZeroMQ. A PUB socket never blocks: with no
    // subscriber, or a slow one, ZeroMQ drops the message.
    let tcp = ZmqSource::new(tcp)?;
    let ipc = ZmqSource::new(ipc)?;
    let cameras = [(tcp.sender(), "Camera 1"), (ipc.sender(), "Camera 2")];
    for camera in [tcp, ipc] {
        event_loop.handle().insert_source(camera, |event, _, _| {
            if let Event::SendFailed { error, .. } = event {
                eprintln!("warning: not published: {error}");
            }
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

    // Only now, with both sockets bound and Ctrl-C handled: a server that
    // cannot bind one socket says only that, and a script may stop the server
    // as soon as it is listening.
    eprintln!("listening on {tcp_endpoint}");
    eprintln!("listening on {ipc_endpoint}");
    event_loop.run(None, &mut (), |_| {})?;
    Ok(())
}

/// A PUB socket bound to `endpoint`, and the endpoint as libzmq reports it
/// (with the port it picked for `tcp://127.0.0.1:*`).
fn publisher(context: &zmq::Context, endpoint: &str) -> Result<(zmq::Socket, String), String> {
    check_ipc_path(endpoint)?;
    let socket = context
        .socket(zmq::PUB)
        .map_err(|e| format!("create a PUB socket: {e}"))?;
    zsource::retry_interrupted(|| socket.bind(endpoint))
        .map_err(|e| format!("bind {endpoint}: {e}"))?;
    let bound = socket
        .get_last_endpoint()
        .map_err(|e| format!("read the endpoint of {endpoint}: {e}"))?
        .unwrap_or_else(|raw| String::from_utf8_lossy(&raw).into_owned());
    Ok((socket, bound))
}

/// Refuses to bind an IPC path that holds anything but a stale socket file.
///
/// libzmq deletes whatever is at the path before it binds, so that the socket
/// file a killed server left behind does not block the next one. But it would
/// as readily delete a regular file, or take the path from a server that is
/// still running, whose cameras would then be cut off without a word.
fn check_ipc_path(endpoint: &str) -> Result<(), String> {
    let Some(path) = socket_path(endpoint) else {
        return Ok(());
    };
    let Ok(found) = fs::symlink_metadata(path) else {
        return Ok(()); // Nothing there yet.
    };
    if !found.file_type().is_socket() {
        return Err(format!(
            "bind {endpoint}: {} is not a socket, and binding would delete it",
            path.display()
        ));
    }
    // Only a live server accepts a connection. One that starts between this
    // check and the bind still loses its path; this catches the common case,
    // the demo started twice.
    if UnixStream::connect(path).is_ok() {
        return Err(format!(
            "bind {endpoint}: another server is listening there"
        ));
    }
    Ok(())
}

/// The file an IPC endpoint names: not a wildcard (`ipc://*`, a path libzmq
/// makes up), nor a Linux abstract address (`ipc://@name`, which has no file).
fn socket_path(endpoint: &str) -> Option<&Path> {
    let path = endpoint.strip_prefix("ipc://")?;
    (!path.is_empty() && !path.starts_with(['*', '@'])).then_some(Path::new(path))
}

/// Removes an IPC socket file on exit: libzmq 4.3 leaves it behind, even on
/// `zmq_unbind` (it cleans up only the directory a wildcard bind made, and
/// only if it made one). A file that is gone, or no longer the one we bound
/// (another program took the path since), is left alone.
struct SocketFile {
    path: PathBuf,
    inode: u64,
}

impl SocketFile {
    fn of(endpoint: &str) -> Option<SocketFile> {
        let path = socket_path(endpoint)?;
        let inode = fs::symlink_metadata(path).ok()?.ino();
        Some(SocketFile {
            path: path.to_path_buf(),
            inode,
        })
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        let ours = fs::symlink_metadata(&self.path).is_ok_and(|found| found.ino() == self.inode);
        if !ours {
            return;
        }
        if let Err(e) = fs::remove_file(&self.path) {
            eprintln!("warning: cannot remove {}: {e}", self.path.display());
        }
    }
}
