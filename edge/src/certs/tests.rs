use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rcgen::{CertificateParams, ExtendedKeyUsagePurpose, OtherNameValue, SanType};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::lab::{issue_for_test, lab_ca_key_path, test_ca};
use super::*;

const DAY: Duration = Duration::from_secs(86_400);

/// A fresh directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("portico-certs-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn e_req() -> Requirements {
    Requirements::e(
        "expe.example.test",
        &["example.test".into()],
        &[],
        &["chat.example.test".into()],
    )
}

fn c_req() -> Requirements {
    Requirements::c(
        "expc.example.test",
        &["jabber.secure.example.test".into()],
        &["chat.example.test".into()],
        &["expc.example.test".into()],
    )
}

fn pem_certs(pem: &str) -> Vec<CertificateDer<'static>> {
    rustls_pemfile::certs(&mut pem.as_bytes())
        .collect::<Result<_, _>>()
        .unwrap()
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn lab_pki_generate_load_and_reuse() {
    let dir = scratch("lab");
    let now = SystemTime::now();
    let report = ensure_lab_pki(&dir, &[e_req(), c_req()], now).unwrap();
    assert_eq!(report.ca, LabOutcome::Created);
    assert_eq!(
        report.leaves,
        [
            (Side::E, LabOutcome::Created),
            (Side::C, LabOutcome::Created)
        ]
    );
    assert_eq!(mode(&lab_ca_key_path(&dir)), 0o600);
    assert_eq!(mode(&dir.join("e.key")), 0o600);
    assert_eq!(mode(&dir.join("c.key")), 0o600);

    // Load back, and look inside with x509-parser.
    let ca = load_certificates(&lab_ca_path(&dir)).unwrap();
    for (req, sans) in [
        (
            e_req(),
            vec![
                "expe.example.test",
                "collab-edge.example.test",
                "chat.example.test",
            ],
        ),
        (
            c_req(),
            vec![
                "expc.example.test",
                "jabber.secure.example.test",
                "chat.example.test",
            ],
        ),
    ] {
        let (cert, key) = lab_identity_paths(&dir, req.side);
        let id = load_identity(&cert, &key, now).unwrap();
        assert_eq!(id.chain.len(), 1);
        assert_eq!(key_matches(&id.chain[0], &id.key), Some(true));
        let (_, x) = X509Certificate::from_der(id.chain[0].as_ref()).unwrap();
        let got: Vec<String> = x
            .subject_alternative_name()
            .unwrap()
            .unwrap()
            .value
            .general_names
            .iter()
            .filter_map(|g| match g {
                GeneralName::DNSName(d) => Some(d.to_string()),
                _ => None,
            })
            .collect();
        assert_eq!(got, sans, "{}", req.side);
        let eku = x.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.server_auth && eku.client_auth, "{}", req.side);
        assert!(!x.is_ca());
        assert_eq!(
            x.subject()
                .iter_common_name()
                .next()
                .unwrap()
                .as_str()
                .unwrap(),
            sans[0]
        );
        assert_eq!(check(&id.chain, &ca, &req, now), [], "{}", req.side);
    }

    // Again: everything reused, nothing rewritten.
    let before = fs::read(dir.join("e.pem")).unwrap();
    let ca_before = fs::read(lab_ca_path(&dir)).unwrap();
    fs::set_permissions(dir.join("c.key"), fs::Permissions::from_mode(0o644)).unwrap();
    let report = ensure_lab_pki(&dir, &[e_req(), c_req()], now + DAY).unwrap();
    assert_eq!(report.ca, LabOutcome::Reused);
    assert_eq!(
        report.leaves,
        [(Side::E, LabOutcome::Reused), (Side::C, LabOutcome::Reused)]
    );
    assert_eq!(fs::read(dir.join("e.pem")).unwrap(), before);
    assert_eq!(fs::read(lab_ca_path(&dir)).unwrap(), ca_before);
    assert_eq!(mode(&dir.join("c.key")), 0o600, "a loose key is tightened");

    // A new domain: E's certificate is made again (same CA), C's kept.
    let e2 = Requirements::e(
        "expe.example.test",
        &["example.test".into(), "other.test".into()],
        &[],
        &["chat.example.test".into()],
    );
    let report = ensure_lab_pki(&dir, &[e2.clone(), c_req()], now).unwrap();
    assert_eq!(report.ca, LabOutcome::Reused);
    assert!(
        matches!(&report.leaves[0], (Side::E, LabOutcome::Renewed(why)) if why.contains("collab-edge.other.test")),
        "{report:?}"
    );
    assert_eq!(report.leaves[1], (Side::C, LabOutcome::Reused));
    let id = load_identity(&dir.join("e.pem"), &dir.join("e.key"), now).unwrap();
    assert_eq!(check(&id.chain, &ca, &e2, now), []);

    // Close to expiry (a year on): the leaves are renewed, the CA kept.
    let later = now + 380 * DAY;
    let report = ensure_lab_pki(&dir, &[e2, c_req()], later).unwrap();
    assert_eq!(report.ca, LabOutcome::Reused);
    assert!(matches!(&report.leaves[0].1, LabOutcome::Renewed(why) if why.contains("expires")));

    // A CA gone: a new one, and new leaves.
    fs::remove_file(lab_ca_path(&dir)).unwrap();
    let report = ensure_lab_pki(&dir, &[e_req()], now).unwrap();
    assert!(matches!(report.ca, LabOutcome::Renewed(_)), "{report:?}");
    assert!(matches!(report.leaves[0].1, LabOutcome::Renewed(_)));
    let ca = load_certificates(&lab_ca_path(&dir)).unwrap();
    let id = load_identity(&dir.join("e.pem"), &dir.join("e.key"), now).unwrap();
    assert_eq!(check(&id.chain, &ca, &e_req(), now), []);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn lab_pki_refuses_a_foreign_ca() {
    let dir = scratch("foreign");
    let now = SystemTime::now();
    let (ca, key) = test_ca("Example Corp Root", now);
    fs::write(lab_ca_path(&dir), ca.pem()).unwrap();
    fs::write(lab_ca_key_path(&dir), key.serialize_pem()).unwrap();
    let err = ensure_lab_pki(&dir, &[e_req()], now).unwrap_err();
    assert!(err.to_string().contains("not a portico lab CA"), "{err}");
    fs::remove_file(lab_ca_key_path(&dir)).unwrap();
    let err = ensure_lab_pki(&dir, &[e_req()], now).unwrap_err();
    assert!(err.to_string().contains("without its key"), "{err}");
    fs::remove_dir_all(&dir).unwrap();
}

