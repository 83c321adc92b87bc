#!/usr/bin/env bash
# Wayne's World (PUB over TCP and IPC): the server and both cameras.
usage() {
    cat <<USAGE
Usage: scripts/waynes-world.sh [--interval-ms MS] [seconds]

Builds the programs once (release), starts waynes-world publishing on a
free TCP port on 127.0.0.1 and on an IPC socket in a temporary directory,
and both cameras, each on its own transport. Runs for the given number of
seconds (default 5), or until Ctrl-C, then stops them all. --interval-ms
is the time between two messages (default 1000).
USAGE
}
. "$(dirname "$(readlink -f "$0")")/common.sh" || exit 1
seconds=5
interval_ms=1000
while [ $# -gt 0 ]; do
    case $1 in
    -h | --help) usage; exit 0 ;;
    --interval-ms) number "$@"; interval_ms=$2; shift 2 ;;
    [0-9]*) number "a number of seconds" "$1"; seconds=$1; shift ;;
    *) usage >&2; exit 2 ;;
    esac
done

build waynes-world

start waynes-world waynes-world --tcp 'tcp://127.0.0.1:*' --ipc "ipc://$work/waynes-world.ipc" \
    --interval-ms "$interval_ms"
server=$started
endpoints waynes-world "$server" 2
tcp=${listening%%$'\n'*}
ipc=${listening#*$'\n'}
echo "waynes-world listening on $tcp and $ipc" >&2

start camera1 camera1 --connect "$tcp"
camera1=$started
start camera2 camera2 --connect "$ipc"
camera2=$started

# In the background, so that Ctrl-C and SIGTERM are handled at once.
sleep "$seconds" &
timer=$!
pids="$pids $timer"
wait "$timer"
forget "$timer"
for pid in "$server" "$camera1" "$camera2"; do
    kill -0 "$pid" 2>/dev/null || fail "a program stopped early"
done
stop "$camera1" "$camera2" "$server"
