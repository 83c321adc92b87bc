"""Weather update client, as the guide's Python wuclient.py, with the
endpoint, the zip code filter and the number of updates as arguments:
subscribes, averages the temperatures, prints the guide's line."""
import sys

import zmq

endpoint = sys.argv[1] if len(sys.argv) > 1 else "tcp://localhost:5556"
zip_filter = sys.argv[2] if len(sys.argv) > 2 else "10001 "
updates = int(sys.argv[3]) if len(sys.argv) > 3 else 100

context = zmq.Context()
socket = context.socket(zmq.SUB)
print("Collecting updates from weather server...")
socket.connect(endpoint)
socket.setsockopt_string(zmq.SUBSCRIBE, zip_filter)

total_temp = 0
for update_nbr in range(updates):
    string = socket.recv_string()
    zipcode, temperature, relhumidity = string.split()
    total_temp += int(temperature)

# As the C version: integer division, truncated toward zero.
print(f"Average temperature for zipcode '{zip_filter}' was {int(total_temp / updates)}F")
