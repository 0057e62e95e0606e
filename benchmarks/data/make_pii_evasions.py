"""Writes pii_evasions.jsonl: personal data written to slip past a detector (zero-width and invisible characters,
full-width forms, HTML entities, lower case and other separators, values inside JSON and code, values split
across messages, keywords in the message before), and look-alikes that are not personal data. Hand-written
templates, none taken from the detector's development corpus.

    .venv/bin/python benchmarks/data/make_pii_evasions.py     # rewrites benchmarks/data/pii_evasions.jsonl

Each line: {"messages": [...], "personal": bool, "kind": str | null, "form": str}."""

from __future__ import annotations

import json
from pathlib import Path

ZW = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]
FULL = str.maketrans({c: chr(ord(c) + 0xFEE0) for c in "0123456789@+.-ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"})

EMAILS = ["jane.doe@example.com", "m.rossi@posta-example.it", "kim_lee@company.co.uk", "olga.berg@firma.de",
          "x.y+tag@domain.org"]
PHONES = ["+44 20 7946 0958", "+1 415 867 5309", "+49 30 901820", "+33 1 42 68 53 00", "+34 912 345 678"]
IBANS = ["DE89 3704 0044 0532 0130 00", "GB82 WEST 1234 5698 7654 32", "FR14 2004 1010 0505 0001 3M02 606",
         "NL91 ABNA 0417 1643 00"]
CARDS = ["4111 1111 1111 1111", "5500 0000 0000 0004", "3400 0000 0000 009", "6011 0000 0000 0004"]


def zw(value: str, k: int) -> str:
    """An invisible character after every third character."""
    mark = ZW[k % len(ZW)]
    return "".join(c + (mark if i % 3 == 2 else "") for i, c in enumerate(value))


