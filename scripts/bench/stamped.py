"""An aiosmtpd handler for the benchmarks: a Maildir, as `aiosmtpd.handlers.Mailbox`, that also
appends the moment each message was accepted (CLOCK_MONOTONIC, the clock of Python's
`time.perf_counter` in every process on Linux) to a file, in fixed-width lines.

The benchmark then reads when the server took each message instead of polling the Maildir:
a poller listing a growing directory every half millisecond took CPU from the single-threaded
server on a 2-core machine, and only in our rows (the limit's client polls nothing)."""
import time
from aiosmtpd.handlers import Mailbox
from common import STAMP_WIDTH


class StampedMailbox(Mailbox):
    def __init__(self, maildir, stamps):
        super().__init__(maildir)
        self.stamps = open(stamps, "a", buffering=1)

    @classmethod
    def from_cli(cls, parser, *args):
        # Mailbox.from_cli takes exactly one argument; this handler takes two.
        if len(args) != 2:
            parser.error("StampedMailbox takes MAILDIR STAMPS")
        return cls(args[0], args[1])

    async def handle_DATA(self, server, session, envelope):
        answer = await super().handle_DATA(server, session, envelope)
        line = f"{time.perf_counter():20.6f}\n"
        assert len(line) == STAMP_WIDTH
        self.stamps.write(line)
        return answer
