# Sourced by the demo scripts: build once, start programs, clean up.
#
# Programs print their guide output straight to the terminal; their stderr
# goes to a file per process, so the script can read the `listening on` line
# (servers bind tcp://127.0.0.1:*, since fixed ports may be taken on a shared
# machine) and show diagnostics when something fails.

set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
bin="${CARGO_TARGET_DIR:-$root/target}/release"
work=$(mktemp -d "${TMPDIR:-/tmp}/zguide-demo.XXXXXX")
pids=""

# Stop every process this script started, whatever way the script ends.
# The shell's job table has a program from the moment it is started, before
# `start` has noted its pid: a signal between the two would otherwise leave
# that program running.
cleanup() {
    trap - EXIT INT TERM
    jobs -p >"$work/jobs" 2>/dev/null || true
    pids="$pids $(cat "$work/jobs" 2>/dev/null || true)"
    for pid in $pids; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in $pids; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

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
    # Created here, not only by the background shell's redirect, which may
    # come after `endpoints` has looked for it.
    : >"$work/$name.err"
    "$bin/$program" "$@" 2>>"$work/$name.err" &
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

# finish_each [--within SECONDS] NAME PID...: finishes (or finishes within,
# as above) the programs started as NAME-1, NAME-2, ... with those PIDs.
finish_each() {
    within=""
    if [ "$1" = --within ]; then
        within=$2
        shift 2
    fi
    each=$1
    shift
    number=0
    for pid in "$@"; do
        number=$((number + 1))
        if [ -n "$within" ]; then
            finish_within "$within" "$each-$number" "$pid"
        else
            finish "$each-$number" "$pid"
        fi
    done
}
