"""Put every event of a feed into Radicale (Debian's CalDAV server) and read them back.

    radicale_check.py PORT FEED

Makes the calendar `/feeds/planlagt/` with MKCALENDAR, PUTs each VEVENT as its own object
(with the feed's VTIMEZONE), then GETs each back. Radicale validates what it stores and
answers 400 otherwise. Prints JSON: {uid: sequence} as read back. Exit 1 naming a refusal.
"""
import base64
import json
import sys
import urllib.request

import icalendar

port, feed = sys.argv[1], sys.argv[2]
base = f"http://127.0.0.1:{port}/feeds/planlagt/"


def call(method, url, body=None, ctype=None):
    req = urllib.request.Request(url, data=body, method=method)
    # `[auth] type = none` takes any password; the user owns /feeds/ (`owner_only`).
    req.add_header("Authorization", "Basic " + base64.b64encode(b"feeds:x").decode())
    if ctype:
        req.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


code, body = call("MKCOL", f"http://127.0.0.1:{port}/feeds/")
code, body = call("MKCALENDAR", base)
if code not in (201, 405):
    sys.exit(f"MKCALENDAR: {code} {body!r}")
with open(feed, "rb") as f:
    cal = icalendar.Calendar.from_ical(f.read())
tzs = list(cal.walk("VTIMEZONE"))
back = {}
for n, ev in enumerate(cal.walk("VEVENT")):
    one = icalendar.Calendar()
    one.add("VERSION", "2.0")
    one.add("PRODID", cal["PRODID"])
    for tz in tzs:
        one.add_component(tz)
    one.add_component(ev)
    url = f"{base}event-{n}.ics"
    code, body = call("PUT", url, one.to_ical(), "text/calendar; charset=utf-8")
    if code not in (201, 204):
        sys.exit(f"PUT {ev['UID']}: {code} {body!r}")
    code, body = call("GET", url)
    if code != 200:
        sys.exit(f"GET {ev['UID']}: {code}")
    got = icalendar.Calendar.from_ical(body)
    for e in got.walk("VEVENT"):
        back[str(e["UID"])] = int(e.get("SEQUENCE", 0))
print(json.dumps(back))
