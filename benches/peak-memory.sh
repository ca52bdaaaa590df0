#!/usr/bin/env bash
# Peak resident memory of `roster import` on generated files of 100,000 and 1,000,000 users
# without passwords, to show that it stays under 64 MiB and does not grow with the file.
#
#   benches/peak-memory.sh [COUNT...]        # default: 100000 1000000
#
# Needs GNU time at /usr/bin/time (Debian: `apt-get install -y time`, after `apt-get update`).
# Files and stores go to a temporary directory that is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/time ]; then
  echo "peak-memory: /usr/bin/time is missing; install GNU time (apt-get install -y time)" >&2
  exit 2
fi

counts=("$@")
if [ ${#counts[@]} -eq 0 ]; then
  counts=(100000 1000000)
fi

cargo build --release --quiet --bin roster --example gen-users
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for count in "${counts[@]}"; do
  file="$work/users-$count.jsonl"
  target/release/examples/gen-users "$count" "$file"
  /usr/bin/time -v -o "$work/time-$count.txt" \
    target/release/roster import "$file" --db "$work/roster-$count.db" >"$work/out-$count.txt"
  peak_kib=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time-$count.txt")
  wall=$(awk -F'): ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time-$count.txt")
  printf '%9d users: peak RSS %6.1f MiB, wall %s; %s\n' "$count" \
    "$(echo "$peak_kib / 1024" | bc -l)" "$wall" "$(head -n 1 "$work/out-$count.txt")"
done
