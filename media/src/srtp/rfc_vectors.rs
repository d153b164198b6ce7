//! Published SRTP/SRTCP test vectors, kept as lowercase hex strings with no spaces.
//!
//! Each constant's doc comment gives the document and section it comes from and says exactly
//! which bytes the string holds. The values were copied from the RFC texts, not written out by
//! hand:
//!
//! * RFC 3711 Appendix B.2 / B.3: the RFC Editor's plain-text RFC 3711.
//! * RFC 7714 sections 16 and 17: the RFC Editor's plain-text RFC 7714, sections 16 and 17.
//! * RFC 6188 section 7: the full RFC 6188 text could not be reached from the search tools.
//!   These values come from test suites that cite RFC 6188 section 7 (libsrtp's `test_key_2` /
//!   `srtp_validate_aes_256`, libre's `test_srtp_keys256` / `test_srtp_aescm256`, jitsi-srtp's
//!   KDF test, and others, all agreeing). Each one was also recomputed independently with
//!   AES-256 (counter mode / the RFC 3711 section 4.3 KDF). See the comments on those items.
//! * `LIBSRTP_*`: values only, from libsrtp's `test/srtp_driver.c` (cisco/libsrtp, commit
//!   9073dfe9). These are not RFC vectors. They were also recomputed independently
//!   (AES-CM / AES-GCM plus the RFC 3711 KDF and HMAC-SHA1).
//!
//! Conventions: "packet" means the full datagram as sent on the wire. For SRTP that is
//! RTP header || encrypted payload || tag (no MKI in any of these vectors). For AES-CM SRTCP it
//! is header || encrypted body || E||index || tag. For AEAD SRTCP it is header || cipher
//! (ciphertext then tag) || E||index. Keys and salts are session keys unless the name says
//! MASTER.
//!
//! This module must be compiled only under `cfg(test)`; the `#[cfg(test)]` goes on its `mod`
//! declaration.

// ---------------------------------------------------------------------------------------------
// RFC 3711 Appendix B.2: AES-CM keystream (AES-128, session keys given directly, no KDF).
// ---------------------------------------------------------------------------------------------

/// RFC 3711 Appendix B.2, "Session Key": 16-byte AES-128 session encryption key.
pub(crate) const RFC3711_B2_SESSION_KEY: &str = "2b7e151628aed2a6abf7158809cf4f3c";

/// RFC 3711 Appendix B.2, "Session Salt": the 14-byte session salt k_s. The RFC prints it
/// "already shifted" as `F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000`, which is k_s * 2^16; this constant is
/// k_s itself, with the two trailing zero bytes removed.
pub(crate) const RFC3711_B2_SESSION_SALT: &str = "f0f1f2f3f4f5f6f7f8f9fafbfcfd";

/// RFC 3711 Appendix B.2, "Session Salt ... (already shifted)" / "Offset": the 16-byte initial
/// counter block, (k_s * 2^16) XOR (SSRC * 2^64) XOR (i * 2^16), for ROC = 00000000,
/// SEQ = 0000 and SSRC = 00000000. With those all zero it is just the shifted salt.
pub(crate) const RFC3711_B2_INITIAL_COUNTER: &str = "f0f1f2f3f4f5f6f7f8f9fafbfcfd0000";

/// RFC 3711 Appendix B.2, "Rollover Counter": 4 bytes.
pub(crate) const RFC3711_B2_ROC: &str = "00000000";

/// RFC 3711 Appendix B.2, "Sequence Number": 2 bytes.
pub(crate) const RFC3711_B2_SEQ: &str = "0000";

/// RFC 3711 Appendix B.2, "SSRC": 4 bytes.
pub(crate) const RFC3711_B2_SSRC: &str = "00000000";

/// RFC 3711 Appendix B.2, the keystream table as `(counter block, keystream block)` pairs, each
/// 16 bytes. The keystream is AES-128(RFC3711_B2_SESSION_KEY, counter).
///
/// The first three rows are counters `...0000` to `...0002` (keystream bytes 0..48). The last
/// three are `...FEFF`, `...FF00`, `...FF01`, i.e. blocks 0xFEFF, 0xFF00 and 0xFF01 (keystream
/// bytes 0xFEFF*16 .. 0xFF02*16). The segment is 1044512 octets (65282 AES blocks), so
/// `...FF01` is the last block. Between the first and last rows the RFC prints "...".
pub(crate) const RFC3711_B2_BLOCKS: &[(&str, &str)] = &[
    (
        "f0f1f2f3f4f5f6f7f8f9fafbfcfd0000",
        "e03ead0935c95e80e166b16dd92b4eb4",
    ),
    (
        "f0f1f2f3f4f5f6f7f8f9fafbfcfd0001",
        "d23513162b02d0f72a43a2fe4a5f97ab",
    ),
    (
        "f0f1f2f3f4f5f6f7f8f9fafbfcfd0002",
        "41e95b3bb0a2e8dd477901e4fca894c0",
    ),
    (
        "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
        "ec8cdf7398607cb0f2d21675ea9ea1e4",
    ),
    (
        "f0f1f2f3f4f5f6f7f8f9fafbfcfdff00",
        "362b7c3c6773516318a077d7fc5073ae",
    ),
    (
        "f0f1f2f3f4f5f6f7f8f9fafbfcfdff01",
        "6a2cc3787889374fbeb4c81b17ba6c44",
    ),
];

