#!/usr/bin/env bash
# The parallel pipeline (PUSH/PULL): a ventilator, N workers and a sink, and
# how much faster the batch gets with more workers.
usage() {
    cat <<USAGE
Usage: scripts/pipeline.sh [--tasks N] [--seed S] [--csv FILE] [workers...]

Builds the programs once (release) and runs one batch with each given number
of workers (default 4): tasksink and taskvent on free ports on 127.0.0.1,
then the workers; taskvent sends the batch once they are all connected,
and the sink's KILL ends the workers when it is done (--control, the
guide's chapter 2 kill signal).
Prints the sink's output, the expected cost (the sum of the workloads), the
elapsed time, the speedup (expected cost / elapsed) and the efficiency
(speedup / workers). With several counts, for example 1 2 4 8, prints a
table and a chart of the speedups; the table's overhead is the elapsed time
beyond the busiest worker's total workload. Every batch has the same
workloads (--seed, default 1); --tasks is the batch size (default 100).
--csv also writes the results to FILE, for docs/plot.py.
USAGE
}
. "$(dirname "$(readlink -f "$0")")/common.sh" || exit 1
tasks=100
seed=1
counts=""
csv=""
while [ $# -gt 0 ]; do
    case $1 in
    -h | --help) usage; exit 0 ;;
    --tasks) number "$@"; tasks=$2; shift 2 ;;
    --seed) number "$@"; seed=$2; shift 2 ;;
    --csv) [ -n "${2:-}" ] || usage_error "--csv needs a file name"; csv=$2; shift 2 ;;
    [1-9]*) number "a worker count" "$1"; counts="$counts $1"; shift ;;
    *) usage >&2; exit 2 ;;
    esac
done
counts=${counts:-4}

build taskvent taskwork tasksink

# run WORKERS: one batch, recorded in $work/results.
run() {
    workers=$1
    start "tasksink-$workers" tasksink --bind 'tcp://127.0.0.1:*' --tasks "$tasks" \
        --control 'tcp://127.0.0.1:*' >"$work/tasksink-$workers.out"
    sink=$started
    endpoints "tasksink-$workers" "$sink" 2
    sink_endpoint=${listening%%$'\n'*}
    control_endpoint=${listening#*$'\n'}
    start "taskvent-$workers" taskvent --bind 'tcp://127.0.0.1:*' --sink "$sink_endpoint" \
        --tasks "$tasks" --workers "$workers" --seed "$seed" >"$work/taskvent-$workers.out"
    ventilator=$started
    endpoints "taskvent-$workers" "$ventilator" 1
    ventilator_endpoint=$listening
    worker_pids=""
    for number in $(seq "$workers"); do
        start "taskwork-$workers-$number" taskwork --connect "$ventilator_endpoint" \
            --sink "$sink_endpoint" --control "$control_endpoint" \
            >"$work/taskwork-$workers-$number.out"
        worker_pids="$worker_pids $started"
    done
    finish "taskvent-$workers" "$ventilator"
    finish "tasksink-$workers" "$sink"
    # The sink has sent KILL: each worker exits by itself, at once.
    finish_each --within 10 "taskwork-$workers" 1 $worker_pids

    cat "$work/tasksink-$workers.out"
    outputs=()
    for number in $(seq "$workers"); do
        outputs+=("$work/taskwork-$workers-$number.out")
    done
    record_batch "$workers" "$work/taskvent-$workers.out" "$work/tasksink-$workers.out" "${outputs[@]}"
}

for workers in $counts; do
    echo "--- $workers worker(s), $tasks tasks ---"
    run "$workers"
done

report_batches

if [ -n "$csv" ]; then
    awk 'BEGIN { print "workers,expected_cost_ms,busiest_worker_ms,elapsed_ms,speedup,efficiency" }
    {
        speedup = $2 / ($4 > 0 ? $4 : 1)
        printf "%d,%d,%d,%d,%.3f,%.3f\n", $1, $2, $3, $4, speedup, speedup / $1
    }' "$work/results" >"$csv"
fi
