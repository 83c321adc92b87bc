//! A socket of the test's own, on libzmq, standing in for a peer whose
//! every step the test must control (a server that answers once, a
//! publisher that sends when the test says). Shared by the test files that
//! need one (`mod own_socket;`); not a test itself.

use e2e::{ANY_PORT, DEADLINE};

/// A socket of `kind` bound to [`ANY_PORT`], that drops what it has at
/// close and gives up a receive after [`DEADLINE`]; and its endpoint.
pub fn bind(context: &zmq::Context, kind: zmq::SocketType) -> (zmq::Socket, String) {
    let socket = context.socket(kind).unwrap();
    socket.set_linger(0).unwrap();
    socket.set_rcvtimeo(DEADLINE.as_millis() as i32).unwrap();
    socket.bind(ANY_PORT).unwrap();
    let endpoint = socket.get_last_endpoint().unwrap().unwrap();
    (socket, endpoint)
}
