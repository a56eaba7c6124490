# Helix names some captures differently from nvim-treesitter: queries/helix/*.scm are
# queries/*.scm through this script (editors/test.sh checks they are in sync).
s/@module\b/@namespace/g
s/@number\b/@constant.numeric/g
s/@property\b/@variable.other.member/g
s/@variable\.member\b/@variable.other.member/g
s/@keyword\.repeat\b/@keyword.control.repeat/g
s/@keyword\.import\b/@keyword.control.import/g
1c\
; netscript highlights for Helix, generated from ../highlights.scm by helix.sed.
2d
