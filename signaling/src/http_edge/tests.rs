//! Tests of the HTTPS edge logic: targets, paths, hosts, the allow list, CSV, the edge config.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::allow_list::*;
use super::edge_config::*;
use super::target::*;

fn b64(s: &str) -> String {
    encode_base64_url(s.as_bytes())
}

fn proxy(t: &str) -> Result<(ProxyTarget, InsidePath), TargetError> {
    match parse_request_target(t)? {
        EdgeRequest::Proxy { target, path } => Ok((target, path)),
        other => panic!("not a proxy request: {other:?}"),
    }
}

fn cucm_target(rest: &str) -> String {
    format!("/{}{rest}", b64("example.com/https/cucm1.example.com/8443"))
}

#[test]
fn base64_alphabets_and_padding() {
    assert_eq!(decode_base64("dGJ0cC5jb20").unwrap(), b"tbtp.com");
    assert_eq!(decode_base64("dGJ0cC5jb20=").unwrap(), b"tbtp.com");
    assert_eq!(decode_base64("+/8=").unwrap(), [0xfb, 0xff]);
    assert_eq!(decode_base64("-_8").unwrap(), [0xfb, 0xff]);
    assert_eq!(decode_base64("YQ==").unwrap(), b"a");
    assert_eq!(decode_base64("YQ").unwrap(), b"a");
    assert_eq!(decode_base64("YWI").unwrap(), b"ab");
    assert_eq!(decode_base64("YWJj").unwrap(), b"abc");
    for (bad, e) in [
        ("", Base64Error::Empty),
        ("Y", Base64Error::BadLength),
        ("YQ=", Base64Error::BadLength),
        ("YQ===", Base64Error::BadLength),
        ("YWJj=", Base64Error::BadLength),
        ("====", Base64Error::BadLength),
        ("Y=Q=", Base64Error::BadPadding),
        ("YR", Base64Error::TrailingBits),
        ("+_8", Base64Error::MixedAlphabets),
        ("YW.j", Base64Error::BadChar(2)),
        ("YW j", Base64Error::BadChar(2)),
    ] {
        assert_eq!(decode_base64(bad), Err(e), "{bad:?}");
    }
    for n in 1..40u8 {
        let data: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37).wrapping_add(n)).collect();
        assert_eq!(decode_base64(&encode_base64_url(&data)).unwrap(), data);
    }
}

#[test]
fn edge_config_forms() {
    let r = parse_request_target(
        "/dGJ0cC5jb20/get_edge_config?service_name=_cisco-uds&service_name=_cuplogin",
    )
    .unwrap();
    assert_eq!(
        r,
        EdgeRequest::EdgeConfig {
            domain: "tbtp.com".into(),
            service_names: vec!["_cisco-uds".into(), "_cuplogin".into()],
        }
    );
    let r = parse_request_target("/dGJ0cC5jb20=/get_edge_config/").unwrap();
    assert_eq!(
        r,
        EdgeRequest::EdgeConfig {
            domain: "tbtp.com".into(),
            service_names: vec![]
        }
    );
    assert_eq!(
        parse_request_target("/dGJ0cC5jb20/other"),
        Err(TargetError::UnknownForm)
    );
    assert_eq!(
        parse_request_target("/dGJ0cC5jb20/get_edge_config?service_name=%00"),
        Err(TargetError::BadQuery)
    );
    assert_eq!(
        parse_request_target(&format!("/{}/get_edge_config", b64("10.0.0.1"))),
        Err(TargetError::BadDomain(HostError::IpNotAllowed))
    );
}

