//! C's HTTP server allow list: nothing goes to an inside server unless a rule allows its scheme,
//! host, port, method and path (guide, "Configuring the HTTP server allow list on Expressway-C";
//! MRA-NOTES, "Allow list rules").
//!
//! Rules come from two places:
//!
//! - **automatic**, one set per configured inside server ([`InsideServer`]); the paths are our
//!   choice (the guide names the servers, not the paths):
//!   - Unified CM (UDS): `https://host:8443/cucm-uds/` prefix, `GET, PUT, POST, DELETE`;
//!   - TFTP: `http://host:6970/` and `https://host:6972/` prefix (any path), `GET, HEAD`;
//!   - IM and Presence: `https://host:8443/cup-uds/` and `/EPASSoap/` prefix, `GET, POST`;
//!   - Unity Connection (visual voicemail): `https://host:443/vmrest/` prefix,
//!     `GET, PUT, POST, DELETE`;
//! - **manual**, from the operator or a CSV file in the form of MRA-NOTES
//!   (`url, deployment, "GET,PUT", exact|prefix, description`; [`AllowList::import_csv`]).
//!
//! Hosts compare in canonical form ([`Host`]): names lowercase without trailing dot, IP
//! literals as one [`IpAddr`]; non-canonical numeric spellings (`0x7f.1`, `3232235777`) are
//! refused at parse time, in requests, rules and redirects alike, so they never reach a
//! comparison. Paths compare decoded once ([`InsidePath::decoded`]); a prefix rule matches at
//! a segment boundary (`/vmrest` allows `/vmrest/x`, not `/vmrestx`).
//!
//! A name matches only a rule for that name: a rule for an IP address does not allow names that
//! resolve to it (not done yet). After resolution, [`AllowList::check_resolved`] picks the address
//! to connect to and refuses loopback, link-local, unspecified, multicast and broadcast addresses
//! unless a rule names that address, so a name that rebinds to `127.0.0.1` reaches nothing.

use core::fmt;
use std::net::IpAddr;

use super::target::{canonical_ip, Host, InsidePath, ProxyTarget, Scheme, TargetError};

/// An HTTP method an allow-list rule may allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// GET
    Get,
    /// HEAD
    Head,
    /// POST
    Post,
    /// PUT
    Put,
    /// DELETE
    Delete,
    /// OPTIONS
    Options,
    /// PATCH
    Patch,
}

impl Method {
    /// Every method, in the order CSV export writes them.
    pub const ALL: [Method; 7] = [
        Method::Get,
        Method::Head,
        Method::Post,
        Method::Put,
        Method::Delete,
        Method::Options,
        Method::Patch,
    ];

    /// Parses a method name (case-sensitive, as HTTP methods are).
    pub fn parse(s: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// The method as written on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Patch => "PATCH",
        }
    }

    const fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of methods.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Methods(u8);

impl Methods {
    /// The set of these methods.
    pub fn of(methods: &[Method]) -> Methods {
        Methods(methods.iter().fold(0, |acc, m| acc | m.bit()))
    }

    /// Whether the set holds `m`.
    pub const fn contains(self, m: Method) -> bool {
        self.0 & m.bit() != 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The methods, in [`Method::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Method> {
        Method::ALL.into_iter().filter(move |m| self.contains(*m))
    }
}

/// How a rule's path compares with a request's path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatchKind {
    /// The decoded path equals the rule's path.
    Exact,
    /// The decoded path starts with the rule's path at a segment boundary.
    Prefix,
}

impl MatchKind {
    /// `exact` or `prefix`, as in CSV.
    pub const fn as_str(self) -> &'static str {
        match self {
            MatchKind::Exact => "exact",
            MatchKind::Prefix => "prefix",
        }
    }
}

/// Where a rule came from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Origin {
    /// Made from a configured inside server; cannot be removed by the operator.
    Automatic(InsideServerKind),
    /// Entered by the operator or imported from CSV.
    Manual {
        /// The deployment the rule belongs to (the second CSV column); may be empty.
        deployment: String,
    },
}

/// One allow-list rule.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Rule {
    /// The scheme C uses.
    pub scheme: Scheme,
    /// The inside server, canonical.
    pub host: Host,
    /// Its port.
    pub port: u16,
    /// The path, decoded, starting with `/`.
    pub path: String,
    /// How the path compares.
    pub match_kind: MatchKind,
    /// Methods allowed.
    pub methods: Methods,
    /// Free text for the operator.
    pub description: String,
    /// Automatic or manual.
    pub origin: Origin,
}

/// Why a manual rule could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RuleError {
    /// The URL is not `http(s)://host[:port]/path` with a canonical host and a clean path.
    BadUrl(TargetError),
    /// No methods, or a method name not known.
    BadMethods,
    /// Neither `exact` nor `prefix`.
    BadMatch,
    /// A control character in the description or deployment.
    BadText,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleError::BadUrl(e) => write!(f, "bad url: {e}"),
            RuleError::BadMethods => f.write_str("methods empty or unknown"),
            RuleError::BadMatch => f.write_str("match is neither exact nor prefix"),
            RuleError::BadText => f.write_str("control character in text"),
        }
    }
}

