#!/bin/sh
# Installs the build tree into a temporary prefix, then configures, builds and
# runs tests/install as an outside project would: find_package(fpx).
# Usage: check_install.sh BUILD_DIR SOURCE_DIR
set -eu
build_dir=$1
source_dir=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/fpx-install-check.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The libraries an install needs (a no-op when the build is current).
cmake --build "$build_dir" --target fpx_client
cmake --install "$build_dir" --prefix "$work/prefix" >"$work/install.log"

generator=
if command -v ninja >/dev/null 2>&1; then generator="-G Ninja"; fi
# shellcheck disable=SC2086
cmake -S "$source_dir/tests/install" -B "$work/build" $generator \
  -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release >"$work/configure.log" ||
  { cat "$work/configure.log"; exit 1; }
cmake --build "$work/build" || exit 1
"$work/build/fpx_install_consumer"
echo "install check: OK"