#[test]
fn proxy_target_parsed() {
    let (t, p) = proxy(&cucm_target("/cucm-uds/user/alice/devices?x=1")).unwrap();
    assert_eq!(t.domain, "example.com");
    assert_eq!(t.scheme, Scheme::Https);
    assert_eq!(t.host, Host::Name("cucm1.example.com".into()));
    assert_eq!(t.port, 8443);
    assert_eq!(p.path(), "/cucm-uds/user/alice/devices");
    assert_eq!(p.query(), Some("x=1"));
    assert_eq!(p.request_target(), "/cucm-uds/user/alice/devices?x=1");
    assert_eq!(
        ProxyTarget::parse("example.com/https/cucm1.example.com/8443")
            .unwrap()
            .encode(),
        b64("example.com/https/cucm1.example.com/8443")
    );

    let (t, p) = proxy(&format!(
        "/{}",
        b64("Example.COM/HTTP/TFTP.example.com./6970")
    ))
    .unwrap();
    assert_eq!(
        (t.domain.as_str(), t.scheme, t.port),
        ("example.com", Scheme::Http, 6970)
    );
    assert_eq!(t.host, Host::Name("tftp.example.com".into()));
    assert_eq!(p.path(), "/");
    let (t, _) = proxy(&format!("/{}/x", b64("e.com/https/[::ffff:10.0.0.1]/443"))).unwrap();
    assert_eq!(t.host, Host::Ip(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))));
    let (t, _) = proxy(&format!("/{}/x", b64("e.com/https/2001:db8::1/443"))).unwrap();
    assert_eq!(t.host, Host::Ip("2001:db8::1".parse().unwrap()));
}

#[test]
fn proxy_target_refusals_are_400() {
    let cases: &[(&str, TargetError)] = &[
        ("e.com/https/h.e.com", TargetError::BadTargetSyntax),
        ("e.com/https/h.e.com/443/x", TargetError::BadTargetSyntax),
        ("e.com/https/user@h.e.com/443", TargetError::BadTargetSyntax),
        ("e.com/https/h .e.com/443", TargetError::BadTargetSyntax),
        ("e.com/https/h\r.e.com/443", TargetError::BadTargetSyntax),
        ("e.com/ftp/h.e.com/443", TargetError::BadScheme),
        ("e.com/https/h.e.com/0", TargetError::BadPort),
        ("e.com/https/h.e.com/65536", TargetError::BadPort),
        ("e.com/https/h.e.com/08443", TargetError::BadPort),
        ("e.com/https/h.e.com/+443", TargetError::BadPort),
        ("e.com/https/h.e.com/", TargetError::BadPort),
        ("e.com/https//443", TargetError::BadHost(HostError::Empty)),
        (
            "e.com/https/h%2e.com/443",
            TargetError::BadHost(HostError::BadName),
        ),
        (
            "e.com/https/-h.com/443",
            TargetError::BadHost(HostError::BadName),
        ),
        (
            "e.com/https/a..b/443",
            TargetError::BadHost(HostError::BadName),
        ),
        (
            "e.com/https/[fe80::1%25eth0]/443",
            TargetError::BadHost(HostError::BadIpv6),
        ),
        (
            "e.com/https/[::1/443",
            TargetError::BadHost(HostError::BadIpv6),
        ),
        (
            "/https/h.e.com/443",
            TargetError::BadDomain(HostError::Empty),
        ),
    ];
    for (t, e) in cases {
        let got = proxy(&format!("/{}/x", b64(t)));
        assert_eq!(got, Err(*e), "{t:?}");
        assert_eq!(e.status_code(), 400);
    }
    assert_eq!(proxy("x"), Err(TargetError::NotOriginForm));
    assert_eq!(proxy("//x"), Err(TargetError::NotOriginForm));
    assert_eq!(
        proxy("/!!/x"),
        Err(TargetError::Base64(Base64Error::BadChar(0)))
    );
    assert_eq!(
        proxy(&format!("/{}/x", encode_base64_url(b"\xff\xfe/a/b/c"))),
        Err(TargetError::NotUtf8)
    );
}

