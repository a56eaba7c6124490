; netscript highlights. Capture names follow nvim-treesitter's conventions; Zed and
; Helix fall back along the dotted names (see editors/README.md for Helix).
; Every node below matches exactly one pattern, so the order does not matter.

(comment) @comment
(string) @string

; ------------------------------------------------------------ keywords

; statements
(table_statement "table" @keyword)
[
  "netns"
  "host"
  "let"
] @keyword

[
  "for"
  "in"
] @keyword.repeat

"include" @keyword.import

; interface kinds
[
  "veth"
  "bridge"
  "macvlan"
  "ipvlan"
  "ipip"
  "gre"
  "vlan"
  "vxlan"
  "dummy"
  "vrf"
  "link"
] @type.builtin

; attributes and other statements of a body
[
  "addr"
  "up"
  "down"
  "mtu"
  "mac"
  "master"
  "shape"
  "htb"
  "class"
  "filter"
  "netem"
  "qdisc"
  "bpf"
  "xdp"
  "route"
  "rule"
  "forward"
  "sysctl"
  "expect"
  "reach"
  "noreach"
  "firewall"
] @function.builtin

; option words
(route_statement "table" @attribute)
(rule_statement "table" @attribute)
(htb_statement "default" @attribute)
[
  "via"
  "dev"
  "src"
  "dst"
  "metric"
  "from"
  "to"
  "iif"
  "oif"
  "fwmark"
  "uidrange"
  "ipproto"
  "tos"
  "dsfield"
  "dscp"
  "flowlabel"
  "onlink"
  "advmss"
  "scope"
  "global"
  "nexthop"
  "weight"
  "blackhole"
  "unreachable"
  "prohibit"
  "priority"
  "pref"
  "lookup"
  "burst"
  "latency"
  "limit"
  "peakrate"
  "overhead"
  "mpu"
  "linklayer"
  "slot"
  "packets"
  "bytes"
  "distribution"
  "r2q"
  "direct_qlen"
  "divisor"
  "hashkey"
  "ht"
  "sample"
  "match"
  "u32"
  "u16"
  "u8"
  "mask"
  "at"
  "cburst"
  "quantum"
  "ceil"
  "prio"
  "handle"
  "proto"
  "sport"
  "dport"
  "delay"
  "jitter"
  "loss"
  "duplicate"
  "corrupt"
  "reorder"
  "action"
  "ok"
  "reclassify"
  "continue"
  "gap"
  "rate"
  "mode"
  "section"
  "on"
  "protocol"
  "ttl"
  "key"
  "remote"
  "peer"
  "group"
  "local"
  "port"
  "id"
  "within"
  "policy"
  "mark"
  "classify"
  "ct"
  "counter"
  "accept"
  "drop"
  "reject"
  "pass"
  "masquerade"
  "snat"
  "dnat"
] @attribute

; firewall hooks "input" "output" "prerouting" "postrouting" (and "forward"), policies,
; "icmpv6", conntrack states "new" "established" "related" "invalid": the constants below

; option values: "tcp" "udp" "icmp", "on" "off", "ingress" "egress" "clsact", "generic" "native",
; "bridge" "private" "vepa" "passthru", ipvlan's "l2" "l3" "l3s", route's "default"
; tc's link layers "ethernet" "atm" (link_layer), netem's loss models "state" "gemodel" (loss_model), its tables (distribution)
[
  (protocol)
  (switch)
  (direction)
  (mode)
  (link_layer)
  (loss_model)
  (distribution)
  (default)
  (hook)
  (verdict)
  (ct_state)
] @constant.builtin

(nat_target) @number

; ------------------------------------------------------------ names

(namespace_name
  (name_text) @module)

(interface_name
  (name_text) @variable.member)

(peer_name
  "." @punctuation.delimiter)

(interface_name
  "." @variable.member)

(table_name) @label

(variable) @variable

(sysctl_key) @property

(sysctl_value) @string.special

(section_name) @label

; `{expr}` interpolation, in names, addresses and values
(interpolation
  [
    "{"
    "}"
  ] @punctuation.special)

; ------------------------------------------------------------ literals

(ipv4_address) @string.special.ipv4

(ipv6_address) @string.special.ipv6

(mac_address) @string.special.mac

(integer) @number

(class_id) @number.class

(rate) @number.rate

(size) @number.size

(duration) @number.duration

(percentage) @number.percentage

; ------------------------------------------------------------ operators and punctuation

[
  "<->"
  "->"
  ".."
  "..="
  "="
] @operator

(binary_expression
  [
    "+"
    "-"
    "*"
    "/"
    "%"
  ] @operator)

(unary_expression
  "-" @operator)

(rule_statement
  [
    "/"
    "-"
  ] @operator)

(block
  [
    "<"
    ">"
  ] @punctuation.bracket)

(parenthesized_expression
  [
    "("
    ")"
  ] @punctuation.bracket)

";" @punctuation.delimiter
