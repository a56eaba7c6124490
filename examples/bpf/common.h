/* Shared by the example programs: packet parsing with the bounds checks the verifier
 * wants. Compile with examples/bpf/build.sh (clang -O2 -g -target bpf). */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* Whether the Ethernet frame in [data, data_end) is an IPv4 ICMP packet. */
static __always_inline int is_icmp4(void *data, void *data_end)
{
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > data_end)
        return 0;
    if (eth->h_proto != bpf_htons(ETH_P_IP))
        return 0;
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > data_end)
        return 0;
    return ip->protocol == IPPROTO_ICMP;
}
