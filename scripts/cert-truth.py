#!/usr/bin/env python3
"""Turns the CERT answer key that ../shared/eval/cert/cert_prepare.py writes (truth.jsonl:
user, scenario, start, end, event_ids) into mamori's truth format (docs/eval.md): one
incident per insider, scenario `CERT-<n>`, its malicious events by record id, its user as
the employee and its start and end as the span. Holds no data; reads and writes files.

    python3 scripts/cert-truth.py /tmp/cert-r42/truth.jsonl > /tmp/cert-r42/mamori-truth.jsonl
"""
import datetime
import json
import sys


def iso(s: str) -> str:
    return datetime.datetime.strptime(s, "%m/%d/%Y %H:%M:%S").strftime("%Y-%m-%dT%H:%M:%S+00:00")


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            t = json.loads(line)
            print(json.dumps({
                "id": f"CERT-{t['scenario']}-{t['user']}",
                "scenario": f"CERT-{t['scenario']}",
                "employees": [t["user"]],
                "from": iso(t["start"]),
                "to": iso(t["end"]),
                "events": [{"record_id": i} for i in t["event_ids"]],
            }, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