// ---------------------------------------------------------------------------------------------
// RFC 3711 Appendix B.3: key derivation (AES-128-CM PRF, key_derivation_rate = 0).
// ---------------------------------------------------------------------------------------------

/// RFC 3711 Appendix B.3, "master key": 16 bytes.
pub(crate) const RFC3711_B3_MASTER_KEY: &str = "e1f97a0d3e018be0d64fa32c06de4139";

/// RFC 3711 Appendix B.3, "master salt": 14 bytes.
pub(crate) const RFC3711_B3_MASTER_SALT: &str = "0ec675ad498afeebb6960b3aabe6";

/// RFC 3711 Appendix B.3, "index DIV kdr": 6 bytes of zeros. The key derivation rate is zero, so
/// r = 0 whatever the packet index.
pub(crate) const RFC3711_B3_INDEX_DIV_KDR: &str = "000000000000";

/// RFC 3711 Appendix B.3, the AES-CM input block for the cipher key (label 0x00):
/// "x*2^16: 0EC675AD498AFEEBB6960B3AABE60000". 16 bytes.
pub(crate) const RFC3711_B3_CIPHER_KEY_AES_INPUT: &str = "0ec675ad498afeebb6960b3aabe60000";

/// RFC 3711 Appendix B.3, "cipher key" (label 0x00): 16 bytes, the first AES-CM output block.
pub(crate) const RFC3711_B3_CIPHER_KEY: &str = "c61e7a93744f39ee10734afe3ff7a087";

/// RFC 3711 Appendix B.3, the AES-CM input block for the cipher salt (label 0x02):
/// "x*2^16: 0EC675AD498AFEE9B6960B3AABE60000". 16 bytes.
pub(crate) const RFC3711_B3_CIPHER_SALT_AES_INPUT: &str = "0ec675ad498afee9b6960b3aabe60000";

/// RFC 3711 Appendix B.3, the full 16-byte AES-CM output block for label 0x02
/// ("30CBBC08863D8C85D49DB34A9AE17AC6 (AES-CM ouptut)"). The cipher salt is its first 14 bytes.
pub(crate) const RFC3711_B3_CIPHER_SALT_AES_OUTPUT: &str = "30cbbc08863d8c85d49db34a9ae17ac6";

/// RFC 3711 Appendix B.3, "cipher salt" (label 0x02): 14 bytes.
pub(crate) const RFC3711_B3_CIPHER_SALT: &str = "30cbbc08863d8c85d49db34a9ae1";

/// RFC 3711 Appendix B.3, the first AES-CM input block for the auth key (label 0x01):
/// "x*2^16: 0EC675AD498AFEEAB6960B3AABE60000". 16 bytes. The later blocks count up in the last
/// two bytes (`...0001` to `...0005`).
pub(crate) const RFC3711_B3_AUTH_KEY_AES_INPUT: &str = "0ec675ad498afeeab6960b3aabe60000";

/// RFC 3711 Appendix B.3, "auth key" (label 0x01), first 20 bytes: the HMAC-SHA1 session
/// authentication key that AES_CM_128_HMAC_SHA1_80/32 use (n_a = 160 bits).
pub(crate) const RFC3711_B3_AUTH_KEY_20: &str = "cebe321f6ff7716b6fd4ab49af256a156d38baa4";

/// RFC 3711 Appendix B.3, "auth key" (label 0x01), the whole value the RFC prints: 94 bytes (the
/// RFC asks for "a 94-octet session authentication key"), i.e. five full AES-CM output blocks
/// and 14 bytes of a sixth.
pub(crate) const RFC3711_B3_AUTH_KEY_FULL: &str = concat!(
    "cebe321f6ff7716b6fd4ab49af256a15",
    "6d38baa48f0a0acf3c34e2359e6cdbce",
    "e049646c43d9327ad175578ef7227098",
    "6371c10c9a369ac2f94a8c5fbcdddc25",
    "6d6e919a48b610ef17c2041e47403576",
    "6b68642c59bbfc2f34db60dbdfb2",
);

// ---------------------------------------------------------------------------------------------
// RFC 6188 section 7: AES-256 counter mode and the AES_256_CM_PRF key derivation.
//
// Source note: the RFC 6188 text itself could not be fetched here. Every value below matches
// (a) several independent test suites that quote RFC 6188 section 7 (libsrtp, libre,
// jitsi-srtp, among others) and (b) an independent recomputation with AES-256 done while this
// file was written.
// ---------------------------------------------------------------------------------------------

