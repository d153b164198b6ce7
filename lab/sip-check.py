#!/usr/bin/env python3
"""portico lab: a SIP check by hand (sipp is not packaged for Debian 12 here).

Run it inside a lab namespace:

    ip netns exec portico-inside python3 lab/sip-check.py options 198.18.2.20:5060
    ip netns exec portico-inside python3 lab/sip-check.py register alice alice-lab-pw 198.18.2.20:5060
    ip netns exec portico-inside python3 lab/sip-check.py --tcp register bob bob-lab-pw 198.18.2.20:5060

`options` sends an OPTIONS and prints the response's status line. `register` sends a REGISTER,
answers the 401 challenge with RFC 2617 / RFC 8760 digest (MD5, qop=auth when offered) and prints
each status line; `--expires 0` unregisters. Exits 0 on a 2xx final answer. Standard library only.
"""

import argparse
import hashlib
import random
import re
import socket
import sys

DOMAIN = "example.test"


def md5(text):
    return hashlib.md5(text.encode()).hexdigest()


class Transport:
    def __init__(self, bind, dest, tcp):
        self.tcp = tcp
        self.dest = dest
        kind = socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM
        self.sock = socket.socket(socket.AF_INET, kind)
        self.sock.bind((bind, 0))
        self.sock.settimeout(3)
        if tcp:
            self.sock.connect(dest)
        self.buf = b""
        self.local = self.sock.getsockname()

    def send(self, msg):
        data = msg.encode()
        if self.tcp:
            self.sock.sendall(data)
        else:
            self.sock.sendto(data, self.dest)

    def recv(self):
        if not self.tcp:
            data, _ = self.sock.recvfrom(65535)
            return data.decode(errors="replace")
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65535)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buf += chunk
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        m = re.search(rb"(?im)^(content-length|l)\s*:\s*(\d+)", head)
        length = int(m.group(2)) if m else 0
        while len(rest) < length:
            rest += self.sock.recv(65535)
        self.buf = rest[length:]
        return (head + b"\r\n\r\n" + rest[:length]).decode(errors="replace")


def request(t, method, uri, user, call_id, cseq, extra):
    proto = "TCP" if t.tcp else "UDP"
    host, port = t.local
    branch = "z9hG4bK-%08x" % random.getrandbits(32)
    lines = [
        "%s %s SIP/2.0" % (method, uri),
        "Via: SIP/2.0/%s %s:%d;branch=%s;rport" % (proto, host, port, branch),
        "Max-Forwards: 70",
        "From: <sip:%s@%s>;tag=%08x" % (user, DOMAIN, FROM_TAG),
        "To: <sip:%s@%s>" % (user, DOMAIN),
        "Call-ID: %s" % call_id,
        "CSeq: %d %s" % (cseq, method),
    ] + extra + ["Content-Length: 0", "", ""]
    return "\r\n".join(lines)


def final(t, call_id):
    while True:
        msg = t.recv()
        first = msg.split("\r\n", 1)[0]
        if call_id not in msg:
            continue
        print("  <- " + first)
        code = int(first.split()[1])
        if code >= 200:
            return code, msg


def header(msg, name):
    m = re.search(r"(?im)^%s\s*:\s*(.*)$" % name, msg)
    return m.group(1).strip() if m else None


def digest(challenge, user, password, method, uri):
    params = dict(re.findall(r'(\w+)="?([^",]*)"?', challenge))
    realm, nonce = params["realm"], params["nonce"]
    ha1 = md5("%s:%s:%s" % (user, realm, password))
    ha2 = md5("%s:%s" % (method, uri))
    auth = 'Digest username="%s", realm="%s", nonce="%s", uri="%s", algorithm=MD5' % (
        user, realm, nonce, uri)
    qops = [q.strip() for q in params.get("qop", "").split(",") if q.strip()]
    if "auth" in qops:
        cnonce, nc = "%08x" % random.getrandbits(32), "00000001"
        response = md5("%s:%s:%s:%s:auth:%s" % (ha1, nonce, nc, cnonce, ha2))
        auth += ', qop=auth, nc=%s, cnonce="%s"' % (nc, cnonce)
    else:
        response = md5("%s:%s:%s" % (ha1, nonce, ha2))
    auth += ', response="%s"' % response
    if "opaque" in params:
        auth += ', opaque="%s"' % params["opaque"]
    return auth


def main():
    global FROM_TAG
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bind", default="0.0.0.0", help="source address (default: any)")
    p.add_argument("--tcp", action="store_true", help="SIP over TCP instead of UDP")
    p.add_argument("--expires", type=int, default=600)
    sub = p.add_subparsers(dest="cmd", required=True)
    o = sub.add_parser("options")
    o.add_argument("dest")
    r = sub.add_parser("register")
    r.add_argument("user")
    r.add_argument("password")
    r.add_argument("dest")
    a = p.parse_args()
    host, port = a.dest.rsplit(":", 1)
    t = Transport(a.bind, (host, int(port)), a.tcp)
    FROM_TAG = random.getrandbits(32)
    call_id = "lab-check-%08x@%s" % (random.getrandbits(32), t.local[0])
    proto = ";transport=tcp" if a.tcp else ""
    if a.cmd == "options":
        uri = "sip:%s%s" % (a.dest, proto)
        print("  -> OPTIONS %s from %s:%d" % (uri, *t.local))
        t.send(request(t, "OPTIONS", uri, "lab-check", call_id, 1, []))
        code, _ = final(t, call_id)
        return 0 if 200 <= code < 300 else 1
    uri = "sip:%s" % DOMAIN
    contact = "Contact: <sip:%s@%s:%d%s>;expires=%d" % (a.user, t.local[0], t.local[1], proto,
                                                        a.expires)
    # The Request-URI is the domain (the registrar's alias); the socket takes it to the registrar.
    extra = [contact, "Expires: %d" % a.expires]
    print("  -> REGISTER %s as %s from %s:%d" % (uri, a.user, *t.local))
    t.send(request(t, "REGISTER", uri, a.user, call_id, 1, extra))
    code, msg = final(t, call_id)
    if code == 401:
        auth = digest(header(msg, "WWW-Authenticate"), a.user, a.password, "REGISTER", uri)
        print("  -> REGISTER with Authorization (digest)")
        t.send(request(t, "REGISTER", uri, a.user, call_id, 2,
                       extra + ["Authorization: " + auth]))
        code, msg = final(t, call_id)
    if 200 <= code < 300:
        print("  contacts: %s" % (header(msg, "Contact") or "(none)"))
        return 0
    return 1


FROM_TAG = 0

if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, ConnectionError) as e:
        print("sip-check: %s" % e, file=sys.stderr)
        sys.exit(2)
