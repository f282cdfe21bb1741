#!/usr/bin/env python3
"""Writes input.mbox: journaled mail with real MIME attachments (run from this folder).

Messages: an internal mail without attachment; a CSV of residents (Shift_JIS, with My
Numbers) sent to a personal address; an XLSX roster with furigana runs sent to an
affiliated company; a password-protected zip; a message with no recipient (rejected)."""
import io, zipfile
from email.message import EmailMessage
from email.utils import format_datetime
from datetime import datetime, timezone, timedelta

JST = timezone(timedelta(hours=9))

def msg(frm, to, subject, when, attachments=(), cc=None):
    m = EmailMessage()
    m["From"] = frm
    if to:
        m["To"] = to
    if cc:
        m["Cc"] = cc
    m["Subject"] = subject
    m["Date"] = format_datetime(when)
    m["Message-ID"] = f"<{int(when.timestamp())}.{len(subject)}@city.example.lg.jp>"
    m.set_content("お疲れ様です。\n資料をお送りします。\n")
    for name, data, maintype, subtype in attachments:
        m.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    if attachments:
        m.set_boundary(f"mamori-{int(when.timestamp())}")  # fixed, so the file regenerates byte for byte
    return m

roster = "宛名番号,氏名,生年月日,住所,個人番号\r\n000000305,佐藤 一,1970-02-10,北町三丁目5番1号,123456789018\r\n000000306,佐藤 栄子,1972-07-21,北町三丁目5番1号,000000000000\r\n"
csv_bytes = roster.encode("cp932")

def put(z, name, data, method):
    info = zipfile.ZipInfo(name, date_time=(2024, 5, 8, 0, 0, 0))  # fixed: regenerates identically
    info.compress_type = method
    z.writestr(info, data)

def xlsx():
    shared = ('<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="6" uniqueCount="6">'
              '<si><t>氏名</t></si><si><t>生年月日</t></si><si><t>電話</t></si>'
              '<si><r><t>髙木</t></r><r><t> 正</t></r><rPh sb="0" eb="2"><t>タカギ</t></rPh></si>'
              '<si><t>山田 ハル</t></si><si><t>鈴木 &amp; 一郎</t></si></sst>')
    sheet = ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
             '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c></row>'
             '<row r="2"><c r="A2" t="s"><v>3</v></c><c r="B2"><v>22010</v></c><c r="C2" t="inlineStr"><is><t>090-1234-5678</t></is></c></row>'
             '<row r="3"><c r="A3" t="s"><v>4</v></c><c r="B3"><v>20423</v></c></row>'
             '<row r="4"><c r="A4" t="s"><v>5</v></c><c r="C4" t="inlineStr"><is><t>03-1111-2222</t></is></c></row>'
             '</sheetData></worksheet>')
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        put(z, "[Content_Types].xml", '<?xml version="1.0"?><Types/>', zipfile.ZIP_DEFLATED)
        put(z, "xl/sharedStrings.xml", shared, zipfile.ZIP_DEFLATED)
        put(z, "xl/worksheets/sheet1.xml", sheet, zipfile.ZIP_DEFLATED)
    return out.getvalue()

def encrypted_zip():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        put(z, "住民一覧.csv", b"\x8f\x12\x00garbage-as-if-encrypted", zipfile.ZIP_STORED)
    data = bytearray(out.getvalue())
    # Set bit 0 (encrypted) of the general-purpose flags in the local and central headers,
    # as a ZipCrypto archive has them; the inspector must not try to read the entry.
    data[data.find(b"PK\x03\x04") + 6] |= 1
    data[data.find(b"PK\x01\x02") + 8] |= 1
    return bytes(data)

messages = [
    msg("yamada.h@city.example.lg.jp", "suzuki.m@city.example.lg.jp", "会議の件", datetime(2024, 5, 8, 9, 0, tzinfo=JST)),
    msg("yamada.h@city.example.lg.jp", "hanako.private@gmail.com", "資料", datetime(2024, 5, 8, 18, 2, tzinfo=JST),
        [("住民一覧.csv", csv_bytes, "text", "csv")]),
    msg("sato.k@city.example.lg.jp", "tanaka@agency.example.co.jp", "名簿", datetime(2024, 5, 9, 12, 0, tzinfo=JST),
        [("名簿.xlsx", xlsx(), "application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")],
        cc="sato.k@city.example.lg.jp"),
    msg("sato.k@city.example.lg.jp", "someone@yahoo.co.jp", "送付", datetime(2024, 5, 9, 19, 30, tzinfo=JST),
        [("data.zip", encrypted_zip(), "application", "zip")]),
    msg("sato.k@city.example.lg.jp", None, "宛先なし", datetime(2024, 5, 10, 8, 0, tzinfo=JST)),
]
with open("input.mbox", "wb") as f:
    for m in messages:
        when = datetime.strptime(m["Date"], "%a, %d %b %Y %H:%M:%S %z").astimezone(timezone.utc)
        f.write(f"From {m['From']} {when.strftime('%a %b %e %H:%M:%S %Y')}\n".encode())
        body = m.as_bytes().replace(b"\r\n", b"\n")
        # mboxrd: quote body lines that would read as a new message
        body = b"\n".join(b">" + l if l.startswith(b"From ") else l for l in body.split(b"\n"))
        f.write(body.rstrip(b"\n") + b"\n\n")
