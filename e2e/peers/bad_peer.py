"""A foreign peer that sends what it is told, malformed or not, for testing how
our programs handle bad input.

    bad_peer.py TYPE (--bind|--connect) ENDPOINT MESSAGE...

Messages are written as for taskvent.py: "hex:<bytes in hex>" for raw bytes,
"|" splits a message into frames, and here also "bytes:N" for N bytes of "x".
The word DROPPED after a message is not a message: it says that the message
before it is over the other end's ZMQ_MAXMSGSIZE, so libzmq there drops the
connection. The peer waits for that (a socket monitor reports it), prints
"dropped" and goes on.

TYPE says what the peer does with the messages:

  req   sends each one and prints the reply ("reply: b'World'"), as the
        guide's hwclient.py does. After a dropped connection it goes on with
        a new socket, as a Lazy Pirate client would: a REQ socket that sent
        and got no reply cannot send again.
  rep   answers each request with the next message, and then with the last
        one for ever; prints each request ("request: b'Hello'").
  pub   waits until a subscriber has subscribed (an XPUB socket sees the
        subscription, so nothing is lost to the slow joiner), then
        publishes the messages once.
  push  sends the messages. Bound, it first waits for a puller to connect;
        connected, libzmq reconnects after a dropped connection and sends
        the rest on the new one.

A bound peer prints `listening on <endpoint>` to stderr. Once it has sent
everything (rep never has), the peer prints "done" and stays until it is
killed, so the connection outlives the test's checks. Put "--" before the
messages, since one may be empty or start with "-".
"""

import argparse
import sys
import time

import zmq
from zmq.utils.monitor import recv_monitor_message

# The longest the peer waits for anything: the tests' own deadline.
TIMEOUT_MS = 20_000


def frames(text):
    """The frames of a message written as an argument."""
    return [
        b"x" * int(part[6:]) if part.startswith("bytes:")
        else bytes.fromhex(part[4:]) if part.startswith("hex:")
        else part.encode()
        for part in text.split("|")
    ]


def fail(why):
    print(f"bad_peer.py: {why}", file=sys.stderr, flush=True)
    sys.exit(1)


def plan(arguments):
    """The messages, each with whether the other end is to drop it."""
    steps = []
    for argument in arguments:
        if argument == "DROPPED":
            if not steps:
                fail("DROPPED comes after the message it is about")
            steps[-1] = (steps[-1][0], True)
        else:
            steps.append((frames(argument), False))
    return steps


def wait_for(monitor, event):
    """Waits for a socket monitor to report `event`."""
    while monitor.poll(TIMEOUT_MS):
        if recv_monitor_message(monitor)["event"] == event:
            return
    fail(f"no {event!r} within {TIMEOUT_MS} ms")


def open_socket(context, kind, args):
    socket = context.socket(kind)
    socket.linger = 0
    monitor = socket.get_monitor_socket(
        zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED
    )
    if args.bind:
        socket.bind(args.bind)
        print("listening on", socket.last_endpoint.decode(), file=sys.stderr, flush=True)
    else:
        socket.connect(args.connect)
    return socket, monitor


def req(context, args, steps):
    socket, monitor = open_socket(context, zmq.REQ, args)
    for message, dropped in steps:
        socket.send_multipart(message)
        if dropped:
            wait_for(monitor, zmq.EVENT_DISCONNECTED)
            print("dropped", flush=True)
            socket.disable_monitor()
            socket.close()
            socket, monitor = open_socket(context, zmq.REQ, args)
        elif socket.poll(TIMEOUT_MS):
            print("reply:", b"|".join(socket.recv_multipart()), flush=True)
        else:
            fail(f"no reply within {TIMEOUT_MS} ms")
    return socket


def rep(context, args, steps):
    socket, _ = open_socket(context, zmq.REP, args)
    replies = [message for message, _ in steps]
    while True:
        if not socket.poll(TIMEOUT_MS):
            fail(f"no request within {TIMEOUT_MS} ms")
        print("request:", b"|".join(socket.recv_multipart()), flush=True)
        socket.send_multipart(replies.pop(0) if len(replies) > 1 else replies[0])


def pub(context, args, steps):
    socket, _ = open_socket(context, zmq.XPUB, args)
    if not socket.poll(TIMEOUT_MS):
        fail(f"no subscriber within {TIMEOUT_MS} ms")
    socket.recv()  # The subscription.
    for message, _ in steps:
        socket.send_multipart(message)
    return socket


def push(context, args, steps):
    socket, monitor = open_socket(context, zmq.PUSH, args)
    if args.bind:
        wait_for(monitor, zmq.EVENT_HANDSHAKE_SUCCEEDED)
    for message, dropped in steps:
        socket.send_multipart(message)
        if dropped:
            wait_for(monitor, zmq.EVENT_DISCONNECTED)
            print("dropped", flush=True)
    return socket


parser = argparse.ArgumentParser()
parser.add_argument("type", choices=["req", "rep", "pub", "push"])
where = parser.add_mutually_exclusive_group(required=True)
where.add_argument("--bind")
where.add_argument("--connect")
parser.add_argument("message", nargs="+")
args = parser.parse_args()

context = zmq.Context()
try:
    # Kept, since a socket that is garbage is closed, and what it has not
    # sent yet is lost.
    socket = {"req": req, "rep": rep, "pub": pub, "push": push}[args.type](
        context, args, plan(args.message)
    )
    print("done", flush=True)
    while True:
        time.sleep(3600)
except KeyboardInterrupt:
    pass