/// RFC 6188 section 7.1 (AES-256-CM test case): the 32-byte AES-256 session encryption key.
/// Source: test suites quoting RFC 6188 section 7.1, checked by recomputation (see module docs).
pub(crate) const RFC6188_7_1_SESSION_KEY: &str =
    "57f82fe3613fd170a85ec93c40b1f0922ec4cb0dc025b58272147cc438944a98";

/// RFC 6188 section 7.1: the 14-byte session salt, the same one RFC 3711 B.2 uses.
pub(crate) const RFC6188_7_1_SESSION_SALT: &str = "f0f1f2f3f4f5f6f7f8f9fafbfcfd";

/// RFC 6188 section 7.1: the 16-byte initial counter block (shifted salt; ROC, SEQ and SSRC are
/// all zero, as in RFC 3711 B.2).
pub(crate) const RFC6188_7_1_INITIAL_COUNTER: &str = "f0f1f2f3f4f5f6f7f8f9fafbfcfd0000";

/// RFC 6188 section 7.1: keystream as `(counter block, keystream block)` pairs, 16 bytes each. The
/// keystream is AES-256(RFC6188_7_1_SESSION_KEY, counter). The counters are the same six as
/// [`RFC3711_B2_BLOCKS`]: blocks 0, 1, 2 and 0xFEFF, 0xFF00, 0xFF01 of a 65282-block segment.
/// Source: repositories only. The first three keystream blocks appear in libsrtp, libre and pion
/// test suites that cite RFC 6188 7.1. The last three appear in two test suites that cite RFC 6188
/// 7.1 and check the last 48 bytes of the 65282-block segment. It is not confirmed against the
/// RFC text that the RFC prints exactly these six rows. All six were recomputed with AES-256 and
/// match.
pub(crate) const RFC6188_7_1_BLOCKS: &[(&str, &str)] = &[
    (
        "f0f1f2f3f4f5f6f7f8f9fafbfcfd0000",
        "92bdd28a93c3f52511c677d08b5515a4",
    ),
    (
        "f0f1f2f3f4f5f6f7f8f9fafbfcfd0001",
        "9da71b2378a854f67050756ded165bac",
    ),
    (
        "f0f1f2f3f4f5f6f7f8f9fafbfcfd0002",
        "63c4868b7096d88421b563b8c94c9a31",
    ),
    (
        "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
        "cea518c90fd91ced9cbb18c078a54711",
    ),
    (
        "f0f1f2f3f4f5f6f7f8f9fafbfcfdff00",
        "3dbc4814f4da5f00a08772b63c6a046d",
    ),
    (
        "f0f1f2f3f4f5f6f7f8f9fafbfcfdff01",
        "6eb246913062a16891433e97dd01a57f",
    ),
];

/// RFC 6188 section 7.2 (AES_256_CM_PRF test case), "master key": 32 bytes.
/// Source: test suites quoting RFC 6188 section 7.2, checked by recomputation (see module docs).
pub(crate) const RFC6188_7_2_MASTER_KEY: &str =
    "f0f04914b513f2763a1b1fa130f10e2998f6f6e43e4309d1e622a0e332b9f1b6";

/// RFC 6188 section 7.2, "master salt": 14 bytes.
pub(crate) const RFC6188_7_2_MASTER_SALT: &str = "3b04803de51ee7c96423ab5b78d2";

/// RFC 6188 section 7.2: index DIV kdr, 6 bytes of zeros (initial derivation, kdr = 0).
pub(crate) const RFC6188_7_2_INDEX_DIV_KDR: &str = "000000000000";

/// RFC 6188 section 7.2, "cipher key" (label 0x00): 32 bytes, two AES-256-CM output blocks.
pub(crate) const RFC6188_7_2_CIPHER_KEY: &str =
    "5ba1064e30ec51613cad926c5a28ef731ec7fb397f70a960653caf06554cd8c4";

/// RFC 6188 section 7.2, "cipher salt" (label 0x02): 14 bytes.
pub(crate) const RFC6188_7_2_CIPHER_SALT: &str = "fa31791685ca444a9e07c6c64e93";

/// RFC 6188 section 7.2, "auth key" (label 0x01): the first 20 bytes (the HMAC-SHA1 key
/// AES_256_CM_HMAC_SHA1_80/32 use). Only these 20 bytes are given: libsrtp, libre and
/// jitsi-srtp quote exactly 20 bytes, and the RFC text was not reachable to check whether it
/// prints more.
pub(crate) const RFC6188_7_2_AUTH_KEY_20: &str = "fd9c32d39ed5fbb5a9dc96b30818454d1313dc05";

// ---------------------------------------------------------------------------------------------
// RFC 7714 section 16: SRTP AEAD_AES_128_GCM / AEAD_AES_256_GCM.
//
// Every section 16 example uses the same RTP packet (12-byte header, 38-byte payload "Gallia est
// omnis divisa in partes tres"), SSRC 0x5501a0b2, ROC 0, SEQ 0xf17b, salt "Quid pro quo", and
// the same IV. The key and salt are *session* keys, used directly: RFC 7714 gives no KDF
// vector. Tags are 16 bytes.
// ---------------------------------------------------------------------------------------------

