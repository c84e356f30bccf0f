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
# Outside the main target folder: nightly and the sanitizer flags would rebuild it otherwise.
export CARGO_TARGET_DIR="${HDG_FUZZ_TARGET_DIR:-/var/tmp/hdg-fuzz-target}"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
for t in "${targets[@]}"; do
    echo "== $t: ${seconds}s"
    mkdir -p "corpus/$t"
    cargo +nightly fuzz run --release "$t" "corpus/$t" -- \
        -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=4096 -print_final_stats=1
    cargo +nightly fuzz cmin --release "$t" "corpus/$t" >/dev/null 2>&1 || true
done
