"""Weather subscriber that reports its progress, for tests that need to see
whether a subscriber is being served: subscribes to the endpoint (the first
argument) with a filter (the second, default "", everything) and prints
"received N updates" every K updates (the third, default 100000), flushed,
forever."""
import sys

import zmq

endpoint = sys.argv[1]
zip_filter = sys.argv[2] if len(sys.argv) > 2 else ""
every = int(sys.argv[3]) if len(sys.argv) > 3 else 100000

context = zmq.Context()
socket = context.socket(zmq.SUB)
socket.connect(endpoint)
socket.setsockopt_string(zmq.SUBSCRIBE, zip_filter)

received = 0
while True:
    socket.recv()
    received += 1
    if received % every == 0:
        print(f"received {received} updates", flush=True)
