//! The plumbing the examples share, written once, as the ZeroMQ guide's
//! `zhelpers.h` is: none of it is a lesson of ZeroMQ or of calloop, so each
//! program calls it in one line and gets on with its pattern.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let context = zmq::Context::new();
//! let server = context.socket(zmq::REP)?;
//! // Prints `listening on tcp://127.0.0.1:<the port it got>` on stderr.
//! let endpoint = zhelpers::bind(&server, "tcp://127.0.0.1:*")?;
//! let client = context.socket(zmq::REQ)?;
//! zhelpers::connect(&client, &endpoint)?;
//! assert_eq!(zhelpers::c_text(b"Hello\0\xff\xff"), Ok("Hello"));
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

use std::error::Error;
use std::process::ExitCode;
use std::sync::OnceLock;

use calloop::EventLoop;
use calloop::ping::make_ping;
use zsource::retry_interrupted;

pub mod ipc_path;
pub mod json;

/// The README's Rust snippets, compiled and run as doctests, so that the
/// primer a newcomer copies is known to work.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

/// The most bytes a server takes in one message (`ZMQ_MAXMSGSIZE`, set by
/// [`cap_message_size`]): far more than any of the guide's messages, so no
/// sane peer meets it, and a peer that sends more is dropped, connection and
/// all, rather than buffered whatever it sends.
pub const MAX_MESSAGE_BYTES: i64 = 1 << 20;

/// Runs a program and reports its error as one plain line on stderr,
/// `error: bind nonsense: Invalid argument`, with exit status 1. (A `main`
/// that returned the error itself would print it Debug-quoted.)
///
/// A program whose output is closed (`json-client | head -1`) stops
/// quietly with status 141, as a C program killed by SIGPIPE is reported.
/// (Rust ignores SIGPIPE, so `println!` panics on a closed pipe instead.)
pub fn main(program: impl FnOnce() -> Result<(), Box<dyn Error>>) -> ExitCode {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |panic| {
        if is_broken_pipe(panic) {
            std::process::exit(141);
        }
        report(panic);
    }));
    match program() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Whether a panic is `println!`'s on a closed stdout (or `eprintln!`'s on
/// a closed stderr): std's message, "failed printing to stdout: Broken
/// pipe (os error 32)".
fn is_broken_pipe(panic: &std::panic::PanicHookInfo<'_>) -> bool {
    let payload = panic.payload();
    let message = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or_default();
    message.starts_with("failed printing to std") && message.contains("Broken pipe")
}

/// The version a program reports for `--version`: its own and libzmq's,
/// as the guide's "Version Reporting" program prints it. For clap:
/// `#[command(version = zhelpers::version!())]`.
#[macro_export]
macro_rules! version {
    () => {
        $crate::version_of(env!("CARGO_PKG_VERSION"))
    };
}

/// What [`version!`] expands to: `0.1.0 (libzmq 4.3.4)`.
pub fn version_of(program: &str) -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let (major, minor, patch) = zmq::version();
        format!("{program} (libzmq {major}.{minor}.{patch})")
    })
}

/// Stops the loop on Ctrl-C or SIGTERM, with a clean exit.
///
/// The handler runs on a thread of its own and pings the loop, which stops
/// on its next turn. (Calling `LoopSignal::stop` from the handler would not
/// do: `EventLoop::run` clears that flag when it starts, so a Ctrl-C that
/// came just before would be lost.) Call it before binding, so that no
/// signal meets the default handler once the program is seen to be up.
///
/// # Errors
///
/// If the ping cannot be made or inserted, or a handler is already set.
pub fn stop_on_ctrl_c<Data>(event_loop: &EventLoop<'_, Data>) -> Result<(), Box<dyn Error>> {
    let (interrupt, interrupted) = make_ping()?;
    ctrlc::set_handler(move || interrupt.ping())?;
    let signal = event_loop.get_signal();
    event_loop
        .handle()
        .insert_source(interrupted, move |(), _, _| signal.stop())?;
    Ok(())
}

/// Binds the socket and says where on stderr, `listening on <endpoint>`,
/// with the endpoint libzmq reports: so `tcp://127.0.0.1:*` tells a test or
/// a script which port it got. Returns that endpoint.
///
/// # Errors
///
/// One line naming the endpoint: `bind nonsense: Invalid argument`.
pub fn bind(socket: &zmq::Socket, endpoint: &str) -> Result<String, String> {
    let bound = bind_quietly(socket, endpoint)?;
    eprintln!("listening on {bound}");
    Ok(bound)
}

