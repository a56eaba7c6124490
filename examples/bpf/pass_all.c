/* Passes every packet: the smallest program there is, for trying the plumbing. */
#include "common.h"

SEC("classifier")
int pass_all_tc(struct __sk_buff *skb)
{
    return TC_ACT_OK;
}

SEC("xdp")
int pass_all_xdp(struct xdp_md *ctx)
{
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