#[test]
fn non_canonical_ip_spellings_refused() {
    for h in [
        "3232235777",
        "0300.0250.0.1",
        "0xc0a80001",
        "0xC0.0xA8.0.1",
        "0x7f.1",
        "127.1",
        "127.0.1",
        "0177.0.0.1",
        "127.000.0.1",
        "192.168.0.1.",
        "1.2.3.4.5",
        "256.1.1.1",
        "0x7f",
        "0",
        "1.2.3.0x4",
        "foo.0x10",
        "foo.123",
    ] {
        assert_eq!(Host::parse_url(h), Err(HostError::NonCanonicalIp), "{h}");
        let got = proxy(&format!("/{}/x", b64(&format!("e.com/http/{h}/80"))));
        assert_eq!(
            got,
            Err(TargetError::BadHost(HostError::NonCanonicalIp)),
            "{h}"
        );
        assert_eq!(
            TargetError::BadHost(HostError::NonCanonicalIp).reason(),
            "non_canonical_ip"
        );
    }
    assert_eq!(
        Host::parse_url("192.168.0.1"),
        Ok(Host::Ip(IpAddr::V4(Ipv4Addr::new(192, 168, 0, 1))))
    );
    assert_eq!(
        Host::parse_url("[::ffff:192.168.0.1]"),
        Ok(Host::Ip(IpAddr::V4(Ipv4Addr::new(192, 168, 0, 1))))
    );
    assert_eq!(
        Host::parse_url("[::ffff:c0a8:1]"),
        Ok(Host::Ip(IpAddr::V4(Ipv4Addr::new(192, 168, 0, 1))))
    );
    assert_eq!(Host::parse_url("::1"), Err(HostError::BadIpv6));
    assert_eq!(
        Host::parse_url("[::1]"),
        Ok(Host::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST)))
    );
    assert_eq!(
        Host::parse_url("1x.example.COM."),
        Ok(Host::Name("1x.example.com".into()))
    );
    assert_eq!(
        Host::parse_url("0xfoo.com"),
        Ok(Host::Name("0xfoo.com".into()))
    );
}

#[test]
fn path_refusals() {
    let cases: &[(&str, PathError)] = &[
        ("/a/../b", PathError::DotSegment),
        ("/a/..", PathError::DotSegment),
        ("/a/./b", PathError::DotSegment),
        ("/a/%2e%2e/b", PathError::DotSegment),
        ("/a/%2E./b", PathError::DotSegment),
        ("/a/.%2e/b", PathError::DotSegment),
        ("/a/%2e/b", PathError::DotSegment),
        ("/a/..;x=1/b", PathError::DotSegment),
        ("/a/.../b", PathError::DotSegment),
        ("/a/..%20/b", PathError::DotSegment),
        ("/a/%252e%252e/b", PathError::DoubleEncoding),
        ("/a/%252F", PathError::DoubleEncoding),
        ("/a/%2f../b", PathError::EncodedSlash),
        ("/a/%2F", PathError::EncodedSlash),
        ("/a/%5c..", PathError::EncodedSlash),
        ("/a/%5C", PathError::EncodedSlash),
        ("/a\\..\\b", PathError::BadChar),
        ("/a/%00", PathError::ControlChar),
        ("/a/%0d%0aHost:x", PathError::ControlChar),
        ("/a/%7f", PathError::ControlChar),
        ("/a/%c2%85", PathError::ControlChar),
        ("/a/%ff", PathError::NotUtf8),
        ("/a//b", PathError::EmptySegment),
        ("/a/b c", PathError::BadChar),
        ("/a/%zz", PathError::BadChar),
        ("/a/%2", PathError::BadChar),
        ("/a/é", PathError::BadChar),
        ("/a/b#frag", PathError::BadChar),
    ];
    for (p, e) in cases {
        let got = proxy(&cucm_target(p));
        assert_eq!(got, Err(TargetError::BadPath(*e)), "{p:?}");
        assert_eq!(TargetError::BadPath(*e).status_code(), 400);
    }
    let ok = InsidePath::parse("/cucm-uds/user/al%69ce/", Some("a=%2F&b=c?d")).unwrap();
    assert_eq!(ok.path(), "/cucm-uds/user/al%69ce/");
    assert_eq!(ok.decoded(), "/cucm-uds/user/alice/");
    assert_eq!(
        InsidePath::parse("/a/.well", None).unwrap().decoded(),
        "/a/.well"
    );
    assert_eq!(
        InsidePath::parse("/a", Some("x=%00")),
        Err(TargetError::BadQuery)
    );
    assert_eq!(
        InsidePath::parse("/a", Some("x y")),
        Err(TargetError::BadQuery)
    );
}

