#!/usr/bin/env bash
# The demo scenario of DOMAIN.md, as far as this build goes. Today: the PKI
# of the scenario made with fpx-ca and checked with openssl. The broker part
# (tracing request, acknowledgement, responses, alert, campaign report,
# observer) arrives with the broker and client issues, and this script says so.
#   FPX_DEMO_DIR  where to put the demo PKI (default: a new temp directory)
set -euo pipefail
cd "$(dirname "$0")/.."
root_dir="$PWD"

deploy/install-packages.sh
build_dir="${FPX_BUILD_DIR:-build}"
if [[ ! -x "$build_dir/bin/fpx-ca" ]]; then
  echo "== building fpx-ca into $build_dir/"
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build_dir" -j "$(nproc)" --target fpx-ca
fi
ca="$root_dir/$build_dir/bin/fpx-ca"

demo_dir="${FPX_DEMO_DIR:-$(mktemp -d)/fpx-demo}"
pki="$demo_dir/pki"
mkdir -p "$demo_dir"
step() { printf '\n== %s\n' "$*"; }
fail() { printf 'DEMO FAILED: %s\n' "$*" >&2; exit 1; }

step "The exchange's root CA ($pki)"
"$ca" --dir "$pki" init --name "FPX Root CA"

step "National CAs of Senegal, Niger and Burkina Faso (each may only issue for its own country)"
for country in SN NE BF; do "$ca" --dir "$pki" intermediate --country "$country"; done

step "Participants: focal points, a Senegalese agency, a CSO observer and the broker"
"$ca" --dir "$pki" issue --role focal-point --country SN --id sn.focal-point
"$ca" --dir "$pki" issue --role focal-point --country NE --id ne.focal-point
"$ca" --dir "$pki" issue --role focal-point --country BF --id bf.focal-point
"$ca" --dir "$pki" issue --role agency --country SN --id sn.police-judiciaire
"$ca" --dir "$pki" issue --role observer --country SN --id cso.sahel-watch
"$ca" --dir "$pki" issue --role broker --country AT --id exchange.broker

step "Every chain verifies with openssl against the root and the CRLs"
crl_args=()
for crl in "$pki"/crls/*.pem; do crl_args+=(-CRLfile "$crl"); done
verify() {  # participant id, its country's CA or "root"
  local chain="$pki/participants/$1/chain.pem" leaf="$demo_dir/$1.leaf.pem" rest="$demo_dir/$1.rest.pem"
  # chain.pem is leaf then intermediate: split it for openssl verify.
  rm -f "$leaf" "$rest"
  awk -v leaf="$leaf" -v rest="$rest" '/BEGIN CERT/{n++} {print > (n==1 ? leaf : rest)}' "$chain"
  local untrusted=()
  [[ -s "$rest" ]] && untrusted=(-untrusted "$rest")  # issued by the root: no intermediate
  openssl verify -CAfile "$pki/root-ca.pem" "${untrusted[@]}" -crl_check_all "${crl_args[@]}" "$leaf"
}
for id in sn.focal-point ne.focal-point bf.focal-point sn.police-judiciaire cso.sahel-watch exchange.broker; do
  verify "$id" || fail "the chain of $id does not verify"
done

step "What the agency's certificate says (id, country, role, CURVE transport key)"
"$ca" --dir "$pki" show "$pki/participants/sn.police-judiciaire/chain.pem"

step "Revocation: a second agency certificate is revoked and openssl now refuses it"
"$ca" --dir "$pki" issue --role agency --country SN --id sn.douanes
"$ca" --dir "$pki" revoke --id sn.douanes
crl_args=()
for crl in "$pki"/crls/*.pem; do crl_args+=(-CRLfile "$crl"); done
if verify sn.douanes 2>/dev/null; then fail "a revoked certificate still verifies"; fi
echo "sn.douanes: refused as revoked, as it should be"

step "Not in this build yet"
cat <<'TEXT'
The broker, the client library and the fpx command line are the next issues.
When they land, this script goes on to play the whole scenario: the SN agency's
tracing request to NE and BF, NE's acknowledgement and partial answer, BF's
store-and-forward delivery and refusal, BF's regional alert, SN's campaign
report, and the CSO observer following and verifying the public record.
TEXT
printf '\nDemo PKI ready in %s\n' "$pki"
