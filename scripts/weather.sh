#!/usr/bin/env bash
# Weather updates (PUB/SUB): one wuserver and several wuclients, each client
# with its own zip code, like the guide's scalability test.
usage() {
    cat <<USAGE
Usage: scripts/weather.sh [--updates N] [clients]

Builds the programs once (release), starts wuserver on a free port on
127.0.0.1, and runs the given number of wuclients (default 5) at once, with
zip codes 10001, 10002, ... Each collects N updates for its zip code
(default 100) and prints the average temperature. Prints how long the
clients took, then stops the server.
USAGE
}
. "$(dirname "$(readlink -f "$0")")/common.sh" || exit 1
updates=100
clients=5
while [ $# -gt 0 ]; do
    case $1 in
    -h | --help) usage; exit 0 ;;
    --updates) number "$@"; updates=$2; shift 2 ;;
    [0-9]*) number "a client count" "$1"; clients=$1; shift ;;
    *) usage >&2; exit 2 ;;
    esac
done

build wuserver wuclient

start wuserver wuserver --bind 'tcp://127.0.0.1:*'
server=$started
endpoints wuserver "$server" 1
endpoint=$listening
echo "wuserver listening on $endpoint" >&2

begin=$(date +%s%N)
clients_started=""
for number in $(seq "$clients"); do
    zipcode=$(printf '%05d ' $((10000 + number)))
    start "wuclient-$number" wuclient "$zipcode" --connect "$endpoint" --updates "$updates"
    clients_started="$clients_started $started"
done
finish_each wuclient 1 $clients_started
end=$(date +%s%N)
echo "$clients clients collected $updates updates each in $(((end - begin) / 1000000)) msec"