/// RFC 7714 section 16 (preamble): the SSRC of the test RTP packet, 4 bytes (packet bytes 8..12).
pub(crate) const RFC7714_16_SSRC: &str = "5501a0b2";

/// RFC 7714 section 16 (preamble): the rollover counter used for the IV, 4 bytes.
pub(crate) const RFC7714_16_ROC: &str = "00000000";

/// RFC 7714 section 16 (preamble): the RTP sequence number, 2 bytes (packet bytes 2..4).
pub(crate) const RFC7714_16_SEQ: &str = "f17b";

/// RFC 7714 sections 16.1.1 / 16.1.2, "Key": 16-byte AEAD_AES_128_GCM session key 00 01 .. 0f.
pub(crate) const RFC7714_16_1_KEY: &str = "000102030405060708090a0b0c0d0e0f";

/// RFC 7714 section 16.1.1, "salt": 12-byte session salt (ASCII "Quid pro quo").
pub(crate) const RFC7714_16_1_SALT: &str = "517569642070726f2071756f";

/// RFC 7714 section 16.1.1, "Encrypting the following packet": the plaintext RTP packet, 50 bytes
/// (12-byte header || 38-byte payload). It is also what section 16.1.2 decrypts back to
/// (16.1.2 prints only the 38-byte payload under "Verified and tagged packet").
pub(crate) const RFC7714_16_1_PLAINTEXT: &str = concat!(
    "8040f17b8041f8d35501a0b247616c6c",
    "696120657374206f6d6e697320646976",
    "69736120696e20706172746573207472",
    "6573",
);

/// RFC 7714 section 16.1.1, "IV": 12 bytes, (00 00 || SSRC || ROC || SEQ) XOR salt.
pub(crate) const RFC7714_16_1_IV: &str = "51753c6580c2726f20718414";

/// RFC 7714 section 16.1.1, "AAD": the 12-byte RTP header only.
pub(crate) const RFC7714_16_1_AAD: &str = "8040f17b8041f8d35501a0b2";

/// RFC 7714 section 16.1.1, "H": the 16-byte GHASH key AES-128(key, 0^128). For debugging.
pub(crate) const RFC7714_16_1_H: &str = "c6a13b37878f5b826f4f8162a1c8d879";

/// RFC 7714 section 16.1.1, "full GMAC": the 16-byte authentication tag of the encrypted packet.
pub(crate) const RFC7714_16_1_TAG: &str = "899d7f27beb16a9152cf765ee4390cce";

/// RFC 7714 section 16.1.1, "Encrypted and tagged packet" (also the input of 16.1.2,
/// "Decrypting the following packet"): the full SRTP packet on the wire, 66 bytes =
/// 12-byte RTP header (clear) || 38-byte ciphertext || 16-byte tag.
pub(crate) const RFC7714_16_1_CIPHERTEXT: &str = concat!(
    "8040f17b8041f8d35501a0b2f24de3a3",
    "fb34de6cacba861c9d7e4bcabe633bd5",
    "0d294e6f42a5f47a51c7d19b36de3adf",
    "8833899d7f27beb16a9152cf765ee439",
    "0cce",
);

/// RFC 7714 section 16.1.3 (authentication tagging only, payload not encrypted), "AAD": the
/// whole 50-byte RTP packet (header and payload), with an empty plaintext.
pub(crate) const RFC7714_16_1_AUTH_ONLY_AAD: &str = concat!(
    "8040f17b8041f8d35501a0b247616c6c",
    "696120657374206f6d6e697320646976",
    "69736120696e20706172746573207472",
    "6573",
);

/// RFC 7714 section 16.1.3, "full GMAC": the 16-byte tag over RFC7714_16_1_AUTH_ONLY_AAD.
pub(crate) const RFC7714_16_1_AUTH_ONLY_TAG: &str = "22493f82d2bce397e9d79e3b19aa4216";

/// RFC 7714 section 16.1.3, "Tagged packet" (also the input of 16.1.4, "Verifying the following
/// packet"): 66 bytes = the unencrypted 50-byte RTP packet || 16-byte tag.
pub(crate) const RFC7714_16_1_AUTH_ONLY_PACKET: &str = concat!(
    "8040f17b8041f8d35501a0b247616c6c",
    "696120657374206f6d6e697320646976",
    "69736120696e20706172746573207472",
    "657322493f82d2bce397e9d79e3b19aa",
    "4216",
);

/// RFC 7714 sections 16.2.1 / 16.2.2, "Key": 32-byte AEAD_AES_256_GCM session key 00 01 .. 1f.
pub(crate) const RFC7714_16_2_KEY: &str =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// RFC 7714 section 16.2.1, "salt": 12-byte session salt (ASCII "Quid pro quo").
pub(crate) const RFC7714_16_2_SALT: &str = "517569642070726f2071756f";

