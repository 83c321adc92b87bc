"""Task ventilator, as the guide's Python taskvent.py, taking its endpoints
as arguments.

Binds a PUSH socket for the workers and connects a PUSH socket to the sink.
Instead of waiting for Enter it waits until --workers workers have connected
(a socket monitor reports each handshake), sends b'0' to the sink, then the
tasks: --tasks N random workloads of 1 to 100 ms as in the guide, or the tasks
given as arguments. For testing other programs' handling of bad input, a task
(or a --sink-extra message, sent to the sink right after b'0') may be
"hex:<bytes in hex>" for raw bytes, and "|" splits it into a multipart message.

    taskvent.py --bind tcp://127.0.0.1:* [--sink ENDPOINT] [--workers 1]
                [--tasks 100 | TASK...] [--sink-extra MESSAGE]...
"""

import argparse
import random
import sys

import zmq
from zmq.utils.monitor import recv_monitor_message


def frames(text):
    """The frames of a message written as an argument."""
    return [
        bytes.fromhex(part[4:]) if part.startswith("hex:") else part.encode()
        for part in text.split("|")
    ]


parser = argparse.ArgumentParser()
parser.add_argument("--bind", required=True)
parser.add_argument("--sink")
parser.add_argument("--workers", type=int, default=1)
parser.add_argument("--tasks", type=int, default=100)
parser.add_argument("--sink-extra", action="append", default=[])
parser.add_argument("task", nargs="*")
args = parser.parse_args()

context = zmq.Context()

# Socket to send messages on
sender = context.socket(zmq.PUSH)
monitor = sender.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)
sender.bind(args.bind)
print("listening on", sender.getsockopt_string(zmq.LAST_ENDPOINT), file=sys.stderr, flush=True)

# Socket with direct access to the sink: used to synchronize start of batch
sink = context.socket(zmq.PUSH)
if args.sink:
    sink.connect(args.sink)

connected = 0
while connected < args.workers:
    if recv_monitor_message(monitor)["event"] == zmq.EVENT_HANDSHAKE_SUCCEEDED:
        connected += 1
print("Sending tasks to workers...", flush=True)

# The first message is "0" and signals start of batch
if args.sink:
    sink.send(b"0")
    for extra in args.sink_extra:
        sink.send_multipart(frames(extra))

tasks = args.task or [str(random.randint(1, 100)) for _ in range(args.tasks)]
total_msec = 0
for task in tasks:
    if task.isdigit():
        total_msec += int(task)
    sender.send_multipart(frames(task))

print(f"Total expected cost: {total_msec} msec", flush=True)

# Give 0MQ time to deliver, as closing with a linger does
sender.disable_monitor()
monitor.close()
sender.close(linger=5000)
sink.close(linger=5000)
context.term()
