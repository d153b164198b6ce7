//! The lexical layer shared by the URI, header and message parsers (RFC 3261 §25.1): character
//! classes, linear white space with line folding, tokens, quoted strings and decimal numbers.
//!
//! Header values are parsed where they lie in the message, folding included: [`Cursor::skip_sws`]
//! treats `CRLF 1*WSP` as white space, so no unfolded copy of a value is ever made.

/// `token` characters: alphanum and `-.!%*_+` `` ` `` `'~`.
pub(crate) const fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        )
}

/// `word` characters (Call-ID): token characters and `()<>:\"/[]?{}`.
pub(crate) const fn is_word(b: u8) -> bool {
    is_token(b)
        || matches!(
            b,
            b'(' | b')'
                | b'<'
                | b'>'
                | b':'
                | b'\\'
                | b'"'
                | b'/'
                | b'['
                | b']'
                | b'?'
                | b'{'
                | b'}'
        )
}

/// `unreserved` = alphanum / mark.
pub(crate) const fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
        )
}

/// `reserved` = `;/?:@&=+$,`.
pub(crate) const fn is_reserved(b: u8) -> bool {
    matches!(
        b,
        b';' | b'/' | b'?' | b':' | b'@' | b'&' | b'=' | b'+' | b'$' | b','
    )
}

/// SP or HTAB.
pub(crate) const fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Whether `s` is `1*token`.
pub(crate) fn is_token_str(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_token(b))
}

/// Whether every byte of `s` is allowed by `allowed` or starts an `escaped` (`%` HEXDIG HEXDIG).
pub(crate) fn is_escaped_str(s: &[u8], allowed: impl Fn(u8) -> bool) -> bool {
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if b == b'%' {
            match (s.get(i + 1), s.get(i + 2)) {
                (Some(h), Some(l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => i += 3,
                _ => return false,
            }
        } else if allowed(b) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

/// Decodes `%HH` escapes; other bytes are copied. Malformed escapes are copied as they are (the
/// parsers have refused them before this is called on their output).
pub(crate) fn unescape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if b == b'%' {
            if let (Some(h), Some(l)) = (
                s.get(i + 1).and_then(|&c| hex_val(c)),
                s.get(i + 2).and_then(|&c| hex_val(c)),
            ) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

const fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// `1*DIGIT` as a `u32`; leading zeros are allowed, anything over `u32::MAX` is refused.
pub(crate) fn parse_u32(s: &[u8]) -> Option<u32> {
    if s.is_empty() {
        return None;
    }
    let mut v: u32 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u32::from(b - b'0'))?;
    }
    Some(v)
}

/// A Content-Length value: `SWS 1*DIGIT SWS` (RFC 3261 §20.14). Shared by the framer and the
/// message parser so that both read the same length from the same bytes.
pub(crate) fn content_length(value: &[u8]) -> Option<u32> {
    let mut c = Cursor::new(value);
    c.skip_sws();
    let digits = c.take_while(|b| b.is_ascii_digit());
    c.skip_sws();
    if !c.at_end() {
        return None;
    }
    parse_u32(digits)
}

/// Trims SP, HTAB, CR and LF from both ends.
pub(crate) fn trim(s: &[u8]) -> &[u8] {
    let ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = s.iter().position(|b| !ws(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !ws(b)).map_or(start, |i| i + 1);
    s.get(start..end).unwrap_or_default()
}

/// A position in a byte slice, with the scanning steps of the grammar.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) const fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    pub(crate) const fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn set_pos(&mut self, pos: usize) {
        self.pos = pos.min(self.buf.len());
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// The bytes from `from` to the current position.
    pub(crate) fn since(&self, from: usize) -> &'a [u8] {
        self.buf.get(from..self.pos).unwrap_or_default()
    }

    /// The bytes not yet consumed.
    #[cfg(test)]
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    /// Consumes `b` if it is next.
    pub(crate) fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes bytes while `f` holds and returns them.
    pub(crate) fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        self.since(start)
    }

    /// Skips `SWS`: spaces, tabs and line folds (`CRLF` followed by SP or HTAB). Says whether
    /// anything was skipped.
    pub(crate) fn skip_sws(&mut self) -> bool {
        let start = self.pos;
        loop {
            match self.peek() {
                Some(b' ' | b'\t') => self.pos += 1,
                Some(b'\r')
                    if self.buf.get(self.pos + 1) == Some(&b'\n')
                        && self.buf.get(self.pos + 2).is_some_and(|&b| is_wsp(b)) =>
                {
                    self.pos += 3;
                }
                _ => break,
            }
        }
        self.pos != start
    }

    /// `SWS b SWS`: consumes the separator and the white space around it, or nothing.
    pub(crate) fn sep(&mut self, b: u8) -> bool {
        let save = self.pos;
        self.skip_sws();
        if self.eat(b) {
            self.skip_sws();
            true
        } else {
            self.pos = save;
            false
        }
    }

    /// `1*token`.
    pub(crate) fn token(&mut self) -> Option<&'a [u8]> {
        let t = self.take_while(is_token);
        (!t.is_empty()).then_some(t)
    }

    /// A `quoted-string` starting at the current position; returns the text between the quotes,
    /// escapes and folds kept as written. `None` (position unchanged) if there is no complete,
    /// well-formed quoted string here.
    pub(crate) fn quoted(&mut self) -> Option<&'a [u8]> {
        let save = self.pos;
        if !self.eat(b'"') {
            return None;
        }
        let start = self.pos;
        loop {
            match self.peek() {
                None => break,
                Some(b'"') => {
                    let inner = self.since(start);
                    self.pos += 1;
                    return Some(inner);
                }
                // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
                Some(b'\\') => match self.buf.get(self.pos + 1) {
                    Some(&n) if n <= 0x7f && n != b'\r' && n != b'\n' => self.pos += 2,
                    _ => break,
                },
                // LWS inside qdtext
                Some(b'\r') => {
                    if !self.skip_sws() {
                        break;
                    }
                }
                // qdtext = LWS / %x21 / %x23-5B / %x5D-7E / UTF8-NONASCII
                Some(b) if is_wsp(b) || b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80 => {
                    self.pos += 1;
                }
                Some(_) => break,
            }
        }
        self.pos = save;
        None
    }
}