/// RFC 7714 section 16.2.1, "Encrypting the following packet": the plaintext RTP packet, 50 bytes
/// (12-byte header || 38-byte payload). Section 16.2.2 decrypts back to it (and prints only the
/// 38-byte payload).
pub(crate) const RFC7714_16_2_PLAINTEXT: &str = concat!(
    "8040f17b8041f8d35501a0b247616c6c",
    "696120657374206f6d6e697320646976",
    "69736120696e20706172746573207472",
    "6573",
);

/// RFC 7714 section 16.2.1, "IV": 12 bytes (the same IV as section 16.1).
pub(crate) const RFC7714_16_2_IV: &str = "51753c6580c2726f20718414";

/// RFC 7714 section 16.2.1, "AAD": the 12-byte RTP header only.
pub(crate) const RFC7714_16_2_AAD: &str = "8040f17b8041f8d35501a0b2";

/// RFC 7714 section 16.2.1, "H": the 16-byte GHASH key AES-256(key, 0^128). For debugging.
pub(crate) const RFC7714_16_2_H: &str = "f29000b62a499fd0a9f39a6add2e7780";

/// RFC 7714 section 16.2.1, "full GMAC": the 16-byte authentication tag of the encrypted packet.
pub(crate) const RFC7714_16_2_TAG: &str = "7aa3db36dfffd6b0f9bb7878d7a76c13";

/// RFC 7714 section 16.2.1, "Encrypted and tagged packet" (also the input of 16.2.2): the full
/// SRTP packet on the wire, 66 bytes = 12-byte RTP header (clear) || 38-byte ciphertext ||
/// 16-byte tag.
pub(crate) const RFC7714_16_2_CIPHERTEXT: &str = concat!(
    "8040f17b8041f8d35501a0b232b1de78",
    "a822fe12ef9f78fa332e33aab1801238",
    "9a58e2f3b50b2a0276ffae0f1ba63799",
    "b87b7aa3db36dfffd6b0f9bb7878d7a7",
    "6c13",
);

/// RFC 7714 section 16.2.3 (authentication tagging only), "AAD": the whole 50-byte RTP packet,
/// with an empty plaintext.
pub(crate) const RFC7714_16_2_AUTH_ONLY_AAD: &str = concat!(
    "8040f17b8041f8d35501a0b247616c6c",
    "696120657374206f6d6e697320646976",
    "69736120696e20706172746573207472",
    "6573",
);

/// RFC 7714 section 16.2.3, "full GMAC": the 16-byte tag over RFC7714_16_2_AUTH_ONLY_AAD.
pub(crate) const RFC7714_16_2_AUTH_ONLY_TAG: &str = "a866d5910f887463067ceefec45215d4";

/// RFC 7714 section 16.2.3, "Tagged packet" (also the input of 16.2.4): 66 bytes = the
/// unencrypted 50-byte RTP packet || 16-byte tag.
pub(crate) const RFC7714_16_2_AUTH_ONLY_PACKET: &str = concat!(
    "8040f17b8041f8d35501a0b247616c6c",
    "696120657374206f6d6e697320646976",
    "69736120696e20706172746573207472",
    "6573a866d5910f887463067ceefec452",
    "15d4",
);

// ---------------------------------------------------------------------------------------------
// RFC 7714 section 17: SRTCP AEAD_AES_128_GCM / AEAD_AES_256_GCM.
//
// Errata note: the section 17 preamble prints an RTCP packet starting `81c8000e ...` (with
// `4e545031` and `0000eb98` in it), but all four worked examples, 17.1 to 17.4, use a different
// packet, `81c8000d ...` (with `4e545032` and `0000e930`). The constants below are the packet
// the examples use. SSRC 0x4d617273 ("Mars"), SRTCP index 0x000005d4, the same key and salt as
// section 16, 16-byte tags. The wire layout (RFC 7714 section 9.2 and the section 17 preamble) is:
// encrypted is 8-byte header || ciphertext || tag || ESRTCP word; tag-only is whole RTCP
// packet || tag || ESRTCP word. The ESRTCP word (E flag || 31-bit index) is the last 4 bytes in
// both cases, after the tag, unlike RFC 3711 SRTCP where the tag comes last.
// ---------------------------------------------------------------------------------------------

/// RFC 7714 section 17 (preamble): the SSRC of the test RTCP packet, 4 bytes (ASCII "Mars").
pub(crate) const RFC7714_17_SSRC: &str = "4d617273";

/// RFC 7714 section 17 (preamble): "32-bit SRTCP index 000005d4", without the E flag. 4 bytes.
pub(crate) const RFC7714_17_SRTCP_INDEX: &str = "000005d4";

/// RFC 7714 section 17.1, "Encrypting the following packet": the plaintext RTCP packet, 52
/// bytes.
pub(crate) const RFC7714_17_1_PLAINTEXT: &str = concat!(
    "81c8000d4d6172734e5450314e545032",
    "525450200000042a0000e9304c756e61",
    "deadbeefdeadbeefdeadbeefdeadbeef",
    "deadbeef",
);

