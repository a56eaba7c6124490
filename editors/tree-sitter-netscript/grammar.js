/**
 * @file tree-sitter grammar for netscript, a scripting language for Linux networking.
 *
 * It follows grammar/netscript.pest (the language's source of truth): statements end
 * at `;` or a newline, blocks are `< ... >`, every statement form parses in every body.
 * The keywords are listed in KEYWORDS below; tests/editors_keywords.rs checks that every
 * keyword of the pest grammar appears in this file and in queries/highlights.scm.
 */

/// <reference types="tree-sitter-cli/dsl" />
// @ts-check

const PREC = { add: 1, mul: 2, neg: 3 };

// Units, as in tc (case-insensitive in netscript).
const RATE_UNITS = ['bit', 'kbit', 'mbit', 'gbit', 'tbit', 'bps', 'kbps', 'mbps', 'gbps', 'tbps'];
const SIZE_UNITS = ['kb', 'mb', 'gb', 'b', 'k', 'm', 'g'];
const DURATION_UNITS = ['ns', 'us', 'ms', 's'];

const ci = (word) =>
  word.split('').map((c) => (/[a-z]/.test(c) ? `[${c}${c.toUpperCase()}]` : c)).join('');
const unitRegex = (units) =>
  new RegExp(`[0-9]+(\\.[0-9]+)?(${units.map(ci).join('|')})`);

const imm = token.immediate;

