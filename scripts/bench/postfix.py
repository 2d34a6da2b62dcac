"""Debian's Postfix as the benches' mail server: a whole instance in its own directory
(`postfix -c DIR`), listening on one loopback port, accepting everything from loopback and
discarding it after it is queued (the `discard:` transport), its log in DIR/maillog. Started
as root (Postfix's master needs it); `stop` ends it. `smtp_source` times Postfix's own tool
against it: the server's limit for a given number of messages, size and sessions."""
import os, pwd, re, shutil, subprocess, sys, time

from common import free_port, wait_port

MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
discard   unix  - - n - - discard
error     unix  - - n - - error
retry     unix  - - n - - error
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
showq     unix  n - n - - showq
"""


class Postfix:
    def __init__(self, dir, port=None):
        if not shutil.which("postfix") and not os.path.exists("/usr/sbin/postfix"):
            sys.exit("postfix is not installed (scripts/bench.sh installs it)")
        self.dir = dir
        self.port = port or free_port()
        etc, spool, data = (os.path.join(dir, x) for x in ("etc", "spool", "data"))
        for d in (etc, spool, data):
            os.makedirs(d, exist_ok=True)
        # Postfix's daemons run as `postfix`: they must reach their directories.
        os.chmod(os.path.dirname(os.path.abspath(dir)), 0o755)
        os.chmod(dir, 0o755)
        pw = pwd.getpwnam("postfix")
        os.chown(data, pw.pw_uid, pw.pw_gid)
        self.log = os.path.join(dir, "maillog")
        open(os.path.join(etc, "main.cf"), "w").write(f"""\
compatibility_level = 3.6
config_directory = {etc}
queue_directory = {spool}
data_directory = {data}
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = loopback-only
inet_protocols = ipv4
myhostname = relay.bench.example
mydestination =
local_recipient_maps =
relay_domains =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
default_transport = discard
relay_transport = discard
maillog_file = {self.log}
maillog_file_prefixes = {dir}
biff = no
""")
        open(os.path.join(etc, "master.cf"), "w").write(MASTER_CF.format(port=self.port))
        self.etc = etc
        subprocess.run(["postfix", "-c", etc, "start"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)

    def discarded(self):
        """Recipients in the order Postfix finished them (its log's `discard` lines)."""
        out = []
        try:
            for line in open(self.log, encoding="utf-8", errors="replace"):
                if "postfix/discard[" in line:
                    m = re.search(r"to=<([^>]*)>", line)
                    if m:
                        out.append(m.group(1))
        except FileNotFoundError:
            pass
        return out

    def sizes(self):
        """The sizes of the messages queued so far (its qmgr lines)."""
        return [int(m.group(1)) for m in re.finditer(r"qmgr\[\d+\]: \w+: from=<[^>]*>, size=(\d+)", open(self.log).read())]

    def smtp_source(self, messages, sessions, size):
        """Seconds Postfix's own `smtp-source` takes to have `messages` of `size` bytes
        accepted over `sessions` parallel sessions."""
        t = time.perf_counter()
        subprocess.run(["smtp-source", "-s", str(sessions), "-m", str(messages), "-l", str(size),
                        "-f", "bench@source.example", "-t", "limit@kommune.example", f"127.0.0.1:{self.port}"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - t

    def stop(self):
        subprocess.run(["postfix", "-c", self.etc, "stop"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
