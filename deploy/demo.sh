#!/usr/bin/env bash
# The demo scenario of DOMAIN.md with the real binaries: every participant and
# every national CA makes its own keys and hands over only a certificate
# request, the root and the national CAs sign with fpx-ca, fpx-broker on 127.0.0.1 with its SQLite file, and each participant's
# `fpx` command line. Every step is confirmed by another binary (the
# recipient's inbox shows what the sender submitted); exit 0 only if every
# step happened. The observer follows the public feed, verifies the
# transparency log and writes its HTML report.
#   FPX_DEMO_DIR  where to put the demo files (default: a new temp directory)
#   FPX_DEMO_PORT the broker's participants port on 127.0.0.1 (default 7400;
#                 observers use the next one)
#   FPX_LANG      en (default) or fr: the language the demo narrates in and
#                 passes to every fpx command (`--lang`); same as --lang fr|en
# Usage: deploy/demo.sh [--lang fr|en]
set -euo pipefail
cd "$(dirname "$0")/.."
root_dir="$PWD"

# Issue 17: the demo in French or English. The narration's French is the
# table below, not a gettext catalogue: gettext(1) and eval_gettext translate
# only under a generated locale (glibc ignores LANGUAGE in the C locale), and
# the demo must narrate in French on a machine with none (CI's fresh Debian).
demo_lang="${FPX_LANG:-en}"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --lang) [[ $# -ge 2 ]] || { echo "--lang needs a value: fr or en" >&2; exit 2; }; demo_lang=$2; shift 2 ;;
    --lang=*) demo_lang=${1#--lang=}; shift ;;
    -h | --help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "unknown argument '$1': the demo takes only --lang fr|en" >&2; exit 2 ;;
  esac
done
case "$demo_lang" in
  en | en[_-]* | C | POSIX) demo_lang=en ;;
  fr | fr[_-]*) demo_lang=fr ;;
  *) echo "language '$demo_lang' is not available: use --lang fr or --lang en" >&2; exit 2 ;;
esac
export FPX_LANG="$demo_lang"  # demo_traffic.py and demo_figures.py narrate in it too
source "$root_dir/deploy/demo_text.sh"

deploy/install-packages.sh
build_dir="${FPX_BUILD_DIR:-build}"
say "== building fpx-ca, fpx-broker and fpx into %s/ (if needed)" "$build_dir"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build_dir" -j "$(nproc)" --target fpx-ca fpx-broker fpx >/dev/null
ca="$root_dir/$build_dir/bin/fpx-ca"
broker_bin="$root_dir/$build_dir/bin/fpx-broker"
fpx_bin="$root_dir/$build_dir/bin/fpx"
examples="$root_dir/deploy/examples"

