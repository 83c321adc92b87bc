#!/usr/bin/env bash
# The Eventloop echo (REQ/REP): echo-server and echo-client, as in two
# terminals.
usage() {
    cat <<USAGE
Usage: scripts/echo.sh [--requests N]

Builds the programs once (release), starts echo-server on an IPC socket in a
temporary directory (as the original uses IPC), runs echo-client against it,
and stops the server when the client is done. The server prints the JSON of
each request, the client "MSG: <reply>" for each echo. --requests is the
client's number of requests (default 5, as the original's).
USAGE
}
. "$(dirname "$(readlink -f "$0")")/common.sh" || exit 1
requests=5
while [ $# -gt 0 ]; do
    case $1 in
    -h | --help) usage; exit 0 ;;
    --requests) number "$@"; requests=$2; shift 2 ;;
    *) usage >&2; exit 2 ;;
    esac
done

build eventloop

start echo-server echo-server --bind "ipc://$work/echo.ipc"
server=$started
endpoints echo-server "$server" 1
endpoint=$listening
echo "echo-server listening on $endpoint" >&2

start echo-client echo-client --connect "$endpoint" --requests "$requests"
finish echo-client "$started"
stop "$server"