impl std::error::Error for RuleError {}

impl Rule {
    /// A manual rule from a URL `scheme://host[:port][/path]` (port defaults to the scheme's,
    /// path to `/`).
    pub fn manual(
        url: &str,
        deployment: &str,
        methods: Methods,
        match_kind: MatchKind,
        description: &str,
    ) -> Result<Rule, RuleError> {
        let (scheme, host, port, path) = parse_url(url).map_err(RuleError::BadUrl)?;
        if path.query().is_some() {
            return Err(RuleError::BadUrl(TargetError::BadQuery));
        }
        if methods.is_empty() {
            return Err(RuleError::BadMethods);
        }
        if [deployment, description]
            .iter()
            .any(|t| t.chars().any(char::is_control))
        {
            return Err(RuleError::BadText);
        }
        Ok(Rule {
            scheme,
            host,
            port,
            path: path.decoded().to_owned(),
            match_kind,
            methods,
            description: description.to_owned(),
            origin: Origin::Manual {
                deployment: deployment.to_owned(),
            },
        })
    }

    /// The rule's URL, `scheme://host:port/path`, port always written.
    pub fn url(&self) -> String {
        format!("{}://{}:{}{}", self.scheme, self.host, self.port, self.path)
    }

    fn matches_server(&self, scheme: Scheme, host: &Host, port: u16) -> bool {
        self.scheme == scheme && &self.host == host && self.port == port
    }

    fn matches_path(&self, decoded: &str) -> bool {
        match self.match_kind {
            MatchKind::Exact => decoded == self.path,
            MatchKind::Prefix => {
                decoded.starts_with(&self.path)
                    && (self.path.ends_with('/')
                        || decoded.len() == self.path.len()
                        || decoded.as_bytes().get(self.path.len()) == Some(&b'/'))
            }
        }
    }
}

/// Parses `scheme://host[:port][/path][?query]` (no userinfo, no fragment).
fn parse_url(url: &str) -> Result<(Scheme, Host, u16, InsidePath), TargetError> {
    let (scheme, rest) = url.split_once("://").ok_or(TargetError::BadScheme)?;
    let scheme = Scheme::parse(scheme).ok_or(TargetError::BadScheme)?;
    if rest.contains('#') {
        return Err(TargetError::BadTargetSyntax);
    }
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path_query) = rest.split_at(end);
    if authority.contains('@') {
        return Err(TargetError::BadTargetSyntax);
    }
    let (host, port) = match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => (&authority[..i], Some(&authority[i + 1..])),
        _ => (authority, None),
    };
    let host = Host::parse_url(host).map_err(TargetError::BadHost)?;
    let port = match port {
        Some(p) => super::target::parse_port(p).ok_or(TargetError::BadPort)?,
        None => scheme.default_port(),
    };
    let (path, query) = match path_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_query, None),
    };
    let path = InsidePath::parse(if path.is_empty() { "/" } else { path }, query)?;
    Ok((scheme, host, port, path))
}

/// The kind of a configured inside server, which decides its automatic rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InsideServerKind {
    /// Unified CM running the user data service.
    Cucm,
    /// Unified CM running TFTP (config files over HTTP).
    Tftp,
    /// IM and Presence.
    ImP,
    /// Unity Connection (visual voicemail).
    Voicemail,
}

