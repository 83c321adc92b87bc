"""Hello World client, as the guide's Python hwclient.py, with the endpoint
and request count as arguments."""
import sys

import zmq

endpoint = sys.argv[1] if len(sys.argv) > 1 else "tcp://localhost:5555"
requests = int(sys.argv[2]) if len(sys.argv) > 2 else 10
context = zmq.Context()
print("Connecting to hello world server...")
socket = context.socket(zmq.REQ)
socket.connect(endpoint)

for request in range(requests):
    print(f"Sending request {request} ...")
    socket.send(b"Hello")
    message = socket.recv()
    print(f"Received reply {request} [ {message} ]")
