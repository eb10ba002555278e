#!/usr/bin/env bash
# The whole test suite: installs what is missing, checks formatting, builds with warnings as errors and runs
# every test, then does the same in an AddressSanitizer + UndefinedBehaviorSanitizer build, and finally runs
# every fuzz target for RELAY_FUZZ_SECONDS (default 20) each when clang and libFuzzer are there.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

echo "== clang-format"
mapfile -t sources < <(git ls-files 'daemon/*.cpp' 'daemon/*.hpp' 'simulator/*.cpp' 'simulator/*.hpp' 'tests/*.cpp' 'tests/*.hpp' 2>/dev/null || true)
if ((${#sources[@]})); then
  clang-format --dry-run --Werror "${sources[@]}"
fi

# ccache keys on paths relative to the checkout, so a fresh clone elsewhere reuses what earlier builds
# compiled (the debug info then names the first checkout's directory).
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"
export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-1}"

jobs=$(nproc)
run_suite() {
  local dir=$1
  shift
  echo "== build $dir ($*)"
  cmake -S . -B "$dir" -G Ninja -DRELAY_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  echo "== test $dir"
  (cd "$dir" && ctest --output-on-failure -j "$jobs" --timeout 300)
}

run_suite build -DCMAKE_BUILD_TYPE=Debug
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DRELAY_SANITIZE=ON

# libFuzzer comes with clang (Debian: clang and libclang-rt-14-dev, which install-deps.sh installs). Without it
# the corpora were still replayed above, by the fuzz tests of both builds.
fuzzer_probe=$(mktemp -d)
if command -v clang++ >/dev/null &&
  echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' |
  clang++ -x c++ -fsanitize=fuzzer -o "$fuzzer_probe/probe" - 2>/dev/null; then
  rm -rf "$fuzzer_probe"
  echo "== fuzz (${RELAY_FUZZ_SECONDS:-20}s per target)"
  scripts/fuzz.sh "${RELAY_FUZZ_SECONDS:-20}"
else
  rm -rf "$fuzzer_probe"
  echo "== fuzz: skipped (no clang++ with libFuzzer)"
fi
