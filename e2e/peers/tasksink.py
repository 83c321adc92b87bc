"""Task sink, as the guide's Python tasksink.py, taking its endpoint and the
batch size as arguments.

    tasksink.py --bind tcp://127.0.0.1:* [--tasks 100]
"""

import argparse
import sys
import time

import zmq

parser = argparse.ArgumentParser()
parser.add_argument("--bind", required=True)
parser.add_argument("--tasks", type=int, default=100)
args = parser.parse_args()

context = zmq.Context()

# Socket to receive messages on
receiver = context.socket(zmq.PULL)
receiver.bind(args.bind)
print("listening on", receiver.getsockopt_string(zmq.LAST_ENDPOINT), file=sys.stderr, flush=True)

# Wait for start of batch
s = receiver.recv()

# Start our clock now
tstart = time.time()

# Process the confirmations
for task_nbr in range(args.tasks):
    s = receiver.recv()
    if task_nbr % 10 == 0:
        sys.stdout.write(":")
    else:
        sys.stdout.write(".")
    sys.stdout.flush()

# Calculate and report duration of batch
tend = time.time()
print(f"Total elapsed time: {int((tend - tstart) * 1000)} msec", flush=True)
