//! The formatter's tokens: the source cut where whitespace, separators, blocks and
//! comments are, every other character kept as written.
//!
//! pest drops comments (they are implicit rules), so the formatter does not work from
//! the AST: it reads this token stream, in which each token's text is the source's own.
//! Only the text between tokens changes when a script is formatted, which is what makes
//! formatting meaning-preserving by construction (see `docs/FORMATTING.md`).

/// One token. `glued` says there was no whitespace before it in the source: words and
/// strings that touched stay touching (`include"a.ns"`, `x=1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub kind: Kind,
    pub glued: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A run of characters that are not whitespace, separators, blocks, comments or
    /// strings; `{expr}` interpolations inside it are kept whole, spaces included.
    Word(String),
    /// A string literal, quotes included.
    Str(String),
    /// A sysctl value as written, trailing whitespace left out (as the parser does).
    Raw(String),
    Open,
    Close,
    /// `<->` of a veth.
    Pair,
    /// `->` of a filter.
    Arrow,
    Semi,
    Newline,
    /// `# ...`, trailing whitespace left out.
    Comment(String),
}

/// Cuts `text` into tokens. Total: any text gives tokens (the formatter only formats
/// text that parses, so odd input never reaches the layout).
pub fn tokens(text: &str) -> Vec<Token> {
    let mut lexer = Lexer { text, pos: 0, out: Vec::new(), first_word: None, words_in_stmt: 0 };
    lexer.run();
    lexer.out
}

struct Lexer<'a> {
    text: &'a str,
    pos: usize,
    out: Vec<Token>,
    /// The first word of the statement being read (decides `->` and sysctl values).
    first_word: Option<String>,
    words_in_stmt: usize,
}

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.text[self.pos..].chars().nth(ahead)
    }

    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn push(&mut self, kind: Kind, glued: bool) {
        if matches!(kind, Kind::Newline | Kind::Semi | Kind::Open | Kind::Close) {
            self.first_word = None;
            self.words_in_stmt = 0;
        }
        self.out.push(Token { kind, glued });
    }

    /// Skips spaces, tabs and line continuations; true when it skipped any.
    fn skip_space(&mut self) -> bool {
        let start = self.pos;
        loop {
            let rest = self.rest();
            if rest.starts_with(' ') || rest.starts_with('\t') {
                self.pos += 1;
            } else if rest.starts_with("\\\r\n") {
                self.pos += 3;
            } else if rest.starts_with("\\\n") || rest.starts_with("\\\r") {
                self.pos += 2;
            } else {
                break;
            }
        }
        self.pos > start
    }

    fn run(&mut self) {
        loop {
            let spaced = self.skip_space();
            let glued = !spaced;
            let Some(c) = self.peek(0) else { break };
            match c {
                '\n' => {
                    self.pos += 1;
                    self.push(Kind::Newline, glued);
                }
                '\r' => {
                    self.pos += if self.rest().starts_with("\r\n") { 2 } else { 1 };
                    self.push(Kind::Newline, glued);
                }
                ';' => {
                    self.pos += 1;
                    self.push(Kind::Semi, glued);
                }
                '#' => {
                    let end = self.rest().find(['\n', '\r']).map_or(self.text.len(), |i| self.pos + i);
                    let comment = self.text[self.pos..end].trim_end().to_string();
                    self.pos = end;
                    self.push(Kind::Comment(comment), glued);
                }
                '<' if self.rest().starts_with("<->") => {
                    self.pos += 3;
                    self.push(Kind::Pair, glued);
                }
                '<' => {
                    self.pos += 1;
                    self.push(Kind::Open, glued);
                }
                '>' => {
                    self.pos += 1;
                    self.push(Kind::Close, glued);
                }
                '-' if self.rest().starts_with("->") => {
                    self.pos += 2;
                    self.push(Kind::Arrow, glued);
                }
                '"' => {
                    let s = self.string();
                    self.words_in_stmt += 1;
                    self.push(Kind::Str(s), glued);
                }
                _ => self.word(glued),
            }
        }
    }

    /// A string literal from its opening quote: up to the closing quote or the line's end.
    fn string(&mut self) -> String {
        let start = self.pos;
        self.pos += 1;
        while let Some(c) = self.peek(0) {
            match c {
                '\\' => self.pos += 1 + self.peek(1).map_or(0, char::len_utf8),
                '"' => {
                    self.pos += 1;
                    break;
                }
                '\n' | '\r' => break,
                c => self.pos += c.len_utf8(),
            }
        }
        self.text[start..self.pos].to_string()
    }

    fn word(&mut self, glued: bool) {
        let in_filter = self.first_word.as_deref() == Some("filter");
        let in_sysctl = self.first_word.as_deref() == Some("sysctl");
        let start = self.pos;
        while let Some(c) = self.peek(0) {
            match c {
                ' ' | '\t' | '\n' | '\r' | ';' | '#' | '<' | '>' | '"' => break,
                // A line continuation is whitespace.
                '\\' if matches!(self.peek(1), Some('\n' | '\r')) => break,
                // `->` ends a word only in a filter: elsewhere `-` is a name character
                // (`link a->` is the name `a-` and a block's end).
                '-' if in_filter && self.rest().starts_with("->") => break,
                // A sysctl's `=` starts its value, which keeps its inner spaces.
                '=' if in_sysctl => break,
                '{' => {
                    let len = self.rest().find('}').map_or(self.rest().len(), |i| i + 1);
                    self.pos += len;
                }
                c => self.pos += c.len_utf8(),
            }
        }
        if self.pos > start {
            let word = self.text[start..self.pos].to_string();
            if self.words_in_stmt == 0 {
                self.first_word = Some(word.clone());
            }
            self.words_in_stmt += 1;
            self.push(Kind::Word(word), glued);
        }
        if in_sysctl && self.peek(0) == Some('=') {
            let glued_eq = self.pos == start && glued || self.pos > start;
            self.pos += 1;
            self.push(Kind::Word("=".into()), glued_eq);
            self.sysctl_value();
        }
    }

    /// After a sysctl's `=`: a string, or everything up to the statement's end.
    fn sysctl_value(&mut self) {
        let glued = !self.skip_space();
        if self.peek(0) == Some('"') {
            let s = self.string();
            self.push(Kind::Str(s), glued);
            return;
        }
        let len = self.rest().find(['\n', '\r', ';', '<', '>', '#']).unwrap_or(self.rest().len());
        let raw = self.text[self.pos..self.pos + len].trim_end().to_string();
        self.pos += len;
        if !raw.is_empty() {
            self.push(Kind::Raw(raw), glued);
        }
    }
}