fn name(s: &str) -> Host {
    Host::parse_url(s).unwrap()
}

fn list() -> AllowList {
    let servers = [
        InsideServer {
            kind: InsideServerKind::Cucm,
            host: name("cucm1.example.com"),
        },
        InsideServer {
            kind: InsideServerKind::Tftp,
            host: name("cucm1.example.com"),
        },
        InsideServer {
            kind: InsideServerKind::Voicemail,
            host: name("cuc.example.com"),
        },
        InsideServer {
            kind: InsideServerKind::ImP,
            host: name("192.168.0.10"),
        },
    ];
    let manual = vec![
        Rule::manual(
            "https://photos.example.com/photo/",
            "",
            Methods::of(&[Method::Get]),
            MatchKind::Prefix,
            "photos",
        )
        .unwrap(),
        Rule::manual(
            "http://192.168.0.1:8080/exact",
            "dep",
            Methods::of(&[Method::Get]),
            MatchKind::Exact,
            "",
        )
        .unwrap(),
        Rule::manual(
            "http://127.0.0.1:8081/",
            "",
            Methods::of(&[Method::Get]),
            MatchKind::Prefix,
            "local",
        )
        .unwrap(),
    ];
    AllowList::new(&servers, manual)
}

fn check(l: &AllowList, m: Method, url_target: &str, rest: &str) -> Result<(), Refusal> {
    let (t, p) = proxy(&format!("/{}{rest}", b64(url_target))).unwrap();
    l.check(m, &t, &p).map(|_| ())
}

