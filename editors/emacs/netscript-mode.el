;;; netscript-mode.el --- Major mode for netscript files  -*- lexical-binding: t; -*-

;; Version: 0.1.0
;; Package-Requires: ((emacs "26.1"))
;; Keywords: languages

;; This file is not part of GNU Emacs.

;;; Commentary:

;; A major mode for netscript, a scripting language for Linux networking
;; (namespaces, interfaces, addresses, routes, rules and traffic control).
;; It gives font-lock for keywords, names (with `{expr}' interpolation),
;; addresses, rates, sizes, durations, percentages and numbers, `#' comments,
;; and indentation of `< ... >' blocks.
;;
;; Installation:
;;
;;   (add-to-list 'load-path "/path/to/netscript/editors/emacs")
;;   (require 'netscript-mode)
;;
;; Files ending in .ns then open in `netscript-mode'.
;;
;; The keyword lists follow grammar/netscript.pest; tests/editors_keywords.rs
;; checks that every keyword there appears here.

;;; Code:

(defgroup netscript nil
  "Major mode for netscript files."
  :group 'languages
  :prefix "netscript-")

(defcustom netscript-indent-offset 2
  "Number of columns a `< ... >' block is indented by."
  :type 'integer
  :safe #'integerp)

;;;; Faces

(defface netscript-statement-face '((t :inherit font-lock-keyword-face))
  "Face for statement keywords: netns, host, table, let, for, in, include.")
(defface netscript-kind-face '((t :inherit font-lock-type-face))
  "Face for interface kinds: veth, bridge, macvlan, ipvlan, vxlan, link.")
(defface netscript-attribute-face '((t :inherit font-lock-builtin-face))
  "Face for attributes and body statements: addr, mtu, shape, route, ...")
(defface netscript-option-face '((t :inherit font-lock-preprocessor-face))
  "Face for option words: via, dev, metric, burst, ...")
(defface netscript-value-face '((t :inherit font-lock-constant-face))
  "Face for option values: tcp, on, off, ingress, native, ...")
(defface netscript-namespace-face '((t :inherit font-lock-function-name-face))
  "Face for namespace names.")
(defface netscript-interface-face '((t :inherit font-lock-variable-name-face))
  "Face for interface names.")
(defface netscript-variable-face '((t :inherit font-lock-variable-name-face :slant italic))
  "Face for variables.")
(defface netscript-table-face '((t :inherit font-lock-constant-face))
  "Face for routing table names.")
(defface netscript-interpolation-face '((t :inherit font-lock-regexp-grouping-construct))
  "Face for the braces of a `{expr}' interpolation.")
(defface netscript-address-face '((t :inherit font-lock-constant-face))
  "Face for IPv4 and IPv6 addresses and prefixes.")
(defface netscript-mac-face '((t :inherit netscript-address-face))
  "Face for MAC addresses.")
(defface netscript-number-face '((t :inherit font-lock-constant-face))
  "Face for integers.")
(defface netscript-rate-face '((t :inherit netscript-number-face))
  "Face for rates: 1mbit, 100kbps.")
(defface netscript-size-face '((t :inherit netscript-number-face))
  "Face for sizes: 1500b, 10kb.")
(defface netscript-duration-face '((t :inherit netscript-number-face))
  "Face for durations: 250us, 70ms, 2s.")
(defface netscript-percentage-face '((t :inherit netscript-number-face))
  "Face for percentages: 1%, 0.25%.")
(defface netscript-class-id-face '((t :inherit netscript-number-face))
  "Face for htb class ids.")
(defface netscript-sysctl-face '((t :inherit font-lock-variable-name-face))
  "Face for sysctl keys.")
(defface netscript-section-face '((t :inherit font-lock-constant-face))
  "Face for ELF section names.")
(defface netscript-operator-face '((t :inherit font-lock-keyword-face :weight bold))
  "Face for operators: <-> -> .. ..= = + - * / %.")
(defface netscript-bracket-face '((t :weight bold))
  "Face for the block brackets < and >.")
(defface netscript-delimiter-face '((t :inherit default))
  "Face for the statement separator `;'.")

;;;; Keywords

(defconst netscript-statement-keywords '("netns" "host" "table" "let" "for" "in" "include")
  "Statement keywords.")
(defconst netscript-kind-keywords '("veth" "bridge" "macvlan" "ipvlan" "ipip" "gre" "vlan" "vxlan" "dummy" "vrf" "link")
  "Interface kinds.")
(defconst netscript-attribute-keywords
  '("addr" "up" "down" "mtu" "mac" "master" "shape" "htb" "class" "filter" "netem" "qdisc" "bpf"
    "xdp" "route" "rule" "forward" "sysctl" "expect" "reach" "noreach" "firewall")
  "Attributes and the other statements of a body.")
(defconst netscript-option-keywords
  '("via" "dev" "src" "dst" "metric" "from" "to" "iif" "oif" "fwmark" "uidrange" "ipproto" "tos" "dsfield" "dscp" "flowlabel" "onlink" "blackhole" "unreachable" "prohibit" "priority"
    "pref" "lookup" "burst" "latency" "limit" "peakrate" "r2q" "direct_qlen" "divisor" "hashkey" "mask" "at" "ht" "sample" "match" "u32" "u16" "u8" "cburst" "quantum" "ceil" "prio" "handle" "default" "proto" "sport" "dport" "delay"
    "policy" "mark" "classify" "ct" "counter" "accept" "drop" "reject" "pass" "masquerade" "snat" "dnat"
    "overhead" "mpu" "linklayer" "slot" "packets" "bytes" "distribution"
    "jitter" "loss" "duplicate" "corrupt" "reorder" "gap" "action" "ok" "reclassify" "continue" "rate" "mode" "section" "on" "remote" "group" "local" "peer" "port" "id" "protocol" "ttl" "key" "within"
    "advmss" "scope" "global" "nexthop" "weight")
  "Option words.")
