#!/usr/bin/env bash
# Regenerates the scaling charts in docs/: the pipeline's speedup for 1 to 16
# workers, and wuserver's publish rate with 1, 5, 20 and 50 subscribers.
set -eu
case ${1:-} in
-h | --help)
    cat <<USAGE
Usage: scripts/charts.sh

Runs scripts/pipeline.sh for 1 to 16 workers and the weather benchmark
(cargo bench -p e2e --bench weather) for 1, 5, 20 and 50 subscribers,
writing docs/pipeline.csv and docs/wuserver.csv, then draws
docs/pipeline-speedup.svg and docs/wuserver-subscribers.svg with
docs/plot.py. Takes about a minute; run it on a quiet machine.
USAGE
    exit 0
    ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)

"$root/scripts/pipeline.sh" --csv "$root/docs/pipeline.csv" $(seq 1 16)
(cd "$root" && cargo bench -p e2e --bench weather -- --subscribers 1,5,20,50 \
    --csv "$root/docs/wuserver.csv")
python3 "$root/docs/plot.py"
