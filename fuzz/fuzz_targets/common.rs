//! Shared set-up: the first input byte picks the suite and whether an MKI is used; the rest is
//! the packet. Keys are fixed so a crash reproduces from the input alone.
use media::srtp::{Context, MasterKey, Mki, Policy, Suite};

pub fn context(selector: u8) -> Context {
    let suite = Suite::ALL[usize::from(selector) % Suite::ALL.len()];
    let key_salt: Vec<u8> = (0..suite.key_salt_len() as u8).collect();
    let key = MasterKey::from_key_salt(suite, &key_salt).expect("fixed key has the suite's length");
    let mki = (selector & 0x80 != 0).then(|| Mki::new(&[0xa5, 0x5a]).expect("2-byte MKI"));
    let mut policy = Policy::new(suite);
    policy.encrypt_rtcp = selector & 0x40 == 0;
    Context::new(policy, &[(key, mki)]).expect("valid policy")
}
