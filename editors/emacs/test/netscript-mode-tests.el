;;; netscript-mode-tests.el --- ERT tests for netscript-mode  -*- lexical-binding: t; -*-

;;; Commentary:

;; Run from editors/ by test.sh:
;;   emacs --batch -Q -L emacs -l emacs/test/netscript-mode-tests.el -f ert-run-tests-batch-and-exit
;; Checks faces at the positions listed in test/sample.expect, comment settings,
;; the `<->' / `->' syntax, and indentation of test/indent.ns.

;;; Code:

(require 'ert)
(require 'seq)
(require 'netscript-mode)

(defconst netscript-tests-dir
  (expand-file-name "../../test/" (file-name-directory (or load-file-name buffer-file-name)))
  "The editors/test directory.")

(defconst netscript-tests-faces
  '((comment font-lock-comment-face font-lock-comment-delimiter-face)
    (string font-lock-string-face)
    (statement netscript-statement-face)
    (include netscript-statement-face)
    (repeat netscript-statement-face)
    (kind netscript-kind-face)
    (attribute netscript-attribute-face)
    (option netscript-option-face)
    (value netscript-value-face)
    (namespace netscript-namespace-face)
    (interface netscript-interface-face)
    (variable netscript-variable-face)
    (table netscript-table-face)
    (interp netscript-interpolation-face)
    (address netscript-address-face)
    (mac netscript-mac-face)
    (rate netscript-rate-face)
    (size netscript-size-face)
    (duration netscript-duration-face)
    (percentage netscript-percentage-face)
    (number netscript-number-face)
    (classid netscript-class-id-face)
    (operator netscript-operator-face)
    (bracket netscript-bracket-face)
    (separator netscript-delimiter-face)
    (sysctl netscript-sysctl-face)
    (section netscript-section-face))
  "The faces each class of test/sample.expect may have.")

(defun netscript-tests-read (file)
  "The contents of FILE in editors/test."
  (with-temp-buffer
    (insert-file-contents (expand-file-name file netscript-tests-dir))
    (buffer-string)))

(defun netscript-tests-faces-at (pos)
  "The faces at POS, as a list."
  (let ((face (get-text-property pos 'face)))
    (if (listp face) face (list face))))

(ert-deftest netscript-mode-auto-mode ()
  (should (eq (assoc-default "x.ns" auto-mode-alist #'string-match) 'netscript-mode)))

(ert-deftest netscript-mode-comments ()
  (with-temp-buffer
    (netscript-mode)
    (should (equal comment-start "# "))
    (insert "addr 10.0.0.1/24")
    (comment-region (point-min) (point-max))
    (should (equal (buffer-string) "# addr 10.0.0.1/24"))))

(ert-deftest netscript-mode-operators-are-not-brackets ()
  (with-temp-buffer
    (netscript-mode)
    (insert "netns a < veth v0 <-> b.v1; filter dport 80 -> 10 >")
    (syntax-propertize (point-max))
    ;; the `<' of `netns a <' closes at the last `>', across `<->' and `->'
    (goto-char (point-min))
    (search-forward "<")
    (should (equal (scan-lists (1- (point)) 1 0) (point-max)))))

(ert-deftest netscript-mode-faces ()
  (let ((checked 0) (failures nil))
    (with-temp-buffer
      (insert (netscript-tests-read "sample.ns"))
      (netscript-mode)
      (font-lock-ensure)
      (dolist (spec (split-string (netscript-tests-read "sample.expect") "\n" t))
        (unless (string-match-p "\\`[ \t]*#" spec)
          (let* ((fields (split-string spec))
                 (line (string-to-number (nth 0 fields)))
                 (token (nth 1 fields))
                 (class (intern (nth 2 fields)))
                 (n 1)
                 (want (cdr (assq class netscript-tests-faces)))
                 pos)
            (when (string-match "\\`\\(.+\\)#\\([0-9]+\\)\\'" token)
              (setq n (string-to-number (match-string 2 token))
                    token (match-string 1 token)))
            (goto-char (point-min))
            (forward-line (1- line))
            (let ((eol (line-end-position)))
              (dotimes (_ n)
                (setq pos (and (search-forward token eol t) (match-beginning 0)))))
            (setq checked (1+ checked))
            (should want)
            (cond
             ((null pos) (push (format "line %d: %s not found" line token) failures))
             ((not (seq-intersection want (netscript-tests-faces-at pos)))
              (push (format "line %d col %d %s: want %s %S, got %S"
                            line (save-excursion (goto-char pos) (1+ (current-column)))
                            token class want (netscript-tests-faces-at pos))
                    failures)))))))
    (should (> checked 100))
    (should (equal (reverse failures) nil))))

(ert-deftest netscript-mode-indentation ()
  (let ((want (netscript-tests-read "indent.ns")))
    (with-temp-buffer
      (insert (replace-regexp-in-string "^[ \t]+" "" want))
      (netscript-mode)
      (setq-local indent-tabs-mode nil)
      (indent-region (point-min) (point-max))
      (should (equal (buffer-string) want)))))

(provide 'netscript-mode-tests)

;;; netscript-mode-tests.el ends here
