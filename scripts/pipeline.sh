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
tasks=100
seed=1
counts=""
csv=""
while [ $# -gt 0 ]; do
    case $1 in
    -h | --help) usage; exit 0 ;;
    --tasks) tasks=${2:?--tasks needs a number}; shift 2 ;;
    --seed) seed=${2:?--seed needs a number}; shift 2 ;;
    --csv) csv=${2:?--csv needs a file name}; shift 2 ;;
    [1-9]*) counts="$counts $1"; shift ;;
    *) usage >&2; exit 2 ;;
    esac
done
counts=${counts:-4}

. "$(dirname "$0")/common.sh"
build taskvent taskwork tasksink

# run WORKERS: one batch; appends "workers cost busiest elapsed" to results.
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
    finish_each --within 10 "taskwork-$workers" $worker_pids

    cat "$work/tasksink-$workers.out"
    cost=$(sed -n 's/^Total expected cost: \([0-9]*\) msec$/\1/p' "$work/taskvent-$workers.out")
    elapsed=$(sed -n 's/.*Total elapsed time: \([0-9]*\) msec$/\1/p' "$work/tasksink-$workers.out")
    [ -n "$cost" ] && [ -n "$elapsed" ] || fail "no expected cost or elapsed time"
    # Each worker printed "N." per task: its total is the sum of the Ns.
    busiest=0
    for number in $(seq "$workers"); do
        total=$(tr '.' '\n' <"$work/taskwork-$workers-$number.out" | awk '{ sum += $1 } END { print sum + 0 }')
        [ "$total" -gt "$busiest" ] && busiest=$total
    done
    echo "$workers $cost $busiest $elapsed" >>"$work/results"
}

for workers in $counts; do
    echo "--- $workers worker(s), $tasks tasks ---"
    run "$workers"
done

if [ "$(wc -l <"$work/results")" -eq 1 ]; then
    awk '{
        speedup = $2 / ($4 > 0 ? $4 : 1)
        printf "Expected cost: %d msec\nElapsed time: %d msec\n", $2, $4
        printf "Speedup: %.2f (expected cost / elapsed time)\n", speedup
        printf "Efficiency: %.2f (speedup / %d workers)\n", speedup / $1, $1
    }' "$work/results"
else
    echo
    awk 'BEGIN {
        printf "%7s %14s %15s %13s %9s %8s %11s\n", "workers", "expected cost", "busiest worker", "elapsed", "overhead", "speedup", "efficiency"
    }
    {
        speedup = $2 / ($4 > 0 ? $4 : 1)
        printf "%7d %9d msec %10d msec %8d msec %4d msec %8.2f %11.2f\n", $1, $2, $3, $4, $4 - $3, speedup, speedup / $1
        workers[NR] = $1; speedups[NR] = speedup
        if (speedup > most) most = speedup
    }
    END {
        printf "\nSpeedup\n"
        for (i = 1; i <= NR; i++) {
            bar = ""
            for (j = 0; j < int(speedups[i] / most * 50 + 0.5); j++) bar = bar "#"
            printf "%3d worker(s) | %-50s %.2f\n", workers[i], bar, speedups[i]
        }
    }' "$work/results"
fi

if [ -n "$csv" ]; then
    awk 'BEGIN { print "workers,expected_cost_ms,busiest_worker_ms,elapsed_ms,speedup,efficiency" }
    {
        speedup = $2 / ($4 > 0 ? $4 : 1)
        printf "%d,%d,%d,%d,%.3f,%.3f\n", $1, $2, $3, $4, speedup, speedup / $1
    }' "$work/results" >"$csv"
fi