module.exports = grammar({
  name: 'netscript',

  // A newline ends a statement, so it is not whitespace here; `\` + newline continues.
  extras: ($) => [/[ \t\r]/, $.comment, $.line_continuation],

  word: ($) => $.identifier,

  conflicts: ($) => [[$._ns_name, $._if_name]],

  rules: {
    source_file: ($) => optional($._statements),

    _statements: ($) =>
      choice(
        seq(repeat($._sep), $._statement, repeat(seq(repeat1($._sep), $._statement)), repeat($._sep)),
        repeat1($._sep),
      ),

    _sep: ($) => choice(';', $._newline),
    _newline: (_) => /\n/,

    block: ($) => seq('<', optional($._statements), '>'),

    _statement: ($) =>
      choice(
        $.netns_statement, $.host_statement, $.table_statement, $.let_statement,
        $.for_statement, $.include_statement, $.expect_statement,
        $.veth_statement, $.bridge_statement, $.dummy_statement, $.vrf_statement, $.macvlan_statement, $.ipvlan_statement, $.tunnel_statement, $.vlan_statement, $.vxlan_statement,
        $.link_statement,
        $.addr_statement, $.state_statement, $.mtu_statement,
        $.mac_statement, $.master_statement,
        $.shape_statement, $.htb_statement, $.class_statement, $.filter_statement, $.u32_table_statement,
        $.netem_statement, $.qdisc_statement, $.bpf_statement, $.xdp_statement,
        $.route_statement, $.rule_statement, $.forward_statement, $.sysctl_statement,
        $.firewall_statement,
      ),

    // ------------------------------------------------------------ top level

    netns_statement: ($) => seq('netns', field('name', $.namespace_name), optional(field('body', $.block))),
    host_statement: ($) => seq('host', field('body', $.block)),
    table_statement: ($) => seq('table', field('name', $.table_name), '=', field('value', $._expression)),
    let_statement: ($) => seq('let', field('name', $.variable), '=', field('value', $._let_value)),
    for_statement: ($) =>
      seq('for', field('variable', $.variable), 'in', field('range', $.range), field('body', $.block)),
    range: ($) => seq(field('start', $._expression), choice('..', '..='), field('end', $._expression)),
    include_statement: ($) => seq('include', field('path', $.string)),
    expect_statement: ($) =>
      seq('expect', field('namespace', $.namespace_name), choice('reach', 'noreach'),
        field('address', $._ip_value), repeat(choice($._port_opt, seq('within', $._duration_value)))),

    _let_value: ($) =>
      choice($.rate, $.size, $.duration, $.percentage, $.ipv4_address, $.ipv6_address, $._expression),

    // ------------------------------------------------------------ interfaces

    veth_statement: ($) =>
      seq('veth', field('name', $.interface_name), '<->', field('peer', $.peer_name),
        optional(field('body', $.block))),
    bridge_statement: ($) => seq('bridge', field('name', $.interface_name), optional(field('body', $.block))),
    dummy_statement: ($) => seq('dummy', field('name', $.interface_name), optional(field('body', $.block))),
    vrf_statement: ($) =>
      seq('vrf', field('name', $.interface_name), 'table', field('table', $._int_value), optional(field('body', $.block))),
    macvlan_statement: ($) =>
      seq('macvlan', field('name', $.interface_name), 'on', field('parent', $.interface_name),
        optional(seq('mode', field('mode', alias(choice('bridge', 'private', 'vepa', 'passthru'), $.mode)))),
        optional(field('body', $.block))),
    ipvlan_statement: ($) =>
      seq('ipvlan', field('name', $.interface_name), 'on', field('parent', $.interface_name),
        optional(seq('mode', field('mode', alias(choice('l2', 'l3', 'l3s'), $.mode)))),
        optional(field('flag', alias(choice('bridge', 'private', 'vepa'), $.mode))),
        optional(field('body', $.block))),
    tunnel_statement: ($) =>
      seq(choice('ipip', 'gre'), field('name', $.interface_name),
        repeat(choice(
          seq(choice('remote', 'local'), $._ip_value),
          seq(choice('ttl', 'key'), $._int_value),
        )),
        optional(field('body', $.block))),
    vlan_statement: ($) =>
      seq('vlan', field('name', $.interface_name), 'on', field('parent', $.interface_name),
        'id', field('id', $._int_value),
        optional(seq('protocol', field('protocol', alias(choice('802.1Q', '802.1ad'), $.vlan_protocol)))),
        optional(field('body', $.block))),
    vxlan_statement: ($) =>
      seq('vxlan', field('name', $.interface_name),
        repeat(choice(
          seq('id', $._int_value),
          seq(choice('remote', 'group', 'local'), $._ip_value),
          $._dev_opt,
          $._port_opt,
        )),
        optional(field('body', $.block))),
    link_statement: ($) => seq('link', field('name', $.interface_name), optional(field('body', $.block))),

    // ------------------------------------------------------------ interface attributes

    addr_statement: ($) => seq('addr', repeat1(seq($._ip_value, optional(seq('peer', $._ip_value))))),
    state_statement: (_) => choice('up', 'down'),
    mtu_statement: ($) => seq('mtu', $._int_value),
    mac_statement: ($) => seq('mac', choice($.mac_address, $.interpolation)),
    master_statement: ($) => seq('master', field('bridge', $.interface_name)),

    shape_statement: ($) =>
      seq('shape', optional(alias('ingress', $.direction)), $._rate_value,
        repeat(choice(seq('burst', $._size_value), seq('latency', $._duration_value),
          seq('limit', $._size_value), seq('peakrate', $._rate_value), seq('mtu', $._size_value),
          $._tc_framing))),
    // tc's framing of a rate (tbf and htb classes).
    _tc_framing: ($) =>
      choice(seq('overhead', $._int_value), seq('mpu', $._size_value),
        seq('linklayer', alias(choice('ethernet', 'atm'), $.link_layer))),

    htb_statement: ($) =>
      seq('htb',
        repeat(choice(seq('default', field('default', $.class_id)), seq('r2q', $._int_value), seq('direct_qlen', $._int_value))),
        optional(field('body', $.block))),
    class_statement: ($) =>
      seq('class', field('id', $.class_id),
        repeat(choice(seq('rate', $._rate_value), seq('ceil', $._rate_value), seq('prio', $._int_value),
          seq(choice('burst', 'cburst', 'quantum', 'mtu'), $._size_value),
          $._tc_framing)),
        optional(field('body', $.block))),
    filter_statement: ($) =>
      seq('filter',
        repeat(choice(
          seq('proto', alias(choice('tcp', 'udp', 'icmp'), $.protocol)),
          seq(choice('src', 'dst'), $._ip_value),
          seq(choice('sport', 'dport'), $._int_value),
          seq('prio', $._int_value),
          seq('handle', $.class_id),
          seq('link', field('link', $.class_id), optional(seq('hashkey', 'mask', $._int_value, 'at', $._int_value))),
          // tc's `ht T:[BUCKET]`, `sample KEY` and raw `match KEY`.
          seq('ht', field('ht', $.class_id)),
          seq(choice('sample', 'match'), $._u32_raw_key),
        )),
        // A filter that links to a hash table may leave out `-> ID`.
        optional(seq('->', field('target', $.class_id),
          optional(seq('action', choice('ok', 'drop', 'pass', 'reclassify', 'continue')))))),
    // `u32|u16|u8 VALUE MASK [at OFF]`, a raw u32 key.
    _u32_raw_key: ($) => seq(choice('u32', 'u16', 'u8'), $._int_value, $._int_value, optional(seq('at', $._int_value))),
    // A u32 hash table in a `qdisc ingress` block: `table ID divisor N prio P`.
    u32_table_statement: ($) =>
      seq('table', field('id', $.class_id), 'divisor', $._int_value, 'prio', $._int_value),
    // tc's minor, read as hex; `1:10` is accepted for 10.
    class_id: ($) => choice(/([0-9a-fA-F]+:)?[0-9a-fA-F]+/, seq(/[0-9a-fA-F]+:/, alias($._imm_interp, $.interpolation)), $.interpolation),

    qdisc_statement: ($) => seq('qdisc', alias(choice('ingress', 'clsact'), $.direction), optional(field('body', $.block))),

    netem_statement: ($) =>
      seq('netem', repeat1(choice(
        seq('delay', $._duration_value),
        seq('jitter', $._duration_value),
        seq('loss', choice($._percent_value,
          seq(alias(choice('state', 'gemodel'), $.loss_model), repeat1($._percent_value)))),
        seq('rate', $._rate_value),
        seq('limit', $._int_value),
        seq(choice('duplicate', 'corrupt', 'reorder'), $._percent_value),
        seq('gap', $._int_value),
        seq('slot', choice(seq($._duration_value, optional($._duration_value)),
          seq('distribution', alias($.identifier, $.distribution), $._duration_value, $._duration_value))),
        seq('packets', $._int_value),
        seq('bytes', $._size_value),
        seq('distribution', alias($.identifier, $.distribution)),
      ))),

    bpf_statement: ($) =>
      seq('bpf', alias(choice('ingress', 'egress'), $.direction),
        choice(seq(field('program', $.string), optional($._section_opt),
          repeat(choice(seq('prio', $._int_value), seq('handle', $._int_value)))), field('rules', $.rule_block))),
    xdp_statement: ($) =>
      seq('xdp', choice(
        seq(field('program', $.string),
          repeat(choice($._section_opt, seq('mode', alias(choice('generic', 'native'), $.mode))))),
        seq(optional(seq('mode', alias(choice('generic', 'native'), $.mode))), field('rules', $.rule_block)))),
    _section_opt: ($) => seq('section', field('section', choice($.string, $.section_name))),
    section_name: (_) => /[A-Za-z0-9_\/.\-]+/,

    // ------------------------------------------------------------ namespace-wide

    route_statement: ($) =>
      seq('route', optional(choice('blackhole', 'unreachable', 'prohibit')),
        field('destination', choice(alias('default', $.default), $._ip_value)),
        repeat(choice(
          seq('via', $._ip_value),
          $._dev_opt,
          seq('src', $._ip_value),
          seq('metric', $._int_value),
          $._table_opt,
          'onlink',
          seq(choice('mtu', 'advmss'), $._int_value),
          seq('scope', choice('host', 'link', 'global', $._int_value)),
          seq('proto', choice($._int_value, alias($.identifier, $.protocol))),
          // A multipath route's paths: `nexthop via A [dev D] [weight W]`, flat here.
          'nexthop',
          seq('weight', $._int_value),
        ))),
    _dev_opt: ($) => seq('dev', field('device', $.interface_name)),
    _table_opt: ($) => seq(choice('table', 'lookup'), field('table', choice($._int_value, $.table_name))),

    rule_statement: ($) =>
      seq('rule', repeat(choice(
        seq(choice('from', 'to'), $._ip_value),
        seq(choice('iif', 'oif'), field('device', $.interface_name)),
        seq('fwmark', $._int_value, optional(seq('/', $._int_value))),
        seq('uidrange', $._int_value, '-', $._int_value),
        seq(choice('priority', 'pref'), $._int_value),
        seq('ipproto', choice(alias(choice('tcp', 'udp', 'icmp', 'icmpv6'), $.protocol), $._int_value)),
        seq(choice('sport', 'dport'), $._int_value, optional(seq('-', $._int_value)), optional(seq('/', $._int_value))),
        seq(choice('tos', 'dsfield'), $._int_value),
        seq(choice('dscp', 'flowlabel'), $._int_value, optional(seq('/', $._int_value))),
        $._table_opt,
      ))),

    forward_statement: ($) => seq('forward', optional(alias(choice('on', 'off'), $.switch))),
    sysctl_statement: ($) => seq('sysctl', field('key', $.sysctl_key), '=', field('value', choice($.string, $.sysctl_value))),
    sysctl_key: ($) =>
      seq(choice(/[A-Za-z0-9_.\/\-]+/, $.interpolation),
        repeat(choice(imm(/[A-Za-z0-9_.\/\-]+/), alias($._imm_interp, $.interpolation)))),
    sysctl_value: (_) => /[^\s;<>#"]([^\n;<>#]*[^\s;<>#])?/,

    _port_opt: ($) => seq('port', $._int_value),

    // ------------------------------------------------------------ packet policy (§3b)

    firewall_statement: ($) =>
      seq('firewall',
        field('hook', alias(choice('input', 'forward', 'output', 'prerouting', 'postrouting'), $.hook)),
        optional(seq('policy', field('policy', alias(choice('accept', 'drop'), $.verdict)))),
        field('rules', $.rule_block)),
    rule_block: ($) =>
      seq('<', repeat($._sep), optional(seq($.firewall_rule, repeat(seq(repeat1($._sep), $.firewall_rule)), repeat($._sep))), '>'),
    firewall_rule: ($) =>
      seq(field('action', $.firewall_action),
        repeat(choice(
          seq('proto', alias(choice('tcp', 'udp', 'icmp', 'icmpv6'), $.protocol)),
          seq(choice('src', 'dst'), $._ip_value),
          seq(choice('sport', 'dport'), $._int_value, optional(seq('-', $._int_value))),
          seq(choice('iif', 'oif'), field('device', $.interface_name)),
          seq('mark', $._int_value, optional(seq('/', $._int_value))),
          seq('ct', alias($._ct_state, $.ct_state), repeat(seq(',', alias($._ct_state, $.ct_state)))),
          'counter',
        ))),
    _ct_state: (_) => choice('new', 'established', 'related', 'invalid'),
    firewall_action: ($) =>
      choice('accept', 'drop', 'reject', 'pass', 'masquerade',
        seq('mark', $._int_value),
        seq('classify', field('class', $.class_id)),
        seq('snat', 'to', $._ip_value),
        seq('dnat', 'to', choice($._ip_value, $.nat_target))),
    // `10.0.0.1:8080`, `[fd00::1]:443`
    nat_target: (_) => token(choice(/[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+:[0-9]+/, /\[[0-9a-fA-F:.]+\]:[0-9]+/)),

    // ------------------------------------------------------------ names

    // A name is text and `{expr}` interpolations: r{i}, eth{i+1}, eth0.100. A peer may
    // name its namespace: ns2.v1, r{i+1}.b{i}, host.v0 (namespace names hold no `.`).
    namespace_name: ($) => $._ns_name,
    interface_name: ($) => $._if_name,
    peer_name: ($) =>
      choice(
        prec.dynamic(1, seq(field('namespace', alias($._ns_name, $.namespace_name)), imm('.'),
          field('interface', alias($._if_name, $.interface_name)))),
        field('interface', alias($._if_name, $.interface_name)),
      ),
    _ns_name: ($) => seq($._name_start, repeat($._imm_name_part)),
    _if_name: ($) => seq($._name_start, repeat(choice($._imm_name_part, imm('.')))),
    _name_start: ($) => choice(alias(/[A-Za-z0-9_][A-Za-z0-9_\-]*/, $.name_text), $.interpolation),
    _imm_name_part: ($) => choice(alias(imm(/[A-Za-z0-9_\-]+/), $.name_text), alias($._imm_interp, $.interpolation)),

    table_name: ($) => $.identifier,
    variable: ($) => $.identifier,
    identifier: (_) => /[A-Za-z_][A-Za-z0-9_]*/,

    interpolation: ($) => seq('{', $._expression, '}'),
    _imm_interp: ($) => seq(imm('{'), $._expression, '}'),

    // ------------------------------------------------------------ expressions

    _expression: ($) =>
      choice($.integer, $.variable, $.parenthesized_expression, $.unary_expression, $.binary_expression),
    parenthesized_expression: ($) => seq('(', $._expression, ')'),
    unary_expression: ($) => prec(PREC.neg, seq('-', $._expression)),
    binary_expression: ($) =>
      choice(
        prec.left(PREC.add, seq($._expression, choice('+', '-'), $._expression)),
        prec.left(PREC.mul, seq($._expression, choice('*', '/', '%'), $._expression)),
      ),

    // ------------------------------------------------------------ literals

    integer: (_) => /0x[0-9a-fA-F]+|[0-9]+/,
    string: (_) => seq('"', optional(/([^"\\\n]|\\.)+/), '"'),
    comment: (_) => token(seq('#', /.*/)),
    line_continuation: (_) => /\\\r?\n/,

    rate: (_) => unitRegex(RATE_UNITS),
    size: (_) => unitRegex(SIZE_UNITS),
    duration: (_) => unitRegex(DURATION_UNITS),
    percentage: (_) => /[0-9]+(\.[0-9]+)?%/,
    mac_address: (_) => /[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}/,

    // v4, with `{expr}` allowed for any octet and for the prefix length: 10.0.{i}.1/24
    ipv4_address: ($) =>
      seq(
        choice(alias($.integer, $.octet), $.interpolation),
        imm('.'), $._imm_octet, imm('.'), $._imm_octet, imm('.'), $._imm_octet,
        optional(seq(imm('/'), choice(alias(imm(/[0-9]+/), $.prefix_length), alias($._imm_interp, $.interpolation)))),
      ),
    _imm_octet: ($) => choice(alias(imm(/[0-9]+/), $.octet), alias($._imm_interp, $.interpolation)),
    // v6: at least one `:`; validated by the checker.
    ipv6_address: ($) =>
      seq(/[0-9a-fA-F]*:[0-9a-fA-F:.]*/,
        optional(seq(imm('/'), choice(alias(imm(/[0-9]+/), $.prefix_length), alias($._imm_interp, $.interpolation))))),

    _ip_value: ($) => choice($.ipv4_address, $.ipv6_address, $.interpolation),
    _int_value: ($) => choice($.integer, $.interpolation),
    _rate_value: ($) => choice($.rate, $.interpolation),
    _size_value: ($) => choice($.size, $.interpolation),
    _duration_value: ($) => choice($.duration, $.interpolation),
    _percent_value: ($) => choice($.percentage, $.interpolation),
  },
});
