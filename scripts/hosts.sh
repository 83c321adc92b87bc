#!/usr/bin/env bash
# Several hosts on one machine: network namespaces on one bridge, and the
# pipeline, weather or Lazy Pirate demo run across them as on real hosts.
usage() {
    cat <<USAGE
Usage: scripts/hosts.sh [--hosts N] [options] pipeline [WORKERS...]
       scripts/hosts.sh [--hosts N] [options] weather
       scripts/hosts.sh [--hosts N] [options] lazy-pirate

Needs root. Makes N hosts (default 3) on this machine, each a network
namespace with an address of its own, 198.18.0.1, 198.18.0.2, ... on one
bridge, and runs a demo across them the way it runs on real hosts: the
server binds the guide's port on all interfaces (tcp://*:PORT), the others
connect to tcp://198.18.0.1:PORT.

  pipeline     taskvent and tasksink on host 1, a taskwork on each other
               host. With WORKERS (for example 1 2 4 8), one batch for each
               number of worker hosts (on 1 + the largest number of hosts),
               and scripts/pipeline.sh's table and chart of the speedups.
  weather      wuserver on host 1, a wuclient on each other host, each with
               its own zip code (10001, 10002, ...).
  lazy-pirate  hwserver on host 1, an lpclient on each other host.

Prints the hosts, which program runs on which (the command a person would
run there), and the demo's output. On exit, on failure and on Ctrl-C it
stops every program and removes every namespace and link it made.

Options:
  --hosts N        hosts in all, host 1 included (default 3, at least 2)
  --tasks N        pipeline: tasks in a batch (default 100)
  --seed S         pipeline: the workloads' seed (default 1)
  --timeout-ms MS  pipeline: tasksink gives up after MS ms without a result;
                   lazy-pirate: lpclient's wait for a reply (default 2500)
  --updates N      weather: the updates each client averages (default 100)
  --requests N     lazy-pirate: the requests each client makes (default 10)
  --retries N      lazy-pirate: lpclient's tries at a request (default 3)
  --work-ms MS     lazy-pirate: hwserver's work per request (default 1000)
USAGE
}
. "$(dirname "$(readlink -f "$0")")/common.sh" || exit 1
hosts=3
tasks=100
seed=1
timeout_ms=""
updates=100
requests=10
retries=3
work_ms=1000
demo=""
counts=""
while [ $# -gt 0 ]; do
    case $1 in
    -h | --help) usage; exit 0 ;;
    --hosts) number "$@"; hosts=$2; shift 2 ;;
    --tasks) number "$@"; tasks=$2; shift 2 ;;
    --seed) number "$@"; seed=$2; shift 2 ;;
    --timeout-ms) number "$@"; timeout_ms=$2; shift 2 ;;
    --updates) number "$@"; updates=$2; shift 2 ;;
    --requests) number "$@"; requests=$2; shift 2 ;;
    --retries) number "$@"; retries=$2; shift 2 ;;
    --work-ms) number "$@"; work_ms=$2; shift 2 ;;
    pipeline | weather | lazy-pirate) [ -z "$demo" ] || { usage >&2; exit 2; }; demo=$1; shift ;;
    [1-9] | [1-9]*[0-9]) [ "$demo" = pipeline ] || { usage >&2; exit 2; }
        case $1 in *[!0-9]*) usage >&2; exit 2 ;; ????*) usage_error "at most 253 worker hosts" ;; esac
        counts="$counts $1"; shift ;;
    *) usage >&2; exit 2 ;;
    esac
done
case $hosts in
[2-9] | [1-9][0-9] | 1[0-9][0-9] | 2[0-4][0-9] | 25[0-4]) ;;
*) echo "hosts.sh: --hosts must be 2 to 254" >&2; exit 2 ;;
esac
[ -n "$demo" ] || { usage >&2; exit 2; }
for workers in $counts; do
    [ "$workers" -lt "$hosts" ] || hosts=$((workers + 1))
done
[ "$hosts" -le 254 ] || { echo "hosts.sh: at most 253 worker hosts" >&2; exit 2; }
if [ "$(id -u)" -ne 0 ]; then
    echo "hosts.sh: needs root, to make network namespaces (ip netns): try sudo $0" >&2
    exit 2
fi

command -v ip >/dev/null || fail "needs ip, from iproute2"

# The run's names: the script's process id and a random number, so that
# runs at the same time (or a run whose process id a killed one had) never
# meet. The bridge and every veth live inside the run's namespaces, with
# names that need only be unique there: the bridge in a namespace of its
# own, so that nothing outside the namespaces changes. Each host's network
# is private to the run, so the addresses (198.18.0.0/15 is set aside for
# benchmarks, RFC 2544) and the guide's fixed ports are the same for every
# run and never clash with anything else on this machine.
run_id=zguide-$$-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
switch=$run_id-sw
subnet=198.18.0
namespaces=""

# host_ns K: the namespace of host K.
host_ns() {
    echo "$run_id-h$1"
}

# Undoes the set-up: what still runs in a namespace the run made is the
# run's; removing a veth's bridge end removes the pair.
remove_hosts() {
    for ns in $namespaces; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            kill -KILL "$pid" 2>/dev/null || true
        done
    done
    for number in $(seq "$hosts"); do
        ip -n "$switch" link del "h$number" 2>/dev/null || true
    done
    for ns in $namespaces; do
        ip netns del "$ns" 2>/dev/null || true
    done
}
at_exit remove_hosts

