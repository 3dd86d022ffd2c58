#!/usr/bin/env bash
# Scaling table for issue 7: the lossy client-close workload (20,000 new connections
# per simulated second, 1 % Bernoulli loss on every link, 1,000 client hosts,
# TIME_WAIT 60 s) at 10^4, 10^5, 10^6 and 10^7 connections (run.duration = n / 20,000 s),
# each under /usr/bin/time -v. Prints: connections, wall s, connections/s, events/s,
# peak RSS, and bytes of peak RSS per TIME_WAIT socket at the peak. An argument up
# to 9 is a power of ten; a larger one is a number of connections.
#
#   scripts/scale.sh                    # all four sizes (10^7 takes a few minutes)
#   scripts/scale.sh 4 5 6              # only 10^4, 10^5, 10^6
#   scripts/scale.sh 2000000 4000000    # 2 and 4 million (steady state after 60 s)
#   HOSTS=50 scripts/scale.sh 6         # 10^6 with 50 client hosts instead of 1,000
set -euo pipefail
cd "$(dirname "$0")/.."
# TCPSIM=path runs that binary (e.g. target/pgo/tcpsim from scripts/pgo.sh) instead of
# the release build.
if [ -z "${TCPSIM:-}" ]; then cargo build --release --quiet; fi
bin="${TCPSIM:-${CARGO_TARGET_DIR:-target}/release/tcpsim}"
hosts="${HOSTS:-1000}"
exps=("$@")
[ ${#exps[@]} -eq 0 ] && exps=(4 5 6 7)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# column <name> <csv file>: the value of that column in the first data row.
column() {
  awk -F, -v name="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i }
                        NR == 2 { print $c }' "$2"
}
json() { grep -o "\"$1\": *[0-9.e+]*" "$2" | sed 's/.*: *//'; }
printf '%12s %8s %12s %12s %10s %12s %14s\n' connections wall_s conn/s events/s peak_RSS_MB peak_TW B/TW
for e in "${exps[@]}"; do
  if [ "$e" -le 9 ]; then n=$((10 ** e)); else n=$e; fi
  dur=$(awk -v n="$n" 'BEGIN { printf "%g", n / 20000 }')
  out="$work/run-$e"
  /usr/bin/time -v -o "$work/time-$e" "$bin" run client-close \
    --set workload.rate=20000 --set "run.duration=${dur}s" --set link.loss=0.01 \
    --set "group.0.count=$hosts" --out "$out" --quiet > /dev/null
  conns=$(column attempted "$out/summary.csv")
  tw=$(column peak_time_wait "$out/summary.csv")
  wall=$(grep 'Elapsed (wall clock)' "$work/time-$e" | awk '{ print $NF }' \
    | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')
  rss_kb=$(grep 'Maximum resident set size' "$work/time-$e" | awk '{ print $NF }')
  events=$(json events "$out/run.json")
  awk -v c="$conns" -v w="$wall" -v ev="$events" -v rss="$rss_kb" -v tw="$tw" 'BEGIN {
    printf "%12d %8.2f %12.0f %12.0f %10.1f %12d %14.1f\n",
      c, w, c / w, ev / w, rss / 1024, tw, (tw > 0 ? rss * 1024 / tw : 0) }'
done