(defconst netscript-value-keywords
  '("tcp" "udp" "icmp" "ingress" "egress" "clsact" "generic" "native" "off" "private" "vepa" "passthru"
    "ethernet" "atm" "state" "gemodel" "normal" "pareto" "paretonormal"
    "icmpv6" "input" "output" "prerouting" "postrouting" "new" "established" "related" "invalid")
  "Option values.")

;; Units, as in tc. Rate and size units are case-insensitive.
(defconst netscript-rate-units '("kbit" "mbit" "gbit" "tbit" "bit" "kbps" "mbps" "gbps" "tbps" "bps"))
(defconst netscript-size-units '("kb" "mb" "gb" "b" "k" "m" "g"))
(defconst netscript-duration-units '("ns" "us" "ms" "s"))

(eval-and-compile
  (defun netscript--any-case (word)
    "A regexp matching WORD in any letter case."
    (mapconcat (lambda (c)
                 (if (and (>= c ?a) (<= c ?z))
                     (format "[%c%c]" c (upcase c))
                   (regexp-quote (char-to-string c))))
               word "")))

(defconst netscript--interp "{[^{}\n]*}"
  "Regexp for a `{expr}' interpolation.")
(defconst netscript--ns-name
  (concat "\\(?:[[:alnum:]_-]\\|" netscript--interp "\\)+")
  "Regexp for a namespace name.")
(defconst netscript--if-name
  (concat "\\(?:[[:alnum:]_.-]\\|" netscript--interp "\\)+")
  "Regexp for an interface name.")
(defconst netscript--var "[A-Za-z_][A-Za-z0-9_]*"
  "Regexp for a variable name.")
(defconst netscript--class-id
  (concat "\\(?:[[:xdigit:]]+:\\)?\\(?:[[:xdigit:]]+\\|" netscript--interp "\\)\\_>")
  "Regexp for an htb class id.")
(defconst netscript--octet (concat "\\(?:[0-9]+\\|" netscript--interp "\\)")
  "Regexp for an IPv4 octet or prefix length.")

(defun netscript--kw (words)
  "A regexp matching any of WORDS as a whole symbol."
  (concat "\\_<" (regexp-opt words t) "\\_>"))

(defun netscript--in-interpolation-p (pos)
  "Non-nil when POS is inside a `{expr}' interpolation."
  (save-excursion
    (goto-char pos)
    (skip-chars-backward "^{}\n")
    (eq (char-before) ?{)))

(defun netscript--match-interpolated (limit)
  "Font-lock matcher: the next expression token inside `{...}' before LIMIT.
Group 1 is a variable, 2 a number, 3 an operator."
  (let (found)
    (while (and (not found)
                (re-search-forward
                 "\\([A-Za-z_][A-Za-z0-9_]*\\)\\|\\(0x[[:xdigit:]]+\\|[0-9]+\\)\\|\\([-+*/%()]\\)"
                 limit t))
      (when (netscript--in-interpolation-p (match-beginning 0))
        (setq found t)))
    found))

(defun netscript--unit-regexp (units case-fold)
  "A regexp for a number followed by one of UNITS; any letter case if CASE-FOLD."
  (concat "\\b[0-9]+\\(?:\\.[0-9]+\\)?"
          (if case-fold
              (concat "\\(?:" (mapconcat #'netscript--any-case units "\\|") "\\)")
            (regexp-opt units))
          "\\b"))

(defconst netscript-font-lock-keywords
  `(;; interpolation: its braces and the expression inside
    ("[{}]" 0 'netscript-interpolation-face)
    (netscript--match-interpolated
     (1 'netscript-variable-face nil t)
     (2 'netscript-number-face nil t)
     (3 'netscript-operator-face nil t))
    ;; names, read from the keyword before them
    (,(concat "\\_<\\(?:netns\\|expect\\)[ \t]+\\(" netscript--ns-name "\\)")
     1 'netscript-namespace-face keep)
    (,(concat "<->[ \t]*\\(?:\\(" netscript--ns-name "\\)\\.\\)?\\(" netscript--if-name "\\)?")
     (1 'netscript-namespace-face keep t)
     (2 'netscript-interface-face keep t))
    (,(concat "\\_<\\(?:veth\\|bridge\\|macvlan\\|ipvlan\\|ipip\\|gre\\|vlan\\|vxlan\\|link\\|master\\|dev\\|iif\\|oif\\|on\\)"
              "[ \t]+\\(" netscript--if-name "\\)")
     1 'netscript-interface-face keep)
    (,(concat "\\_<\\(?:let\\|for\\)[ \t]+\\(" netscript--var "\\)")
     1 'netscript-variable-face keep)
    (,(concat "\\_<\\(table\\)[ \t]+\\(" netscript--var "\\)[ \t]*=")
     (1 'netscript-statement-face)
     (2 'netscript-table-face))
    (,(concat "\\_<\\(?:table\\|lookup\\)[ \t]+\\(" netscript--var "\\)\\_>")
     1 'netscript-table-face)
    (,(concat "\\_<sysctl[ \t]+\\(\\(?:[[:alnum:]_./-]\\|" netscript--interp "\\)+\\)")
     1 'netscript-sysctl-face keep)
    ("\\_<section[ \t]+\\([[:alnum:]_/.-]+\\)" 1 'netscript-section-face)
    (,(concat "\\(?:\\_<class\\|->\\|\\_<htb[ \t]+default\\)[ \t]*\\(" netscript--class-id "\\)")
     1 'netscript-class-id-face keep)
    ;; keywords whose meaning depends on the word before them
    ("\\_<mode[ \t]+\\(bridge\\|private\\|vepa\\|passthru\\|l2\\|l3s\\|l3\\|generic\\|native\\)\\_>"
     1 'netscript-value-face)
    ("\\_<forward[ \t]+\\(on\\|off\\)\\_>" 1 'netscript-value-face)
    ("\\_<route[ \t]+\\(default\\)\\_>" 1 'netscript-value-face)
    ;; literals
    ("\\_<[[:xdigit:]]\\{2\\}\\(?::[[:xdigit:]]\\{2\\}\\)\\{5\\}\\_>" 0 'netscript-mac-face)
    (,(concat "\\(?:^\\|[^[:alnum:]_.-]\\)\\(" netscript--octet "\\(?:\\." netscript--octet "\\)\\{3\\}"
              "\\(?:/" netscript--octet "\\)?\\)")
     1 'netscript-address-face keep)
    (,(concat "\\(?:^\\|[^[:alnum:]_.:-]\\)\\(\\(?:[[:xdigit:]]\\{0,4\\}:\\)\\{2,\\}[[:xdigit:]:.]*"
              "\\(?:/" netscript--octet "\\)?\\)")
     1 'netscript-address-face keep)
    (,(netscript--unit-regexp netscript-rate-units t) 0 'netscript-rate-face)
    (,(netscript--unit-regexp netscript-size-units t) 0 'netscript-size-face)
    (,(netscript--unit-regexp netscript-duration-units nil) 0 'netscript-duration-face)
    ("\\b[0-9]+\\(?:\\.[0-9]+\\)?%" 0 'netscript-percentage-face)
    ("\\b\\(?:0x[[:xdigit:]]+\\|[0-9]+\\)\\b" 0 'netscript-number-face)
    ;; keywords
    ;; `table' states a table only before `NAME =' (above); elsewhere it is an option
    (,(netscript--kw (remove "table" netscript-statement-keywords)) 1 'netscript-statement-face)
    (,(netscript--kw netscript-kind-keywords) 1 'netscript-kind-face)
    (,(netscript--kw netscript-attribute-keywords) 1 'netscript-attribute-face)
    (,(netscript--kw (cons "table" netscript-option-keywords)) 1 'netscript-option-face)
    (,(netscript--kw netscript-value-keywords) 1 'netscript-value-face)
    ;; operators and punctuation
    ("<->\\|->\\|\\.\\.=?\\|[-+*/%=]" 0 'netscript-operator-face)
    ("[<>]" 0 'netscript-bracket-face)
    (";" 0 'netscript-delimiter-face)
    ;; variables in expressions
    (,(concat "\\_<" netscript--var) 0 'netscript-variable-face))
  "Font-lock keywords for `netscript-mode'.
Earlier entries win: names and literals are fontified before the keywords.")

;;;; Syntax

(defvar netscript-mode-syntax-table
  (let ((table (make-syntax-table)))
    (modify-syntax-entry ?# "<" table)
    (modify-syntax-entry ?\n ">" table)
    (modify-syntax-entry ?\" "\"" table)
    (modify-syntax-entry ?\\ "\\" table)
    (modify-syntax-entry ?< "(>" table)
    (modify-syntax-entry ?> ")<" table)
    (modify-syntax-entry ?{ "(}" table)
    (modify-syntax-entry ?} "){" table)
    (modify-syntax-entry ?_ "_" table)
    (modify-syntax-entry ?- "_" table)
    (dolist (c '(?. ?: ?/ ?= ?+ ?* ?% ?\; ?,))
      (modify-syntax-entry c "." table))
    table)
  "Syntax table for `netscript-mode'.
`-' is part of a name, so `netns-x' holds no keyword; `<' and `>' are block
brackets, except in the `<->' and `->' operators (see
`netscript-syntax-propertize').")

(defconst netscript-syntax-propertize
  (syntax-propertize-rules ("<?->" (0 ".")))
  "Make the `<' and `>' of the `<->' and `->' operators punctuation.")

;;;; Indentation

(defun netscript--leading-closers ()
  "The number of `>' that start the current line, before anything else."
  (save-excursion
    (back-to-indentation)
    (let ((n 0))
      (while (eq (char-after) ?>)
        (setq n (1+ n))
        (forward-char)
        (skip-chars-forward " \t"))
      n)))

(defun netscript-indent-line ()
  "Indent the current line: one `netscript-indent-offset' per open block."
  (interactive)
  (let* ((ppss (save-excursion (syntax-ppss (line-beginning-position))))
         (depth (car ppss))
         (in-string (nth 3 ppss))
         (column (max 0 (* netscript-indent-offset
                            (- depth (netscript--leading-closers))))))
    (unless in-string
      (if (<= (current-column) (current-indentation))
          (indent-line-to column)
        (save-excursion (indent-line-to column))))))

;;;; Mode

;;;###autoload
(define-derived-mode netscript-mode prog-mode "netscript"
  "Major mode for editing netscript files.

\\{netscript-mode-map}"
  :syntax-table netscript-mode-syntax-table
  (setq-local comment-start "# ")
  (setq-local comment-end "")
  (setq-local comment-start-skip "#+[ \t]*")
  (setq-local syntax-propertize-function netscript-syntax-propertize)
  (setq-local font-lock-defaults '(netscript-font-lock-keywords nil nil))
  (setq-local indent-line-function #'netscript-indent-line)
  (setq-local electric-indent-chars (cons ?> electric-indent-chars)))

;;;###autoload
(add-to-list 'auto-mode-alist '("\\.ns\\'" . netscript-mode))

;; The language server (`netscript lsp`) with eglot: M-x eglot in a netscript buffer.
(defvar eglot-server-programs)
(with-eval-after-load 'eglot
  (add-to-list 'eglot-server-programs '(netscript-mode "netscript" "lsp")))

(provide 'netscript-mode)

;;; netscript-mode.el ends here