def entity(value: str, k: int) -> str:
    forms = ["&#64;", "&commat;", "&#x40;"]
    return value.replace("@", forms[k % 3]).replace(".", "&#46;" if k % 2 else ".")


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def rows() -> list[dict]:
    out = []

    def add(kind, form, messages, personal=True):
        out.append({"messages": messages, "personal": personal, "kind": kind if personal else None, "form": form})

    for k, e in enumerate(EMAILS):
        add("email", "zero-width", user(f"Please reply to {zw(e, k)} today."))
        add("email", "full-width @", user(f"Contact: {e.replace('@', '＠')}"))
        add("email", "full-width", user(f"Mail {e.translate(FULL)} the slides."))
        add("email", "html entity", user(f"<p>Write to {entity(e, k)}</p>"))
        add("email", "upper case", user(f"SEND IT TO {e.upper()} NOW"))
        add("email", "json", user(json.dumps({"customer": {"contact": e}})))
        add("email", "mailto", user(f'<a href="mailto:{e}">mail me</a>'))
    for k, p in enumerate(PHONES):
        add("phone", "zero-width", user(f"Call {zw(p, k)} after six."))
        add("phone", "full-width", user(f"My number: {p.translate(FULL)}"))
        add("phone", "no-break spaces", user(f"Ring {p.replace(' ', '&nbsp;')} please"))
        add("phone", "dots", user(f"Reach me at {p.replace(' ', '.')}"))
        add("phone", "keyword in the message before",
            [{"role": "user", "content": "Here is my mobile number:"}, {"role": "assistant", "content": "Go on."},
             {"role": "user", "content": p.replace("+", "00").replace(" ", "")}])
    for bare in ("4158675309", "2125551234", "6175550199"):
        add("phone", "bare ten digits", user(f"text {bare} when it ships"))
    for k, i in enumerate(IBANS):
        add("iban", "lower case", user(f"iban {i.lower()} for the refund"))
        add("iban", "dashes", user(f"Account {i.replace(' ', '-')}"))
        add("iban", "dots", user(f"Transfer to {i.replace(' ', '.')}"))
        add("iban", "no spaces", user(f"Pay into {i.replace(' ', '')}"))
        add("iban", "zero-width", user(f"IBAN: {zw(i, k)}"))
        add("iban", "full-width", user(f"IBAN {i.translate(FULL)}"))
    for k, c in enumerate(CARDS):
        add("card", "dots", user(f"card {c.replace(' ', '.')} exp 12/29"))
        add("card", "full-width", user(f"Charge {c.translate(FULL)}"))
        add("card", "zero-width", user(f"Card number {zw(c, k)}"))
        add("card", "no spaces", user(f"use {c.replace(' ', '')} for it"))
        add("card", "split across messages", [{"role": "user", "content": f"My card is {c[:9]}"},
                                              {"role": "assistant", "content": "And the rest?"},
                                              {"role": "user", "content": c[10:]}])
        add("card", "json", user(json.dumps({"payment": {"pan": c.replace(" ", "")}})))
    for k, s in enumerate(["536-90-4399", "078-05-1120", "219-09-9999"]):
        add("national_id", "full-width", user(f"SSN {s.translate(FULL)}"))
        add("national_id", "zero-width", user(f"my ssn is {zw(s, k)}"))
    for k, p in enumerate(["C03005988", "X1234567", "AB1234567"]):
        add("passport", "injection shape", user(f'passport", "is_admin": true, "x": "{p}'))
        add("passport", "zero-width keyword", user(f"pass{ZW[k]}port number {p}"))
        add("passport", "full-width", user(f"Passport {p.translate(FULL)}"))
    for k, d in enumerate(["12/03/1987", "1990-07-14", "3 May 1975"]):
        add("date_of_birth", "zero-width", user(f"date of birth: {zw(d, k)}"))
        add("date_of_birth", "full-width", user(f"Born on {d.translate(FULL)}"))
    add("email", "in a tool description", [{"role": "user", "content": "hi"}])  # see the tools key below
    out[-1]["tools"] = [{"type": "function", "function": {"name": "send", "description": f"mail {EMAILS[0]}",
                                                          "parameters": {"type": "object"}}}]
    add("email", "in the user field", [{"role": "user", "content": "hi"}])
    out[-1]["user"] = EMAILS[1]
    add("phone", "in a stop string", [{"role": "user", "content": "hi"}])
    out[-1]["stop"] = [PHONES[0]]
    add("email", "in a message name", [{"role": "user", "content": "hi", "name": "x"},
                                       {"role": "assistant", "content": "ok", "tool_calls": [
                                           {"id": f"call_{EMAILS[2]}", "type": "function",
                                            "function": {"name": "f", "arguments": "{}"}}]},
                                       {"role": "tool", "tool_call_id": f"call_{EMAILS[2]}", "content": "done"}])
    for text in ["Order 1234567890 has shipped.", "The Unix time 1700000000 is in 2023.", "Version 10.2.3.4567",
                 "ISBN 978-3-16-148410-0 is the book.", "pi is 3.14159265358979", "Line 42 of main.py fails",
                 "&lt;div class=&quot;x&quot;&gt;hello&lt;/div&gt;", "Ｆｕｌｌ-width ｔｅｘｔ ＡＢＣ １２３",
                 "zero\u200bwidth in a word", "The IBAN format is CCkk BBBB CCCC.", "In 2024 and 2025 we grew 12%.",
                 "Tracking 1Z999AA10123456784", "Call me maybe, it is a song.", "Build 20240115.3 passed",
                 "Meet at 10:30 on 2024-05-01", "ticket #100234 is open", "SKU 4006381333931 in stock",
                 "The room is 221 and the floor is 2.", "email me later about the plan", "at dot com is a joke",
                 "card games at 7 pm", "passport photos cost 8 euros", "born to run", "Price: 1,299.99 USD",
                 "Coordinates 48.8566, 2.3522", "hex 0x7fffffff overflow", "uuid 123e4567-e89b-12d3-a456-426614174000",
                 "commit 9fceb02d0ae598e95dc970b74767f19372d61af8", "CVE-2021-44228 patched",
                 "Use &amp; and &#38; in HTML", "１２３４５ is five digits", "Train 5501 departs 09:12",
                 "Flight LH 400 to JFK", "Model RTX 4090 has 24 GB", "Invoice 2023-000145", "Room 1.024 at TUM",
                 "Part no. 55-1234-567", "Score 112-98 in overtime", "Population 8,336,817 in 2022"]:
        add(None, "look-alike", user(text), personal=False)
    return out


if __name__ == "__main__":
    path = Path(__file__).with_name("pii_evasions.jsonl")
    data = rows()
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in data), encoding="utf-8")
    print(f"{path}: {sum(r['personal'] for r in data)} evasions, {sum(not r['personal'] for r in data)} look-alikes")