#[test]
fn allow_list_checks() {
    let l = list();
    let ok = |m, t, r| assert_eq!(check(&l, m, t, r), Ok(()), "{t} {r}");
    ok(
        Method::Get,
        "e.com/https/cucm1.example.com/8443",
        "/cucm-uds/user/alice/devices",
    );
    ok(
        Method::Get,
        "e.com/https/CUCM1.example.com./8443",
        "/cucm-uds/user/alice",
    );
    ok(
        Method::Get,
        "e.com/https/cucm1.example.com/8443",
        "/cucm%2Duds/user",
    );
    ok(
        Method::Get,
        "e.com/http/cucm1.example.com/6970",
        "/SPDefault.cnf.xml",
    );
    ok(
        Method::Put,
        "e.com/https/cuc.example.com/443",
        "/vmrest/messages/1",
    );
    ok(
        Method::Post,
        "e.com/https/192.168.0.10/8443",
        "/EPASSoap/service",
    );
    ok(
        Method::Get,
        "e.com/https/[::ffff:192.168.0.10]/8443",
        "/cup-uds/x",
    );
    ok(
        Method::Get,
        "e.com/https/photos.example.com/443",
        "/photo/alice.jpg",
    );
    ok(Method::Get, "e.com/http/192.168.0.1/8080", "/exact");

    let no = |m, t, r, e: Refusal| {
        assert_eq!(check(&l, m, t, r), Err(e.clone()), "{t} {r}");
        assert_eq!(e.status_code(), 403);
    };
    no(
        Method::Get,
        "e.com/https/cucm2.example.com/8443",
        "/cucm-uds/",
        Refusal::NoRuleForServer,
    );
    no(
        Method::Get,
        "e.com/http/cucm1.example.com/8443",
        "/cucm-uds/",
        Refusal::NoRuleForServer,
    );
    no(
        Method::Get,
        "e.com/https/cucm1.example.com/443",
        "/cucm-uds/",
        Refusal::NoRuleForServer,
    );
    no(
        Method::Get,
        "e.com/https/cucm1.example.com/8443",
        "/ccmadmin/",
        Refusal::PathNotAllowed,
    );
    no(
        Method::Get,
        "e.com/https/cucm1.example.com/8443",
        "/cucm-uds",
        Refusal::PathNotAllowed,
    );
    no(
        Method::Get,
        "e.com/https/cucm1.example.com/8443",
        "/cucm-udsx/",
        Refusal::PathNotAllowed,
    );
    no(
        Method::Post,
        "e.com/http/cucm1.example.com/6970",
        "/x",
        Refusal::MethodNotAllowed,
    );
    no(
        Method::Get,
        "e.com/http/192.168.0.1/8080",
        "/exact/",
        Refusal::PathNotAllowed,
    );
    no(
        Method::Put,
        "e.com/http/192.168.0.1/8080",
        "/exact",
        Refusal::MethodNotAllowed,
    );
    no(
        Method::Get,
        "e.com/https/photos.example.com/443",
        "/photos/x",
        Refusal::PathNotAllowed,
    );
    no(
        Method::Get,
        "e.com/http/[::1]/8081",
        "/",
        Refusal::NoRuleForServer,
    );
    no(
        Method::Get,
        "e.com/http/localhost/8081",
        "/",
        Refusal::NoRuleForServer,
    );
    // The rule's own spelling, in other numeric forms: refused before any rule is looked at.
    for h in [
        "3232235777",
        "0300.0250.0.1",
        "0xc0a80001",
        "0xc0.0xa8.0.1",
        "192.168.1",
    ] {
        let t = format!("/{}/exact", b64(&format!("e.com/http/{h}/8080")));
        assert_eq!(
            proxy(&t),
            Err(TargetError::BadHost(HostError::NonCanonicalIp))
        );
    }
    // And rules cannot be written in them either.
    assert!(Rule::manual(
        "http://0x7f.1/",
        "",
        Methods::of(&[Method::Get]),
        MatchKind::Prefix,
        ""
    )
    .is_err());
    assert!(Rule::manual(
        "http://u@h.com/",
        "",
        Methods::of(&[Method::Get]),
        MatchKind::Prefix,
        ""
    )
    .is_err());
    assert!(Rule::manual(
        "http://h.com/",
        "",
        Methods::default(),
        MatchKind::Prefix,
        ""
    )
    .is_err());
    assert!(Rule::manual(
        "http://h.com/a?b",
        "",
        Methods::of(&[Method::Get]),
        MatchKind::Prefix,
        ""
    )
    .is_err());
}

#[test]
fn resolved_addresses() {
    let l = list();
    let t = |h: &str| ProxyTarget::parse(&format!("e.com/https/{h}/8443")).unwrap();
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let cucm = t("cucm1.example.com");
    assert_eq!(
        l.check_resolved(&cucm, &[ip("10.0.0.5")]),
        Ok(ip("10.0.0.5"))
    );
    assert_eq!(
        l.check_resolved(&cucm, &[ip("127.0.0.2"), ip("10.0.0.5")]),
        Ok(ip("10.0.0.5"))
    );
    assert_eq!(
        l.check_resolved(&cucm, &[ip("::ffff:10.0.0.5")]),
        Ok(ip("10.0.0.5"))
    );
    for bad in [
        "127.0.0.2",
        "::1",
        "0.0.0.0",
        "::",
        "169.254.169.254",
        "fe80::1",
        "224.0.0.1",
        "ff02::1",
        "255.255.255.255",
        "::ffff:127.0.0.2",
        "0.1.2.3",
    ] {
        let r = l.check_resolved(&cucm, &[ip(bad)]);
        assert!(
            matches!(r, Err(Refusal::ForbiddenAddress(_))),
            "{bad}: {r:?}"
        );
        assert_eq!(r.unwrap_err().status_code(), 403);
    }
    assert_eq!(l.check_resolved(&cucm, &[]), Err(Refusal::NoAddress));
    assert_eq!(Refusal::NoAddress.status_code(), 502);
    // A rule naming 127.0.0.1 explicitly lets that address through.
    assert_eq!(
        l.check_resolved(&cucm, &[ip("127.0.0.1")]),
        Ok(ip("127.0.0.1"))
    );
    // An IP literal target is its own answer; the DNS list is ignored.
    assert_eq!(
        l.check_resolved(&t("192.168.0.10"), &[ip("127.0.0.2")]),
        Ok(ip("192.168.0.10"))
    );
    assert!(matches!(
        l.check_resolved(&t("[::1]"), &[]),
        Err(Refusal::ForbiddenAddress(_))
    ));
}