impl InsideServerKind {
    /// The (scheme, port, path prefix, methods) of the automatic rules for this kind, when the
    /// server uses its default port.
    fn rules(self) -> &'static [(Scheme, u16, &'static str, &'static [Method])] {
        use Method::*;
        match self {
            InsideServerKind::Cucm => {
                &[(Scheme::Https, 8443, "/cucm-uds/", &[Get, Put, Post, Delete])]
            }
            InsideServerKind::Tftp => &[
                (Scheme::Http, 6970, "/", &[Get, Head]),
                (Scheme::Https, 6972, "/", &[Get, Head]),
            ],
            InsideServerKind::ImP => &[
                (Scheme::Https, 8443, "/cup-uds/", &[Get, Post]),
                (Scheme::Https, 8443, "/EPASSoap/", &[Get, Post]),
            ],
            InsideServerKind::Voicemail => {
                &[(Scheme::Https, 443, "/vmrest/", &[Get, Put, Post, Delete])]
            }
        }
    }
}

/// An inside server C knows of (discovered or configured).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InsideServer {
    /// What it runs.
    pub kind: InsideServerKind,
    /// Its address, canonical.
    pub host: Host,
}

/// Why C refuses a request (or a redirect, or an address).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// No rule for this scheme, host and port.
    NoRuleForServer,
    /// Rules for the server, but none for this path.
    PathNotAllowed,
    /// A rule for the path, but not for this method.
    MethodNotAllowed,
    /// The name resolved to nothing.
    NoAddress,
    /// Every resolved address is loopback, link-local, unspecified, multicast or broadcast and no
    /// rule names it (DNS rebinding).
    ForbiddenAddress(IpAddr),
    /// The inside server's `Location` is not a URL we can check.
    BadRedirect(TargetError),
    /// The redirect leads where no rule allows.
    RedirectNotAllowed(Box<Refusal>),
}

impl Refusal {
    /// The status E answers the client with: 502 when the inside server's answer was bad or the
    /// name did not resolve, 403 otherwise.
    pub const fn status_code(&self) -> u16 {
        match self {
            Refusal::NoAddress | Refusal::BadRedirect(_) => 502,
            _ => 403,
        }
    }

    /// A short label for counters.
    pub const fn reason(&self) -> &'static str {
        match self {
            Refusal::NoRuleForServer => "no_rule_for_server",
            Refusal::PathNotAllowed => "path_not_allowed",
            Refusal::MethodNotAllowed => "method_not_allowed",
            Refusal::NoAddress => "no_address",
            Refusal::ForbiddenAddress(_) => "forbidden_address",
            Refusal::BadRedirect(_) => "bad_redirect",
            Refusal::RedirectNotAllowed(_) => "redirect_not_allowed",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NoRuleForServer => f.write_str("no allow-list rule for this server"),
            Refusal::PathNotAllowed => f.write_str("no allow-list rule for this path"),
            Refusal::MethodNotAllowed => f.write_str("method not allowed by the allow list"),
            Refusal::NoAddress => f.write_str("name resolved to no address"),
            Refusal::ForbiddenAddress(a) => write!(f, "resolved to forbidden address {a}"),
            Refusal::BadRedirect(e) => write!(f, "bad redirect Location: {e}"),
            Refusal::RedirectNotAllowed(r) => write!(f, "redirect refused: {r}"),
        }
    }
}

impl std::error::Error for Refusal {}

/// The allow list C checks before any inside request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowList {
    rules: Vec<Rule>,
}

impl AllowList {
    /// An allow list with the automatic rules of `servers` and the `manual` rules.
    pub fn new(servers: &[InsideServer], manual: Vec<Rule>) -> AllowList {
        let mut rules = Vec::new();
        for s in servers {
            for &(scheme, port, path, methods) in s.kind.rules() {
                rules.push(Rule {
                    scheme,
                    host: s.host.clone(),
                    port,
                    path: path.to_owned(),
                    match_kind: MatchKind::Prefix,
                    methods: Methods::of(methods),
                    description: format!("automatic ({:?})", s.kind),
                    origin: Origin::Automatic(s.kind),
                });
            }
        }
        rules.extend(manual);
        AllowList { rules }
    }

    /// Every rule, automatic first.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The manual rules.
    pub fn manual_rules(&self) -> impl Iterator<Item = &Rule> {
        self.rules
            .iter()
            .filter(|r| matches!(r.origin, Origin::Manual { .. }))
    }

    /// The rule that allows `method` on `target` and `path`, or why none does.
    pub fn check(
        &self,
        method: Method,
        target: &ProxyTarget,
        path: &InsidePath,
    ) -> Result<&Rule, Refusal> {
        let mut refusal = Refusal::NoRuleForServer;
        for r in &self.rules {
            if !r.matches_server(target.scheme, &target.host, target.port) {
                continue;
            }
            if !r.matches_path(path.decoded()) {
                if refusal == Refusal::NoRuleForServer {
                    refusal = Refusal::PathNotAllowed;
                }
                continue;
            }
            if r.methods.contains(method) {
                return Ok(r);
            }
            refusal = Refusal::MethodNotAllowed;
        }
        Err(refusal)
    }

