/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Maps of the portico XDP program (BTF-defined, SEC(".maps")). User space (ebpf/src) opens each
 * one by the name given here.
 */
#ifndef PORTICO_MAPS_H
#define PORTICO_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "constants.h"
#include "structs.h"

/* The media port table: UDP destination port (host order) -> owner CPU and port state. Written
 * by the media plane's allocator as it hands out, releases and quarantines ports. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PORTICO_PORT_TABLE_SIZE);
	__type(key, __u32);
	__type(value, struct port_entry);
} port_table SEC(".maps");

/* CPUMAP: one entry (queue size) per worker CPU; redirects of steered packets go through it to
 * the CPU that owns the port, where the kernel builds the skb and runs the stack. */
struct {
	__uint(type, BPF_MAP_TYPE_CPUMAP);
	__uint(max_entries, PORTICO_MAX_CPUS);
	__type(key, __u32);
	__type(value, struct bpf_cpumap_val);
} cpu_map SEC(".maps");

/* Verdict counters: per CPU, one entry per enum portico_reason, packets and bytes. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, REASON_COUNT);
	__type(key, __u32);
	__type(value, struct verdict_counter);
} counters SEC(".maps");

/* Banned IPv4 sources (address as on the wire) -> when the ban ends; expired entries are
 * ignored here and deleted by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PORTICO_MAX_BANS);
	__type(key, __be32);
	__type(value, struct ban_entry);
} ban_v4 SEC(".maps");

/* Banned IPv6 sources -> when the ban ends; as ban_v4. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PORTICO_MAX_BANS);
	__type(key, struct src_addr);
	__type(value, struct ban_entry);
} ban_v6 SEC(".maps");

/* Per-source rate state for packets steered to the media range (IPv4 mapped into IPv6); the
 * least recently seen source is evicted when full. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PORTICO_RATE_SOURCES);
	__type(key, struct src_addr);
	__type(value, struct rate_state);
} rate_buckets SEC(".maps");

/* Configuration, one entry: media range, steering on/off, rate. Written by user space only. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct portico_config);
} config SEC(".maps");

#endif /* PORTICO_MAPS_H */
