#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 600) on the nightly toolchain, growing the
# committed corpus in fuzz/corpus/<target>/ (minimised with `cargo fuzz cmin` afterwards).
# A crash stops the run and leaves its input in fuzz/artifacts/<target>/: fix it, then add the
# input to the target's corpus so the stable replay test (gateway/tests/fuzz_corpus.rs) keeps it.
#   fuzz/run.sh 600            # every target, 10 minutes each
#   fuzz/run.sh 60 frame       # one target
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-600}"
shift || true
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    cargo +nightly install cargo-fuzz --locked
fi
# No sanitizer, debug assertions on: the targets are safe Rust (a crash is a panic, an overflow
# or an abort, which libFuzzer catches without one), and AddressSanitizer would also instrument
# RocksDB's C++, which the parsers never reach, at an hour's build on two cores.
# Outside the main target folder: nightly and the sanitizer flags would rebuild it otherwise.
export CARGO_TARGET_DIR="${HDG_FUZZ_TARGET_DIR:-/var/tmp/hdg-fuzz-target}"
# RocksDB's C++ takes longer to build than everything else together: link the archive the main
# build made (same compiler; the fuzz targets never reach it) when there is one.
main_rocksdb="$(ls -t "${CARGO_MAIN_TARGET_DIR:-/var/tmp/hdg-target}"/release/build/librocksdb-sys-*/out/librocksdb.a 2>/dev/null | head -1)"
if [ -n "$main_rocksdb" ]; then
    export ROCKSDB_LIB_DIR="$(dirname "$main_rocksdb")" ROCKSDB_STATIC=1
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
for t in "${targets[@]}"; do
    echo "== $t: ${seconds}s"
    mkdir -p "corpus/$t"
    cargo +nightly fuzz run --release --sanitizer none --debug-assertions "$t" "corpus/$t" -- \
        -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=4096 -print_final_stats=1
    cargo +nightly fuzz cmin --release --sanitizer none --debug-assertions "$t" "corpus/$t" >/dev/null 2>&1 || true
done
