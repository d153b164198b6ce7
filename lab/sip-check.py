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
import random
import sys

from siplib import Transport, digest, header

DOMAIN = "example.test"


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