demo_dir="${FPX_DEMO_DIR:-$(mktemp -d)/fpx-demo}"
# Each party has its own directory, as each would have its own machine:
#   root-ca/        the exchange's root CA (the operator): only the root's key
#   national/xx-ca/ each state's national CA, held by its focal point: only that CA's key
#   keys/<id>/      each participant's own keys, made by itself: only its keys
#   crls/           what brokers read: the root's CRL and each national CA's
pki="$demo_dir/root-ca"
keys="$demo_dir/keys"
crls="$demo_dir/crls"
mkdir -p "$demo_dir" "$keys" "$crls"
# The fpx command line in the demo's language.
fpx() { "$fpx_bin" --lang "$demo_lang" "$@"; }
national() { echo "$demo_dir/national/$(tr 'A-Z' 'a-z' <<<"$1")-ca"; }
# Every CA publishes its own CRL; the brokers' CRL directory gathers them.
gather_crls() {
  cp "$pki"/crls/*.crl.pem "$crls"/
  for country in SN NE BF; do cp "$(national "$country")"/crls/*.crl.pem "$crls"/; done
}

step "The exchange's root CA (%s)" "$pki"
"$ca" --dir "$pki" init --name "FPX Root CA"

step "National CAs of Senegal, Niger and Burkina Faso: each state makes its CA key, the root signs its request"
for country in SN NE BF; do
  dir=$(national "$country")
  "$ca" --dir "$dir" national init --country "$country"
  # Only request.csr travels to the root's operator; the certificate and root-ca.pem travel back.
  "$ca" --dir "$pki" intermediate --request "$dir/request.csr" --out "$dir/national-ca.pem"
  "$ca" --dir "$dir" national install --cert "$dir/national-ca.pem" --root-ca "$pki/root-ca.pem"
done

step "Participants make their own keys and hand over only a certificate request"
new_keys() {  # id country role
  fpx keys new --id "$1" --country "$2" --role "$3" --out "$keys/$1"
}
new_keys sn.focal-point SN focal-point
new_keys ne.focal-point NE focal-point
new_keys bf.focal-point BF focal-point
new_keys sn.police-judiciaire SN agency
# Niger's and Burkina Faso's agencies send the demo's tracing traffic (issue 12).
new_keys ne.police-nationale NE agency
new_keys bf.gendarmerie BF agency
new_keys cso.sahel-watch SN observer
new_keys exchange.broker AT broker
say "Two officers of Niger's focal point make keys of their own, under ne.focal-point:"
for officer in amadou fatima; do
  fpx keys new --id ne.focal-point --country NE --role focal-point --officer "$officer" \
    --out "$keys/ne.focal-point~$officer"
done

step "The national CAs sign their focal points and agency; the root signs the observer and the broker"
sign() {  # id, CA directory: sign the request, then the owner installs the chain beside its keys
  "$ca" --dir "$2" sign --request "$keys/$1/request.csr" --out "$keys/$1.chain.pem"
  fpx keys install --dir "$keys/$1" --chain "$keys/$1.chain.pem"
}
sign sn.focal-point "$(national SN)"
sign ne.focal-point "$(national NE)"
sign bf.focal-point "$(national BF)"
sign sn.police-judiciaire "$(national SN)"
sign ne.police-nationale "$(national NE)"
sign bf.gendarmerie "$(national BF)"
sign cso.sahel-watch "$pki"
sign exchange.broker "$pki"
sign ne.focal-point~amadou "$(national NE)"
sign ne.focal-point~fatima "$(national NE)"
say "A national CA cannot sign a broker: Senegal's CA refuses exchange.broker's request:"
if "$ca" --dir "$(national SN)" sign --request "$keys/exchange.broker/request.csr" --out "$demo_dir/forged.pem"; then
  fail "a national CA signed a broker certificate"
fi
gather_crls

step "Every chain verifies with openssl against the root and the CRLs"
crl_args=()
for crl in "$crls"/*.pem; do crl_args+=(-CRLfile "$crl"); done
verify() {  # participant id
  local chain="$keys/$1/chain.pem" leaf="$demo_dir/$1.leaf.pem" rest="$demo_dir/$1.rest.pem"
  # chain.pem is leaf then intermediate: split it for openssl verify.
  rm -f "$leaf" "$rest"
  awk -v leaf="$leaf" -v rest="$rest" '/BEGIN CERT/{n++} {print > (n==1 ? leaf : rest)}' "$chain"
  local untrusted=()
  [[ -s "$rest" ]] && untrusted=(-untrusted "$rest")  # issued by the root: no intermediate
  openssl verify -CAfile "$pki/root-ca.pem" "${untrusted[@]}" -crl_check_all "${crl_args[@]}" "$leaf"
}
for id in sn.focal-point ne.focal-point bf.focal-point sn.police-judiciaire cso.sahel-watch exchange.broker; do
  verify "$id" || fail "the chain of %s does not verify" "$id"
done

step "What the agency's certificate says (id, country, role, CURVE transport key)"
"$ca" --dir "$(national SN)" show "$keys/sn.police-judiciaire/chain.pem"

step "Revocation: a second agency certificate is revoked by Senegal's CA and openssl now refuses it"
new_keys sn.douanes SN agency
sign sn.douanes "$(national SN)"
"$ca" --dir "$(national SN)" revoke --cert "$keys/sn.douanes/chain.pem"
gather_crls
crl_args=()
for crl in "$crls"/*.pem; do crl_args+=(-CRLfile "$crl"); done
if verify sn.douanes 2>/dev/null; then fail "a revoked certificate still verifies"; fi
say "sn.douanes: refused as revoked, as it should be"

step "No private key of a participant or a national CA was ever written in the root CA's directory"
mapfile -t root_keys < <(grep -rl -- "PRIVATE KEY-----" "$pki" | sort)
[[ "${root_keys[*]}" == "$pki/ca/root/key.pem" ]] || fail "private keys in the root CA's directory: %s" "${root_keys[*]}"
others=$(find "$pki" -name '*key*' ! -path "$pki/ca/root/key.pem")
[[ -z "$others" ]] || fail "key files in the root CA's directory: %s" "$others"
for country in SN NE BF; do
  dir=$(national "$country")
  mapfile -t held < <(grep -rl -- "PRIVATE KEY-----" "$dir")
  [[ "${held[*]}" == "$dir/ca/$(tr 'A-Z' 'a-z' <<<"$country")/key.pem" ]] ||
    fail "%s's national CA directory holds other keys: %s" "$country" "${held[*]}"
done
say "root-ca/ holds one private key, the root's own; each national CA's directory only its own;"
say "every participant's keys exist only in its own keys/<id>/ directory: the operator cannot sign as a state."

step "The broker starts on 127.0.0.1 with its SQLite file; the participants are enrolled"
mkdir -p "$demo_dir/enrolled"
for id in sn.focal-point ne.focal-point bf.focal-point sn.police-judiciaire cso.sahel-watch \
  ne.focal-point~amadou ne.focal-point~fatima ne.police-nationale bf.gendarmerie; do
  cp "$keys/$id/chain.pem" "$demo_dir/enrolled/$id.pem"
done
port="${FPX_DEMO_PORT:-7400}"
period_s=10        # the demo's statistics period
publish_after_s=20 # how long after its end a period is published (the traffic's answers must be in by then)
periods_per_year=4 # the demo's "year": four periods, as four quarters make a year
cat > "$demo_dir/broker.toml" <<TOML
[participants]
endpoint = "tcp://127.0.0.1:$port"
[observers]
endpoint = "tcp://127.0.0.1:$((port + 1))"
[pki]
root_ca = "root-ca/root-ca.pem"
crl_dir = "crls"
enrolled_dir = "enrolled"
[identity]
dir = "keys/exchange.broker"
[storage]
database = "fpx-broker.sqlite"
[log]
level = "warn"
[oversight]
checkpoint_every_ms = 1000
# Short statistics periods, published $publish_after_s s after they end (time
# for the demo traffic's answers to come in), so that the demo sees several
# (a deployment uses "quarter", published 30 days after).
statistics_period = "${period_s}s"
publish_after_ms = $((publish_after_s * 1000))
# Year tables: a "year" of $periods_per_year periods, published once its last period is.
periods_per_year = $periods_per_year
[regions]
Sahel = ["BF", "ML", "MR", "NE", "TD", "SN"]
TOML
"$broker_bin" --config "$demo_dir/broker.toml" --check-config
"$broker_bin" --config "$demo_dir/broker.toml" > "$demo_dir/broker.log" 2>&1 &
broker_pid=$!
trap 'kill "$broker_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  grep -q "listening on" "$demo_dir/broker.log" 2>/dev/null && break
  kill -0 "$broker_pid" 2>/dev/null || { cat "$demo_dir/broker.log"; fail "the broker did not start"; }
  sleep 0.1
done
grep "listening on" "$demo_dir/broker.log"

# One fpx profile per participant: identity, broker endpoint and key, root CA, CRLs.
profile() { echo "$demo_dir/profiles/$1"; }
for id in sn.focal-point ne.focal-point bf.focal-point sn.police-judiciaire ne.focal-point~amadou \
  ne.focal-point~fatima ne.police-nationale bf.gendarmerie; do
  fpx profile init --dir "$(profile "$id")" --identity "$keys/$id" \
    --broker-endpoint "tcp://127.0.0.1:$port" --broker-cert "$keys/exchange.broker/chain.pem" \
    --root-ca "$pki/root-ca.pem" --crl-dir "$crls" >/dev/null
done
as() { local id=$1; shift; fpx --profile "$(profile "$id")" "$@"; }
field() { grep -o "\"$1\":\"[^\"]*\"" | head -1 | cut -d'"' -f4; }
inbox_until() {  # participant, expected count, type: waits until that many messages of the type arrived
  local id=$1 want=$2 type=$3 got=0 out
  for _ in $(seq 15); do
    out=$(as "$id" --json inbox --wait 1)
    [[ -n "$out" ]] && printf '%s\n' "$out" >> "$demo_dir/$id.inbox.jsonl"
    got=$(grep -c "\"type\":\"$type\"" "$demo_dir/$id.inbox.jsonl" 2>/dev/null || true)
    [[ "$got" -ge "$want" ]] && return 0
  done
  fail "%s did not receive %s %s message(s)" "$id" "$want" "$type"
}

step "Senegal's police judiciaire checks its tracing request first (dry run: nothing is sent)"
as sn.police-judiciaire trace submit "$examples/tracing-request.json" --dry-run

step "... and sends it to Niger (country of last import) and Burkina Faso (country of manufacture)"
say "(Burkina Faso's focal point is offline: the broker stores the request for it.)"
submitted=$(as sn.police-judiciaire --json trace submit "$examples/tracing-request.json")
request_id=$(printf '%s' "$submitted" | field messageId)
[[ ${#request_id} -eq 32 ]] || fail "no receipt for the tracing request: %s" "$submitted"
say "receipt: message %s stored durably by the broker (log index %s)" "$request_id" \
  "$(printf '%s' "$submitted" | grep -o '"logIndex":"\?[0-9]*' | grep -o '[0-9]*$')"

step "Niger's focal point opens its inbox: the request is there, its signature verified end to end"
inbox_until ne.focal-point 1 tracing-request
as ne.focal-point inbox --all | head -5

step "Niger's two officers work at once, each in a session of their own: both see the request"
inbox_until ne.focal-point~amadou 1 tracing-request
inbox_until ne.focal-point~fatima 1 tracing-request
say "Amadou and Fatima each received the request; neither session took the other's over."

step "Officer Amadou acknowledges, then officer Fatima answers with a partial chain of custody"
as ne.focal-point~amadou trace ack "$request_id" --expected-response 2026-12-20 --contact "NE tracing desk"
as ne.focal-point~fatima trace respond "$request_id" --outcome partial-chain --final \
  --hop "importer;Societe Nigerienne d'Armement;NE;2009-03-14;IMP-2009-0031" \
  --hop "dealer;Armurerie du Fleuve;NE;2011-06-02;DLR-2011-118"

step "The Senegalese agency receives Niger's acknowledgement and answer"
inbox_until sn.police-judiciaire 1 tracing-response
grep -q '"type":"tracing-acknowledgement"' "$demo_dir/sn.police-judiciaire.inbox.jsonl" || fail "no acknowledgement"

step "Burkina Faso's focal point connects: the stored request is delivered now (store-and-forward)"
inbox_until bf.focal-point 1 tracing-request
say "Burkina Faso refuses: an investigation of its own is under way (an ITI ground)."
as bf.focal-point trace respond "$request_id" --outcome refused --ground ongoing-investigation \
  --explanation "the rifle belongs to a batch under national investigation"
inbox_until sn.police-judiciaire 2 tracing-response

step "The agency follows its request: each requested state's lifecycle, dated by the broker"
as sn.police-judiciaire trace status "$request_id"
status=$(as sn.police-judiciaire --json trace status "$request_id")
printf '%s' "$status" | grep -q 'final' || fail "Niger's final answer is not in the lifecycle"
printf '%s' "$status" | grep -q 'refused' || fail "Burkina Faso's refusal is not in the lifecycle"
printf '%s' "$status" | grep -q 'by officer fatima' || fail "the status does not name the officer who answered"

step "Burkina Faso issues a regional alert (Sahel) about a stolen batch"
as bf.focal-point alert send "$examples/alert.json"
inbox_until ne.focal-point 1 alert
say "Niger's focal point received the alert."

step "Senegal publishes its Fatick/Thies/Ziguinchor collection campaign report"
as sn.focal-point campaign publish "$examples/campaign-report.json"

step "Anyone holding a message can verify it offline with the root CA and the CRLs"
saved="$(profile ne.focal-point)/inbox/$request_id.fpx"
fpx verify "$saved" --root-ca "$pki/root-ca.pem" --crl-dir "$crls"

step "Tracing traffic for the statistics: 40 requests over 4 periods, acknowledged and answered (deploy/demo_traffic.py)"
say "Each round is one %s-second statistics period: the agencies of Senegal, Niger and Burkina Faso" "$period_s"
say "each send requests to both other states; each focal point acknowledges and answers with varied outcomes."
say "The four rounds fill one of the demo's %s-second years (waiting for the next to begin)." \
  "$((period_s * periods_per_year))"
# Debian's python3 (with python3-scipy from install-packages.sh), not another one first in PATH.
python=/usr/bin/python3
"$python" "$root_dir/deploy/demo_traffic.py" --fpx "$fpx_bin" --profiles "$demo_dir/profiles" \
  --template "$examples/tracing-request.json" --period-seconds "$period_s" \
  --publish-after-seconds "$publish_after_s" --align-seconds "$((period_s * periods_per_year))" \
  --out "$demo_dir/traffic.json" || fail "the demo traffic did not go through"
first_period=$("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["periodStarts"][0])' "$demo_dir/traffic.json")
last_period=$("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["periodStarts"][-1])' "$demo_dir/traffic.json")

step "The CSO observer follows the public feed on its own read-only endpoint"
fpx profile init --dir "$(profile cso.sahel-watch)" --identity "$keys/cso.sahel-watch" \
  --observer-endpoint "tcp://127.0.0.1:$((port + 1))" --broker-cert "$keys/exchange.broker/chain.pem" \
  --root-ca "$pki/root-ca.pem" >/dev/null
say "(waiting for the broker's next signed checkpoint)"
for _ in $(seq 30); do
  as cso.sahel-watch observe --wait 2 > "$demo_dir/observer.txt" || fail "the observer could not read the feed"
  grep -q "checkpoint" "$demo_dir/observer.txt" && grep -q "campaign-report" "$demo_dir/observer.txt" && break
done
cat "$demo_dir/observer.txt"
grep -q "public-alert" "$demo_dir/observer.txt" || fail "the redacted alert is not on the public feed"
grep -q "campaign-report" "$demo_dir/observer.txt" || fail "the campaign report is not on the public feed"
for secret in "$request_id" MAO-0711-1523 AK-4711-ZG SN-ZIG-2026-0142 BF-OUA-2026-0077; do
  if grep -q -- "$secret" "$demo_dir/observer.txt"; then fail "a private detail (%s) reached the public feed" "$secret"; fi
done
say "Nothing of the tracing request itself is public: only the alert (redacted) and the campaign report."

step "The observer verifies the transparency log: signed checkpoint, consistency, inclusion of what it saw"
as cso.sahel-watch log verify || fail "the transparency log does not verify"

step "The observer's report: statistics, campaigns, alerts and the checkpoint, as one HTML page"
say "(statistics of a period are published %s s after it ends; this demo's periods last %s seconds)" \
  "$publish_after_s" "$period_s"
records="$(profile cso.sahel-watch)/feed/records.jsonl"
# The last traffic period's record, then the year's, are in the signed records' text, their quotes escaped
# (keys in sorted order: only a year's record has "periods" after its "periodStart").
last_record="periodStart\\\":\\\"$last_period"
year_record="periodStart\\\":\\\"$first_period\\\",\\\"periods\\\""
for _ in $(seq 30); do
  grep -qF -- "$last_record" "$records" && grep -qF -- "$year_record" "$records" && break
  as cso.sahel-watch observe --wait 2 >/dev/null || fail "the observer could not read the feed"
done
grep -q '"kind":"statistics"' "$records" || fail "no statistics record reached the public feed"
grep -qF -- "$last_record" "$records" || fail "the statistics of the last traffic period (%s) were not published" "$last_period"
grep -qF -- "$year_record" "$records" || fail "the year tables of the traffic's year were not published"
as cso.sahel-watch log verify >/dev/null || fail "the transparency log does not verify"
report="$demo_dir/report.html"
as cso.sahel-watch report --html "$report" --csv "$demo_dir/report-csv" || fail "fpx report failed"
# Trend, answers in time, acknowledgement rates, campaigns, alerts, and refusal
# grounds when one is shown or suppressed.
charts=$(grep -o '<svg' "$report" | wc -l)
[[ "$charts" -ge 5 ]] || fail "the report has %s charts, not 5 or more" "$charts"
# The page's language and its checks: markup classes are the same in both
# languages, the texts are the language's own (as the page escapes them).
in_report() { grep -qF -- "$(t "$1" | sed "s/'/\&#39;/g")" "$report"; }
grep -q "<html lang=\"$demo_lang\">" "$report" || fail "the report is not in the demo's language (%s)" "$demo_lang"
say "The first period's one request per pair of states is under the threshold of 3: the page shows it as suppressed."
grep -q 'class="row suppressed"' "$report" && in_report 'suppressed: fewer than 3 requests' ||
  fail "the report does not show the suppressed cells"
say "The traffic's periods show real figures per requested state, period after period (by_requested.csv):"
"$python" "$root_dir/deploy/demo_figures.py" "$demo_dir/report-csv" "$demo_dir/traffic.json" ||
  fail "the report does not show unsuppressed figures per state and a trend"
grep -q 'id="chart-trends"' "$report" && in_report 'Trend across periods' ||
  fail "the report has no trend"

step "The differencing audit of everything the feed published finds no suppressed cell it can narrow"
"$python" -c 'import json,sys
records = [json.loads(line) for line in open(sys.argv[1])]
print(json.dumps([json.loads(r["signedRecord"]) for r in records if r["kind"] == "statistics"]))' \
  "$records" > "$demo_dir/statistics-feed.json"
"$python" "$root_dir/tests/audit/differencing_audit.py" "$demo_dir/statistics-feed.json" ||
  fail "the differencing audit did not pass on the demo's feed (exit 1: a suppressed cell narrowed; 2: unusable input)"
grep -q 'class="log-verify verified"' "$report" && in_report 'accepted this checkpoint' ||
  fail "the report does not show the verified checkpoint"
for secret in "$request_id" AK-4711-ZG SN-ZIG-2026-0142 BF-OUA-2026-0077 Ouagadougou "Gendarmerie depot"; do
  if grep -q -- "$secret" "$report"; then fail "a private detail (%s) reached the report" "$secret"; fi
done
say "Open it in a browser: file://%s" "$report"

if grep -q "takes over from the previous one" "$demo_dir/broker.log"; then
  fail "a session was taken over while two officers worked"
fi

step "The broker stops cleanly on SIGTERM"
kill -TERM "$broker_pid"
wait "$broker_pid" || fail "the broker did not stop cleanly"
trap - EXIT
printf '\n%s\n' "$(t 'Demo complete: every step happened. Files in %s' "$demo_dir")"

# Issue 17: the demo's files are kept; one command opens the desk of Senegal's
# police judiciaire on them (the broker restarts from its own database first).
printf '\n%s\n' "$(t "Open the officer's desk (Senegal's police judiciaire, in French) on these files with:")"
printf '  %q --config %q >>%q 2>&1 & sleep 1; %q --profile %q desk --lang fr; kill %%1\n' \
  "$broker_bin" "$demo_dir/broker.toml" "$demo_dir/broker.log" "$fpx_bin" "$(profile sn.police-judiciaire)"
