"""Hello World server, as the guide's Python hwserver.py, with the endpoint
as an argument: binds REP, prints each request, replies "World"."""
import sys

import zmq

endpoint = sys.argv[1] if len(sys.argv) > 1 else "tcp://*:5555"
context = zmq.Context()
socket = context.socket(zmq.REP)
socket.bind(endpoint)
print("listening on", socket.getsockopt_string(zmq.LAST_ENDPOINT), file=sys.stderr, flush=True)

while True:
    message = socket.recv()
    print(f"Received request: {message}")
    socket.send(b"World")
