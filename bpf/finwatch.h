/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The FIN that turns an orphaned FIN_WAIT2 minisocket TIME_WAIT, seen at
 * skb:kfree_skb in tcp_v4_rcv/tcp_v6_rcv (no timer event fires when the
 * re-armed deadline falls in the same timer-wheel bucket). Shared by the
 * tracer (tcpfsm.bpf.c) and serve (serve.bpf.c); include after vmlinux.h,
 * the libbpf headers and tcpfsm.h, with AF_INET/AF_INET6 defined.
 */
#ifndef TCPFSM_FINWATCH_H
#define TCPFSM_FINWATCH_H

#define FINWATCH_ETH_P_IP 0x0800
#define FINWATCH_TCP_FLAG_FIN 0x01

/*
 * The key (struct tcpfsm_orphan_key) of the minisocket a FIN skb reached,
 * local end first as the minisocket has it. 0, or -1 when skb is no FIN or
 * its headers cannot be read.
 */
static __always_inline int finwatch_skb_key(struct sk_buff *skb,
					    struct tcpfsm_orphan_key *k)
{
	unsigned char *head = skb->head;
	__u8 th[14];

	if (bpf_probe_read_kernel(th, sizeof(th), head + skb->transport_header) ||
	    !(th[13] & FINWATCH_TCP_FLAG_FIN))
		return -1;
	__builtin_memset(k, 0, sizeof(*k));
	k->sport = (th[2] << 8) | th[3];
	k->dport = (th[0] << 8) | th[1];
	if (skb->protocol == bpf_htons(FINWATCH_ETH_P_IP)) {
		__u32 a[2];

		if (bpf_probe_read_kernel(a, sizeof(a), head + skb->network_header + 12))
			return -1;
		k->family = AF_INET;
		k->daddr[3] = a[0];
		k->saddr[3] = a[1];
	} else {
		__u32 a[8];

		if (bpf_probe_read_kernel(a, sizeof(a), head + skb->network_header + 8))
			return -1;
		k->family = AF_INET6;
		__builtin_memcpy(k->daddr, &a[0], 16);
		__builtin_memcpy(k->saddr, &a[4], 16);
	}
	k->netns = skb->dev->nd_net.net->ns.inum;
	return 0;
}

#endif
