#!/usr/bin/env bash
# The whole test suite from a fresh Debian 12 machine (as root): installs what
# is missing, configures, builds into build/ and runs every test with ctest.
#   FPX_BUILD_DIR   build directory (default build)
#   FPX_CMAKE_ARGS  extra CMake arguments, e.g. -DFPX_SANITIZE=ON
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/install-packages.sh

# fpx desk's browser test: playwright-core from npm (package-lock.json),
# driving Debian's chromium; no browser is downloaded.
(cd tests/browser && npm ci --no-audit --no-fund)

build_dir="${FPX_BUILD_DIR:-build}"
jobs="$(nproc)"
# shellcheck disable=SC2086  # FPX_CMAKE_ARGS is a list of arguments
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="${FPX_BUILD_TYPE:-RelWithDebInfo}" ${FPX_CMAKE_ARGS:-}
cmake --build "$build_dir" -j "$jobs"
ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" --timeout 600
