#!/usr/bin/env bash
# Runs the README's "Running an exchange" commands as written, in a copy of
# the repository's README.md and deploy/, with the built binaries first on
# PATH: the first sh block whole (its last line, the broker in the
# foreground, is started in the background and stopped with SIGTERM), then
# the participant's block up to its dry run (its later commands need the
# requested states' focal points enrolled, which the first block does not do).
#   readme_commands_test.sh BIN_DIR SOURCE_DIR
set -euo pipefail
bin_dir=$1
source_dir=$2

work=$(mktemp -d)
broker_pid=
cleanup() {
  if [[ -n $broker_pid ]]; then kill "$broker_pid" 2>/dev/null || true; wait "$broker_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

cp "$source_dir/README.md" "$work/"
cp -r "$source_dir/deploy" "$work/deploy"
# A checkout where someone already ran them holds their output: start clean.
rm -rf "$work/deploy/pki" "$work/deploy/enrolled" "$work/deploy/fpx-broker.sqlite"*
export PATH="$bin_dir:$PATH"
export HOME="$work/home"
mkdir -p "$HOME"

# The sh blocks of the section, one file each (block-1.sh, block-2.sh).
awk -v dir="$work" '
  /^## Running an exchange/ { inside = 1; next }
  /^## / { inside = 0 }
  inside && /^```sh/ { block++; file = dir "/block-" block ".sh"; printf "" > file; in_block = 1; next }
  inside && /^```/ { in_block = 0; next }
  inside && in_block { print >> file }
' "$work/README.md"
[[ -s $work/block-1.sh && -s $work/block-2.sh ]] || { echo "README: the sh blocks of 'Running an exchange' are gone"; exit 1; }

# The last command of block 1 serves until stopped.
last=$(tail -n 1 "$work/block-1.sh")
[[ $last == "fpx-broker --config deploy/broker.toml"* ]] || { echo "README: block 1 no longer ends with the broker: $last"; exit 1; }
head -n -1 "$work/block-1.sh" > "$work/setup.sh"

cd "$work"
echo "== running block 1 but its last line"
bash -euo pipefail -x "$work/setup.sh"

echo "== $last (in the background)"
fpx-broker --config deploy/broker.toml > "$work/broker.log" 2>&1 &
broker_pid=$!
for _ in $(seq 1 150); do
  grep -q "listening on" "$work/broker.log" && break
  if ! kill -0 "$broker_pid" 2>/dev/null; then
    cat "$work/broker.log"
    # Its ports are fixed in deploy/broker.toml: another program may hold them here.
    if grep -q "Address already in use" "$work/broker.log"; then echo "SKIP: port 7400/7401 taken on this machine"; exit 77; fi
    echo "the broker did not start"; exit 1
  fi
  sleep 0.1
done
grep -q "listening on" "$work/broker.log" || { cat "$work/broker.log"; echo "the broker did not get ready"; exit 1; }

echo "== block 2 up to its dry run"
awk '{ print } /--dry-run/ { exit }' "$work/block-2.sh" > "$work/participant.sh"
bash -euo pipefail -x "$work/participant.sh"

kill -TERM "$broker_pid"
wait "$broker_pid"
broker_pid=
grep -q "broker stopped cleanly" "$work/broker.log" || { cat "$work/broker.log"; exit 1; }
echo "README commands: OK"
