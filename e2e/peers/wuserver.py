"""Weather update server, as the guide's Python wuserver.py, with the endpoint
as an argument: binds PUB and publishes random "%05d %d %d" updates (zip code,
temperature, relative humidity) as fast as it can, forever.

With --malformed, it publishes a fixed cycle instead, about once a
millisecond, for testing a client's handling of bad input: garbage text,
bytes that are not UTF-8, a two-frame message, an empty one and one of a
kilobyte (an update is a dozen bytes), then one
good update, "10001 42 50". A client that skips the bad ones averages
exactly 42."""
import sys
import time
from random import randrange

import zmq

args = sys.argv[1:]
malformed = "--malformed" in args
args = [arg for arg in args if arg != "--malformed"]
endpoint = args[0] if args else "tcp://*:5556"

context = zmq.Context()
socket = context.socket(zmq.PUB)
socket.bind(endpoint)
print("listening on", socket.getsockopt_string(zmq.LAST_ENDPOINT), file=sys.stderr, flush=True)

if malformed:
    while True:
        socket.send(b"10001 hot humid")
        socket.send(b"10001 -80 \xff\xfe")
        socket.send_multipart([b"10001 -80 10", b"10001 -80 10"])
        socket.send(b"")
        socket.send(b"10001 -80 10" + b" " * 1000)
        socket.send(b"10001 42 50")
        time.sleep(0.001)

while True:
    zipcode = randrange(0, 100000)
    temperature = randrange(-80, 135)
    relhumidity = randrange(10, 60)
    socket.send_string("%05d %d %d" % (zipcode, temperature, relhumidity))
