#!/bin/bash
# Detection over simulated towns (BENCHMARKS.md): per seed, simulate, import the thirteen
# logs, detect (timed), eval --json into $OUT/btSEED.eval.json.
#   bash scripts/bench-detect.sh 1 2 3 4 5 6
HERE=$(cd "$(dirname "$0")/.." && pwd)
M=${MAMORI:-$HERE/target/release/mamori}
for S in "$@"; do
  T=${OUT:-/tmp}/bt$S; B=${OUT:-/tmp}/bs$S; rm -rf $T $B $B.signing.key  # a throwaway store and its key: init never replaces a key
  /usr/bin/time -f "%e %M" -o ${OUT:-/tmp}/bt$S.sim $M simulate --out $T --seed $S >/dev/null
  $M --data $B init $B >/dev/null; $M --data $B master load $T/master >/dev/null
  start=$(date +%s.%N)
  for pair in juki:juki_access.csv zeimu:zeimu_access.tsv koseki:koseki_access.csv fukushi:fukushi_access.log saijo:saijo_permits.csv win-security:security.jsonl badge:badge.csv endpoint:endpoint_usb.csv endpoint-ops:endpoint_pcops.csv endpoint-print:endpoint_print.csv samba:fileserver_audit.log mail:mail_journal.mbox proxy:proxy_access.log; do
    $M --data $B import --source ${pair%%:*} --config $T/mamori.toml $T/logs/${pair#*:} >/dev/null
  done
  end=$(date +%s.%N); echo "$end - $start" | bc > ${OUT:-/tmp}/bt$S.import
  /usr/bin/time -f "%e %M" -o ${OUT:-/tmp}/bt$S.detect $M --data $B detect --rules $T/detect.toml > ${OUT:-/tmp}/bt$S.detectout
  $M --data $B eval --truth $T/truth.jsonl --labels $T/labels.csv --json > ${OUT:-/tmp}/bt$S.eval.json
  echo "seed $S done"
done
