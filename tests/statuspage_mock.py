#!/usr/bin/python3
"""A local stand-in for Atlassian's Statuspage manage API v1 that checks every request against
the published OpenAPI description (../shared/fixtures/statuspage-openapi3.json): path, method,
`Authorization: OAuth <key>`, and the JSON body against its schema (jsonschema, Debian's
python3-jsonschema). It answers like the API and keeps incidents in memory.

usage: statuspage_mock.py PORT OPENAPI.json API_KEY LOG.jsonl
Control (not part of the API): POST /_control {"429": n, "500": m} makes the next n requests
answer 429 (Retry-After: 1) and the m after them 500.
"""
import json, re, secrets, sys, threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import jsonschema

port, spec_path, key, log_path = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
spec = json.load(open(spec_path))
routes = []
for p, item in spec["paths"].items():
    rx = re.compile("^" + re.sub(r"\{[^}]+\}", r"[^/]+", p) + "$")
    routes.append((rx, p, item))
lock = threading.Lock()
incidents = {}  # id -> incident
faults = {"429": 0, "500": 0}

def schema_of(op):
    rb = op.get("requestBody")
    if not rb:
        return None
    return rb.get("content", {}).get("application/json", {}).get("schema")

def validate(schema, body):
    full = dict(schema)
    full["components"] = spec["components"]
    # OpenAPI 3.0 schemas are close to JSON Schema draft 4; refs point into components.
    v = jsonschema.Draft4Validator(full)
    return [f"{'/'.join(map(str, e.path))}: {e.message}" for e in v.iter_errors(body)]

def now():
    return datetime.now(timezone.utc).isoformat()

class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def reply(self, code, obj, headers=()):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self, method):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        url, _, query = self.path.partition("?")
        if url == "/_control":
            with lock:
                faults.update(json.loads(raw or b"{}"))
            return self.reply(200, faults)
        errors = []
        if self.headers.get("Authorization") != f"OAuth {key}":
            errors.append(f"Authorization header is {self.headers.get('Authorization')!r}, expected 'OAuth <key>'")
        path = url[3:] if url.startswith("/v1") else None
        if path is None:
            errors.append(f"path {url} does not start with /v1")
            path = url
        match = next(((p, item) for rx, p, item in routes if rx.match(path)), None)
        body = None
        if match is None:
            errors.append(f"no such path in the API: {path}")
        elif method.lower() not in match[1]:
            errors.append(f"{method} not allowed on {match[0]}")
        else:
            op = match[1][method.lower()]
            schema = schema_of(op)
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError as e:
                    errors.append(f"body is not JSON: {e}")
                if schema is not None and body is not None:
                    errors += validate(schema, body)
            elif op.get("requestBody", {}).get("required"):
                errors.append("request body required")
        with lock:
            fault = None
            if faults["429"] > 0:
                faults["429"] -= 1; fault = 429
            elif faults["500"] > 0:
                faults["500"] -= 1; fault = 500
            with open(log_path, "a") as f:
                f.write(json.dumps({"method": method, "path": self.path, "body": body, "errors": errors, "fault": fault}) + "\n")
        if fault == 429:
            return self.reply(429, {"error": "rate limited"}, [("Retry-After", "1")])
        if fault == 500:
            return self.reply(500, {"error": "boom"})
        if errors:
            return self.reply(422, {"error": errors})
        m = re.match(r"^/pages/([^/]+)/incidents(?:/([^/]+))?$", path)
        if not m:
            return self.reply(200, {})
        page, iid = m.group(1), m.group(2)
        with lock:
            if method == "POST" and not iid:
                inc = dict(body["incident"]); inc["id"] = secrets.token_hex(6); inc["page_id"] = page
                inc["created_at"] = now(); inc["incident_updates"] = [{"status": inc.get("status"), "body": inc.get("body")}]
                incidents[inc["id"]] = inc
                return self.reply(201, inc)
            if method == "GET" and not iid:
                items = sorted((i for i in incidents.values() if i["page_id"] == page), key=lambda i: i["created_at"], reverse=True)
                return self.reply(200, items[:100])
            if iid not in incidents:
                return self.reply(404, {"error": "not found"})
            if method in ("PATCH", "PUT"):
                inc = incidents[iid]
                upd = body["incident"]
                inc.update({k: v for k, v in upd.items() if k != "body"})
                inc["incident_updates"].append({"status": upd.get("status"), "body": upd.get("body")})
                return self.reply(200, inc)
            if method == "GET":
                return self.reply(200, incidents[iid])
            if method == "DELETE":
                return self.reply(200, incidents.pop(iid))
        return self.reply(200, {})

    def do_GET(self): self.handle_any("GET")
    def do_POST(self): self.handle_any("POST")
    def do_PATCH(self): self.handle_any("PATCH")
    def do_PUT(self): self.handle_any("PUT")
    def do_DELETE(self): self.handle_any("DELETE")

ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
