"""Strict RFC 5545 check of calendars (SPEC §5.9), for the calendar tests.

    ics_check.py feed FILE       one calendar (a feed)
    ics_check.py mail MAILDIR    every text/calendar part of the mails in a Maildir

Each calendar is read by Python's `icalendar` and by `vobject` (the reader Radicale uses,
with its validation on); any parse error, any property error icalendar records, and any
Python warning fail the check (exit 1, naming what). On top, what the RFC asks and these
readers forgive: CRLF line ends, lines of at most 75 octets, UID/DTSTAMP/DTSTART on every
VEVENT, a VTIMEZONE for every TZID used, an integer SEQUENCE. Prints JSON: the events.
"""
import email
import email.policy
import json
import os
import re
import sys
import warnings

warnings.simplefilter("error")

import icalendar  # noqa: E402
import vobject  # noqa: E402


def fail(what, msg):
    print(f"{what}: {msg}", file=sys.stderr)
    sys.exit(1)


def check(what, raw: bytes):
    if not raw.endswith(b"\r\n"):
        fail(what, "does not end with CRLF")
    for n, l in enumerate(raw.split(b"\r\n")[:-1], 1):
        if b"\n" in l or b"\r" in l:
            fail(what, f"line {n}: a bare LF or CR")
        if len(l) > 75:
            fail(what, f"line {n}: {len(l)} octets (at most 75)")
    text = raw.decode("utf-8")
    cal = icalendar.Calendar.from_ical(text)
    for c in cal.walk():
        if getattr(c, "errors", None):
            fail(what, f"{c.name}: {c.errors}")
    if cal.get("VERSION") != "2.0" or not cal.get("PRODID"):
        fail(what, "VERSION 2.0 and PRODID are required")
    v = vobject.readOne(text, validate=True)
    v.validate(raiseException=True)
    tzids = {str(t["TZID"]) for t in cal.walk("VTIMEZONE")}
    used = set(re.findall(r";TZID=([^:;]+)[:;]", text))
    if not used <= tzids:
        fail(what, f"TZID without VTIMEZONE: {used - tzids}")
    events = []
    for e in cal.walk("VEVENT"):
        for p in ("UID", "DTSTAMP", "DTSTART"):
            if p not in e:
                fail(what, f"VEVENT without {p}")
        seq = e.get("SEQUENCE", 0)
        if not isinstance(seq, int):
            fail(what, f"SEQUENCE {seq!r} is not an integer")
        events.append({
            "uid": str(e["UID"]),
            "sequence": int(seq),
            "status": str(e.get("STATUS", "")),
            "summary": str(e.get("SUMMARY", "")),
            "description": str(e.get("DESCRIPTION", "")),
            "start": e["DTSTART"].dt.isoformat(),
            "end": e["DTEND"].dt.isoformat() if "DTEND" in e else None,
            "rrule": e["RRULE"].to_ical().decode() if "RRULE" in e else None,
            "url": str(e.get("URL", "")),
        })
    return {"method": str(cal.get("METHOD", "")) or None, "events": events}


def main():
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "feed":
        with open(path, "rb") as f:
            print(json.dumps(check(path, f.read())))
        return
    out = []
    for sub in ("new", "cur"):
        d = os.path.join(path, sub)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            with open(os.path.join(d, name), "rb") as f:
                m = email.message_from_binary_file(f, policy=email.policy.default)
            parts = [p for p in m.walk() if not p.is_multipart()]
            cals = [p for p in parts if p.get_content_type() == "text/calendar"]
            if not cals:
                continue
            p = cals[0]
            c = check(f"{name} ({m['subject']})", p.get_payload(decode=True))
            c.update({
                "subject": str(m["subject"]),
                "to": str(m["to"]),
                "first": parts[0].get_content_type(),
                "text": parts[0].get_content(),
                "content_method": p.get_param("method"),
            })
            out.append(c)
    print(json.dumps(out))


main()
