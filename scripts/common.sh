# Sourced by the demo scripts: build once, start programs (on this host or
# in a network namespace), clean up, and report on pipeline batches.
#
# Programs print their guide output straight to the terminal; their stderr
# goes to a file per process, so the script can read the `listening on` line
# (servers bind tcp://127.0.0.1:*, since fixed ports may be taken on a shared
# machine) and show diagnostics when something fails.

set -eu

# The script's own directory, also when it is run through a symlink.
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
# Where cargo builds: a relative CARGO_TARGET_DIR is relative to the
# workspace, where `build` runs cargo.
case ${CARGO_TARGET_DIR:-target} in
/*) bin=$CARGO_TARGET_DIR/release ;;
*) bin=$root/${CARGO_TARGET_DIR:-target}/release ;;
esac
# The temporary directory is made once the traps are set (below), so that
# a signal at start-up cannot leave it behind.
work=""
pids=""
exit_hooks=""

# Stop every process this script started, whatever way the script ends.
# The shell's job table has a program from the moment it is started, before
# `start` has noted its pid: a signal between the two would otherwise leave
# that program running. Once it runs, a second Ctrl-C does not cut it short:
# what it undoes (see `at_exit`) would stay undone.
cleanup() {
    trap - EXIT
    trap '' INT TERM HUP
    if [ -n "$work" ]; then
        jobs -p >"$work/jobs" 2>/dev/null || true
        pids="$pids $(cat "$work/jobs" 2>/dev/null || true)"
    fi
    for pid in $pids; do
        kill "$pid" 2>/dev/null || true
        # A stopped program (SIGSTOP, Ctrl-Z) only dies once continued.
        kill -CONT "$pid" 2>/dev/null || true
    done
    for pid in $pids; do
        wait "$pid" 2>/dev/null || true
    done
    for hook in $exit_hooks; do
        "$hook" || true
    done
    [ -z "$work" ] || rm -rf "$work"
}

# at_exit FUNCTION: cleanup calls the function once the processes are gone,
# whatever way the script ends, to undo what the script set up besides them.
at_exit() {
    exit_hooks="$exit_hooks $1"
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM
trap 'cleanup; exit 129' HUP
work=${TMPDIR:-/tmp}/zguide-demo.$$.$RANDOM$RANDOM
mkdir -m 700 "$work" || { work=""; exit 1; }

# usage_error WHY: says why, and how to use the script; exit status 2.
usage_error() {
    echo "$(basename "$0"): $*" >&2
    usage >&2
    exit 2
}

# number WHAT VALUE: a usage error unless VALUE (of an option, or a count)
# is a whole number.
number() {
    case ${2:-} in
    '' | *[!0-9]*) usage_error "$1 needs a whole number" ;;
    esac
}

fail() {
    echo "$(basename "$0"): $*" >&2
    exit 1
}

# build PACKAGE...: one release build of the programs the demo runs.
build() {
    echo "Building $* (release)..." >&2
    set -- $(printf -- '-p %s ' "$@")
    (cd "$root" && cargo build --release --quiet "$@") || fail "build failed"
}

# start NAME PROGRAM ARGS...: starts a program in the background, its
# stderr in $work/NAME.err. Sets $started to its process id.
start() {
    name=$1
    program=$2
    shift 2
    launch "$name" "$bin/$program" "$@"
}

# start_in NETNS NAME PROGRAM ARGS...: as start, but in a network namespace
# (`ip netns exec`, which becomes the program: $started is its id).
start_in() {
    netns=$1
    name=$2
    program=$3
    shift 3
    launch "$name" ip netns exec "$netns" "$bin/$program" "$@"
}

# launch NAME COMMAND...: what start does, for any command.
launch() {
    name=$1
    shift
    # Created here, not only by the background shell's redirect, which may
    # come after `endpoints` has looked for it.
    : >"$work/$name.err"
    "$@" 2>>"$work/$name.err" &
    started=$!
    pids="$pids $started"
}

# endpoints NAME PID COUNT: waits for COUNT `listening on` lines from the
# process and sets $listening to their endpoints, one per line. (It sets a
# variable rather than print, so it runs in this shell, not in a subshell
# that a Ctrl-C could leave behind.)
endpoints() {
    for _ in $(seq 200); do
        # A log that is not there yet has no endpoints yet.
        listening=$(sed -n 's/^listening on //p' "$work/$1.err" 2>/dev/null || true)
        if [ -n "$listening" ] && [ "$(echo "$listening" | wc -l)" -ge "$3" ]; then
            return 0
        fi
        kill -0 "$2" 2>/dev/null || break
        sleep 0.05
    done
    cat "$work/$1.err" >&2 2>/dev/null || true
    fail "$1 did not start listening"
}

# forget PID: drops a process that has been waited for from the list, so
# that cleanup never signals a process id the system has since reused.
forget() {
    pids=$(printf ' %s' $pids | sed "s/ $1\b//")
}

# stop PID...: stops programs that run until stopped.
stop() {
    for pid in "$@"; do
        kill "$pid" 2>/dev/null || true
        kill -CONT "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        forget "$pid"
    done
}

# finish NAME PID: waits for a program to exit and fails, showing its
# stderr, if it did not succeed.
finish() {
    status=0
    wait "$2" || status=$?
    forget "$2"
    if [ "$status" -ne 0 ]; then
        cat "$work/$1.err" >&2
        fail "$1 exited with status $status"
    fi
}

# finish_within SECONDS NAME PID: as finish, for a program that is to exit
# by itself soon (a worker told to by its sink): fails, showing its stderr,
# if it has not exited within SECONDS.
finish_within() {
    for _ in $(seq $(($1 * 20))); do
        kill -0 "$3" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$3" 2>/dev/null; then
        cat "$work/$2.err" >&2
        fail "$2 did not exit within $1 s"
    fi
    finish "$2" "$3"
}

# finish_each [--within SECONDS] NAME FIRST PID...: finishes (or finishes
# within, as above) the programs started as NAME-FIRST, NAME-(FIRST + 1),
# ... with those PIDs, in the order given.
finish_each() {
    within=""
    if [ "$1" = --within ]; then
        within=$2
        shift 2
    fi
    each=$1
    number=$2
    shift 2
    for pid in "$@"; do
        if [ -n "$within" ]; then
            finish_within "$within" "$each-$number" "$pid"
        else
            finish "$each-$number" "$pid"
        fi
        number=$((number + 1))
    done
}

# For the pipeline demos: record_batch WORKERS VENTILATOR_OUT SINK_OUT
# WORKER_OUT...: appends "workers cost busiest elapsed" for one batch to
# $work/results, from what the programs printed: the ventilator's expected
# cost, the sink's elapsed time, and the busiest worker's total workload.
record_batch() {
    workers=$1
    cost=$(sed -n 's/^Total expected cost: \([0-9]*\) msec$/\1/p' "$2")
    elapsed=$(sed -n 's/.*Total elapsed time: \([0-9]*\) msec$/\1/p' "$3")
    shift 3
    [ -n "$cost" ] && [ -n "$elapsed" ] || fail "no expected cost or elapsed time"
    busiest=0
    for output in "$@"; do
        total=$(work_done "$output")
        [ "$total" -gt "$busiest" ] && busiest=$total
    done
    echo "$workers $cost $busiest $elapsed" >>"$work/results"
}

# work_done WORKER_OUT: a worker's total workload in ms. It printed "N." per
# task: the total is the sum of the Ns.
work_done() {
    tr '.' '\n' <"$1" | awk '{ sum += $1 } END { print sum + 0 }'
}

# report_batches: the speedup (expected cost / elapsed) and efficiency
# (speedup / workers) of the batches in $work/results; for several, a table
# and a chart, whose overhead is the elapsed time beyond the busiest
# worker's total workload.
report_batches() {
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
}
