#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 600) on the nightly toolchain.
# Each target grows a working corpus outside the checkout (HDG_FUZZ_WORK, default
# /var/tmp/hdg-fuzz-corpus/<target>), seeded from the committed one in fuzz/corpus/<target>/;
# afterwards the committed corpus is rebuilt as the smallest set of inputs of at most
# COMMITTED_MAX_LEN bytes that keeps the coverage such inputs reach (libFuzzer's merge), so what
# git holds stays small while the working corpus keeps everything.
# A crash stops the run and leaves its input in fuzz/artifacts/<target>/: fix it, then add the
# input to the target's corpus so the stable replay test (gateway/tests/fuzz_corpus.rs) keeps it.
#   fuzz/run.sh 600            # every target, 10 minutes each
#   fuzz/run.sh 60 frame       # one target
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-600}"
shift || true
COMMITTED_MAX_LEN=512
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    cargo +nightly install cargo-fuzz --locked
fi
# No sanitizer, debug assertions on: the targets are safe Rust (a crash is a panic, an overflow
# or an abort, which libFuzzer catches without one), and AddressSanitizer would also instrument
# RocksDB's C++, which the parsers never reach (here that build had compiled a quarter of
# RocksDB after 25 minutes on two cores).
flags=(--release --sanitizer none --debug-assertions)
# Outside the main target folder: nightly and the fuzzing flags would rebuild it otherwise.
export CARGO_TARGET_DIR="${HDG_FUZZ_TARGET_DIR:-/var/tmp/hdg-fuzz-target}"
# RocksDB's C++ takes longer to build than everything else together: link the archive the main
# build made (same compiler; the fuzz targets never reach it) when there is one. After a RocksDB
# upgrade, build the main workspace first.
main_rocksdb="$(ls -t "${CARGO_MAIN_TARGET_DIR:-/var/tmp/hdg-target}"/release/build/librocksdb-sys-*/out/librocksdb.a 2>/dev/null | head -1)"
if [ -n "$main_rocksdb" ]; then
    export ROCKSDB_LIB_DIR="$(dirname "$main_rocksdb")" ROCKSDB_STATIC=1
fi
work="${HDG_FUZZ_WORK:-/var/tmp/hdg-fuzz-corpus}"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
for t in "${targets[@]}"; do
    echo "== $t: ${seconds}s"
    mkdir -p "corpus/$t" "$work/$t"
    cargo +nightly fuzz run "${flags[@]}" "$t" "$work/$t" "corpus/$t" -- \
        -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=4096 -print_final_stats=1
    small="$(mktemp -d)"
    fresh="$(mktemp -d)"
    # Files are named by their content's hash: the same name in both folders is the same input.
    for from in "corpus/$t" "$work/$t"; do
        find "$from" -type f -size -"$COMMITTED_MAX_LEN"c -exec cp -n -t "$small" {} + || true
    done
    cargo +nightly fuzz run "${flags[@]}" "$t" "$fresh" "$small" -- -merge=1 >/dev/null 2>&1
    rm -rf "corpus/$t" "$small"
    mv "$fresh" "corpus/$t"
    chmod 755 "corpus/$t"
    echo "== $t: committed corpus $(ls "corpus/$t" | wc -l) inputs, $(cat "corpus/$t"/* | wc -c) bytes"
done
