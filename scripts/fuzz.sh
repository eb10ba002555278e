#!/usr/bin/env bash
# Builds the libFuzzer targets (build-fuzz: clang, ASan + UBSan) and runs each for SECONDS (default 60), one
# after the other in one process each, from its corpus in tests/fuzz/corpus/<target> plus a scratch directory for
# what it discovers. Fails if any target finds a crash, a sanitizer report or a broken property; the input
# that did it is moved into the target's corpus (crash-*, oom-*, timeout-*), where the replay tests of every
# build run it from then on. docs/fuzzing.md.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     e.g. scripts/fuzz.sh 600 frame_decoder
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
all_targets=(frame_reader client_frames upgrade_response frame_decoder webhook_handler replay_request journal_reader
             state_decoder config_loader http_request http_response api_request frame_layout gateway_server
             saved_sessions redis_reply platform_answers client_keys sub_format server_upgrade
             key_file)
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=("${all_targets[@]}")
fi

export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"
export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-1}"
build=${RELAY_FUZZ_BUILD_DIR:-build-fuzz}
echo "== build $build (clang, libFuzzer, ASan + UBSan)"
cmake -S . -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DRELAY_FUZZ=ON -DRELAY_WERROR=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)" --target fuzz_targets

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=()
for target in "${targets[@]}"; do
  corpus=tests/fuzz/corpus/$target
  artifacts=$scratch/$target-artifacts
  mkdir -p "$scratch/$target" "$artifacts"
  echo "== fuzz_$target for ${seconds}s"
  # -max_len 64 KiB: room for the largest seed; -rss_limit_mb: the default 2 GB, stated.
  if ! "$build/bin/fuzz_$target" "$scratch/$target" "$corpus" -max_total_time="$seconds" -max_len=65536 \
      -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 -artifact_prefix="$artifacts/" \
      >"$scratch/$target.log" 2>&1; then
    tail -n 60 "$scratch/$target.log"
    failed+=("$target")
  else
    grep -E '^(stat::number_of_executed_units|stat::new_units_added)' "$scratch/$target.log" || true
  fi
  for found in "$artifacts"/*; do
    [[ -e $found ]] || continue
    cp "$found" "$corpus/"
    echo "fuzz_$target: finding kept as $corpus/$(basename "$found")"
    failed+=("$target")
  done
done

if ((${#failed[@]})); then
  echo "fuzzing found problems in: $(printf '%s\n' "${failed[@]}" | sort -u | tr '\n' ' ')"
  echo "reproduce with: $build/bin/fuzz_<target> tests/fuzz/corpus/<target>/<file>"
  exit 1
fi
echo "fuzzing found nothing"
