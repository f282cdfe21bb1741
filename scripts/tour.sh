#!/usr/bin/env bash
# A tour of mamori's main job on the embedded store: create a store, load a town's
# master data, import its events, verify the tamper-evident log, and prove one event
# the way an outside auditor would. Needs only Rust (cargo).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
m=./target/release/mamori
data=$(mktemp -d)/mamori-data
trap 'rm -rf "$(dirname "$data")"' EXIT

echo "== mamori init: a new store and its checkpoint signing key"
$m init "$data" --origin mamori.example.lg.jp/tour
export MAMORI_DATA=$data

echo; echo "== mamori master load: staff, accounts, residents, cases, terminals, holidays"
$m master load examples/town

echo; echo "== mamori import: events of every class (record access, logon, file, USB, mail)"
$m import examples/events.ndjson

echo; echo "== who looked at resident 000000305's records?"
$m events resident 000000305 --from 2024-05-01 --to 2024-05-31

echo; echo "== mamori verify: recompute the Merkle tree from storage and check every checkpoint"
$m verify

echo; echo "== an inclusion proof for event 3, checked with nothing but the public key"
$m proof inclusion 3 > "$(dirname "$data")/proof.json"
$m key show > "$(dirname "$data")/key.txt"
$m checkpoint > "$(dirname "$data")/checkpoint.txt"
$m proof check "$(dirname "$data")/proof.json" --key "$(dirname "$data")/key.txt" \
  --checkpoint "$(dirname "$data")/checkpoint.txt"
