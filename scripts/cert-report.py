#!/usr/bin/env python3
"""The per-insider table of BENCHMARKS.md from a CERT run: for each insider, whether a
finding matched (high / medium / no), hours from the first malicious event to the first
finding, and which analyzers fired — for `behaviour_risk`, the kinds of signal its steps
name. Reads mamori's truth (scripts/cert-truth.py), `mamori findings --json` and
`mamori eval --json`; prints Markdown.

    python3 scripts/cert-report.py truth.jsonl findings.json eval.json
"""
import json
import sys

# The behaviour analyzer's signal names (crates/detect/src/analyzers/behaviour.rs KINDS).
SIGNALS = {
    "普段働かない時間帯の活動": "odd_hours",
    "他人の端末へのログオン": "new_host",
    "初めての外部媒体の使用": "device_first_use",
    "外部媒体の使用が普段より大幅に多い": "device_volume",
    "外部媒体への実行ファイルの書き込み": "program_to_device",
    "印刷が普段より大幅に多い": "print_volume",
    "多数の宛先へのメール": "mass_mail",
    "初めての個人アドレス（フリーメール）宛てのメール": "free_mail",
    "メールの添付が普段より大幅に多い": "mail_volume",
    "求人・転職サイトの閲覧": "job_search",
    "クラウドストレージへのアップロード": "cloud_upload",
    "ファイル転送サービスの利用": "file_sharing",
    "フリーメールへのアップロード": "webmail_upload",
    "暴露・貼り付けサイトへのアクセス": "leak_site",
    "スパイウェア・キーロガーのサイトへのアクセス": "spyware",
    "自分が離れた直後の端末で、他人のアカウントが普段ない時間に使用": "takeover",
    "退職・異動予定": "×departure",
}


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    truth = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
    findings = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8") if l.strip()]
    scores = {i["id"]: i for i in json.load(open(sys.argv[3], encoding="utf-8"))["incidents"]}
    print("| insider | scenario | found | hours to first finding | rules | behaviour signals |")
    print("|---|---|---|---|---|---|")
    for t in sorted(truth, key=lambda t: (t["scenario"], t["employees"][0])):
        s = scores[t["id"]]
        user = t["employees"][0]
        signals = []
        for f in findings:
            if user in f["employees"] and f["rule"] == "behaviour_risk":
                for ja, code in SIGNALS.items():
                    if ja in f["explanation_ja"] and code not in signals:
                        signals.append(code)
        found = "high" if s["high"] else ("yes" if s["detected"] else "no")
        hours = "-" if s["hours_to_detect"] is None else f"{s['hours_to_detect']:.1f}"
        print(f"| {user} | {t['scenario']} | {found} | {hours} | {', '.join(s['rules']) or '-'} | {', '.join(signals) or '-'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
