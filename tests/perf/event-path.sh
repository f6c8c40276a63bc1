#!/usr/bin/env bash
# Issue 13's table from one load driver run: the bare echo floor, dioxus-liveview 0.7.10's counter and
# Tether's counter, at 10,000 idle connections (memory, then 1 event/s each) and 1,000 × 1 event/s, every
# figure with its ratio to the floor of the same run (docs/performance.md, "The event path against a floor").
#
#   bash tests/perf/event-path.sh                 # builds what it needs, then measures (about 6 minutes)
#   SECONDS_PER_RUN=10 CIRCUITS=2000 bash tests/perf/event-path.sh
#
# The dioxus counter is built outside this repository's workspace, in $DIOXUS_DIR (default
# /tmp/tether-dioxus-counter), from the two files written out in docs/performance.md: its crate pins
# dioxus-liveview 0.7.10 and never touches our Cargo.lock. Run it on a quiet machine: the client and the
# servers share its cores.
set -euo pipefail
cd "$(dirname "$0")/../.."

DIOXUS_DIR=${DIOXUS_DIR:-/tmp/tether-dioxus-counter}
CIRCUITS=${CIRCUITS:-10000}
SMALL=${SMALL:-1000}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-20}
export CARGO_INCREMENTAL=0

# Writes the fenced block that follows the line `<!-- dioxus-counter: NAME -->` in docs/performance.md.
extract() {
  awk -v name="$1" '
    $0 == "<!-- dioxus-counter: " name " -->" { found = 1; next }
    found && /^```/ { if (inside) exit; inside = 1; next }
    inside { print }
  ' docs/performance.md
}
mkdir -p "$DIOXUS_DIR/src"
extract Cargo.toml > "$DIOXUS_DIR/Cargo.toml"
extract src/main.rs > "$DIOXUS_DIR/src/main.rs"
[ -s "$DIOXUS_DIR/Cargo.toml" ] && [ -s "$DIOXUS_DIR/src/main.rs" ] || {
  echo "docs/performance.md lost the dioxus counter's source blocks" >&2
  exit 1
}

cargo build --release -p counter -p tether-load
(cd "$DIOXUS_DIR" && cargo build --release)

ulimit -n 20000
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
target/release/tether-load compare --circuits "$CIRCUITS" --small "$SMALL" --seconds "$SECONDS_PER_RUN" \
  --dioxus "$DIOXUS_DIR/target/release/dioxus-counter"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
