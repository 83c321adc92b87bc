#!/usr/bin/env bash
# The Lazy Pirate client (reliable request-reply): lpclient carries on
# through a server that is killed and started again.
usage() {
    cat <<USAGE
Usage: scripts/lazy-pirate.sh [--requests N] [--kill-after K] [--down-ms MS]

Builds the programs once (release), starts hwserver on an IPC socket in a
temporary directory (the restarted server must bind the same endpoint,
which a free TCP port would not be), and runs lpclient against it with
--timeout-ms 1000 --retries 3. Once the server has answered K requests
(default 3) the script kills it (SIGKILL, as a crash would), waits MS
milliseconds (default 1500) and starts it again: the client's request
times out, it retries on a new socket and carries on. --requests is the
client's number of requests (default 6). The server works 500 ms per
request.
USAGE
}
. "$(dirname "$(readlink -f "$0")")/common.sh" || exit 1
requests=6
kill_after=3
down_ms=1500
while [ $# -gt 0 ]; do
    case $1 in
    -h | --help) usage; exit 0 ;;
    --requests) number "$@"; requests=$2; shift 2 ;;
    --kill-after) number "$@"; kill_after=$2; shift 2 ;;
    --down-ms) number "$@"; down_ms=$2; shift 2 ;;
    *) usage >&2; exit 2 ;;
    esac
done

build hwserver lpclient

endpoint="ipc://$work/server.ipc"
start hwserver hwserver --bind "$endpoint" --work-ms 500 >"$work/hwserver.out"
server=$started
endpoints hwserver "$server" 1
echo "hwserver listening on $endpoint" >&2

start lpclient lpclient --connect "$endpoint" --requests "$requests" \
    --timeout-ms 1000 --retries 3
client=$started

# The server prints a line per request it takes; the K+1st is the one the
# crash will take with it.
until [ "$(wc -l <"$work/hwserver.out")" -gt "$kill_after" ]; do
    kill -0 "$client" 2>/dev/null || break
    kill -0 "$server" 2>/dev/null || fail "hwserver stopped early"
    sleep 0.05
done
if kill -0 "$client" 2>/dev/null; then
    kill -KILL "$server"
    wait "$server" 2>/dev/null || true
    forget "$server"
    echo "--- hwserver killed; starting it again in $down_ms ms ---" >&2
    # In the background, so that a signal meanwhile is handled at once.
    sleep "$(awk "BEGIN { print $down_ms / 1000 }")" &
    pids="$pids $!"
    wait $!
    forget $!
    start hwserver-again hwserver --bind "$endpoint" --work-ms 500 >/dev/null
    server=$started
    endpoints hwserver-again "$server" 1
    echo "--- hwserver started again ---" >&2
fi
finish lpclient "$client"
echo "--- what lpclient said on stderr ---" >&2
cat "$work/lpclient.err" >&2
stop "$server"