#[test]
fn redirects() {
    let l = list();
    let from = ProxyTarget::parse("e.com/https/cucm1.example.com/8443").unwrap();
    let (t, p) = l
        .check_redirect(Method::Get, &from, "/cucm-uds/users")
        .unwrap();
    assert_eq!((t, p.path()), (from.clone(), "/cucm-uds/users"));
    let (t, _) = l
        .check_redirect(Method::Get, &from, "https://cuc.example.com/vmrest/x?y=1")
        .unwrap();
    assert_eq!(
        (t.host, t.port, t.domain.as_str()),
        (name("cuc.example.com"), 443, "e.com")
    );
    for loc in [
        "https://evil.example.net/cucm-uds/",
        "https://cucm1.example.com:8444/cucm-uds/",
        "http://cucm1.example.com:8443/cucm-uds/",
        "/ccmadmin/",
        "http://127.0.0.1:8082/",
    ] {
        let r = l.check_redirect(Method::Get, &from, loc);
        assert!(
            matches!(r, Err(Refusal::RedirectNotAllowed(_))),
            "{loc}: {r:?}"
        );
        assert_eq!(r.unwrap_err().status_code(), 403);
    }
    for loc in [
        "//evil.example.net/",
        "relative/path",
        "http://0x7f.1/",
        "http://user@cucm1.example.com:8443/cucm-uds/",
        "/cucm-uds/%2e%2e/x",
        "/cucm-uds/#x",
        "javascript:alert(1)",
        "",
    ] {
        let r = l.check_redirect(Method::Get, &from, loc);
        assert!(matches!(r, Err(Refusal::BadRedirect(_))), "{loc}: {r:?}");
        assert_eq!(r.unwrap_err().status_code(), 502);
    }
}

#[test]
fn csv_import_export_round_trip() {
    let csv = "url,deployment,methods,match,description\n\
        https://photos.example.com:443/photo/, Default, \"GET,PUT\", prefix, Directory photos\n\
        \n\
        http://192.168.0.1:8080/exact,dep,GET,exact,\"with \"\"quotes\"\", and comma\"\n\
        https://[2001:db8::1]:8443/a/b, , \"GET, POST\" , EXACT ,\n";
    let rules = AllowList::import_csv(csv).unwrap();
    assert_eq!(rules.len(), 3);
    assert_eq!(rules[0].methods, Methods::of(&[Method::Get, Method::Put]));
    assert_eq!(
        rules[0].origin,
        Origin::Manual {
            deployment: "Default".into()
        }
    );
    assert_eq!(rules[1].description, "with \"quotes\", and comma");
    assert_eq!(rules[2].match_kind, MatchKind::Exact);
    assert_eq!(rules[2].host, Host::Ip("2001:db8::1".parse().unwrap()));
    let l = AllowList::new(
        &[InsideServer {
            kind: InsideServerKind::Cucm,
            host: name("c.e.com"),
        }],
        rules.clone(),
    );
    let out = l.export_csv();
    assert_eq!(AllowList::import_csv(&out).unwrap(), rules);
    assert!(!out.contains("c.e.com"), "automatic rules are not exported");
}

