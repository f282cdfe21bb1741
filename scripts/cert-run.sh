#!/bin/bash
# The CERT r4.2 benchmark end to end (BENCHMARKS.md): a fresh store, the LDAP snapshots as
# master data, the five tables through the `cert` adapter, detection with the data set's
# detect.toml (its time zone and company domain only), and the score per scenario and per
# insider. Needs the prepared sample (../shared/eval/cert/README.md) in $1.
#
#   bash scripts/cert-run.sh /tmp/cert-r42 [/tmp/cert-store]
set -euo pipefail
CERT=${1:?the prepared CERT sample directory}
STORE=${2:-/tmp/cert-store}
HERE=$(cd "$(dirname "$0")/.." && pwd)
M=${MAMORI:-$HERE/target/release/mamori}
# A throwaway store: its signing key (beside it, DIR.signing.key) goes with it, or init refuses to replace it.
rm -rf "$STORE" "$STORE.signing.key"
"$M" --data "$STORE" init "$STORE" >/dev/null
"$M" --data "$STORE" master load --cert-ldap "$CERT/LDAP" >/dev/null
for t in logon device file email http; do
  "$M" --data "$STORE" import --source cert --config "$HERE/examples/cert/mamori.toml" "$CERT/$t.csv" >/dev/null
done
/usr/bin/time -f "detect: %e s, %M KB peak" "$M" --data "$STORE" detect --rules "$HERE/examples/cert/detect.toml" | head -1
python3 "$HERE/scripts/cert-truth.py" "$CERT/truth.jsonl" > "$STORE/truth.jsonl"
"$M" --data "$STORE" eval --truth "$STORE/truth.jsonl" --incidents
"$M" --data "$STORE" findings --json > "$STORE/findings.json"
python3 "$HERE/scripts/cert-report.py" "$STORE/truth.jsonl" "$STORE/findings.json" <("$M" --data "$STORE" eval --truth "$STORE/truth.jsonl" --json)
