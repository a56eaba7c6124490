" Vim syntax file
" Language:    netscript (scripting language for Linux networking)
" Filenames:   *.ns
" Keywords follow grammar/netscript.pest; tests/editors_keywords.rs checks that every
" keyword there appears here.

if exists('b:current_syntax')
  finish
endif
let s:cpo_save = &cpo
set cpo&vim

syn case match
" A keyword ends where a name would (the grammar's name_char: letters, digits, _ - .),
" so `netns-x` and `host.v0` hold no keyword.
syn iskeyword @,48-57,_,-,.

" ------------------------------------------------------------------ expressions
syn match   netscriptVariable /[[:alnum:]_]\@<![A-Za-z_][[:alnum:]_]*/
syn match   netscriptOperator /[-+*\/%=]/
syn match   netscriptOperator /\.\.=\=/
syn match   netscriptParen    /[()]/
syn cluster netscriptExpr     contains=netscriptNumber,netscriptVariable,netscriptOperator,netscriptParen
" `{expr}`: in names, addresses and wherever a value may stand.
syn region  netscriptInterp   matchgroup=netscriptInterpDelim start=/{/ end=/}/ oneline contains=@netscriptExpr

" ------------------------------------------------------------------ literals
" Later items win when two start at the same column: literals beat variables and
" operators, addresses beat numbers.
syn match   netscriptNumber   /\w\@<!\%(0x\x\+\|\d\+\)\w\@!/
syn match   netscriptSize     /\w\@<!\d\+\%(\.\d\+\)\=\c\%(kb\|mb\|gb\|b\|k\|m\|g\)\w\@!/
syn match   netscriptDuration /\w\@<!\d\+\%(\.\d\+\)\=\%(ns\|us\|ms\|s\)\w\@!/
syn match   netscriptRate     /\w\@<!\d\+\%(\.\d\+\)\=\c\%(kbit\|mbit\|gbit\|tbit\|bit\|kbps\|mbps\|gbps\|tbps\|bps\)\w\@!/
syn match   netscriptPercent  /\w\@<!\d\+\%(\.\d\+\)\=%/
" v6: at least two colons; v4: four octets, each a number or an {interpolation}.
syn match   netscriptIPv6     /[[:alnum:]_.:-]\@<!\%(\x\{0,4}:\)\{2,}[[:xdigit:]:.]*\%(\/\%(\d\+\|{[^{}]*}\)\)\=/ contains=netscriptInterp
syn match   netscriptIPv4     /[[:alnum:]_.-]\@<!\%(\%(\d\+\|{[^{}]*}\)\.\)\{3}\%(\d\+\|{[^{}]*}\)\%(\/\%(\d\+\|{[^{}]*}\)\)\=[[:alnum:]_.:-]\@!/ contains=netscriptInterp
syn match   netscriptMac      /[[:alnum:]_.:-]\@<!\x\x\%(:\x\x\)\{5}[[:alnum:]_.:-]\@!/
syn region  netscriptString   start=/"/ skip=/\\./ end=/"/ oneline contains=netscriptEscape
syn match   netscriptEscape   /\\./ contained
syn keyword netscriptTodo     TODO FIXME XXX NOTE contained
syn match   netscriptComment  /#.*$/ contains=netscriptTodo,@Spell

" ------------------------------------------------------------------ punctuation
syn match   netscriptBlock    /[<>]/
syn match   netscriptSep      /;/
syn match   netscriptArrow    /->/ nextgroup=netscriptClassId skipwhite
syn match   netscriptVeth     /<->/ nextgroup=netscriptIfName,netscriptPeerNs skipwhite

" ------------------------------------------------------------------ names
" Reached through nextgroup from the keyword before them.
syn match   netscriptNsName   /\%([[:alnum:]_-]\|{[^{}]*}\)\+/ contained contains=netscriptInterp
syn match   netscriptIfName   /\%([[:alnum:]_.-]\|{[^{}]*}\)\+/ contained contains=netscriptInterp
" NS.NAME after <->: the namespace part (namespace names hold no `.`).
syn match   netscriptPeerNs   /\%([[:alnum:]_-]\|{[^{}]*}\)\+\ze\./ contained contains=netscriptInterp nextgroup=netscriptPeerDot
syn match   netscriptPeerDot  /\./ contained nextgroup=netscriptIfName
syn match   netscriptVarDef   /[A-Za-z_][[:alnum:]_]*/ contained
syn match   netscriptTableName /[A-Za-z_][[:alnum:]_]*[[:alnum:]_.-]\@!/ contained
syn match   netscriptClassId  /\%(\x\+:\)\=\%(\x\+\|{[^{}]*}\)[[:alnum:]_.-]\@!/ contained contains=netscriptInterp
syn match   netscriptSysctlKey /\%([[:alnum:]_.\/-]\|{[^{}]*}\)\+/ contained contains=netscriptInterp
syn match   netscriptSection  /[[:alnum:]_\/.-]\+/ contained
syn keyword netscriptValue    bridge private vepa passthru l2 l3 l3s generic native contained
syn keyword netscriptValue    on off contained
syn keyword netscriptValue    default contained

