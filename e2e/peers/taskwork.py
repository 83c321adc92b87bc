"""Task worker, as the guide's Python taskwork.py, taking its endpoints as
arguments. It prints each workload followed by a dot (as the guide's C worker
does), sleeps that many milliseconds, and sends an empty result to the sink.

    taskwork.py --connect ENDPOINT --sink ENDPOINT
"""

import argparse
import sys
import time

import zmq

parser = argparse.ArgumentParser()
parser.add_argument("--connect", required=True)
parser.add_argument("--sink", required=True)
args = parser.parse_args()

context = zmq.Context()

# Socket to receive messages on
receiver = context.socket(zmq.PULL)
receiver.connect(args.connect)

# Socket to send messages to
sender = context.socket(zmq.PUSH)
sender.connect(args.sink)

# Process tasks forever
while True:
    s = receiver.recv()

    # Simple progress indicator for the viewer
    sys.stdout.write(s.decode() + ".")
    sys.stdout.flush()

    # Do the work
    time.sleep(int(s) * 0.001)

    # Send results to sink
    sender.send(b"")
