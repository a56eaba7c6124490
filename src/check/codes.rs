//! Every diagnostic code the checker emits. Codes are stable: tools match on them.

pub const UNKNOWN_NAMESPACE: &str = "netscript::check::unknown_namespace";
pub const UNKNOWN_INTERFACE: &str = "netscript::check::unknown_interface";
pub const UNKNOWN_TABLE: &str = "netscript::check::unknown_table";
pub const UNKNOWN_VARIABLE: &str = "netscript::check::unknown_variable";
pub const UNKNOWN_CLASS: &str = "netscript::check::unknown_class";
pub const DUPLICATE_INTERFACE: &str = "netscript::check::duplicate_interface";
pub const DUPLICATE_TABLE: &str = "netscript::check::duplicate_table";
pub const DUPLICATE_OPTION: &str = "netscript::check::duplicate_option";
pub const DUPLICATE_ADDRESS: &str = "netscript::check::duplicate_address";
pub const DUPLICATE_CLASS: &str = "netscript::check::duplicate_class";
pub const DUPLICATE_ROUTE: &str = "netscript::check::duplicate_route";
pub const CONFLICTING_QDISC: &str = "netscript::check::conflicting_qdisc";
pub const CONFLICTING_ATTRIBUTE: &str = "netscript::check::conflicting_attribute";
pub const NAME_TOO_LONG: &str = "netscript::check::name_too_long";
pub const INVALID_NAME: &str = "netscript::check::invalid_name";
pub const RESERVED_NAME: &str = "netscript::check::reserved_name";
pub const INVALID_ADDRESS: &str = "netscript::check::invalid_address";
pub const HOST_BITS_SET: &str = "netscript::check::host_bits_set";
pub const MIXED_FAMILIES: &str = "netscript::check::mixed_families";
pub const GATEWAY_UNREACHABLE: &str = "netscript::check::gateway_unreachable";
pub const OUT_OF_RANGE: &str = "netscript::check::out_of_range";
pub const TYPE_MISMATCH: &str = "netscript::check::type_mismatch";
pub const DIVISION_BY_ZERO: &str = "netscript::check::division_by_zero";
pub const OVERFLOW: &str = "netscript::check::overflow";
pub const NO_CURRENT_INTERFACE: &str = "netscript::check::no_current_interface";
pub const MISPLACED: &str = "netscript::check::misplaced";
pub const NOT_A_BRIDGE: &str = "netscript::check::not_a_bridge";
pub const INCLUDE_CYCLE: &str = "netscript::check::include_cycle";
pub const INCLUDE_NOT_FOUND: &str = "netscript::check::include_not_found";
pub const TOO_MANY_STATEMENTS: &str = "netscript::check::too_many_statements";
pub const MISSING_OPTION: &str = "netscript::check::missing_option";
/// netem `distribution NAME` with a name that is not one of the computed tables.
pub const UNKNOWN_DISTRIBUTION: &str = "netscript::check::unknown_distribution";
pub const EMPTY_RANGE: &str = "netscript::check::empty_range";
pub const INVALID_SYSCTL: &str = "netscript::check::invalid_sysctl";
pub const UNREACHABLE_EXPECT: &str = "netscript::check::unreachable_expect";
pub const BPF_OBJECT_UNREADABLE: &str = "netscript::check::bpf_object_unreadable";
pub const BPF_INVALID_OBJECT: &str = "netscript::check::bpf_invalid_object";
pub const BPF_NO_SUCH_SECTION: &str = "netscript::check::bpf_no_such_section";
pub const BPF_WRONG_PROGRAM_TYPE: &str = "netscript::check::bpf_wrong_program_type";
pub const BPF_AMBIGUOUS_PROGRAM: &str = "netscript::check::bpf_ambiguous_program";
/// A program whose section names one tc direction (`tcx/egress`) on the other hook.
pub const BPF_DIRECTION_CONFLICT: &str = "netscript::check::bpf_direction_conflict";
/// An action or match an inline `bpf`/`xdp` rule cannot have (NAT, `reject`, `ct`,
/// `iif`/`oif`; `mark`/`classify` in XDP).
pub const BPF_RULE: &str = "netscript::check::bpf_rule";
pub const ADDRESS_WITHOUT_PREFIX: &str = "netscript::check::address_without_prefix";
/// `addr LOCAL/LEN peer PEER`: a point-to-point address's prefix length is the peer's
/// (`ip` drops the local one without a word).
pub const PREFIX_ON_PEER_LOCAL: &str = "netscript::check::prefix_on_peer_local";
pub const CEIL_BELOW_RATE: &str = "netscript::check::ceil_below_rate";
pub const DUPLICATE_FILTER_PRIO: &str = "netscript::check::duplicate_filter_prio";
pub const DUPLICATE_U32_TABLE: &str = "netscript::check::duplicate_u32_table";
/// A filter in a hash table (`ht`) at another priority than its table's.
pub const HT_PRIO_MISMATCH: &str = "netscript::check::ht_prio_mismatch";
/// Two filters of a hash table's bucket with one node id.
pub const DUPLICATE_U32_NODE: &str = "netscript::check::duplicate_u32_node";

/// A firewall action or match that the hook it stands in does not allow (NAT outside
/// its hooks, `reject` at a routing hook, eBPF's `pass`).
pub const FIREWALL_HOOK: &str = "netscript::check::firewall_hook";

/// Two ipvlans on one parent with different modes or flags: the parent's ipvlan port
/// holds one mode and one flag for all of them (the kernel changes them all at once).
pub const IPVLAN_PORT_CONFLICT: &str = "netscript::check::ipvlan_port_conflict";
pub const LINK_CYCLE: &str = "netscript::check::link_cycle";
/// `mac` on an ipvlan: it takes its parent's MAC, and the kernel cannot change it.
pub const IPVLAN_MAC: &str = "netscript::check::ipvlan_mac";
/// `ipip`/`gre` named as one of the devices the kernel makes itself in every namespace
/// (tunl0, gre0, …): those are the kernel's.
pub const KERNEL_TUNNEL_NAME: &str = "netscript::check::kernel_tunnel_name";
