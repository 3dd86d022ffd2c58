#!/usr/bin/env bash
# Profile-guided build of tcpsim: the same source and the same outputs, fewer
# instructions (the compiler lays out and inlines the hot path from a measured profile).
#
#   scripts/pgo.sh            # builds target/pgo/tcpsim, checks it against target/release/tcpsim
#
# Steps: (1) an instrumented release build (-Cprofile-generate); (2) training runs of
# every built-in scenario, plain and lossy with jitter, plus a few large runs of the
# teardown workloads (about 10 s); (3) the counts merged with llvm-profdata; (4) the
# release build again with -Cprofile-use; (5) every built-in scenario run by the new
# binary and by the ordinary release build, with --trace, loss and jitter: every CSV
# must be byte-identical, else the script fails (exit 1) and no binary is left.
#
# llvm-profdata must read this rustc's LLVM profiles (LLVM 19 or newer): set
# LLVM_PROFDATA, or have rustup's llvm-tools component, or Debian's llvm-19
# (`apt-get install llvm-19`; .ci/run installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
host=$(rustc -vV | sed -n 's/^host: //p')
llvm_major=$(rustc -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')

# --- find an llvm-profdata ------------------------------------------------------------
profdata="${LLVM_PROFDATA:-}"
if [ -z "$profdata" ]; then
  for c in "$(rustc --print sysroot)/lib/rustlib/$host/bin/llvm-profdata" \
    $(for v in $(seq "$llvm_major" -1 19); do echo "/usr/lib/llvm-$v/bin/llvm-profdata"; done); do
    if [ -x "$c" ]; then profdata=$c; break; fi
  done
fi
if [ ! -x "$profdata" ]; then
  echo "pgo.sh: no llvm-profdata for LLVM $llvm_major profiles found${profdata:+ ($profdata)}:" \
    "set LLVM_PROFDATA, or 'rustup component add llvm-tools', or 'apt-get install llvm-19'" >&2
  exit 2
fi

rm -rf "$target/pgo" && mkdir -p "$target/pgo/profiles"
work="$(cd "$target/pgo" && pwd)" # absolute: the instrumented binary writes there
out="$work/tcpsim"
trap 'rm -f "$out.new"' EXIT

# --- 1. instrumented build ------------------------------------------------------------
# --target keeps the flags off build scripts and proc-macros (they run at build time).
build() { # build <rustflags> <target dir>
  RUSTFLAGS="$1" cargo build --release --quiet -p scenarios --target "$host" --target-dir "$2"
}
echo "pgo.sh: instrumented build"
build "-Cprofile-generate=$work/profiles" "$target/pgo-generate"
gen="$target/pgo-generate/$host/release/tcpsim"

# --- 2. training ------------------------------------------------------------------
echo "pgo.sh: training runs"
train() { "$gen" run "$@" --out "$work/train" --quiet > /dev/null; }
for sc in $("$gen" list | awk '{ print $1 }'); do
  train "$sc"
  train "$sc" --set link.loss=0.02 --set link.jitter=3ms
done
# The large runs weigh most: the issue-7 workload (lossy client-close, 10^5 connections)
# and the other teardown patterns at scale.
train client-close --set workload.rate=20000 --set run.duration=5s --set link.loss=0.01 \
  --set group.0.count=1000
train server-close --set workload.rate=5000 --set run.duration=5s --set link.loss=0.01
train linger-abort --set workload.rate=5000 --set run.duration=5s --set link.loss=0.01
train client-close --set workload.rate=5000 --set run.duration=5s --set link.loss=0.01 \
  --set link.jitter=1ms
rm -rf "$work/train"

# --- 3. merge, 4. optimized build -------------------------------------------------------
compgen -G "$work/profiles/*.profraw" > /dev/null || {
  echo "pgo.sh: the training runs wrote no profile to $work/profiles" >&2
  exit 1
}
"$profdata" merge -o "$work/merged.profdata" "$work"/profiles/*.profraw || {
  echo "pgo.sh: $profdata could not read LLVM $llvm_major profiles: use LLVM 19 or newer" >&2
  exit 2
}
echo "pgo.sh: optimized build"
build "-Cprofile-use=$work/merged.profdata" "$target/pgo-use"
cp "$target/pgo-use/$host/release/tcpsim" "$out.new"

# --- 5. same outputs as the ordinary release build ---------------------------------------
echo "pgo.sh: comparing outputs with the ordinary release build"
cargo build --release --quiet -p scenarios
bash scripts/same-output.sh "$target/release/tcpsim" "$out.new"
mv "$out.new" "$out"
echo "pgo.sh: $out"
