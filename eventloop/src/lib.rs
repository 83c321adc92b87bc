//! Where the Eventloop echo server and its client meet by default.

/// The original binds `ipc://127.0.0.1:5678`: a TCP address written as an
/// IPC one, which libzmq takes for a file named `127.0.0.1:5678` in the
/// current directory, so its client finds it only when started from the same
/// directory. Ours is an explicit path both can name.
pub const ENDPOINT: &str = "ipc:///tmp/eventloop-echo.ipc";
