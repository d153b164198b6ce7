/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Structs of the portico XDP program.
 *
 * The map value and key types are shared with user space: ebpf/src/maps.rs declares each one
 * again as #[repr(C)], and its layout test reads this program's BTF and fails when a size or a
 * field offset differs. No bool, no implicit padding: every field is a fixed-width integer and
 * the sizes are asserted here too.
 */
#ifndef PORTICO_STRUCTS_H
#define PORTICO_STRUCTS_H

#include <linux/types.h>

/* Value of port_table: who owns a UDP port and what it is. */
struct port_entry {
	__u32 cpu;   /* owning worker's CPU: the CPUMAP index (meaningful when allocated/traversal) */
	__u32 state; /* PORT_FREE, PORT_ALLOCATED, PORT_TRAVERSAL or PORT_QUARANTINED */
};

/* Value of config (one entry). */
struct portico_config {
	__u16 media_first; /* first port of the media range */
	__u16 media_last;  /* last port of the media range (inclusive) */
	__u32 steering;    /* STEERING_ON: redirect to the owner's CPU; STEERING_OFF: pass */
	__u32 rate_pps;    /* packets per second per source to the media range; 0 = no limit */
	__u32 rate_burst;  /* packets a source may send at once above its rate (>= 1 when limited) */
};

/* Value of counters (per CPU, one per reason). */
struct verdict_counter {
	__u64 packets;
	__u64 bytes; /* whole frames, Ethernet header included */
};

/* An IP source: IPv6 as is, IPv4 as ::ffff:a.b.c.d (key of ban_v6 and rate_buckets). */
struct src_addr {
	__u8 addr[16];
};

/* Value of ban_v4 and ban_v6. */
struct ban_entry {
	__u64 expires_ns; /* CLOCK_MONOTONIC (bpf_ktime_get_ns) time the ban ends; later = banned */
};

/* Value of rate_buckets: GCRA state, the token bucket in its virtual-scheduling form. */
struct rate_state {
	__u64 tat_ns; /* theoretical arrival time of the next conforming packet */
};

_Static_assert(sizeof(struct port_entry) == 8, "struct port_entry: ebpf/src/maps.rs PortEntry");
_Static_assert(sizeof(struct portico_config) == 16, "struct portico_config: maps.rs Config");
_Static_assert(sizeof(struct verdict_counter) == 16, "struct verdict_counter: VerdictCounter");
_Static_assert(sizeof(struct src_addr) == 16, "struct src_addr: maps.rs SrcAddr");
_Static_assert(sizeof(struct ban_entry) == 8, "struct ban_entry: maps.rs BanEntry");
_Static_assert(sizeof(struct rate_state) == 8, "struct rate_state: maps.rs RateState");

/* ---- Program-internal ------------------------------------------------------------------- */

/* An 802.1Q / 802.1ad tag after the MAC addresses (not in the UAPI headers). */
struct vlan_hdr {
	__be16 tci;
	__be16 encapsulated_proto;
};

/* What parsing found out about a frame. Offsets are from the start of the frame. They are kept
 * in 64-bit fields so that each one spills to the stack and fills back whole: the verifier then
 * keeps the bounds it proved for them (a 32-bit field sharing a slot loses them). */
struct packet {
	struct src_addr src; /* source address (IPv4 mapped) */
	__u64 l3_off;        /* IP header */
	__u64 l4_off;        /* transport header */
	__u64 l4_end;        /* end of the IP payload (IPv4 total length, IPv6 payload length) */
	__u64 payload_off;   /* UDP payload */
	__u64 payload_len;   /* UDP payload length, from the UDP length field */
	__be32 src4;         /* IPv4 source as on the wire (ban_v4 key) */
	__u16 eth_proto;     /* host order: ETH_P_IP or ETH_P_IPV6 past any VLAN tags */
	__u16 dport;         /* UDP destination port, host order */
	__u8 l4_proto;       /* IPPROTO_* of the transport header */
	__u8 ipv6;           /* 1 for IPv6 */
	__u8 fragment;       /* 1 for any fragment (first or later) */
	__u8 pad[5];
};

#endif /* PORTICO_STRUCTS_H */
