#!/usr/bin/env bash
# Hello world (REQ/REP): hwserver and hwclient, as in two terminals.
usage() {
    cat <<USAGE
Usage: scripts/hello.sh [--requests N] [--work-ms MS]

Builds the programs once (release), starts hwserver on a free port on
127.0.0.1, runs hwclient against it, and stops the server when the client
is done. --requests is the client's number of requests (default 10),
--work-ms the server's work per request (default 1000).
USAGE
}
. "$(dirname "$(readlink -f "$0")")/common.sh" || exit 1
requests=10
work_ms=1000
while [ $# -gt 0 ]; do
    case $1 in
    -h | --help) usage; exit 0 ;;
    --requests) number "$@"; requests=$2; shift 2 ;;
    --work-ms) number "$@"; work_ms=$2; shift 2 ;;
    *) usage >&2; exit 2 ;;
    esac
done

build hwserver hwclient

start hwserver hwserver --bind 'tcp://127.0.0.1:*' --work-ms "$work_ms"
server=$started
endpoints hwserver "$server" 1
endpoint=$listening
echo "hwserver listening on $endpoint" >&2

start hwclient hwclient --connect "$endpoint" --requests "$requests"
finish hwclient "$started"
