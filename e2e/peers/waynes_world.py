"""Wayne's World in pyzmq, after the Python example's server.py, camera1.py
and camera2.py, with the endpoints as arguments.

    waynes_world.py server TCP IPC INTERVAL_MS   # server.py: "Camera 1" on TCP, "Camera 2" on IPC
    waynes_world.py camera N ENDPOINT            # cameraN.py: prints MSG N:  'text' per message
    waynes_world.py garbage ENDPOINT INTERVAL_MS # a publisher of malformed messages and good ones

Publishers print `listening on <endpoint>` to stderr for each bind.
"""

import sys
import time

import zmq


def bind(context, endpoint):
    socket = context.socket(zmq.PUB)
    socket.linger = 0
    socket.bind(endpoint)
    print("listening on", socket.last_endpoint.decode(), file=sys.stderr, flush=True)
    return socket


def server(tcp, ipc, interval_ms):
    context = zmq.Context()
    # Both binds first, as ours does, so the two lines come together.
    s1 = bind(context, tcp)
    s2 = bind(context, ipc)
    while True:
        print("Camera 1?", flush=True)
        s1.send(b"Camera 1")
        time.sleep(int(interval_ms) / 1000)
        print("Camera 2?", flush=True)
        s2.send(b"Camera 2")
        time.sleep(int(interval_ms) / 1000)


def camera(number, endpoint):
    context = zmq.Context()
    s = context.socket(zmq.SUB)
    s.connect(endpoint)
    s.setsockopt(zmq.SUBSCRIBE, b"")
    while True:
        msg = s.recv()
        # Python 2's repr of the str the original received.
        print("MSG %s: " % number, repr(msg.decode(errors="replace")), flush=True)


def garbage(endpoint, interval_ms):
    context = zmq.Context()
    s = bind(context, endpoint)
    while True:
        # One burst per tick: a good message, then one malformed of each kind.
        s.send(b"Camera 1")
        s.send(b"\xff\xfe not UTF-8")
        s.send_multipart([b"multi", b"part"])
        s.send(b"")
        s.send(b"x" * 100_000)
        time.sleep(int(interval_ms) / 1000)


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    try:
        {"server": server, "camera": camera, "garbage": garbage}[mode](*args)
    except KeyboardInterrupt:
        pass
