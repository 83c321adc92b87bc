//! What libzmq 4.3.4 itself does, where zsource's documentation says so:
//! plain `zmq`, no zsource.

use std::collections::HashMap;
use std::os::fd::RawFd;

/// Lets the socket process the commands that reach it, waiting up to
/// `first_ms` for the first and `quiet_ms` for each next one.
fn process_commands(socket: &zmq::Socket, fd: RawFd, first_ms: i64, quiet_ms: i64) {
    let mut items = [zmq::PollItem::from_fd(fd, zmq::POLLIN)];
    assert_eq!(zmq::poll(&mut items, first_ms), Ok(1), "no command came");
    socket.get_events().unwrap();
    while zmq::poll(&mut items, quiet_ms) == Ok(1) {
        socket.get_events().unwrap();
    }
}

/// A PUSH socket sends a multipart message frame by frame to one peer. If
/// another peer's pipe goes away in the middle, libzmq 4.3.4's load balancer
/// can move on to a third peer for the rest (`lb_t::pipe_terminated` resets
/// its index to 0): the message arrives split. So zsource does not promise
/// that a multipart message is atomic across a disconnection.
#[test]
fn push_can_split_a_multipart_message_when_another_peer_leaves() {
    let context = zmq::Context::new();
    let push = context.socket(zmq::PUSH).unwrap();
    push.bind("inproc://split").unwrap();
    let push_fd = push.get_fd().unwrap();
    let mut pulls: Vec<Option<zmq::Socket>> = (0..4)
        .map(|_| {
            let pull = context.socket(zmq::PULL).unwrap();
            pull.connect("inproc://split").unwrap();
            pull.set_rcvtimeo(10_000).unwrap();
            Some(pull)
        })
        .collect();
    // Learn which peer sits at which place in the load balancer: it deals
    // messages round robin, in that order.
    for number in 0..4 {
        push.send(&number.to_string(), 0).unwrap();
    }
    let mut place: HashMap<usize, usize> = HashMap::new();
    for (peer, pull) in pulls.iter().enumerate() {
        let number: usize = pull
            .as_ref()
            .unwrap()
            .recv_string(0)
            .unwrap()
            .unwrap()
            .parse()
            .unwrap();
        place.insert(number, peer);
    }
    // Three more, so that the next message goes to the fourth place.
    for number in 0..3 {
        push.send(&number.to_string(), 0).unwrap();
        let peer = place[&number];
        pulls[peer].as_ref().unwrap().recv_bytes(0).unwrap();
    }

    push.send("head", zmq::SNDMORE).unwrap();
    // The second place's peer leaves; its pipe ends in two steps, each a
    // command the PUSH socket must process: the peer's request, then the
    // acknowledgement of ours (which may come while it processes the first).
    drop(pulls[place[&1]].take());
    process_commands(&push, push_fd, 10_000, 500);
    push.send("tail", 0).unwrap();

    // The rest of the message went to the first place's peer, alone.
    let first = pulls[place[&0]].as_ref().unwrap();
    assert_eq!(first.recv_multipart(0).unwrap(), [b"tail".to_vec()]);
}
