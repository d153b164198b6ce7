/* SPDX-License-Identifier: Apache-2.0 */
/*
 * portico_xdp: XDP steering of the portico media plane.
 *
 * The media relay runs one worker per core, each owning its flows' UDP sockets. This program
 * sends each media packet to the core that owns its port (through a CPUMAP), and drops at the
 * driver what cannot be media for a live flow. Everything else goes to the stack untouched.
 *
 * Decisions, in order (reason counters in parentheses; see constants.h):
 *
 *   1. Ethernet, up to PORTICO_MAX_VLAN_DEPTH 802.1Q/802.1ad tags looked through.
 *        cut off                              -> DROP     (malformed_l2)
 *        more tags than that                  -> PASS     (vlan_too_deep)
 *        neither IPv4 nor IPv6 (ARP, ...)     -> PASS     (not_ip)
 *   2. IPv4 header (options skipped) or fixed IPv6 header.
 *        cut off, bad version, IHL < 5, length inconsistent with header or frame
 *                                             -> DROP     (malformed_ipv4 / malformed_ipv6)
 *   3. Source banned (ban_v4 / ban_v6, not expired), any protocol and port
 *                                             -> DROP     (banned)
 *   4. Fragments: IPv4 MF or offset != 0; IPv6 after walking at most PORTICO_MAX_IPV6_EXT
 *      hop-by-hop / routing / destination-options headers, a fragment header
 *                                             -> PASS     (fragment)
 *        IPv6 ext header cut off or past the payload -> DROP (malformed_ipv6)
 *        more IPv6 ext headers than walked    -> PASS     (ipv6_ext_limit)
 *   5. Not UDP (TCP, ICMP, ICMPv6, AH, ESP, ...) -> PASS  (not_udp)
 *   6. UDP header cut off, length < 8 or past the IP payload -> DROP (malformed_udp)
 *   7. By the destination port's entry in port_table:
 *        allocated, payload not RTP/RTCP/STUN -> DROP     (not_rtp)
 *        allocated, in the media range, source over its rate -> DROP (rate_limited)
 *        allocated                            -> REDIRECT (redirect_media) to its CPU
 *        traversal, not mux-framed media nor a keepalive -> DROP (bad_mux)
 *        traversal                            -> REDIRECT (redirect_traversal) to its CPU
 *        (a redirect is a PASS (steering_off) with steering off, and a PASS (no_cpu_entry)
 *         when the CPU has no CPUMAP entry)
 *        free, in the media range             -> DROP     (unallocated_port)
 *        quarantined, in the media range      -> DROP     (quarantined_port)
 *        free or quarantined, outside the range -> PASS   (not_media_port)
 *
 * Traversal ports are not rate limited even inside the media range: one peer edge carries every
 * call's media on them. Every pointer is checked against data_end before it is read.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>

#include "constants.h"
#include "structs.h"
#include "maps.h"
#include "helpers.h"
#include "parse.h"

SEC("xdp")
int portico_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 bytes = (__u64)(data_end - data);
	struct packet pkt = {};
	int r;

	r = parse_l2(data, data_end, &pkt);
	if (r != PARSE_CONTINUE)
		return finish(r, bytes);

	if (pkt.eth_proto == ETH_P_IP)
		r = parse_ipv4(data, data_end, &pkt);
	else
		r = parse_ipv6(data, data_end, &pkt);
	if (r != PARSE_CONTINUE)
		return finish(r, bytes);

	if (source_banned(&pkt))
		return finish(REASON_BANNED, bytes);

	if (pkt.ipv6) {
		r = parse_ipv6_ext(data, data_end, &pkt);
		if (r != PARSE_CONTINUE)
			return finish(r, bytes);
	}
	if (pkt.fragment)
		return finish(REASON_FRAGMENT, bytes);
	if (pkt.l4_proto != IPPROTO_UDP)
		return finish(REASON_NOT_UDP, bytes);

	r = parse_udp(data, data_end, &pkt);
	if (r != PARSE_CONTINUE)
		return finish(r, bytes);

	__u32 zero = 0;
	struct portico_config *cfg = bpf_map_lookup_elem(&config, &zero);
	__u32 port = pkt.dport;
	struct port_entry *entry = bpf_map_lookup_elem(&port_table, &port);
	/* Lookups in an ARRAY within its size never fail; the verifier wants the check. */
	if (!cfg || !entry)
		return XDP_PASS;

	int in_range = pkt.dport >= cfg->media_first && pkt.dport <= cfg->media_last;

	switch (entry->state) {
	case PORT_ALLOCATED:
		if (!payload_is_media(data, data_end, &pkt))
			return finish(REASON_NOT_RTP, bytes);
		if (in_range && rate_exceeded(cfg, &pkt))
			return finish(REASON_RATE_LIMITED, bytes);
		return steer(cfg, entry->cpu, REASON_REDIRECT_MEDIA, bytes);
	case PORT_TRAVERSAL:
		if (!payload_is_mux(data, data_end, &pkt))
			return finish(REASON_BAD_MUX, bytes);
		return steer(cfg, entry->cpu, REASON_REDIRECT_TRAVERSAL, bytes);
	case PORT_QUARANTINED:
		return finish(in_range ? REASON_QUARANTINED_PORT : REASON_NOT_MEDIA_PORT, bytes);
	default: /* PORT_FREE, and any value this program does not know */
		return finish(in_range ? REASON_UNALLOCATED_PORT : REASON_NOT_MEDIA_PORT, bytes);
	}
}

/* The project's licence: the program calls no GPL-only helper (map access, bpf_ktime_get_ns,
 * bpf_redirect_map), so the kernel needs no GPL-compatible string here. */
char _license[] SEC("license") = "Apache-2.0";