/// RFC 7714 section 17.1, "Key": 16-byte AEAD_AES_128_GCM session key.
pub(crate) const RFC7714_17_1_KEY: &str = "000102030405060708090a0b0c0d0e0f";

/// RFC 7714 section 17.1, "salt": 12-byte session salt.
pub(crate) const RFC7714_17_1_SALT: &str = "517569642070726f2071756f";

/// RFC 7714 section 17.1, "IV": 12 bytes, (00 00 || SSRC || 00 00 || 0 || 31-bit index) XOR salt.
/// The E flag is not part of the IV.
pub(crate) const RFC7714_17_1_IV: &str = "517524055203726f207170bb";

/// RFC 7714 section 17.1, the ESRTCP word with the E flag set (encrypted): 4 bytes.
pub(crate) const RFC7714_17_1_ESRTCP_WORD: &str = "800005d4";

/// RFC 7714 section 17.1, "AAD": 12 bytes = the first 8 bytes of the RTCP packet || ESRTCP word.
pub(crate) const RFC7714_17_1_AAD: &str = "81c8000d4d617273800005d4";

/// RFC 7714 section 17.1, "full GMAC": the 16-byte tag.
pub(crate) const RFC7714_17_1_TAG: &str = "c84aa45896cf4d2fc5abf87245d9eade";

/// RFC 7714 section 17.1, "Encrypted and tagged packet": the full SRTCP packet on the wire, 72
/// bytes = 8-byte RTCP header (clear) || 44-byte ciphertext || 16-byte tag || ESRTCP word
/// `800005d4`.
pub(crate) const RFC7714_17_1_CIPHERTEXT: &str = concat!(
    "81c8000d4d61727363e94885dcdab67c",
    "a727d7662f6b7e997ff5c0f76c06f32d",
    "c676a5f1730d6fda4ce09b4686303ded",
    "0bb9275bc84aa45896cf4d2fc5abf872",
    "45d9eade800005d4",
);

/// RFC 7714 section 17.2 (AEAD_AES_256_GCM verification and decryption), "Decrypting the
/// following packet": the full SRTCP packet on the wire, 72 bytes = 8-byte RTCP header ||
/// 44-byte ciphertext || 16-byte tag || ESRTCP word `800005d4` (E flag set).
pub(crate) const RFC7714_17_2_CIPHERTEXT: &str = concat!(
    "81c8000d4d617273d50ae4d1f5ce5d30",
    "4ba297e47d470c282c3ece5dbffe0a50",
    "a2eaa5c1110555be8415f658c61de047",
    "6f1b6fad1d1eb30c4446839f57ff6f6c",
    "b26ac3be800005d4",
);

/// RFC 7714 section 17.2, "Key": 32-byte AEAD_AES_256_GCM session key.
pub(crate) const RFC7714_17_2_KEY: &str =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// RFC 7714 section 17.2, "salt": 12-byte session salt.
pub(crate) const RFC7714_17_2_SALT: &str = "517569642070726f2071756f";

/// RFC 7714 section 17.2, "IV": 12 bytes (the same as section 17.1).
pub(crate) const RFC7714_17_2_IV: &str = "517524055203726f207170bb";

/// RFC 7714 section 17.2, the ESRTCP word (E flag set): 4 bytes.
pub(crate) const RFC7714_17_2_ESRTCP_WORD: &str = "800005d4";

/// RFC 7714 section 17.2, "AAD": 12 bytes = RTCP header (8 bytes) || ESRTCP word.
pub(crate) const RFC7714_17_2_AAD: &str = "81c8000d4d617273800005d4";

/// RFC 7714 section 17.2, received/computed tag: 16 bytes.
pub(crate) const RFC7714_17_2_TAG: &str = "1d1eb30c4446839f57ff6f6cb26ac3be";

/// RFC 7714 section 17.2, "Verified and decrypted packet": the recovered RTCP packet, 52 bytes
/// (the same bytes as RFC7714_17_1_PLAINTEXT).
pub(crate) const RFC7714_17_2_PLAINTEXT: &str = concat!(
    "81c8000d4d6172734e5450314e545032",
    "525450200000042a0000e9304c756e61",
    "deadbeefdeadbeefdeadbeefdeadbeef",
    "deadbeef",
);

/// RFC 7714 section 17.3 (AEAD_AES_128_GCM tagging only, E flag clear), "Tagging the following
/// packet": the RTCP packet, 52 bytes.
pub(crate) const RFC7714_17_3_PLAINTEXT: &str = concat!(
    "81c8000d4d6172734e5450314e545032",
    "525450200000042a0000e9304c756e61",
    "deadbeefdeadbeefdeadbeefdeadbeef",
    "deadbeef",
);

/// RFC 7714 section 17.3, the ESRTCP word with the E flag clear (not encrypted): 4 bytes.
pub(crate) const RFC7714_17_3_ESRTCP_WORD: &str = "000005d4";