#[test]
fn csv_errors_name_line_and_column() {
    let e = |s: &str| AllowList::import_csv(s).unwrap_err();
    let r = e("http://a.com/,d,GET,prefix,x\nhttp://a.com/,d,GET,prefix\n");
    assert_eq!((r.line, r.kind), (2, CsvErrorKind::FieldCount));
    let r = e("http://a.com/,d,\"GET,prefix,x\n");
    assert_eq!(
        (r.line, r.column, r.kind),
        (1, 17, CsvErrorKind::UnterminatedQuote)
    );
    let r = e("http://a.com/,d,\"GET\"x,prefix,x\n");
    assert_eq!(
        (r.line, r.column, r.kind),
        (1, 22, CsvErrorKind::TextAfterQuote)
    );
    let r = e("http://a.com/,d,G\"ET,prefix,x\n");
    assert_eq!(
        (r.line, r.column, r.kind),
        (1, 18, CsvErrorKind::StrayQuote)
    );
    let r = e("\n\nhttp://a.com/,d,GET,fuzzy,x\n");
    assert_eq!(
        (r.line, r.column, r.kind),
        (3, 21, CsvErrorKind::Rule(RuleError::BadMatch))
    );
    let r = e("http://a.com/,d,GET,BREW,prefix,x\n");
    assert_eq!(r.kind, CsvErrorKind::FieldCount);
    let r = e("http://a.com/,d,\"GET,BREW\",prefix,x\n");
    assert_eq!(
        (r.column, r.kind),
        (17, CsvErrorKind::Rule(RuleError::BadMethods))
    );
    let r = e("x,y\nhttp://0x7f.1/,d,GET,prefix,x\n");
    assert_eq!(r.line, 1);
    let r = e("http://0x7f.1/,d,GET,prefix,x\n");
    assert_eq!((r.line, r.column), (1, 1));
    assert!(matches!(r.kind, CsvErrorKind::Rule(RuleError::BadUrl(_))));
    assert!(r.to_string().starts_with("line 1, column 1: "));
}

fn input() -> EdgeConfigInput {
    EdgeConfigInput {
        domains: vec!["example.com".into()],
        edge_servers: vec![EdgeServer {
            address: "expe.example.com".into(),
            sip_port: 5061,
            xmpp_port: 5222,
            http_port: 8443,
        }],
        route: SipRoute {
            address: "EXPC-ADDR".into(),
            port: 5061,
            zone_id: 3,
        },
        uds_servers: vec![SrvServer {
            priority: 1,
            weight: 1,
            port: 8443,
            address: "cucm1.example.com".into(),
        }],
        cup_servers: vec![],
        tftp_servers: vec!["tftp.example.com".into()],
    }
}

fn squeeze(s: &str) -> String {
    s.split('\n').map(str::trim).collect()
}

#[test]
fn edge_config_matches_mra_notes_example() {
    // MRA-NOTES "Response shape", with the `…` of tftpServer filled in.
    let expected = r#"<getEdgeConfigResponse version="1.0">
 <serviceConfig>
  <service><name>_cisco-uds</name><server><priority>1</priority><weight>1</weight>
    <port>8443</port><address>cucm1.example.com</address></server></service>
  <service><name>_cuplogin</name><error>NameError</error></service>
  <service><name>tftpServer</name><address>tftp.example.com</address></service>
 </serviceConfig>
 <edgeConfig>
  <sipEdgeServer><server><address>expe.example.com</address><tlsPort>5061</tlsPort></server></sipEdgeServer>
  <sipRequest><route>&lt;sip:EXPC-ADDR:5061;transport=tls;zone-id=3;directed;lr&gt;</route></sipRequest>
  <xmppEdgeServer><server><address>expe.example.com</address><tlsPort>5222</tlsPort></server></xmppEdgeServer>
  <httpEdgeServer><server><address>expe.example.com</address><tlsPort>8443</tlsPort></server></httpEdgeServer>
  <turnEdgeServer/>
  <userUdsServer><server><address>cucm1.example.com</address><tlsPort>8443</tlsPort></server></userUdsServer>
 </edgeConfig>
</getEdgeConfigResponse>"#;
    let got = input()
        .response("EXAMPLE.com.", &["_cisco-uds".into(), "_cuplogin".into()])
        .unwrap();
    assert_eq!(squeeze(&got), squeeze(expected));
}

