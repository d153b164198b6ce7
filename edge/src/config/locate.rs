//! Which field a TOML parse error is about.
//!
//! The `toml` crate reports where in the text an error lies (a byte span), not the key path. For
//! our files — tables, arrays of tables, one key per line, inline arrays of inline tables — the
//! path can be read back from the text: the last `[table]` or `[[table]]` header before the
//! error, the key that starts the statement, and, inside an array of inline tables, the index
//! and the innermost key. This is a reading of the text, not a TOML parser: it falls back to
//! the nearest enclosing name it can tell.

/// The dotted path of the field at byte `offset` of `src` (e.g. `c.call_control[1].transport`),
/// with the 1-based line and column.
pub(super) fn locate(src: &str, offset: usize) -> (String, usize, usize) {
    let offset = offset.min(src.len());
    let before = &src[..floor_char_boundary(src, offset)];
    let line_no = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;

    let mut header = String::new();
    let mut array_counts: Vec<(String, usize)> = Vec::new();
    // Byte offset where the current statement (`key = …`) starts, and its key.
    let mut statement: Option<(usize, String)> = None;
    let mut pos = 0;
    for line in src.split_inclusive('\n') {
        if pos > offset {
            break;
        }
        let trimmed = line.trim();
        if let Some(name) = trimmed
            .strip_prefix("[[")
            .and_then(|r| r.split("]]").next())
        {
            let name = name.trim().to_string();
            let n = match array_counts.iter_mut().find(|(k, _)| *k == name) {
                Some((_, n)) => {
                    *n += 1;
                    *n - 1
                }
                None => {
                    array_counts.push((name.clone(), 1));
                    0
                }
            };
            header = format!("{name}[{n}]");
            statement = None;
        } else if let Some(name) = trimmed
            .strip_prefix('[')
            .and_then(|r| r.split(']').next())
            .filter(|_| statement_key(trimmed).is_none())
        {
            header = name.trim().to_string();
            statement = None;
        } else if let Some(key) = statement_key(trimmed) {
            let indent = line.len() - line.trim_start().len();
            statement = Some((pos + indent, key));
        }
        pos += line.len();
    }

    let mut path = header;
    if let Some((start, key)) = statement {
        let start = start.min(before.len());
        let rest = &before[start..];
        push(&mut path, &key);
        // Inside an array of inline tables: `key = [ {…}, { a = 1, b = "x" } ]`.
        if let Some(value) = rest.split_once('=').map(|(_, v)| v.trim_start()) {
            if let Some(inner) = value.strip_prefix('[') {
                let (index, inner_key) = inline_position(inner);
                if let Some(i) = index {
                    path.push_str(&format!("[{i}]"));
                    if let Some(k) = inner_key {
                        push(&mut path, &k);
                    }
                }
            } else if value.starts_with('{') {
                if let (_, Some(k)) = inline_position(value) {
                    push(&mut path, &k);
                }
            }
        }
    }
    // An error on a key itself (an unknown field inside an inline table): that key.
    if let Some(key) = src[before.len()..].lines().next().and_then(statement_key) {
        if path != key && !path.ends_with(&format!(".{key}")) {
            push(&mut path, &key);
        }
    }
    if path.is_empty() {
        path = "(top level)".to_string();
    }
    (path, line_no, col)
}

fn push(path: &mut String, key: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(key);
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// `key` when `line` starts a statement `key = …` (bare or dotted keys, or a quoted key).
fn statement_key(line: &str) -> Option<String> {
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    let bare = |k: &str| {
        !k.is_empty()
            && k.split('.').all(|part| {
                let part = part.trim();
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            })
    };
    if bare(key) {
        return Some(key.split('.').map(str::trim).collect::<Vec<_>>().join("."));
    }
    let quoted = key.strip_prefix('"')?.strip_suffix('"')?;
    Some(quoted.to_string())
}

/// In the text of an array after its `[`, up to the error: the index of the element the error
/// is in (an inline table, or an element of an array of plain values) and, in a table, the last
/// key written in it before the error.
fn inline_position(text: &str) -> (Option<usize>, Option<String>) {
    let mut depth = 0usize;
    let mut commas = 0usize;
    let mut in_string: Option<char> = None;
    let mut current_start = None;
    let mut prev = '\0';
    for (i, c) in text.char_indices() {
        if let Some(q) = in_string {
            if c == q && prev != '\\' {
                in_string = None;
            }
        } else {
            match c {
                '"' | '\'' => in_string = Some(c),
                '{' => {
                    if depth == 0 {
                        current_start = Some(i + 1);
                    }
                    depth += 1;
                }
                '}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        current_start = None;
                    }
                }
                ',' if depth == 0 => commas += 1,
                _ => {}
            }
        }
        prev = c;
    }
    // The element's index is the number of commas before it at the array's own level.
    let Some(start) = current_start else {
        return (Some(commas), None);
    };
    let inside = &text[start..];
    // The last `key =` at the table's own level.
    let key = inside
        .rsplit([',', '{'])
        .next()
        .and_then(|seg| statement_key(seg.trim()));
    (Some(commas), key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(src: &str, needle: &str) -> String {
        let off = src.find(needle).unwrap();
        locate(src, off).0
    }

    #[test]
    fn paths() {
        let src = r#"role = 5

[e]
fqdn = "e.example"
sip_tls = 5061

[[e.credentials]]
username = "a"

[[e.credentials]]
usernme = "b"

[c]
call_control = [{ address = "a", transport = "tcp" }, { address = "b", transport = 9 }]
peers = [
  "a:1",
  { address = "b", http_port = "x" },
]
[media.xdp]
rate = "x"
"#;
        assert_eq!(at(src, "5\n"), "role");
        assert_eq!(at(src, "5061"), "e.sip_tls");
        assert_eq!(at(src, "usernme"), "e.credentials[1].usernme");
        assert_eq!(at(src, "9 }"), "c.call_control[1].transport");
        assert_eq!(at(src, "\"x\" }"), "c.peers[1].http_port");
        assert_eq!(
            at("[c]\npeers = [\"a\", { adress = \"x\" }]\n", "adress"),
            "c.peers[1].adress"
        );
        assert_eq!(at(src, "\"x\"\n"), "media.xdp.rate");
        assert_eq!(
            at("[media]\ntraversal_pairs = [36000, \"a\"]\n", "\"a"),
            "media.traversal_pairs[1]"
        );
        let (_, line, col) = locate(src, src.find("5061").unwrap());
        assert_eq!((line, col), (5, 11));
        assert_eq!(locate("", 0).0, "(top level)");
    }
}
