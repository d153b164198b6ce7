#!/usr/bin/env bash
# portico lab: the end-to-end check by hand, as root, from the workspace root:
#
#   bash lab/hand-check.sh [ROUNDS]      (default 2 rounds of up … down)
#
# Each round: `cargo xtask lab up` and `lab status`; from portico-inside an OPTIONS to Kamailio
# gets 200 and REGISTERs with digest auth (UDP and TCP) succeed and show in `kamcmd ul.dump`;
# a wrong password is refused; from portico-internet a TCP connect to an inside address fails and
# the DMZ counts it; the E cannot open a connection inward (and the inside counts it); the C can
# reach the E's traversal port; the DNS SRV answers differ between the zones; `lab down` leaves no
# namespace and no live peer process. Exits non-zero at the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
xtask() { cargo xtask "$@"; }
ok() { echo "ok   $*"; }
fail() { echo "FAIL $*"; exit 1; }
counter() { # NAMESPACE COUNTER -> packet count
	ip netns exec "$1" nft list counter inet portico "$2" | awk '$1 == "packets" { print $2 }'
}
tcp() { # NAMESPACE SOURCE DEST PORT -> "connected" | "refused" | "timeout" | error name
	ip netns exec "$1" python3 - "$2" "$3" "$4" <<'EOF'
import socket, sys
src, dst, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket()
s.settimeout(2)
if src != "-":
    s.bind((src, 0))
try:
    s.connect((dst, port))
    print("connected")
except ConnectionRefusedError:
    print("refused")
except TimeoutError:
    print("timeout")
except OSError as e:
    print(type(e).__name__)
EOF
}
srv() { # NAMESPACE NAME -> "STATUS target:port"
	local out
	out=$(ip netns exec "$1" dig +time=1 +tries=2 SRV "$2")
	echo "$(grep -o 'status: [A-Z]*' <<<"$out" | cut -d' ' -f2)" \
		"$(awk '$4 == "SRV" { print $8 ":" $7 }' <<<"$out")"
}
live_peers() {
	ps -eo stat=,comm= | awk '$1 !~ /^Z/ && ($2 == "kamailio" || $2 == "dnsmasq")' | wc -l
}

for round in $(seq 1 "$rounds"); do
	echo "=== round $round: lab up"
	xtask lab up
	xtask lab status >/dev/null || fail "lab status after up"
	ok "lab status exits 0"

	sip=(ip netns exec portico-inside python3 lab/sip-check.py --bind 198.18.2.100)
	"${sip[@]}" options 198.18.2.20:5060 | grep -q "SIP/2.0 200" || fail "OPTIONS"
	ok "OPTIONS from portico-inside: 200"
	"${sip[@]}" register alice alice-lab-pw 198.18.2.20:5060 | tail -2
	"${sip[@]}" --tcp register bob bob-lab-pw 198.18.2.20:5060 >/dev/null || fail "REGISTER bob (TCP)"
	ok "REGISTER alice (UDP) and bob (TCP) with digest auth: 200"
	if "${sip[@]}" register carol wrong-password 198.18.2.20:5060 >/dev/null; then
		fail "a wrong password was accepted"
	fi
	ok "REGISTER carol with a wrong password: refused"
	ctl=$(python3 -c 'import json; print(json.load(open("target/lab/lab.json"))["kamailio"]["ctl"])')
	dump=$(kamcmd -s "$ctl" ul.dump)
	for aor in alice bob; do
		grep -q "AoR: $aor" <<<"$dump" || fail "ul.dump has no $aor"
	done
	grep -q "AoR: carol" <<<"$dump" && fail "ul.dump has carol"
	grep "Address: sip:" <<<"$dump" | sed 's/^\s*/     /'
	ok "kamcmd ul.dump lists alice and bob, not carol"

	before=$(counter portico-dmz internet_to_elsewhere)
	r=$(tcp portico-internet - 198.18.2.20 5060)
	after=$(counter portico-dmz internet_to_elsewhere)
	[[ $r != connected && $after -gt $before ]] || fail "internet -> inside: $r ($before -> $after)"
	ok "internet -> 198.18.2.20:5060 (inside): $r; dmz internet_to_elsewhere $before -> $after"
	r=$(tcp portico-internet - 198.18.1.1 8443)
	[[ $r == refused ]] || fail "internet -> E:8443 should pass the firewall (nothing listens): $r"
	before=$(counter portico-dmz internet_new_refused)
	r=$(tcp portico-internet - 198.18.1.1 7001)
	after=$(counter portico-dmz internet_new_refused)
	[[ $r == timeout && $after -gt $before ]] || fail "internet -> E:7001: $r"
	ok "internet -> E 8443: passes (refused: no listener yet); -> E 7001: $r, counted"

	[[ $(counter portico-inside dmz_new_dropped) == 0 ]] || fail "dmz_new_dropped not 0 after up"
	r=$(tcp portico-dmz 198.18.2.1 198.18.2.20 5060)
	n=$(counter portico-inside dmz_new_dropped)
	[[ $r == timeout && $n -gt 0 ]] || fail "E -> inside: $r, counter $n"
	ok "E -> inside 198.18.2.20:5060: $r; inside dmz_new_dropped 0 -> $n"
	r=$(tcp portico-inside 198.18.2.10 198.18.2.1 7001)
	[[ $r == refused ]] || fail "C -> E:7001 should pass the firewalls: $r"
	r2=$(tcp portico-inside 198.18.2.100 198.18.2.1 7001)
	[[ $r2 != refused && $r2 != connected ]] || fail "phone -> E:7001 should be dropped: $r2"
	ok "C -> E 7001: passes ($r: no listener yet); phone -> E 7001: $r2"

	out_edge=$(srv portico-internet _collab-edge._tls.example.test)
	out_uds=$(srv portico-internet _cisco-uds._tcp.example.test)
	in_edge=$(srv portico-inside _collab-edge._tls.example.test)
	in_uds=$(srv portico-inside _cisco-uds._tcp.example.test)
	in_sip=$(srv portico-inside _sip._udp.example.test)
	[[ $out_edge == "NOERROR expe.example.test.:8443" ]] || fail "outside collab-edge: $out_edge"
	[[ $out_uds == "NXDOMAIN "* ]] || fail "outside cisco-uds: $out_uds"
	[[ $in_edge == "NXDOMAIN "* ]] || fail "inside collab-edge: $in_edge"
	[[ $in_uds == "NOERROR uds.example.test.:8443" ]] || fail "inside cisco-uds: $in_uds"
	[[ $in_sip == "NOERROR cucm.example.test.:5060" ]] || fail "inside sip: $in_sip"
	ok "DNS from internet: _collab-edge._tls $out_edge, _cisco-uds._tcp $out_uds"
	ok "DNS from inside:   _collab-edge._tls $in_edge, _cisco-uds._tcp $in_uds, _sip._udp $in_sip"

	echo "=== round $round: lab down"
	xtask lab down
	[[ -z $(ip netns list | grep '^portico-\(internet\|dmz\|inside\)\b' || true) ]] ||
		fail "namespaces left: $(ip netns list)"
	[[ $(live_peers) == 0 ]] || fail "peer processes left: $(live_peers)"
	if xtask lab status >/dev/null; then fail "lab status exits 0 after down"; fi
	ok "after down: no lab namespace, no live kamailio/dnsmasq, lab status exits non-zero"
done
echo "hand check: $rounds rounds passed"