    /// Picks the address to connect to for `target` among `resolved` (the DNS answer the driver
    /// got, or nothing when the host is an IP literal): the first one that is not loopback,
    /// link-local, unspecified, multicast or broadcast, or that a rule names explicitly. The
    /// driver must connect to exactly the address returned (no second lookup).
    pub fn check_resolved(
        &self,
        target: &ProxyTarget,
        resolved: &[IpAddr],
    ) -> Result<IpAddr, Refusal> {
        let literal;
        let candidates = match target.host {
            Host::Ip(ip) => {
                literal = [ip];
                &literal[..]
            }
            Host::Name(_) => resolved,
        };
        let mut first_bad = None;
        for &ip in candidates {
            let ip = canonical_ip(ip);
            if !is_special(ip) || self.rules.iter().any(|r| r.host == Host::Ip(ip)) {
                return Ok(ip);
            }
            first_bad.get_or_insert(ip);
        }
        Err(first_bad.map_or(Refusal::NoAddress, Refusal::ForbiddenAddress))
    }

    /// Checks a redirect `location` from a response to a request to `from` and, when a rule
    /// allows it, returns where it leads (the domain kept). `method` is the method the driver
    /// would follow it with. An absolute path stays on `from`'s server; a relative reference
    /// or anything unparsable is a [`Refusal::BadRedirect`].
    pub fn check_redirect(
        &self,
        method: Method,
        from: &ProxyTarget,
        location: &str,
    ) -> Result<(ProxyTarget, InsidePath), Refusal> {
        let (target, path) = if location.starts_with('/') && !location.starts_with("//") {
            if location.contains('#') {
                return Err(Refusal::BadRedirect(TargetError::BadTargetSyntax));
            }
            let (p, q) = match location.split_once('?') {
                Some((p, q)) => (p, Some(q)),
                None => (location, None),
            };
            let path = InsidePath::parse(p, q).map_err(Refusal::BadRedirect)?;
            (from.clone(), path)
        } else {
            let (scheme, host, port, path) = parse_url(location).map_err(Refusal::BadRedirect)?;
            let target = ProxyTarget {
                domain: from.domain.clone(),
                scheme,
                host,
                port,
            };
            (target, path)
        };
        match self.check(method, &target, &path) {
            Ok(_) => Ok((target, path)),
            Err(r) => Err(Refusal::RedirectNotAllowed(Box::new(r))),
        }
    }

    /// Reads manual rules from CSV: one rule a line, `url, deployment, methods, exact|prefix,
    /// description`, fields optionally in double quotes (`""` for a quote inside), spaces
    /// around fields ignored, blank lines and a first line starting with `url` skipped.
    pub fn import_csv(text: &str) -> Result<Vec<Rule>, CsvError> {
        let mut rules = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.trim().is_empty() {
                continue;
            }
            let fields = split_csv_line(line).map_err(|(column, kind)| CsvError {
                line: line_no,
                column,
                kind,
            })?;
            if i == 0
                && fields
                    .first()
                    .is_some_and(|f| f.1.eq_ignore_ascii_case("url"))
            {
                continue;
            }
            let err = |column: usize, kind| CsvError {
                line: line_no,
                column,
                kind,
            };
            let [(c_url, url), (c_dep, deployment), (c_m, methods), (c_k, kind), (_, desc)] =
                <[(usize, String); 5]>::try_from(fields)
                    .map_err(|f| err(f.last().map_or(1, |x| x.0), CsvErrorKind::FieldCount))?;
            let mut set = Vec::new();
            for m in methods.split(',') {
                let m = m.trim();
                set.push(
                    Method::parse(m).ok_or(err(c_m, CsvErrorKind::Rule(RuleError::BadMethods)))?,
                );
            }
            let match_kind = match kind.to_ascii_lowercase().as_str() {
                "exact" => MatchKind::Exact,
                "prefix" => MatchKind::Prefix,
                _ => return Err(err(c_k, CsvErrorKind::Rule(RuleError::BadMatch))),
            };
            let rule = Rule::manual(&url, &deployment, Methods::of(&set), match_kind, &desc)
                .map_err(|e| {
                    let column = match e {
                        RuleError::BadUrl(_) => c_url,
                        RuleError::BadText => c_dep,
                        _ => c_m,
                    };
                    err(column, CsvErrorKind::Rule(e))
                })?;
            rules.push(rule);
        }
        Ok(rules)
    }

    /// Writes the manual rules as CSV, with a header line; [`AllowList::import_csv`] reads it
    /// back to the same rules.
    pub fn export_csv(&self) -> String {
        let mut out = String::from("url,deployment,methods,match,description\n");
        for r in self.manual_rules() {
            let deployment = match &r.origin {
                Origin::Manual { deployment } => deployment.as_str(),
                Origin::Automatic(_) => "",
            };
            let methods: Vec<&str> = r.methods.iter().map(Method::as_str).collect();
            let fields = [
                r.url(),
                deployment.to_owned(),
                methods.join(","),
                r.match_kind.as_str().to_owned(),
                r.description.clone(),
            ];
            let quoted: Vec<String> = fields.iter().map(|f| csv_quote(f)).collect();
            out.push_str(&quoted.join(","));
            out.push('\n');
        }
        out
    }
}