/// Certificates that break the guide's rules, and what the check says about each.
#[test]
fn findings_for_wrong_certificates() {
    let now = SystemTime::now();
    let (ca, ca_key) = test_ca("Example Corp Root", now);
    let ca_der = vec![ca.der().clone()];
    let issue = |req: &Requirements, edit: &dyn Fn(&mut CertificateParams)| {
        let (pem, _) = issue_for_test(req, (&ca, &ca_key), now, |p| edit(p));
        pem_certs(&pem)
    };

    // Sound.
    let good = issue(&e_req(), &|_| {});
    assert_eq!(check(&good, &ca_der, &e_req(), now), []);

    // Server Authentication only: the traversal's client side fails.
    let server_only = issue(&e_req(), &|p| {
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    });
    let f = check(&server_only, &ca_der, &e_req(), now);
    assert_eq!(f, [Finding::MissingClientAuth]);
    assert!(f[0].to_string().contains("Client Authentication"));
    assert_eq!(f[0].severity(), Severity::Error);

    // No EKU extension at all: the guide asks for it.
    let no_eku = issue(&e_req(), &|p| p.extended_key_usages.clear());
    assert_eq!(
        check(&no_eku, &ca_der, &e_req(), now),
        [Finding::MissingClientAuth]
    );

    // Client only.
    let client_only = issue(&c_req(), &|p| {
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    });
    assert_eq!(
        check(&client_only, &ca_der, &c_req(), now),
        [Finding::MissingServerAuth]
    );

    // Without collab-edge.<domain>.
    let no_collab = issue(&e_req(), &|p| {
        p.subject_alt_names
            .retain(|s| !matches!(s, SanType::DnsName(n) if n.as_str().starts_with("collab-edge")));
    });
    let f = check(&no_collab, &ca_der, &e_req(), now);
    assert_eq!(
        f,
        [Finding::MissingSan {
            name: "collab-edge.example.test".into(),
            why: NameReason::RegistrationDomain("example.test".into()),
        }]
    );
    assert!(
        f[0].to_string().contains("DNS:collab-edge.example.test"),
        "{}",
        f[0]
    );

    // …but with the SRVName _collab-edge._tls.<domain> instead: accepted (MRA-NOTES).
    let srv = issue(&e_req(), &|p| {
        p.subject_alt_names
            .retain(|s| !matches!(s, SanType::DnsName(n) if n.as_str().starts_with("collab-edge")));
        p.subject_alt_names.push(SanType::OtherName((
            vec![1, 3, 6, 1, 5, 5, 7, 8, 7],
            OtherNameValue::Utf8String("_collab-edge._tls.example.test".into()),
        )));
    });
    assert_eq!(check(&srv, &ca_der, &e_req(), now), []);

    // A wildcard covers collab-edge.<domain> and the FQDN.
    let wild = issue(&e_req(), &|p| {
        p.subject_alt_names = vec![SanType::DnsName("*.example.test".try_into().unwrap())];
    });
    assert_eq!(check(&wild, &ca_der, &e_req(), now), []);

    // C without the phone security profile, and without the name E checks.
    let mut c_named = c_req();
    c_named.subject_names = vec!["cluster.example.test".into()];
    let bare_c = issue(&c_req(), &|p| {
        p.subject_alt_names = vec![SanType::DnsName("expc.example.test".try_into().unwrap())];
    });
    let f = check(&bare_c, &ca_der, &c_named, now);
    assert_eq!(
        f,
        [
            Finding::MissingSan {
                name: "jabber.secure.example.test".into(),
                why: NameReason::PhoneSecurityProfile,
            },
            Finding::MissingSan {
                name: "chat.example.test".into(),
                why: NameReason::ChatNodeAlias,
            },
            Finding::MissingSubjectName {
                any_of: vec!["cluster.example.test".into()],
            },
        ]
    );
    // The name E checks may be the subject CN alone.
    assert_eq!(
        check(
            &bare_c,
            &ca_der,
            &Requirements::c("expc.example.test", &[], &[], &["expc.example.test".into()]),
            now
        ),
        []
    );

    // Expired: `now` after not-after; not yet valid: before not-before; expiring soon.
    let f = check(&good, &ca_der, &e_req(), now + 400 * DAY);
    assert!(matches!(f[0], Finding::Expired { .. }), "{f:?}");
    assert!(f[0].to_string().contains("renew"));
    let f = check(&good, &ca_der, &e_req(), now - 2 * DAY);
    assert!(matches!(f[0], Finding::NotYetValid { .. }), "{f:?}");
    let f = check(&good, &ca_der, &e_req(), now + 390 * DAY);
    assert!(
        matches!(f[..], [Finding::ExpiresSoon { days: 6 | 7, .. }]),
        "{f:?}"
    );
    assert_eq!(f[0].severity(), Severity::Warning);

    // Signed by another CA: of another name, or of the same name with another key.
    let (other, other_key) = test_ca("Someone Else", now);
    let (pem, _) = issue_for_test(&e_req(), (&other, &other_key), now, |_| {});
    let f = check(&pem_certs(&pem), &ca_der, &e_req(), now);
    assert!(
        matches!(&f[..], [Finding::NotSignedByCa { detail, .. }] if detail.contains("no configured CA is named")),
        "{f:?}"
    );
    let (twin, twin_key) = test_ca("Example Corp Root", now);
    let (pem, _) = issue_for_test(&e_req(), (&twin, &twin_key), now, |_| {});
    let f = check(&pem_certs(&pem), &ca_der, &e_req(), now);
    assert!(
        matches!(&f[..], [Finding::NotSignedByCa { detail, .. }] if detail.contains("did not sign")),
        "{f:?}"
    );
    assert!(matches!(
        &check(&good, &[], &e_req(), now)[..],
        [Finding::NotSignedByCa { .. }]
    ));
}