# make_ns NS: a new namespace, noted before it exists, so that a Ctrl-C in
# between cannot leave it behind.
make_ns() {
    # Not ours if it is there already: cleanup must not remove it.
    [ ! -e "/run/netns/$1" ] || fail "network namespace $1 exists already"
    namespaces="$namespaces $1"
    ip netns add "$1" || fail "cannot make network namespace $1"
}

make_ns "$switch"
ip -n "$switch" link add br0 type bridge || fail "cannot make a bridge"
ip -n "$switch" link set br0 up
echo "bridge br0 in network namespace $switch, hosts on $subnet.0/24:"
for number in $(seq "$hosts"); do
    ns=$(host_ns "$number")
    make_ns "$ns"
    # The host's end is its eth0; the bridge's end, port h<number>, is the
    # host's cable: take it down to unplug the host.
    ip -n "$switch" link add "h$number" type veth peer name eth0 netns "$ns" \
        || fail "cannot make a veth pair for host $number"
    ip -n "$switch" link set "h$number" master br0 up
    ip -n "$ns" addr add "$subnet.$number/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
    echo "host $number: $subnet.$number, network namespace $ns, bridge port h$number"
done

# on HOST NAME PROGRAM ARGS...: starts the program on a host, and prints the
# command that would start it there, on the script's own stdout (fd 3): the
# program's may go to a log.
exec 3>&1
on() {
    host=$1
    shift
    command=""
    for arg in "${@:2}"; do
        case $arg in
        *[!A-Za-z0-9_./:=@-]*) arg="'$arg'" ;;
        esac
        command="$command $arg"
    done
    echo "host $host:$command" >&3
    start_in "$(host_ns "$host")" "$@"
}

server=$subnet.1

# batch WORKERS: one batch, with a worker on each of hosts 2 to WORKERS + 1,
# recorded in $work/results.
batch() {
    workers=$1
    set -- --bind 'tcp://*:5558' --tasks "$tasks" --control 'tcp://*:5559'
    [ -z "$timeout_ms" ] || set -- "$@" --timeout-ms "$timeout_ms"
    on 1 "tasksink-$workers" tasksink "$@" >"$work/tasksink-$workers.out"
    sink=$started
    endpoints "tasksink-$workers" "$sink" 2
    # The sink's marks as they come; its output is also the log that
    # record_batch reads.
    launch "marks-$workers" tail -s 0.1 -n +1 -f --pid="$sink" "$work/tasksink-$workers.out"
    marks=$started
    on 1 "taskvent-$workers" taskvent --bind 'tcp://*:5557' --sink tcp://localhost:5558 \
        --tasks "$tasks" --workers "$workers" --seed "$seed" >"$work/taskvent-$workers.out"
    ventilator=$started
    endpoints "taskvent-$workers" "$ventilator" 1
    worker_pids=""
    for number in $(seq 2 $((workers + 1))); do
        on "$number" "taskwork-$workers-$number" taskwork --connect "tcp://$server:5557" \
            --sink "tcp://$server:5558" --control "tcp://$server:5559" \
            >"$work/taskwork-$workers-$number.out"
        worker_pids="$worker_pids $started"
    done
    finish "taskvent-$workers" "$ventilator"
    finish "marks-$workers" "$marks"
    finish "tasksink-$workers" "$sink"
    # The sink has sent KILL: each worker exits by itself, at once.
    finish_each --within 10 "taskwork-$workers" 2 $worker_pids
    outputs=()
    for number in $(seq 2 $((workers + 1))); do
        output=$work/taskwork-$workers-$number.out
        outputs+=("$output")
        echo "host $number: taskwork did $(tr -cd . <"$output" | wc -c) tasks, $(work_done "$output") msec of work"
    done
    record_batch "$workers" "$work/taskvent-$workers.out" "$work/tasksink-$workers.out" "${outputs[@]}"
}

case $demo in
pipeline)
    build taskvent taskwork tasksink
    for workers in ${counts:-$((hosts - 1))}; do
        echo "--- $workers worker host(s), $tasks tasks ---"
        batch "$workers"
    done
    report_batches
    ;;
weather)
    build wuserver wuclient
    on 1 wuserver wuserver --bind 'tcp://*:5556'
    endpoints wuserver "$started" 1
    begin=$(date +%s%N)
    clients=""
    for number in $(seq 2 "$hosts"); do
        zipcode=$(printf '%05d ' $((9999 + number)))
        on "$number" "wuclient-$number" wuclient "$zipcode" --connect "tcp://$server:5556" \
            --updates "$updates"
        clients="$clients $started"
    done
    finish_each wuclient 2 $clients
    end=$(date +%s%N)
    echo "$((hosts - 1)) clients collected $updates updates each in $(((end - begin) / 1000000)) msec"
    ;;
lazy-pirate)
    build hwserver lpclient
    on 1 hwserver hwserver --bind 'tcp://*:5555' --work-ms "$work_ms"
    endpoints hwserver "$started" 1
    clients=""
    for number in $(seq 2 "$hosts"); do
        on "$number" "lpclient-$number" lpclient --connect "tcp://$server:5555" \
            --requests "$requests" --timeout-ms "${timeout_ms:-2500}" --retries "$retries"
        clients="$clients $started"
    done
    finish_each lpclient 2 $clients
    # Their retries, which they report on stderr.
    for number in $(seq 2 "$hosts"); do
        sed "s/^/host $number: lpclient: /" "$work/lpclient-$number.err" >&2
    done
    ;;
esac