#[test]
fn edge_config_cases() {
    let mut i = input();
    assert_eq!(
        i.response("other.com", &[]),
        Err(EdgeConfigError::UnknownDomain)
    );
    assert_eq!(EdgeConfigError::UnknownDomain.status_code(), 404);
    let got = i.response("example.com", &["_bogus<&>".into()]).unwrap();
    assert!(
        got.contains("<service><name>_bogus&lt;&amp;&gt;</name><error>NameError</error></service>")
    );
    i.cup_servers.push(SrvServer {
        priority: 2,
        weight: 5,
        port: 8443,
        address: "imp&\"'.example.com".into(),
    });
    i.route.address = "c<x>".into();
    let got = i.response("example.com", &["_cuplogin".into()]).unwrap();
    assert!(
        got.contains("<address>imp&amp;&quot;&apos;.example.com</address>"),
        "{got}"
    );
    assert!(got.contains("&lt;sip:c&lt;x&gt;:5061;"), "{got}");
    assert!(got.contains("<userUdsServer><server><address>cucm1.example.com</address>"));
    i.uds_servers.clear();
    let got = i.response("example.com", &["_cisco-uds".into()]).unwrap();
    assert!(got.contains("<name>_cisco-uds</name><error>NameError</error>"));
    assert!(got.contains("<userUdsServer/>"));
    i.tftp_servers = vec![String::new()];
    assert_eq!(
        i.response("example.com", &[]),
        Err(EdgeConfigError::EmptyAddress)
    );
}

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    const ALPHABET: &[u8] = b"./%2eEfF5cC0x:@[]?#&=+-_ \\\x00\xff/aZ9";
    let mut v = seed.to_vec();
    for _ in 0..(rng.next() % 6 + 1) {
        let pos = if v.is_empty() {
            0
        } else {
            (rng.next() as usize) % (v.len() + 1)
        };
        let c = ALPHABET[(rng.next() as usize) % ALPHABET.len()];
        match rng.next() % 3 {
            0 => v.insert(pos, c),
            1 if pos < v.len() => v[pos] = c,
            _ if pos < v.len() => {
                v.remove(pos);
            }
            _ => v.push(c),
        }
    }
    v
}

#[test]
fn random_mutations_never_panic() {
    let l = list();
    let from = ProxyTarget::parse("e.com/https/cucm1.example.com/8443").unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let seeds: [&[u8]; 6] = [
        b"example.com/https/cucm1.example.com/8443",
        b"e.com/http/[::ffff:10.0.0.1]/6970",
        b"/cucm-uds/user/al%69ce/devices?x=1",
        b"https://cuc.example.com:443/vmrest/x?y=1",
        b"http://a.com/,d,\"GET,PUT\",prefix,\"x\"\"y\"",
        b"dGJ0cC5jb20/get_edge_config?service_name=_cisco-uds",
    ];
    for round in 0..20_000 {
        let seed = seeds[round % seeds.len()];
        let m = mutate(&mut rng, seed);
        let s = String::from_utf8_lossy(&m);
        let _ = decode_base64(&s);
        let _ = Host::parse_url(&s);
        let _ = Host::parse_bare(&s);
        if let Ok(t) = ProxyTarget::parse(&s) {
            assert_eq!(
                ProxyTarget::parse(
                    &String::from_utf8(decode_base64(&t.encode()).unwrap()).unwrap()
                ),
                Ok(t.clone())
            );
            let _ = l.check_resolved(&t, &[IpAddr::V4(Ipv4Addr::LOCALHOST)]);
        }
        let _ = parse_request_target(&format!("/{}{}", b64(&s), "/x"));
        let _ = parse_request_target(&s);
        if let Ok(EdgeRequest::Proxy { target, path }) = parse_request_target(&cucm_target(&s)) {
            assert!(!path
                .decoded()
                .split('/')
                .any(|seg| seg == ".." || seg == "."));
            let _ = l.check(Method::Get, &target, &path);
        }
        if let Ok((_, p)) = l.check_redirect(Method::Get, &from, &s) {
            assert!(!p.decoded().split('/').any(|seg| seg == ".." || seg == "."));
        }
        let _ = AllowList::import_csv(&s);
    }
}