/// RFC 7714 section 17.3, "AAD": 56 bytes = the whole 52-byte RTCP packet || ESRTCP word, with an
/// empty plaintext.
pub(crate) const RFC7714_17_3_AAD: &str = concat!(
    "81c8000d4d6172734e5450314e545032",
    "525450200000042a0000e9304c756e61",
    "deadbeefdeadbeefdeadbeefdeadbeef",
    "deadbeef000005d4",
);

/// RFC 7714 section 17.3, "full GMAC": the 16-byte tag (key RFC7714_17_1_KEY, IV
/// RFC7714_17_1_IV).
pub(crate) const RFC7714_17_3_TAG: &str = "841dd9683dd78ec92ae58790125f62b3";

/// RFC 7714 section 17.3, "Tagged packet": the full SRTCP packet on the wire, 72 bytes = 52-byte
/// RTCP packet (clear) || 16-byte tag || ESRTCP word `000005d4`.
pub(crate) const RFC7714_17_3_TAGGED_PACKET: &str = concat!(
    "81c8000d4d6172734e5450314e545032",
    "525450200000042a0000e9304c756e61",
    "deadbeefdeadbeefdeadbeefdeadbeef",
    "deadbeef841dd9683dd78ec92ae58790",
    "125f62b3000005d4",
);

/// RFC 7714 section 17.4 (AEAD_AES_256_GCM tag verification), "Verifying the following packet":
/// the full SRTCP packet on the wire, 72 bytes = 52-byte RTCP packet (clear) || 16-byte tag ||
/// ESRTCP word `000005d4`. Key RFC7714_17_2_KEY, IV RFC7714_17_2_IV.
pub(crate) const RFC7714_17_4_TAGGED_PACKET: &str = concat!(
    "81c8000d4d6172734e5450314e545032",
    "525450200000042a0000e9304c756e61",
    "deadbeefdeadbeefdeadbeefdeadbeef",
    "deadbeef91db4afbfeee5a978fab4393",
    "ed2615fe000005d4",
);

/// RFC 7714 section 17.4, "AAD": 56 bytes = the whole RTCP packet || ESRTCP word `000005d4`.
pub(crate) const RFC7714_17_4_AAD: &str = concat!(
    "81c8000d4d6172734e5450314e545032",
    "525450200000042a0000e9304c756e61",
    "deadbeefdeadbeefdeadbeefdeadbeef",
    "deadbeef000005d4",
);

/// RFC 7714 section 17.4, received/computed tag: 16 bytes.
pub(crate) const RFC7714_17_4_TAG: &str = "91db4afbfeee5a978fab4393ed2615fe";

/// RFC 7714 section 17.4, "Verified packet": the RTCP packet after the tag and ESRTCP word are
/// removed, 52 bytes.
pub(crate) const RFC7714_17_4_PLAINTEXT: &str = concat!(
    "81c8000d4d6172734e5450314e545032",
    "525450200000042a0000e9304c756e61",
    "deadbeefdeadbeefdeadbeefdeadbeef",
    "deadbeef",
);

// ---------------------------------------------------------------------------------------------
// libsrtp test driver (test/srtp_driver.c): full-packet known answers. Values only.
//
// These are NOT RFC vectors. They come from libsrtp's `srtp_validate`, `srtp_validate_aes_256`
// and `srtp_validate_gcm` (cisco/libsrtp commit 9073dfe9eea29ebd75ea747278e997924f3988bd). They
// all use SSRC 0xcafebabe, RTP seq 0x1234 (ROC 0, so packet index 0x1234), timestamp 0xdecafbad
// and PT 15. The first SRTCP packet a sender protects has SRTCP index 1. The keys are *master*
// keys/salts: the RFC 3711 KDF (kdr = 0) runs first. For GCM, libsrtp pads the 12-byte master
// salt with two zero bytes on the right before it runs the AES-CM PRF. No MKI.
// ---------------------------------------------------------------------------------------------

/// libsrtp `srtp_validate*`: the SSRC of every packet, 4 bytes.
pub(crate) const LIBSRTP_SSRC: &str = "cafebabe";

/// libsrtp `srtp_validate*`: the RTP sequence number, 2 bytes (ROC 0).
pub(crate) const LIBSRTP_SEQ: &str = "1234";

/// libsrtp `srtp_validate*`: the SRTCP index the first protected RTCP packet gets, 4 bytes,
/// without the E flag. On the wire it appears as `80000001` (E set).
pub(crate) const LIBSRTP_SRTCP_INDEX: &str = "00000001";

/// libsrtp `srtp_plaintext_ref` / `rtp_plaintext_ref`: the plaintext RTP packet, 28 bytes =
/// 12-byte header (V=2, PT 15, seq 0x1234, ts 0xdecafbad, SSRC 0xcafebabe) || 16 bytes of 0xab.
pub(crate) const LIBSRTP_RTP_PLAINTEXT: &str =
    "800f1234decafbadcafebabeabababababababababababababababab";

/// libsrtp `rtcp_plaintext_ref`: the plaintext RTCP packet, 24 bytes = 8-byte header (SR, SSRC
/// 0xcafebabe) || 16 bytes of 0xab.
pub(crate) const LIBSRTP_RTCP_PLAINTEXT: &str = "81c8000bcafebabeabababababababababababababababab";

