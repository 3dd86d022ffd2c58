#!/usr/bin/env bash
# A/B wall-time comparison of two tcpsim binaries on issue 7's run: lossy client-close,
# 20,000 new connections per simulated second, 1 % Bernoulli loss on every link, 1,000
# client hosts, TIME_WAIT 60 s, for DURATION of arrivals (50s: one million connections).
# The binaries run alternately, ROUNDS times each (A B A B ...), so that the load of a
# shared machine falls on both alike. Prints each binary's median wall and user time,
# the median of the per-round B/A ratios, and whether the two wrote the same CSV files.
#
#   scripts/ab.sh OLD_BINARY NEW_BINARY [ROUNDS=8] [DURATION=50s]
#   HOSTS=50 scripts/ab.sh ...   # 50 client hosts instead of 1,000
#
# A binary of an older commit: `git worktree add --detach /tmp/old <commit>` then
# `cargo build --release --manifest-path /tmp/old/Cargo.toml --target-dir /tmp/old-target`.
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,13p' "$0"; exit 2; }
a=$1 b=$2 rounds=${3:-8} dur=${4:-50s} hosts=${HOSTS:-1000}
for bin in "$a" "$b"; do
  [ -x "$bin" ] || { echo "ab.sh: $bin is not an executable" >&2; exit 2; }
done
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# run <binary> <out dir> <times file>: one run, its "wall user" seconds appended.
run() {
  /usr/bin/time -f "%e %U" -a -o "$3" "$1" run client-close \
    --set workload.rate=20000 --set "run.duration=$dur" --set link.loss=0.01 \
    --set "group.0.count=$hosts" --out "$2" --quiet > /dev/null
}
for i in $(seq "$rounds"); do
  run "$a" "$work/a" "$work/a.times"
  run "$b" "$work/b" "$work/b.times"
done
same=yes
for f in "$work"/a/*.csv; do
  cmp -s "$f" "$work/b/$(basename "$f")" || same="no ($(basename "$f") differs)"
done
paste "$work/a.times" "$work/b.times" | awk -v rounds="$rounds" -v same="$same" '
  function median(x, n,   i, j, t) {
    for (i = 2; i <= n; i++) for (j = i; j > 1 && x[j - 1] > x[j]; j--) { t = x[j]; x[j] = x[j - 1]; x[j - 1] = t }
    return n % 2 ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2
  }
  { aw[NR] = $1; au[NR] = $2; bw[NR] = $3; bu[NR] = $4; rw[NR] = $3 / $1; ru[NR] = $4 / $2 }
  END {
    printf "%d alternating rounds\n", NR
    printf "A: median wall %.3f s, user %.3f s\n", median(aw, NR), median(au, NR)
    printf "B: median wall %.3f s, user %.3f s\n", median(bw, NR), median(bu, NR)
    printf "B/A: median ratio wall %.3f, user %.3f\n", median(rw, NR), median(ru, NR)
    printf "same CSV outputs: %s\n", same
  }'
