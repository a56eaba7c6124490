/* Drops IPv4 ICMP (ping), passes everything else: as a tc classifier (direct-action,
 * `bpf ingress|egress "drop_icmp.o" section classifier`) and as an XDP program
 * (`xdp "drop_icmp.o" section xdp`). */
#include "common.h"

SEC("classifier")
int drop_icmp_tc(struct __sk_buff *skb)
{
    void *data = (void *)(long)skb->data;
    void *data_end = (void *)(long)skb->data_end;
    return is_icmp4(data, data_end) ? TC_ACT_SHOT : TC_ACT_OK;
}

SEC("xdp")
int drop_icmp_xdp(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    return is_icmp4(data, data_end) ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
