#!/usr/bin/python3
"""An SMTP server that insists on encryption and a login (aiosmtpd, Debian's python3-aiosmtpd).

usage: smtp_auth_server.py starttls|smtps PORT MAILDIR CERT KEY USER PASSWORD

starttls: plain greeting; MAIL before STARTTLS is refused (require_starttls), AUTH only after
TLS. smtps: TLS from the first byte. Either way AUTH (PLAIN or LOGIN) with USER/PASSWORD is
required before MAIL. Messages go to MAILDIR. Prints "ready" when it listens.
"""
import asyncio, ssl, sys
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult

mode, port, maildir, cert, key, user, password = sys.argv[1:8]
ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)


def check(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login.decode() == user and auth_data.password.decode() == password
    return AuthResult(success=ok)


kw = dict(authenticator=check, auth_required=True, auth_require_tls=True)
if mode == "starttls":
    c = Controller(Mailbox(maildir), hostname="127.0.0.1", port=int(port), tls_context=ctx,
                   require_starttls=True, **kw)
else:
    # aiosmtpd 1.4 counts only STARTTLS as TLS for `auth_require_tls`; here every byte is TLS.
    kw["auth_require_tls"] = False
    c = Controller(Mailbox(maildir), hostname="127.0.0.1", port=int(port), ssl_context=ctx, **kw)
c.start()
print("ready", flush=True)
try:
    asyncio.get_event_loop().run_forever()
except KeyboardInterrupt:
    pass
finally:
    c.stop()
