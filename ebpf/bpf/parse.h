/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Parsing: Ethernet and VLAN tags, IPv4 (options), IPv6 (extension headers), UDP, and the
 * shape of the UDP payload (RTP/RTCP, STUN, multiplexed traversal framing).
 *
 * Each parse_* function returns PARSE_CONTINUE when the frame goes on to the next layer, or the
 * reason (enum portico_reason) that decides it. Every read is preceded by a check against
 * data_end. Offsets are kept as small integers (bounded by the checks that produce them) and
 * lengths are compared as integers, so that the verifier sees bounded packet offsets only.
 *
 * Malformed frames are dropped: a cut-off or self-contradicting header is one the kernel's own
 * receive path (eth_type_trans, ip_rcv_core, ipv6_rcv, __udp4_lib_rcv) would drop too, so
 * dropping it here changes nothing but the cost. Trailing bytes after the IP datagram (Ethernet
 * padding of short frames) are allowed, as the kernel allows them.
 */
#ifndef PORTICO_PARSE_H
#define PORTICO_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "constants.h"
#include "structs.h"

#define PARSE_CONTINUE (-1)

/* IPv6 next-header values walked through (RFC 8200 §4). */
#define NEXTHDR_HOP 0
#define NEXTHDR_ROUTING 43
#define NEXTHDR_FRAGMENT 44
#define NEXTHDR_DEST 60

static __always_inline int is_vlan(__u16 proto)
{
	return proto == ETH_P_8021Q_ || proto == ETH_P_8021AD_;
}

/*
 * Ethernet and up to PORTICO_MAX_VLAN_DEPTH VLAN tags (802.1Q or 802.1ad, in any order, as
 * QinQ uses them). Tags are looked through, not removed: a redirected frame keeps its tags and
 * the stack on the target CPU delivers it to the VLAN device as it would without XDP. (With
 * VLAN offload on, the driver has usually taken the outer tag off before XDP sees the frame.)
 */
static __always_inline int parse_l2(void *data, void *data_end, struct packet *pkt)
{
	struct ethhdr *eth = data;
	__u64 off = sizeof(struct ethhdr);

	if ((void *)(eth + 1) > data_end)
		return REASON_MALFORMED_L2;
	__u16 proto = bpf_ntohs(eth->h_proto);

#pragma unroll
	for (int i = 0; i < PORTICO_MAX_VLAN_DEPTH; i++) {
		if (!is_vlan(proto))
			break;
		struct vlan_hdr *vh = data + off;
		if ((void *)(vh + 1) > data_end)
			return REASON_MALFORMED_L2;
		proto = bpf_ntohs(vh->encapsulated_proto);
		off += sizeof(struct vlan_hdr);
	}
	if (is_vlan(proto))
		return REASON_VLAN_TOO_DEEP;
	if (proto != ETH_P_IP && proto != ETH_P_IPV6)
		return REASON_NOT_IP;
	pkt->eth_proto = proto;
	pkt->l3_off = off;
	return PARSE_CONTINUE;
}

/*
 * IPv4 (RFC 791). Options (IHL > 5) are skipped: the transport header is at IHL * 4. The
 * total length must cover the header and fit in the frame. Fragments are noted here and passed
 * by the caller after the ban check: a later fragment has no UDP header to classify, and the
 * stack reassembles them (media is never fragmented in practice).
 */
static __always_inline int parse_ipv4(void *data, void *data_end, struct packet *pkt)
{
	struct iphdr *iph = data + pkt->l3_off;

	if ((void *)iph + IPV4_MIN_HEADER > data_end)
		return REASON_MALFORMED_IPV4;
	if (iph->version != 4 || iph->ihl < 5)
		return REASON_MALFORMED_IPV4;

	__u64 hlen = (__u64)iph->ihl * 4;
	__u64 tot = bpf_ntohs(iph->tot_len);
	__u64 avail = (__u64)(data_end - (void *)iph);
	if (tot < hlen || tot > avail)
		return REASON_MALFORMED_IPV4;

	pkt->src4 = iph->saddr;
	pkt->src.addr[10] = 0xff;
	pkt->src.addr[11] = 0xff;
	__builtin_memcpy(&pkt->src.addr[12], &iph->saddr, 4);
	pkt->fragment = (iph->frag_off & bpf_htons(IPV4_MF | IPV4_OFFSET)) != 0;
	pkt->l4_proto = iph->protocol;
	pkt->l4_off = pkt->l3_off + hlen;
	pkt->l4_end = pkt->l3_off + tot;
	return PARSE_CONTINUE;
}

/* The fixed IPv6 header (RFC 8200 §3): the payload length must fit in the frame. */
static __always_inline int parse_ipv6(void *data, void *data_end, struct packet *pkt)
{
	struct ipv6hdr *ip6 = data + pkt->l3_off;

	if ((void *)(ip6 + 1) > data_end)
		return REASON_MALFORMED_IPV6;
	if (ip6->version != 6)
		return REASON_MALFORMED_IPV6;

	__u64 plen = bpf_ntohs(ip6->payload_len);
	__u64 avail = (__u64)(data_end - (void *)(ip6 + 1));
	if (plen > avail)
		return REASON_MALFORMED_IPV6;

	pkt->ipv6 = 1;
	__builtin_memcpy(pkt->src.addr, &ip6->saddr, 16);
	pkt->l4_proto = ip6->nexthdr;
	pkt->l4_off = pkt->l3_off + sizeof(struct ipv6hdr);
	pkt->l4_end = pkt->l4_off + plen;
	return PARSE_CONTINUE;
}

