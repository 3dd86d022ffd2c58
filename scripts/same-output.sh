#!/usr/bin/env bash
# Whether two tcpsim binaries write the same results: every built-in scenario, plain,
# lossy, and lossy with jitter, all with --trace (transitions.csv too). Every CSV file
# must be byte-identical; run.json differs only in its wall-clock fields and is not
# compared. Prints each difference; exit status 1 if there is any.
#
#   scripts/same-output.sh OLD_BINARY NEW_BINARY
set -euo pipefail
[ $# -eq 2 ] || { sed -n '2,7p' "$0"; exit 2; }
old=$1 new=$2
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
rc=0 runs=0
for sc in $("$old" list | awk '{ print $1 }'); do
  for extra in "" "--set link.loss=0.05" "--set link.loss=0.02 --set link.jitter=3ms"; do
    for bin in old new; do
      # shellcheck disable=SC2086 # $extra is a list of arguments
      "${!bin}" run "$sc" $extra --trace --out "$work/$bin" --quiet > /dev/null
    done
    runs=$((runs + 1))
    for f in "$work"/old/*.csv; do
      cmp -s "$f" "$work/new/$(basename "$f")" || {
        echo "differs: $sc $extra: $(basename "$f")"
        rc=1
      }
    done
    rm -rf "$work/old" "$work/new"
  done
done
[ $rc -eq 0 ] && echo "same-output.sh: $runs runs, every CSV identical"
exit $rc