#[test]
fn chains_through_an_intermediate() {
    let now = SystemTime::now();
    let (root, root_key) = test_ca("Example Root", now);
    let inter_key = rcgen::KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name
        .push(rcgen::DnType::CommonName, "Example Issuing CA");
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    p.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
    p.not_before = (now - DAY).into();
    p.not_after = (now + 30 * DAY).into();
    let inter = p.signed_by(&inter_key, &root, &root_key).unwrap();
    let (leaf, _) = issue_for_test(&e_req(), (&inter, &inter_key), now, |_| {});
    let mut chain = pem_certs(&leaf);
    let roots = vec![root.der().clone()];
    let f = check(&chain, &roots, &e_req(), now);
    assert!(
        matches!(&f[..], [Finding::NotSignedByCa { detail, .. }] if detail.contains("intermediate")),
        "{f:?}"
    );
    chain.push(inter.der().clone());
    assert_eq!(check(&chain, &roots, &e_req(), now), []);
    // The intermediate expires before the leaf.
    let f = check(&chain, &roots, &e_req(), now + 40 * DAY);
    assert!(
        f.iter().any(
            |x| matches!(x, Finding::ChainNotValid { subject, .. } if subject.contains("Issuing"))
        ),
        "{f:?}"
    );
}

#[test]
fn load_errors_name_the_file() {
    let dir = scratch("load");
    let now = SystemTime::now();
    ensure_lab_pki(&dir, &[e_req(), c_req()], now).unwrap();
    let (e_pem, e_key) = (dir.join("e.pem"), dir.join("e.key"));

    let empty = dir.join("empty.pem");
    fs::write(&empty, "just text\n").unwrap();
    let err = load_certificates(&empty).unwrap_err().to_string();
    assert!(
        err.contains("empty.pem") && err.contains("no PEM blocks"),
        "{err}"
    );

    let err = load_certificates(&e_key).unwrap_err().to_string();
    assert!(
        err.contains("e.key")
            && err.contains("holds no certificate")
            && err.contains("PRIVATE KEY"),
        "{err}"
    );
    let err = load_private_key(&e_pem).unwrap_err().to_string();
    assert!(
        err.contains("e.pem") && err.contains("no private key") && err.contains("only CERTIFICATE"),
        "{err}"
    );

    let junk = dir.join("junk.pem");
    fs::write(
        &junk,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let err = load_certificates(&junk).unwrap_err();
    assert!(matches!(err, CertError::NotX509 { index: 0, .. }), "{err}");

    let two = dir.join("two.key");
    let key = fs::read_to_string(&e_key).unwrap();
    fs::write(&two, format!("{key}{key}")).unwrap();
    assert!(load_private_key(&two)
        .unwrap_err()
        .to_string()
        .contains("2 private keys"));

    let err = load_identity(&e_pem, &dir.join("c.key"), now).unwrap_err();
    assert!(matches!(err, CertError::KeyMismatch { .. }), "{err}");
    assert!(err.to_string().contains("c.key"), "{err}");

    let err = load_identity(&e_pem, &e_key, now + 400 * DAY)
        .unwrap_err()
        .to_string();
    assert!(err.contains("e.pem") && err.contains("expired"), "{err}");

    let err = load_identity(&dir.join("missing.pem"), &e_key, now)
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing.pem"), "{err}");
    assert_eq!(
        key_matches(
            &load_certificates(&e_pem).unwrap()[0],
            &load_private_key(&e_key).unwrap()
        ),
        Some(true)
    );
    fs::remove_dir_all(&dir).unwrap();
}
