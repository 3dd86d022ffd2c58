#!/usr/bin/env bash
# Translation-buffer misses (page walks) of issue 7's workload, counted by a model:
# cachegrind's cache simulation with 4 KiB "lines", so that its first level stands for
# a 64-entry 4-way data TLB and its last level for a 2,048-entry 16-way second-level
# TLB. A miss in the last level is a page walk. This VM has no hardware counters, and
# cachegrind counts the same for a binary on any machine, so the figure compares
# layouts the way callgrind's instruction counts compare code (a rebuild elsewhere
# moves it by a fraction of a percent: addresses change). (valgrind treats prefetches as no
# accesses: a page walk a prefetch would take counts at the access it covers.)
#
#   scripts/tlb.sh [CLIENT_HOSTS=1000] [DURATION=5s]
#
# Runs the lossy client-close workload (20,000 new connections per simulated second,
# 1 % loss on every link, TIME_WAIT 60 s) for DURATION of arrivals, then prints the
# instructions and page walks per connection (valgrind counts instructions the same
# in any hour: the load of a shared machine cannot move them), and the functions with
# the most walks, reads and writes apart.
# A walk on a read stalls the read; one on a write mostly waits in the store buffer:
# fewer walks on writes alone measured no faster (see the README's Performance).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind > /dev/null || { echo "tlb.sh: needs valgrind (apt-get install valgrind)" >&2; exit 2; }
hosts=${1:-1000} dur=${2:-5s}
if [ -z "${TCPSIM:-}" ]; then cargo build --release --quiet; fi
bin="${TCPSIM:-${CARGO_TARGET_DIR:-target}/release/tcpsim}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
valgrind --tool=cachegrind --cache-sim=yes --D1=262144,4,4096 --LL=8388608,16,4096 \
  --cachegrind-out-file="$work/tlb.out" "$bin" run client-close \
  --set workload.rate=20000 --set "run.duration=$dur" --set link.loss=0.01 \
  --set "group.0.count=$hosts" --out "$work/out" --quiet > /dev/null 2> "$work/log"
conns=$(($(wc -l < "$work/out/connections.csv") - 1))
# "LL misses: total ( reads rd + writes wr )": the second level serves instruction
# fetches too, as the hardware's does (they are a few thousand of the reads).
read -r walks reads < <(grep "LL misses:" "$work/log" |
  awk '{gsub(",", ""); gsub(/\(/, ""); print $4, $5}')
instructions=$(grep "I *refs:" "$work/log" | awk '{gsub(",", ""); print $NF}')
awk -v w="$walks" -v r="$reads" -v c="$conns" -v h="$hosts" -v i="$instructions" 'BEGIN {
  printf "%d client hosts, %d connections: %d instructions, %.0f per connection\n", h, c, i, i / c
  printf "%d page walks, %.2f per connection (%.2f on reads)\n", w, w / c, r / c }'
for by in DLmr DLmw; do
  [ $by = DLmr ] && echo "functions by page walks on reads (first column), then on writes (second):"
  cg_annotate --show=DLmr,DLmw --sort=$by "$work/tlb.out" 2> /dev/null |
    sed -n '/file:function/,/^$/p' | sed -n '3,10p'
done
