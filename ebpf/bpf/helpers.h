/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers of the portico XDP program: verdict counting, the ban check, the per-source rate
 * limit and the steering decision.
 */
#ifndef PORTICO_HELPERS_H
#define PORTICO_HELPERS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "constants.h"
#include "maps.h"
#include "structs.h"

/* Counts one frame of `bytes` bytes under `reason` (per CPU: no atomics needed). */
static __always_inline void count(__u32 reason, __u64 bytes)
{
	struct verdict_counter *c = bpf_map_lookup_elem(&counters, &reason);

	if (c) {
		c->packets += 1;
		c->bytes += bytes;
	}
}

/* The XDP action of a pass or drop reason (redirects go through steer()). */
static __always_inline int reason_action(__u32 reason)
{
	return reason >= REASON_FIRST_DROP ? XDP_DROP : XDP_PASS;
}

/* Counts the frame under `reason` and returns its action. */
static __always_inline int finish(__u32 reason, __u64 bytes)
{
	count(reason, bytes);
	return reason_action(reason);
}

/*
 * Whether the source is banned now. The value is the CLOCK_MONOTONIC time the ban ends; an
 * expired entry is ignored (not deleted here: deleting could race with user space renewing the
 * same ban; user space purges expired entries).
 */
static __always_inline int source_banned(const struct packet *pkt)
{
	struct ban_entry *ban;

	if (pkt->ipv6)
		ban = bpf_map_lookup_elem(&ban_v6, &pkt->src);
	else
		ban = bpf_map_lookup_elem(&ban_v4, &pkt->src4);
	if (!ban)
		return 0;
	return bpf_ktime_get_ns() < ban->expires_ns;
}

/*
 * The per-source rate limit, a token bucket of `rate_burst` packets refilled at `rate_pps`,
 * written as GCRA (virtual scheduling, ITU-T I.371): each conforming packet moves the source's
 * theoretical arrival time (TAT) on by one interval; a packet that would move it more than
 * burst intervals past now is over the rate. A source first seen starts with a full bucket,
 * and a new rate applies from the next packet.
 * CPUs update a source's entry without a lock: under a race a packet or two more than the
 * limit may get through, never fewer.
 */
static __always_inline int rate_exceeded(const struct portico_config *cfg, const struct packet *pkt)
{
	__u32 pps = cfg->rate_pps;

	if (pps == 0)
		return 0;
	__u64 interval = NSEC_PER_SEC / pps;
	__u64 burst = cfg->rate_burst ? cfg->rate_burst : 1;
	__u64 now = bpf_ktime_get_ns();

	struct rate_state *st = bpf_map_lookup_elem(&rate_buckets, &pkt->src);
	if (!st) {
		struct rate_state fresh = { .tat_ns = now + interval };
		/* Fails only when the LRU cannot evict (all entries in use on every CPU): the
		 * packet conforms then, as a first packet does. */
		bpf_map_update_elem(&rate_buckets, &pkt->src, &fresh, BPF_ANY);
		return 0;
	}
	__u64 tolerance = burst * interval;
	__u64 tat = st->tat_ns;
	/* Idle long enough to have a full bucket, or state left by a slower rate (under one
	 * rate, a stored TAT is never more than the tolerance ahead): start from now. */
	if (tat < now || tat - now > tolerance)
		tat = now;
	__u64 next = tat + interval;
	if (next - now > tolerance)
		return 1;
	st->tat_ns = next;
	return 0;
}

/*
 * Sends the frame to the CPU that owns its port, counted under `reason` (a redirect reason);
 * with steering off, passes it (REASON_STEERING_OFF). A CPU with no CPUMAP entry makes the
 * kernel return the fallback action, XDP_PASS (REASON_NO_CPU_ENTRY): the frame is delivered on
 * the CPU that received it, as without XDP.
 */
static __always_inline int steer(const struct portico_config *cfg, __u32 cpu, __u32 reason,
				 __u64 bytes)
{
	if (cfg->steering != STEERING_ON)
		return finish(REASON_STEERING_OFF, bytes);
	long act = bpf_redirect_map(&cpu_map, cpu, XDP_PASS);
	if (act != XDP_REDIRECT)
		return finish(REASON_NO_CPU_ENTRY, bytes);
	count(reason, bytes);
	return XDP_REDIRECT;
}

#endif /* PORTICO_HELPERS_H */