/// Loopback, link-local, unspecified, multicast, broadcast (after IPv4-mapped folding).
fn is_special(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            a.is_loopback()
                || a.is_link_local()
                || a.is_unspecified()
                || a.is_multicast()
                || a.is_broadcast()
                || a.octets()[0] == 0
        }
        IpAddr::V6(a) => {
            a.is_loopback()
                || a.is_unspecified()
                || a.is_multicast()
                || (a.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

fn csv_quote(f: &str) -> String {
    if f.contains([',', '"']) || f.trim() != f || f.is_empty() {
        format!("\"{}\"", f.replace('"', "\"\""))
    } else {
        f.to_owned()
    }
}

/// Splits one CSV line into (1-based column of the field start, field).
fn split_csv_line(line: &str) -> Result<Vec<(usize, String)>, (usize, CsvErrorKind)> {
    let chars: Vec<char> = line.chars().collect();
    let mut fields = Vec::new();
    let mut i = 0;
    loop {
        while i < chars.len() && chars[i] == ' ' {
            i += 1;
        }
        let start = i + 1;
        let mut field = String::new();
        if chars.get(i) == Some(&'"') {
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err((start, CsvErrorKind::UnterminatedQuote)),
                    Some('"') if chars.get(i + 1) == Some(&'"') => {
                        field.push('"');
                        i += 2;
                    }
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some(&c) => {
                        field.push(c);
                        i += 1;
                    }
                }
            }
            while i < chars.len() && chars[i] == ' ' {
                i += 1;
            }
            if i < chars.len() && chars[i] != ',' {
                return Err((i + 1, CsvErrorKind::TextAfterQuote));
            }
        } else {
            while i < chars.len() && chars[i] != ',' {
                if chars[i] == '"' {
                    return Err((i + 1, CsvErrorKind::StrayQuote));
                }
                field.push(chars[i]);
                i += 1;
            }
            field.truncate(field.trim_end().len());
        }
        fields.push((start, field));
        if i >= chars.len() {
            return Ok(fields);
        }
        i += 1; // the comma
    }
}

/// What is wrong at a place in a CSV file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CsvErrorKind {
    /// Not five fields.
    FieldCount,
    /// A quoted field without its closing quote on the line.
    UnterminatedQuote,
    /// Something after a quoted field's closing quote other than a comma.
    TextAfterQuote,
    /// A quote inside an unquoted field.
    StrayQuote,
    /// The fields do not make a rule.
    Rule(RuleError),
}

/// A CSV import error: where (1-based line and character column) and what.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CsvError {
    /// The line, from 1.
    pub line: usize,
    /// The column (character), from 1, of the field or character at fault.
    pub column: usize,
    /// What is wrong.
    pub kind: CsvErrorKind,
}

impl fmt::Display for CsvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}: ", self.line, self.column)?;
        match self.kind {
            CsvErrorKind::FieldCount => f.write_str("expected 5 fields"),
            CsvErrorKind::UnterminatedQuote => f.write_str("unterminated quote"),
            CsvErrorKind::TextAfterQuote => f.write_str("text after closing quote"),
            CsvErrorKind::StrayQuote => f.write_str("quote inside unquoted field"),
            CsvErrorKind::Rule(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for CsvError {}