" ------------------------------------------------------------------ keywords
" statements
syn keyword netscriptStatement netns nextgroup=netscriptNsName skipwhite
syn keyword netscriptStatement host
syn keyword netscriptStatement let nextgroup=netscriptVarDef skipwhite
" `table` states a table (table NAME = N) or, after route and rule, picks one
syn match   netscriptOption    /[[:alnum:]_.-]\@<!table[[:alnum:]_.-]\@!/ nextgroup=netscriptTableName skipwhite
syn match   netscriptStatement /[[:alnum:]_.-]\@<!table\ze\s\+[A-Za-z_][[:alnum:]_]*\s*=/ nextgroup=netscriptTableName skipwhite
syn keyword netscriptRepeat    for nextgroup=netscriptVarDef skipwhite
syn keyword netscriptRepeat    in
syn keyword netscriptInclude   include
" interface kinds
syn keyword netscriptKind      veth bridge macvlan ipvlan ipip gre vlan vxlan dummy vrf link nextgroup=netscriptIfName skipwhite
" attributes and the other statements of a body
syn keyword netscriptAttribute addr up down mtu mac shape filter netem qdisc bpf xdp rule reach noreach
syn keyword netscriptAttribute firewall
syn keyword netscriptAttribute master nextgroup=netscriptIfName skipwhite
syn keyword netscriptAttribute expect nextgroup=netscriptNsName skipwhite
syn keyword netscriptAttribute class nextgroup=netscriptClassId skipwhite
syn keyword netscriptAttribute htb nextgroup=netscriptHtbDefault skipwhite
syn keyword netscriptAttribute route nextgroup=netscriptValue skipwhite
syn keyword netscriptAttribute forward nextgroup=netscriptValue skipwhite
syn keyword netscriptAttribute sysctl nextgroup=netscriptSysctlKey skipwhite
" option words
syn keyword netscriptOption    via src dst metric from to fwmark uidrange priority pref ipproto tos dsfield dscp flowlabel onlink
syn keyword netscriptOption    advmss scope global nexthop weight blackhole unreachable prohibit
syn keyword netscriptOption    burst latency limit peakrate r2q direct_qlen divisor hashkey mask at ht sample match u32 u16 u8 cburst quantum ceil prio handle default proto sport dport delay jitter duplicate corrupt reorder gap action ok reclassify continue
syn keyword netscriptOption    loss rate remote group local peer port id protocol within ttl key
syn keyword netscriptOption    policy mark classify ct counter accept drop reject pass masquerade snat dnat
syn keyword netscriptOption    overhead mpu linklayer slot packets bytes distribution
syn keyword netscriptOption    on dev iif oif nextgroup=netscriptIfName skipwhite
syn keyword netscriptOption    lookup nextgroup=netscriptTableName skipwhite
syn keyword netscriptOption    mode nextgroup=netscriptValue skipwhite
syn keyword netscriptOption    section nextgroup=netscriptSection skipwhite
syn keyword netscriptHtbDefault default contained nextgroup=netscriptClassId skipwhite
" option values
syn keyword netscriptValue     tcp udp icmp ingress egress clsact generic native off private vepa passthru
syn keyword netscriptValue     ethernet atm state gemodel normal pareto paretonormal
syn keyword netscriptValue     icmpv6 input output prerouting postrouting new established related invalid

" ------------------------------------------------------------------ links
hi def link netscriptComment     Comment
hi def link netscriptTodo        Todo
hi def link netscriptString      String
hi def link netscriptEscape      SpecialChar
hi def link netscriptStatement   Statement
hi def link netscriptRepeat      Repeat
hi def link netscriptInclude     Include
hi def link netscriptKind        Type
hi def link netscriptAttribute   Function
hi def link netscriptOption      Keyword
hi def link netscriptHtbDefault  netscriptOption
hi def link netscriptValue       Constant
hi def link netscriptNsName      Structure
hi def link netscriptPeerNs      netscriptNsName
hi def link netscriptPeerDot     Delimiter
hi def link netscriptIfName      Identifier
hi def link netscriptVarDef      Identifier
hi def link netscriptVariable    Identifier
hi def link netscriptTableName   Label
hi def link netscriptClassId     Number
hi def link netscriptSysctlKey   PreProc
hi def link netscriptSection     Label
hi def link netscriptInterpDelim Delimiter
hi def link netscriptNumber      Number
hi def link netscriptRate        Float
hi def link netscriptSize        Float
hi def link netscriptDuration    Float
hi def link netscriptPercent     Float
hi def link netscriptIPv4        Constant
hi def link netscriptIPv6        Constant
hi def link netscriptMac         Constant
hi def link netscriptOperator    Operator
hi def link netscriptArrow       Operator
hi def link netscriptVeth        Operator
hi def link netscriptParen       Delimiter
hi def link netscriptBlock       Delimiter
hi def link netscriptSep         Delimiter

let b:current_syntax = 'netscript'
let &cpo = s:cpo_save
unlet s:cpo_save
