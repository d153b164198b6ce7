//! The SDP grammar of RFC 4566 §5, as far as a B2BUA must enforce it.

use super::{Connection, Line, Media, Origin, Sdp, SdpError, Section};

/// Bounds on what [`Sdp::parse`] accepts (a description over them is refused before any line is
/// looked at in detail).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes in all (a SIP body is at most 64 KiB; real offers are under 4 KiB).
    pub max_bytes: usize,
    /// Lines in all.
    pub max_lines: usize,
    /// Media sections.
    pub max_media: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 16 * 1024,
            max_lines: 512,
            max_media: 16,
        }
    }
}

const SESSION_TYPES: &[u8] = b"vosiuepcbtrzka";
const MEDIA_TYPES: &[u8] = b"micbka";

fn err(line: usize, problem: &'static str) -> SdpError {
    SdpError { line, problem }
}

pub(super) fn parse(body: &[u8], limits: &Limits) -> Result<Sdp, SdpError> {
    if body.len() > limits.max_bytes {
        return Err(err(0, "larger than the size limit"));
    }
    let text = std::str::from_utf8(body).map_err(|_| err(0, "not UTF-8"))?;
    // CRLF per RFC 4566 §5; a bare LF is accepted as the RFC asks parsers to be tolerant.
    let mut raw: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    while raw.last().is_some_and(|l| l.is_empty()) {
        raw.pop();
    }
    if raw.is_empty() {
        return Err(err(0, "empty"));
    }
    if raw.len() > limits.max_lines {
        return Err(err(0, "more lines than the limit"));
    }
    let mut session = Section::default();
    let mut media: Vec<Section> = Vec::new();
    for (i, l) in raw.iter().enumerate() {
        let n = i + 1;
        let b = l.as_bytes();
        let (&kind, rest) = b.split_first().ok_or_else(|| err(n, "empty line"))?;
        if rest.first() != Some(&b'=') {
            return Err(err(n, "not of the form x=value"));
        }
        if !kind.is_ascii_lowercase() {
            return Err(err(n, "the type is not a lower-case letter"));
        }
        if l.contains('\r') {
            return Err(err(n, "a bare CR inside a line"));
        }
        let value = &l[2..];
        match (i, kind) {
            (0, b'v') if value == "0" => {}
            (0, _) => return Err(err(n, "the first line must be v=0")),
            (1, b'o') => {
                Origin::parse(value).map_err(|p| err(n, p))?;
            }
            (1, _) => return Err(err(n, "the second line must be o=")),
            (2, b's') => {}
            (2, _) => return Err(err(n, "the third line must be s=")),
            _ => {}
        }
        if kind == b'm' {
            if media.len() == limits.max_media {
                return Err(err(n, "more media sections than the limit"));
            }
            Media::parse(value).map_err(|p| err(n, p))?;
            media.push(Section::default());
        } else {
            let allowed = if media.is_empty() {
                SESSION_TYPES
            } else {
                MEDIA_TYPES
            };
            if !allowed.contains(&kind) {
                return Err(err(
                    n,
                    if SESSION_TYPES.contains(&kind) || MEDIA_TYPES.contains(&kind) {
                        "a line of this type is not allowed here"
                    } else {
                        "unknown line type (RFC 4566 §5: the description is ignored)"
                    },
                ));
            }
            if kind == b'c' {
                Connection::parse(value).map_err(|p| err(n, p))?;
            }
        }
        let line = Line::new(kind, value);
        match media.last_mut() {
            Some(m) => m.lines.push(line),
            None => session.lines.push(line),
        }
    }
    if session.line(b't').is_none() {
        return Err(err(0, "no t= line"));
    }
    for kind in [b'v', b'o', b's', b'c'] {
        if session.lines.iter().filter(|l| l.kind == kind).count() > 1 {
            return Err(err(0, "v=, o=, s= or the session's c= more than once"));
        }
    }
    for m in &media {
        if m.lines.iter().filter(|l| l.kind == b'c').count() > 1 {
            return Err(err(
                0,
                "a media section with more than one c= (multicast layers are not supported)",
            ));
        }
    }
    if session.connection().is_none() && media.iter().any(|m| m.line(b'c').is_none()) {
        return Err(err(
            0,
            "no c= at session level and a media section without its own",
        ));
    }
    Ok(Sdp { session, media })
}
