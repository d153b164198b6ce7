//! The HTTPS edge's request targets and allow list: arbitrary text as a request target (the
//! part after the method), as a redirect Location and as allow-list CSV. Whatever parses must
//! hold what the parsers promise (a proxied target re-encodes to a target that parses to the
//! same server; a path that passes has no dot segment), and nothing may panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use signaling::http_edge::{
    decode_base64, parse_request_target, AllowList, EdgeRequest, Host, InsideServer, InsideServerKind, Method,
    ProxyTarget,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let list = AllowList::new(
        &[
            InsideServer {
                kind: InsideServerKind::Cucm,
                host: Host::Name("cucm.example.test".into()),
            },
            InsideServer {
                kind: InsideServerKind::Tftp,
                host: Host::Ip([198, 18, 2, 21].into()),
            },
        ],
        AllowList::import_csv(text).unwrap_or_default(),
    );
    let _ = AllowList::import_csv(&list.export_csv());
    if let Ok(EdgeRequest::Proxy { target, path }) = parse_request_target(text) {
        let encoded = decode_base64(&target.encode()).unwrap_or_default();
        let again = ProxyTarget::parse(&String::from_utf8(encoded).unwrap_or_default());
        assert_eq!(again.as_ref(), Ok(&target), "{text:?}");
        for seg in path.decoded().split('/') {
            assert!(seg != "." && seg != "..", "dot segment passed: {text:?}");
        }
        if list.check(Method::Get, &target, &path).is_ok() {
            let _ = list.check_resolved(&target, &[[198, 18, 2, 21].into()]);
        }
        let _ = list.check_redirect(Method::Get, &target, text);
    }
});
