#!/usr/bin/python3
"""The tests' SMTP server (aiosmtpd, Debian's python3-aiosmtpd), storing each message in a Maildir.

usage: smtp_server.py PORT MAILDIR [HOLD_AT HELD_FILE RELEASE_FILE]

Prints "ready" once it listens. With HOLD_AT = N, the N-th message and every later one are
*held*: the server has read the whole message but does not answer its DATA until RELEASE_FILE
exists. When the first one is held it writes HELD_FILE (the number of messages answered so
far). This is how a test makes "in the middle of a fan-out" certain instead of hoping the
fan-out is slow: the client cannot finish while the server holds its reply, whatever the load.

Each stored message carries `X-Mail-From-At: <unix time>`, when the server read its MAIL
command: the moment the client began the exchange. Every transaction is also logged when its
first RCPT is accepted, one line "SENDER RECIPIENT" in `MAILDIR.mail-from`, so a test can see
an exchange that began and never delivered a message.

A held message whose client went away (killed) before the release is not stored: as with a real
MTA, a message counts as accepted only once its 250 reached the client.
"""
import asyncio, os, sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox

port, maildir = int(sys.argv[1]), sys.argv[2]
hold_at = int(sys.argv[3]) if len(sys.argv) > 3 else 0
held_file = sys.argv[4] if len(sys.argv) > 4 else None
release_file = sys.argv[5] if len(sys.argv) > 5 else None


class Holding(Mailbox):
    def __init__(self, path):
        super().__init__(path)
        self.seen = 0
        self.answered = 0

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        envelope.mail_from_at = time.time()
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        if len(envelope.rcpt_tos) == 1:
            with open(maildir.rstrip("/") + ".mail-from", "a") as f:
                f.write("%s %s\n" % (envelope.mail_from, address))
        return "250 OK"

    def prepare_message(self, session, envelope):
        message = super().prepare_message(session, envelope)
        message["X-Mail-From-At"] = "%.6f" % getattr(envelope, "mail_from_at", 0.0)
        return message

    async def handle_DATA(self, server, session, envelope):
        self.seen += 1
        if hold_at and self.seen >= hold_at:
            if self.seen == hold_at:
                tmp = held_file + ".tmp"
                with open(tmp, "w") as f:
                    f.write(str(self.answered))
                os.rename(tmp, held_file)
            while not os.path.exists(release_file):
                await asyncio.sleep(0.02)
            transport = getattr(server, "transport", None)
            if transport is None or transport.is_closing():
                return "421 client gone"
        reply = await super().handle_DATA(server, session, envelope)
        self.answered += 1
        return reply


c = Controller(Holding(maildir), hostname="127.0.0.1", port=port)
c.start()
print("ready", flush=True)
try:
    asyncio.get_event_loop().run_forever()
except KeyboardInterrupt:
    pass
finally:
    c.stop()