/// As [`bind`], without saying where: for a server with several sockets,
/// which says where it listens only once all are bound, so that one that
/// cannot bind them all says only that.
///
/// An IPC path is [`ipc_path::check`]ed first: libzmq would delete a file
/// that is not a socket, or take the path from a server still running.
///
/// # Errors
///
/// As [`bind`], and as [`ipc_path::check`].
pub fn bind_quietly(socket: &zmq::Socket, endpoint: &str) -> Result<String, String> {
    ipc_path::check(endpoint)?;
    let failed = |error| format!("bind {endpoint}: {error}");
    retry_interrupted(|| socket.bind(endpoint)).map_err(failed)?;
    let bound = socket
        .get_last_endpoint()
        .map_err(failed)?
        .unwrap_or_else(|raw| String::from_utf8_lossy(&raw).into_owned());
    Ok(bound)
}

/// Connects the socket. ZeroMQ connects in the background, so this succeeds
/// whether the peer is there yet or not.
///
/// # Errors
///
/// One line naming the endpoint, if it cannot be parsed.
pub fn connect(socket: &zmq::Socket, endpoint: &str) -> Result<(), String> {
    retry_interrupted(|| socket.connect(endpoint))
        .map_err(|error| format!("connect {endpoint}: {error}"))
}

/// Caps the messages the socket takes at [`MAX_MESSAGE_BYTES`].
///
/// # Errors
///
/// If libzmq refuses the option.
pub fn cap_message_size(socket: &zmq::Socket) -> Result<(), zmq::Error> {
    socket.set_maxmsgsize(MAX_MESSAGE_BYTES)
}

/// A frame as the guide's C reads a string: up to the first NUL, if there
/// is one. The guide's C++ programs send NUL-terminated strings in buffers
/// with leftovers after the NUL.
pub fn c_string(frame: &[u8]) -> &[u8] {
    frame.split(|&byte| byte == 0).next().unwrap_or_default()
}

/// A frame's text as the guide's C reads it: [`c_string`], as UTF-8.
///
/// # Errors
///
/// If those bytes are not UTF-8.
pub fn c_text(frame: &[u8]) -> Result<&str, std::str::Utf8Error> {
    std::str::from_utf8(c_string(frame))
}

/// A message's text, if it is what the hello world programs send: one
/// frame of UTF-8, not empty, of at most `max_bytes`.
pub fn short_text(message: &zsource::Multipart, max_bytes: usize) -> Option<&str> {
    let frame = message.single()?;
    if frame.is_empty() || frame.len() > max_bytes {
        return None;
    }
    std::str::from_utf8(frame).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_text_as_c_does() {
        assert_eq!(c_string(b"49\0\0\0"), b"49");
        assert_eq!(c_string(b"no nul"), b"no nul");
        assert_eq!(c_string(b"\0after"), b"");
        assert_eq!(c_text(b"caf\xc3\xa9\0\xff"), Ok("café"));
        assert!(c_text(b"\xff\0").is_err());
    }

    #[test]
    fn short_text_is_one_frame_of_text() {
        use zsource::Multipart;
        assert_eq!(short_text(&Multipart::from("World"), 8), Some("World"));
        assert_eq!(short_text(&Multipart::from("World"), 4), None);
        assert_eq!(short_text(&Multipart::from(""), 8), None);
        assert_eq!(short_text(&Multipart::from(&b"\xff"[..]), 8), None);
        assert_eq!(short_text(&Multipart::from(["a", "b"]), 8), None);
    }

    #[test]
    fn reports_libzmqs_version() {
        let (major, minor, patch) = zmq::version();
        assert_eq!(
            version!(),
            format!(
                "{} (libzmq {major}.{minor}.{patch})",
                env!("CARGO_PKG_VERSION")
            )
        );
    }

    #[test]
    fn bind_errors_name_the_endpoint() {
        let context = zmq::Context::new();
        let socket = context.socket(zmq::PUB).unwrap();
        assert_eq!(
            bind(&socket, "nonsense"),
            Err("bind nonsense: Invalid argument".to_string())
        );
        assert_eq!(
            connect(&socket, "nonsense"),
            Err("connect nonsense: Invalid argument".to_string())
        );
    }
}
