#!/usr/bin/env python3
"""portico lab: send one out-of-dialog MESSAGE (or OPTIONS) to a SIP user through a proxy.

Run it inside a lab namespace, e.g. from the phone address inside to Kamailio:

    ip netns exec portico-inside python3 lab/clients/send-message.py \
        --bind 198.18.2.100 --auth bob bob-lab-pw 198.18.2.20:5060 sip:alice@example.test "hello"
    ip netns exec portico-inside python3 lab/clients/send-message.py --tcp --method OPTIONS \
        --auth bob bob-lab-pw 198.18.2.20:5060 sip:alice@example.test

The request goes to DEST (host:port, an address: nothing is resolved) with the Request-URI and To
of TARGET, From `sip:USER@example.test` (USER from --auth, or --from-user). A 401/407 challenge is
answered once with RFC 2617 / RFC 8760 digest (MD5, qop=auth when offered); the lab's Kamailio
challenges every non-REGISTER request whose From is one of its own users (route[AUTH]).

Prints each status line received (`  <- SIP/2.0 200 OK`) and last a line `final: CODE`; exits 0
on a 2xx final answer, 1 on another final answer, 2 on a network error or timeout. Standard
library only.
"""

import argparse
import random
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from siplib import Transport, digest, header  # noqa: E402

DOMAIN = "example.test"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bind", default="0.0.0.0", help="source address (default: any)")
    p.add_argument("--tcp", action="store_true", help="SIP over TCP instead of UDP")
    p.add_argument("--method", default="MESSAGE", choices=["MESSAGE", "OPTIONS"])
    p.add_argument("--auth", nargs=2, metavar=("USER", "PASSWORD"),
                   help="the sender's digest credentials (also its From user)")
    p.add_argument("--from-user", default=None, help="From user when not --auth (default: lab-check)")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for each answer")
    p.add_argument("dest", help="the proxy, IP:PORT")
    p.add_argument("target", help="Request-URI and To, e.g. sip:alice@example.test")
    p.add_argument("text", nargs="?", default="hello from the portico lab",
                   help="the MESSAGE body (text/plain)")
    a = p.parse_args()
    host, port = a.dest.rsplit(":", 1)
    t = Transport(a.bind, (host, int(port)), a.tcp, a.timeout)
    user = a.auth[0] if a.auth else (a.from_user or "lab-check")
    call_id = "lab-msg-%08x@%s" % (random.getrandbits(32), t.local[0])
    from_tag = "%08x" % random.getrandbits(32)
    proto = "TCP" if a.tcp else "UDP"
    body = a.text.encode() if a.method == "MESSAGE" else b""

    def request(cseq, extra):
        branch = "z9hG4bK-%08x" % random.getrandbits(32)
        lines = [
            "%s %s SIP/2.0" % (a.method, a.target),
            "Via: SIP/2.0/%s %s:%d;branch=%s;rport" % (proto, t.local[0], t.local[1], branch),
            "Max-Forwards: 70",
            "From: <sip:%s@%s>;tag=%s" % (user, DOMAIN, from_tag),
            "To: <%s>" % a.target,
            "Call-ID: %s" % call_id,
            "CSeq: %d %s" % (cseq, a.method),
            "Contact: <sip:%s@%s:%d;transport=%s>" % (user, t.local[0], t.local[1],
                                                       proto.lower()),
        ] + extra
        if body:
            lines.append("Content-Type: text/plain")
        lines += ["Content-Length: %d" % len(body), "", ""]
        return "\r\n".join(lines).encode() + body

    def final():
        while True:
            msg = t.recv()
            first = msg.split("\r\n", 1)[0]
            if not first.startswith("SIP/2.0 ") or call_id not in msg:
                continue
            print("  <- " + first, flush=True)
            code = int(first.split()[1])
            if code >= 200:
                return code, msg

    print("  -> %s %s from %s:%d/%s" % (a.method, a.target, t.local[0], t.local[1], proto),
          flush=True)
    t.send(request(1, []))
    code, msg = final()
    if code in (401, 407) and a.auth:
        name, answer = (("WWW-Authenticate", "Authorization") if code == 401 else
                        ("Proxy-Authenticate", "Proxy-Authorization"))
        auth = digest(header(msg, name), a.auth[0], a.auth[1], a.method, a.target)
        print("  -> %s with %s (digest)" % (a.method, answer), flush=True)
        t.send(request(2, ["%s: %s" % (answer, auth)]))
        code, msg = final()
    print("final: %d" % code, flush=True)
    return 0 if 200 <= code < 300 else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, ConnectionError) as e:
        print("send-message: %s" % e, file=sys.stderr)
        print("final: none", flush=True)
        sys.exit(2)
