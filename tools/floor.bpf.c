// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The cost floor of in-kernel aggregation, for tools/bench-serve.sh: the
 * hooks tcpfsm serve attaches (the state tracepoint, timer_start,
 * timer_cancel, kfree_skb), doing at each level the least that any
 * aggregation of that kind must do:
 *
 *   0  nothing (the price of the hooks themselves)
 *   1  count each transition, and each timewait/request timer event, in a
 *      per-CPU array (gauges and counters, no durations)
 *   2  level 1 and a timestamp per socket in socket-local storage, with
 *      the time since the last change added up (the least that time in
 *      state needs; no histogram, no minisocket tables)
 *
 * Not part of tcpfsm: it measures what no design on these hooks can avoid.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "floor.h"

#define IPPROTO_TCP 6

const volatile __u32 level = 0;
const volatile __u64 tw_timer_fn = 0;
const volatile __u64 req_timer_fn = 0;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct floor_counts);
} counts SEC(".maps");

struct floor_sk {
	__u64 since_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct floor_sk);
} since SEC(".maps");

static __always_inline struct floor_counts *ctrs(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&counts, &zero);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(floor_set_state, struct sock *sk, int oldstate, int newstate)
{
	struct floor_counts *c;
	struct floor_sk *st;
	__u64 now;

	if (!level || sk->sk_protocol != IPPROTO_TCP)
		return 0;
	c = ctrs();
	if (!c)
		return 0;
	c->transitions[oldstate & 15][newstate & 15]++;
	if (level < 2)
		return 0;
	now = bpf_ktime_get_ns();
	st = bpf_sk_storage_get(&since, sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
	if (!st)
		return 0;
	if (st->since_ns)
		c->sum_ns += now - st->since_ns;
	st->since_ns = now;
	return 0;
}

static __always_inline int timer_event(struct timer_list *timer)
{
	__u64 fn = (__u64)timer->function;
	struct floor_counts *c;

	if (!level || (fn != tw_timer_fn && fn != req_timer_fn))
		return 0;
	c = ctrs();
	if (c)
		c->timers++;
	return 0;
}

SEC("tp_btf/timer_start")
int BPF_PROG(floor_timer_start, struct timer_list *timer)
{
	return timer_event(timer);
}

SEC("tp_btf/timer_cancel")
int BPF_PROG(floor_timer_cancel, struct timer_list *timer)
{
	return timer_event(timer);
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(floor_kfree_skb, struct sk_buff *skb, void *location)
{
	struct floor_counts *c;

	if (!level)
		return 0;
	c = ctrs();
	if (c)
		c->drops++;
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