/// Undoes quoted-pair escapes and drops the CRLF of each line fold (the white space after it
/// stays): the text a quoted string stands for.
pub(crate) fn unquote(inner: &str) -> String {
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            '\r' => {
                // CRLF 1*WSP: the parser let in no other CR
                chars.next();
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sws_skips_folds_only_when_followed_by_whitespace() {
        let mut c = Cursor::new(b" \t\r\n  x");
        assert!(c.skip_sws());
        assert_eq!(c.peek(), Some(b'x'));
        let mut c = Cursor::new(b"\r\nx");
        assert!(!c.skip_sws());
        assert_eq!(c.pos(), 0);
        let mut c = Cursor::new(b" \r\n");
        c.skip_sws();
        assert_eq!(c.pos(), 1);
    }

    #[test]
    fn separators_restore_when_absent() {
        let mut c = Cursor::new(b"a  ;  b");
        c.set_pos(1);
        assert!(!c.sep(b','));
        assert_eq!(c.pos(), 1);
        assert!(c.sep(b';'));
        assert_eq!(c.rest(), b"b");
    }

    #[test]
    fn quoted_strings() {
        let mut c = Cursor::new(br#""J Rosenberg \\\"" x"#);
        assert_eq!(c.quoted(), Some(&br#"J Rosenberg \\\""#[..]));
        assert_eq!(c.rest(), b" x");
        // unterminated (RFC 4475 §3.1.2.6)
        let mut c = Cursor::new(br#""Mr. J. User <sip:j.user@example.com>"#);
        assert_eq!(c.quoted(), None);
        assert_eq!(c.pos(), 0);
        // quoted NUL, BEL and DEL (RFC 4475 §3.1.1.2)
        let mut c = Cursor::new(b"\"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f\"");
        assert!(c.quoted().is_some());
        // raw control characters are not qdtext
        let mut c = Cursor::new(b"\"a\x01b\"");
        assert_eq!(c.quoted(), None);
        // a fold inside the quotes
        let mut c = Cursor::new(b"\"a\r\n b\"");
        assert_eq!(c.quoted(), Some(&b"a\r\n b"[..]));
        let mut c = Cursor::new(b"\"a\r\nb\"");
        assert_eq!(c.quoted(), None);
        assert_eq!(unquote("a\\\"b\r\n c"), "a\"b c");
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_u32(b"0068"), Some(68));
        assert_eq!(parse_u32(b"4294967295"), Some(u32::MAX));
        assert_eq!(parse_u32(b"4294967296"), None);
        assert_eq!(parse_u32(b"36893488147419103232"), None);
        assert_eq!(parse_u32(b""), None);
        assert_eq!(parse_u32(b"-1"), None);
        assert_eq!(content_length(b" 150 "), Some(150));
        assert_eq!(content_length(b"\r\n 5"), Some(5));
        assert_eq!(content_length(b"-999"), None);
        assert_eq!(content_length(b"five"), None);
        assert_eq!(content_length(b"0, 0"), None);
    }

    #[test]
    fn escapes() {
        assert!(is_escaped_str(b"null-%00-null", is_unreserved));
        assert!(!is_escaped_str(b"%ZK", is_unreserved));
        assert!(!is_escaped_str(b"%4", is_unreserved));
        assert_eq!(
            unescape(b"sips%3Auser%40example.com"),
            b"sips:user@example.com"
        );
        assert_eq!(unescape(b"%00%00"), b"\0\0");
        assert_eq!(trim(b" \r\n a b \t"), b"a b");
        assert_eq!(trim(b"  "), b"");
    }
}
