/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Constants of the portico XDP program.
 *
 * Every size and limit below can be overridden at build time with -D (ebpf/build.rs passes the
 * words of $PORTICO_XDP_CFLAGS to clang), e.g. PORTICO_XDP_CFLAGS="-DPORTICO_MAX_IPV6_EXT=6".
 * Wire constants (RTP, STUN, the multiplex framing) and the reason numbers are not sizes: they
 * are fixed, and user space (ebpf/src/maps.rs, ebpf/src/verdict.rs) mirrors them.
 */
#ifndef PORTICO_CONSTANTS_H
#define PORTICO_CONSTANTS_H

/* ---- Sizes and limits (overridable) ---------------------------------------------------- */

/* Entries of the port table: one per UDP port. */
#ifndef PORTICO_PORT_TABLE_SIZE
#define PORTICO_PORT_TABLE_SIZE 65536
#endif

/* Entries of the CPUMAP as compiled; the loader sets it to the possible CPUs at load time. */
#ifndef PORTICO_MAX_CPUS
#define PORTICO_MAX_CPUS 128
#endif

/* Banned IPv4 and IPv6 sources (each map). */
#ifndef PORTICO_MAX_BANS
#define PORTICO_MAX_BANS 65536
#endif

/* Sources whose rate is tracked at once; the least recently seen is forgotten first. */
#ifndef PORTICO_RATE_SOURCES
#define PORTICO_RATE_SOURCES 262144
#endif

/* VLAN tags (802.1Q 0x8100 or 802.1ad 0x88A8) looked through; a frame with more is passed. */
#ifndef PORTICO_MAX_VLAN_DEPTH
#define PORTICO_MAX_VLAN_DEPTH 2
#endif

/* IPv6 extension headers (hop-by-hop, routing, destination options) walked before giving up
 * and passing the packet; a fragment header ends the walk at once. */
#ifndef PORTICO_MAX_IPV6_EXT
#define PORTICO_MAX_IPV6_EXT 4
#endif

/* ---- Wire constants ------------------------------------------------------------------------ */

#define NSEC_PER_SEC 1000000000ULL

#define ETH_P_8021Q_ 0x8100  /* 802.1Q VLAN tag */
#define ETH_P_8021AD_ 0x88A8 /* 802.1ad service tag (QinQ outer) */

#define IPV4_MIN_HEADER 20
#define IPV4_MF 0x2000     /* more fragments */
#define IPV4_OFFSET 0x1FFF /* fragment offset, 8-byte units */

#define UDP_HEADER 8

/* RTP (RFC 3550 §5.1) and RTCP (§6.4): version 2 in the top two bits of byte 0. */
#define RTP_VERSION 2
#define RTP_MIN_LEN 12  /* fixed header */
#define RTCP_MIN_LEN 8  /* common header + SSRC */
/* RFC 5761 §4: RTP and RTCP on one port; a second byte in 192..=223 is an RTCP packet type. */
#define RTCP_PT_FIRST 192
#define RTCP_PT_LAST 223

/* STUN (RFC 5389 §6): first byte 0..=3 (RFC 7983 §7), magic cookie at bytes 4-7, 20-byte header. */
#define STUN_FIRST_BYTE_MAX 3
#define STUN_MAGIC_COOKIE 0x2112A442
#define STUN_HEADER_LEN 20

/* Multiplexed traversal framing: a 4-byte big-endian id before one RTP/RTCP packet; a
 * datagram shorter than 16 bytes is a keepalive (media/src/relay/mux.rs). */
#define MUX_HEADER_LEN 4
#define MUX_MIN_MEDIA 16

/* ---- Port states (struct port_entry.state; ebpf/src/maps.rs PORT_STATE_*) ---------------- */

#define PORT_FREE 0        /* in the media range: drop; outside: pass */
#define PORT_ALLOCATED 1   /* a flow's RTP or RTCP port: steer RTP/RTCP/STUN to .cpu */
#define PORT_TRAVERSAL 2   /* multiplexed traversal port: steer framed media and keepalives */
#define PORT_QUARANTINED 3 /* released, waiting out its quarantine: drop (in the range) */

/* ---- Config flags ------------------------------------------------------------------------- */

#define STEERING_OFF 0
#define STEERING_ON 1

/* ---- Reasons: the index into the counters map ---------------------------------------------
 * Grouped by verdict: redirects, then passes, then drops. ebpf/src/verdict.rs (Reason) mirrors
 * the numbers; the fixture test checks each one moves on the packet meant for it. */

enum portico_reason {
	/* XDP_REDIRECT */
	REASON_REDIRECT_MEDIA = 0,  /* allocated port, RTP/RTCP/STUN, to the owner's CPU */
	REASON_REDIRECT_TRAVERSAL,  /* traversal port, framed media or keepalive */
	/* XDP_PASS */
	REASON_STEERING_OFF,        /* would have been redirected; steering is off */
	REASON_NO_CPU_ENTRY,        /* owner CPU has no CPUMAP entry: the kernel's fallback */
	REASON_NOT_MEDIA_PORT,      /* UDP outside the media range, no table entry */
	REASON_NOT_UDP,             /* IP but not UDP (TCP, ICMP, ...) */
	REASON_NOT_IP,              /* neither IPv4 nor IPv6 (ARP, LLDP, ...) */
	REASON_FRAGMENT,            /* IPv4 MF/offset or IPv6 fragment header */
	REASON_IPV6_EXT_LIMIT,      /* more IPv6 extension headers than we walk */
	REASON_VLAN_TOO_DEEP,       /* more VLAN tags than we look through */
	/* XDP_DROP */
	REASON_BANNED,              /* source banned, ban not expired */
	REASON_UNALLOCATED_PORT,    /* media range, port free */
	REASON_QUARANTINED_PORT,    /* media range, port quarantined */
	REASON_NOT_RTP,             /* allocated port, payload not RTP/RTCP/STUN */
	REASON_BAD_MUX,             /* traversal port, not framed media nor keepalive */
	REASON_RATE_LIMITED,        /* source over its rate to the media range */
	REASON_MALFORMED_L2,        /* Ethernet or VLAN header cut off */
	REASON_MALFORMED_IPV4,      /* header cut off, IHL < 5, version, total length */
	REASON_MALFORMED_IPV6,      /* header cut off, version, payload length, ext header */
	REASON_MALFORMED_UDP,       /* header cut off, length < 8 or past the IP payload */
	REASON_COUNT,
};

#define REASON_FIRST_PASS REASON_STEERING_OFF
#define REASON_FIRST_DROP REASON_BANNED

#endif /* PORTICO_CONSTANTS_H */