/*
 * IPv6 extension headers (RFC 8200 §4): hop-by-hop, routing and destination options are
 * walked, at most PORTICO_MAX_IPV6_EXT of them; each must lie inside the payload. A fragment
 * header marks the packet a fragment and ends the walk (the caller passes it, as for IPv4).
 * Past the limit the packet is passed uninspected: the stack applies its own rules. Anything
 * else (UDP, TCP, ICMPv6, AH, ESP, no next header) is the transport for the caller to judge.
 */
static __always_inline int parse_ipv6_ext(void *data, void *data_end, struct packet *pkt)
{
	__u8 nh = pkt->l4_proto;
	__u64 off = pkt->l4_off;
	__u64 end = pkt->l4_end;

#pragma unroll
	for (int i = 0; i < PORTICO_MAX_IPV6_EXT; i++) {
		if (nh == NEXTHDR_FRAGMENT) {
			pkt->fragment = 1;
			return PARSE_CONTINUE;
		}
		if (nh != NEXTHDR_HOP && nh != NEXTHDR_ROUTING && nh != NEXTHDR_DEST)
			break;
		struct ipv6_opt_hdr *h = data + off;
		if ((void *)(h + 1) > data_end)
			return REASON_MALFORMED_IPV6;
		__u64 hlen = ((__u64)h->hdrlen + 1) * 8;
		if (off + hlen > end)
			return REASON_MALFORMED_IPV6;
		nh = h->nexthdr;
		off += hlen;
	}
	if (nh == NEXTHDR_FRAGMENT) {
		pkt->fragment = 1;
		return PARSE_CONTINUE;
	}
	if (nh == NEXTHDR_HOP || nh == NEXTHDR_ROUTING || nh == NEXTHDR_DEST)
		return REASON_IPV6_EXT_LIMIT;
	pkt->l4_proto = nh;
	pkt->l4_off = off;
	return PARSE_CONTINUE;
}

/*
 * UDP (RFC 768): the header must be in the frame and its length field at least 8 and within
 * the IP payload (a shorter UDP length than the payload is allowed: the stack trims to it).
 */
static __always_inline int parse_udp(void *data, void *data_end, struct packet *pkt)
{
	struct udphdr *udp = data + pkt->l4_off;

	if ((void *)(udp + 1) > data_end)
		return REASON_MALFORMED_UDP;
	if (pkt->l4_off + UDP_HEADER > pkt->l4_end)
		return REASON_MALFORMED_UDP;

	__u64 ulen = bpf_ntohs(udp->len);
	if (ulen < UDP_HEADER || ulen > pkt->l4_end - pkt->l4_off)
		return REASON_MALFORMED_UDP;

	pkt->dport = bpf_ntohs(udp->dest);
	pkt->payload_off = pkt->l4_off + UDP_HEADER;
	pkt->payload_len = ulen - UDP_HEADER;
	return PARSE_CONTINUE;
}

/*
 * RTP or RTCP (version 2, RFC 3550; RTCP told apart by its packet type, RFC 5761 §4) long
 * enough for its fixed header: the first byte of `p`, `len` bytes in all. `p` must have been
 * checked to hold 2 bytes.
 */
static __always_inline int rtp_shaped(const __u8 *p, __u64 len)
{
	if ((p[0] >> 6) != RTP_VERSION)
		return 0;
	if (p[1] >= RTCP_PT_FIRST && p[1] <= RTCP_PT_LAST)
		return len >= RTCP_MIN_LEN;
	return len >= RTP_MIN_LEN;
}

/*
 * What an allocated media port accepts: RTP, RTCP or STUN (first byte 0..=3, magic cookie,
 * a whole 20-byte header). The same rule as the relay's classifier (media/src/relay/classify.rs)
 * less ZRTP, DTLS and TURN channel data, which the relay drops anyway.
 */
static __always_inline int payload_is_media(void *data, void *data_end, const struct packet *pkt)
{
	const __u8 *p = data + pkt->payload_off;
	__u64 len = pkt->payload_len;

	if (len < RTCP_MIN_LEN)
		return 0;
	if ((void *)(p + 8) > data_end)
		return 0;
	if (p[0] <= STUN_FIRST_BYTE_MAX) {
		__u32 cookie = ((__u32)p[4] << 24) | ((__u32)p[5] << 16) | ((__u32)p[6] << 8) | p[7];
		return cookie == STUN_MAGIC_COOKIE && len >= STUN_HEADER_LEN;
	}
	return rtp_shaped(p, len);
}

/*
 * What a traversal port accepts: a keepalive (any datagram under 16 bytes), or a 4-byte
 * multiplex id then an RTP/RTCP packet (which, at 12 bytes or more, is always long enough).
 */
static __always_inline int payload_is_mux(void *data, void *data_end, const struct packet *pkt)
{
	const __u8 *p = data + pkt->payload_off;
	__u64 len = pkt->payload_len;

	if (len < MUX_MIN_MEDIA)
		return 1;
	if ((void *)(p + MUX_HEADER_LEN + 2) > data_end)
		return 0;
	return rtp_shaped(p + MUX_HEADER_LEN, len - MUX_HEADER_LEN);
}

#endif /* PORTICO_PARSE_H */
