#!/usr/bin/env bash
# Passing JSON (PUSH/PULL): the server and a pool of clients taking turns.
usage() {
    cat <<USAGE
Usage: scripts/passing-json.sh [--messages N] [--interval-ms MS] [clients]

Builds the programs once (release), starts json-server on an IPC socket in a
temporary directory (as the original uses IPC), then the given number of
json-client (default 2). The server prints "Hello world?" per message; each
client takes N messages (default 3), printed as "client K: 200 :: hello
world", and exits; the server deals them in turn, so the clients' lines
alternate. Then the server is stopped. --interval-ms is the time between two
messages (default 1000).
USAGE
}
. "$(dirname "$(readlink -f "$0")")/common.sh" || exit 1
messages=3
interval_ms=1000
clients=2
while [ $# -gt 0 ]; do
    case $1 in
    -h | --help) usage; exit 0 ;;
    --messages) number "$@"; messages=$2; shift 2 ;;
    --interval-ms) number "$@"; interval_ms=$2; shift 2 ;;
    [1-9]*) number "a client count" "$1"; clients=$1; shift ;;
    *) usage >&2; exit 2 ;;
    esac
done

build passing-json

start json-server json-server --bind "ipc://$work/passing-json.ipc" --interval-ms "$interval_ms"
server=$started
endpoints json-server "$server" 1
endpoint=$listening
echo "json-server listening on $endpoint" >&2

client_pids=""
for number in $(seq "$clients"); do
    # Each client's lines marked with its number, as they come.
    mkfifo "$work/json-client-$number.out"
    sed -u "s/^/client $number: /" <"$work/json-client-$number.out" &
    pids="$pids $!"
    start "json-client-$number" json-client --connect "$endpoint" --messages "$messages" \
        >"$work/json-client-$number.out"
    client_pids="$client_pids $started"
done
finish_each json-client 1 $client_pids
stop "$server"
