/* Counts the packets it sees (in an array map, `packets[0]`) and passes them all.
 * Read the count with `bpftool map dump name packets`. */
#include "common.h"

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} packets SEC(".maps");

static __always_inline void count(void)
{
    __u32 key = 0;
    __u64 *value = bpf_map_lookup_elem(&packets, &key);
    if (value)
        __sync_fetch_and_add(value, 1);
}

SEC("classifier")
int counter_tc(struct __sk_buff *skb)
{
    count();
    return TC_ACT_OK;
}

SEC("xdp")
int counter_xdp(struct xdp_md *ctx)
{
    count();
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
