/* Thin shim over libsrtp2 so the Rust side never mirrors srtp_policy_t by hand: the struct
 * layout comes from the installed header. Dev-only: interop tests and benches. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <srtp2/srtp.h>

#define REF_MAX_KEYS 16

int ref_init(void) {
    static int done = 0;
    if (done) return 0;
    int rc = srtp_init();
    if (rc == 0) done = 1;
    return rc;
}

static int set_suite(srtp_crypto_policy_t *rtp, srtp_crypto_policy_t *rtcp, int suite) {
    switch (suite) {
    case 0: srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(rtp);
            srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(rtcp); return 0;
    case 1: srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(rtp);
            srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(rtcp); return 0;
    case 2: srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(rtp);
            srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(rtcp); return 0;
    case 3: srtp_crypto_policy_set_aes_cm_256_hmac_sha1_32(rtp);
            srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(rtcp); return 0;
    case 4: srtp_crypto_policy_set_aes_gcm_128_16_auth(rtp);
            srtp_crypto_policy_set_aes_gcm_128_16_auth(rtcp); return 0;
    case 5: srtp_crypto_policy_set_aes_gcm_256_16_auth(rtp);
            srtp_crypto_policy_set_aes_gcm_256_16_auth(rtcp); return 0;
    default: return -1;
    }
}

/* key_salts: n_keys concatenated key||salt buffers of key_salt_len bytes each.
 * mkis: n_keys concatenated MKIs of mki_len bytes each (mki_len 0: no MKI, n_keys must be 1). */
int ref_create(srtp_t *out, int suite, int inbound, const uint8_t *key_salts, int key_salt_len,
               int n_keys, const uint8_t *mkis, int mki_len, unsigned long window,
               int allow_repeat_tx, int rtcp_encrypt) {
    if (n_keys < 1 || n_keys > REF_MAX_KEYS || (mki_len == 0 && n_keys != 1)) return -1;
    srtp_policy_t policy;
    memset(&policy, 0, sizeof policy);
    if (set_suite(&policy.rtp, &policy.rtcp, suite) != 0) return -1;
    if (!rtcp_encrypt) policy.rtcp.sec_serv = sec_serv_auth;
    policy.ssrc.type = inbound ? ssrc_any_inbound : ssrc_any_outbound;
    policy.window_size = window;
    policy.allow_repeat_tx = allow_repeat_tx;
    uint8_t keybuf[REF_MAX_KEYS][64];
    uint8_t mkibuf[REF_MAX_KEYS][128];
    srtp_master_key_t mk[REF_MAX_KEYS];
    srtp_master_key_t *mkp[REF_MAX_KEYS];
    if (key_salt_len > 64 || mki_len > 128) return -1;
    if (mki_len == 0) {
        memcpy(keybuf[0], key_salts, key_salt_len);
        policy.key = keybuf[0];
    } else {
        for (int i = 0; i < n_keys; i++) {
            memcpy(keybuf[i], key_salts + i * key_salt_len, key_salt_len);
            memcpy(mkibuf[i], mkis + i * mki_len, mki_len);
            mk[i].key = keybuf[i];
            mk[i].mki_id = mkibuf[i];
            mk[i].mki_size = mki_len;
            mkp[i] = &mk[i];
        }
        policy.keys = mkp;
        policy.num_master_keys = n_keys;
    }
    policy.next = NULL;
    return srtp_create(out, &policy);
}

int ref_protect(srtp_t s, uint8_t *buf, int *len, int use_mki, unsigned mki_index) {
    return srtp_protect_mki(s, buf, len, use_mki, mki_index);
}

int ref_unprotect(srtp_t s, uint8_t *buf, int *len, int use_mki) {
    return srtp_unprotect_mki(s, buf, len, use_mki);
}

int ref_protect_rtcp(srtp_t s, uint8_t *buf, int *len, int use_mki, unsigned mki_index) {
    return srtp_protect_rtcp_mki(s, buf, len, use_mki, mki_index);
}

int ref_unprotect_rtcp(srtp_t s, uint8_t *buf, int *len, int use_mki) {
    return srtp_unprotect_rtcp_mki(s, buf, len, use_mki);
}

int ref_dealloc(srtp_t s) {
    return srtp_dealloc(s);
}
