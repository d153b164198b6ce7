"""What the lab's SIP scripts share: a UDP or TCP transport that reads whole messages, header
lookup, and RFC 2617 / RFC 8760 digest answers (MD5, qop=auth when offered). Standard library
only."""

import hashlib
import random
import re
import socket


def md5(text):
    return hashlib.md5(text.encode()).hexdigest()


class Transport:
    def __init__(self, bind, dest, tcp, timeout=3.0):
        self.tcp = tcp
        self.dest = dest
        kind = socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM
        self.sock = socket.socket(socket.AF_INET, kind)
        self.sock.bind((bind, 0))
        self.sock.settimeout(timeout)
        if tcp:
            self.sock.connect(dest)
        self.buf = b""
        self.local = self.sock.getsockname()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
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
            # CRLF keepalives (RFC 5626) between messages.
            self.buf = self.buf.lstrip(b"\r\n")
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        m = re.search(rb"(?im)^(content-length|l)\s*:\s*(\d+)", head)
        length = int(m.group(2)) if m else 0
        while len(rest) < length:
            chunk = self.sock.recv(65535)
            if not chunk:
                raise ConnectionError("connection closed")
            rest += chunk
        self.buf = rest[length:]
        return (head + b"\r\n\r\n" + rest[:length]).decode(errors="replace")




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
