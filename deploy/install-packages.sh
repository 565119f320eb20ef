#!/usr/bin/env bash
# Installs the Debian 12 packages FPX builds and tests with, only those that
# are missing. Needs root when something is missing; does nothing otherwise.
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config git
  libzmq3-dev cppzmq-dev
  capnproto libcapnp-dev            # capnproto holds the capnp compiler the build runs
  libssl-dev openssl
  catch2
  libsqlite3-dev sqlite3
  libspdlog-dev libcli11-dev libtomlplusplus-dev
  nlohmann-json3-dev                # the broker's public feed records; the Wycheproof JSON vectors
  python3-cryptography-vectors      # test-only: reference Ed25519 vectors
  chromium                          # test-only: renders the `fpx report --html` page headless
  libpq-dev                         # the PostgreSQL store (broker/store_pg/)
  postgresql                        # test-only: the tests' throwaway clusters (initdb, pg_ctl of PostgreSQL 15)
  postgresql-client                 # fpx-admin backup/restore on PostgreSQL (pg_dump, pg_restore)
  libcpp-httplib-dev                # HTTP: `fpx witness serve`, the metrics endpoint, `fpx desk`
  python3 python3-cryptography      # test-only (issue 13): the cosignature/v1 interop script
  # fpx desk: the French catalogue built with msgfmt/msgcat, and its browser
  # test (playwright-core from npm, run by node; npm below)
  gettext nodejs
  libglpk-dev                       # the broker's disclosure audit (secondary suppression, linear programs)
  python3-scipy                     # test-only: tests/audit/differencing_audit.py, the observer's LP audit
  libcsv-dev                        # `fpx trace import`: the CSV of seized firearms (issue 17)
)
if [[ "${FPX_WITH_CLANG:-0}" == 1 ]]; then
  packages+=(clang-14 libclang-rt-14-dev)  # libFuzzer targets and sanitizer runtimes
fi
if [[ "${FPX_WITH_PEERS:-0}" == 1 ]]; then
  # fpx-bench --peer mosquitto|nats|rabbitmq: the peer brokers and their C client
  # libraries (CMake builds the peer code only when the libraries are found).
  # fpx-bench starts each broker itself, on its own loopback port with its
  # own config. On a host running systemd the mosquitto package enables and
  # starts a system mosquitto on port 1883; it does not disturb the bench,
  # and `systemctl disable --now mosquitto` stops it if it is not wanted.
  # rabbitmq-server runs as the bench's own user in a temp directory (its
  # package's system node, if the host starts one, is not used).
  packages+=(mosquitto libmosquitto-dev nats-server libnats-dev rabbitmq-server librabbitmq-dev)
fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$package")
  fi
done
# Debian's npm package needs Debian's nodejs: where node comes from elsewhere
# (NodeSource's nodejs bundles npm), installing it would fight that node.
if ! command -v npm >/dev/null 2>&1; then
  missing+=(npm)
fi
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
  echo "error: missing Debian packages: ${missing[*]}" >&2
  echo "Run this script as root, or: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