/// libsrtp `test_key[0..16]`: AES_CM_128_HMAC_SHA1_80 master key, 16 bytes (the same as RFC 3711
/// B.3's master key).
pub(crate) const LIBSRTP_AES128_SHA1_80_MASTER_KEY: &str = "e1f97a0d3e018be0d64fa32c06de4139";

/// libsrtp `test_key[16..30]`: AES_CM_128_HMAC_SHA1_80 master salt, 14 bytes (the same as RFC 3711
/// B.3's master salt).
pub(crate) const LIBSRTP_AES128_SHA1_80_MASTER_SALT: &str = "0ec675ad498afeebb6960b3aabe6";

/// libsrtp `srtp_validate` `srtp_ciphertext`: the SRTP packet on the wire for
/// LIBSRTP_RTP_PLAINTEXT under AES_CM_128_HMAC_SHA1_80, 38 bytes = 12-byte header (clear) ||
/// 16-byte AES-CM ciphertext || 10-byte HMAC-SHA1-80 tag (over header || ciphertext || ROC).
pub(crate) const LIBSRTP_AES128_SHA1_80_SRTP: &str =
    "800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402b78d6acc99ea179b8dbb";

/// libsrtp `srtp_validate` `srtcp_ciphertext`: the SRTCP packet on the wire for
/// LIBSRTP_RTCP_PLAINTEXT under AES_CM_128_HMAC_SHA1_80, 38 bytes = 8-byte header (clear) ||
/// 16-byte ciphertext || E||index `80000001` || 10-byte tag (over everything before it).
pub(crate) const LIBSRTP_AES128_SHA1_80_SRTCP: &str =
    "81c8000bcafebabe7128035be487b9bdbef89041f977a5a880000001993e08cd54d6c1230798";

/// libsrtp `srtp_validate_aes_256` `aes_256_test_key[0..32]`: AES_CM_256_HMAC_SHA1_80 master key,
/// 32 bytes (the same as RFC 6188 7.2's master key).
pub(crate) const LIBSRTP_AES256_SHA1_80_MASTER_KEY: &str =
    "f0f04914b513f2763a1b1fa130f10e2998f6f6e43e4309d1e622a0e332b9f1b6";

/// libsrtp `srtp_validate_aes_256` `aes_256_test_key[32..46]`: master salt, 14 bytes (the same as
/// RFC 6188 7.2's master salt).
pub(crate) const LIBSRTP_AES256_SHA1_80_MASTER_SALT: &str = "3b04803de51ee7c96423ab5b78d2";

/// libsrtp `srtp_validate_aes_256` `srtp_ciphertext`: the SRTP packet on the wire for
/// LIBSRTP_RTP_PLAINTEXT under AES_CM_256_HMAC_SHA1_80, 38 bytes = 12-byte header || 16-byte
/// ciphertext || 10-byte tag. (libsrtp has no SRTCP known answer for this suite.)
pub(crate) const LIBSRTP_AES256_SHA1_80_SRTP: &str =
    "800f1234decafbadcafebabef1d9de17ff251ff1aa007774b0b4b40da08d9d9a5b3a55d8873b";

/// libsrtp `test_key_gcm[0..16]`: AEAD_AES_128_GCM master key, 16 bytes.
pub(crate) const LIBSRTP_GCM128_MASTER_KEY: &str = "000102030405060708090a0b0c0d0e0f";

/// libsrtp `test_key_gcm[16..28]`: AEAD_AES_128_GCM master salt, 12 bytes.
pub(crate) const LIBSRTP_GCM128_MASTER_SALT: &str = "a0a1a2a3a4a5a6a7a8a9aaab";

/// libsrtp `srtp_validate_gcm` `srtp_ciphertext`: the SRTP packet on the wire for
/// LIBSRTP_RTP_PLAINTEXT under AEAD_AES_128_GCM (16-byte tag), 44 bytes = 12-byte header (clear,
/// the AAD) || 16-byte ciphertext || 16-byte tag.
pub(crate) const LIBSRTP_GCM128_SRTP: &str = concat!(
    "800f1234decafbadcafebabec5002ede",
    "04cfdd2eb91159e0880aa06ed2976826",
    "f796b201df3131a127e8a392",
);

/// libsrtp `srtp_validate_gcm` `srtcp_ciphertext`: the SRTCP packet on the wire for
/// LIBSRTP_RTCP_PLAINTEXT under AEAD_AES_128_GCM, 44 bytes = 8-byte header (clear) || 16-byte
/// ciphertext || 16-byte tag || ESRTCP word `80000001` (RFC 7714 layout; the AAD is
/// header || ESRTCP word).
pub(crate) const LIBSRTP_GCM128_SRTCP: &str = concat!(
    "81c8000bcafebabec98b8b5df0392a55",
    "852b6c21ac8e7025c52c6fbea2b3b446",
    "ea31123ba88ce61e80000001",
);
