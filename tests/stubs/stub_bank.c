/* Bank mode of stubd (--verify-key): every POST must carry the gateway's RFC
 * 9421 signature, and a signed pain.001 is acknowledged with pain.002 RCVD.
 * A File-Signature (the detached signature over the file's bytes that a bank
 * archives) is checked too, and its verdict recorded. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <openssl/evp.h>

#include "log.h"
#include "util.h"
#include "keeper/sign.h"
#include "net/httpsig.h"

#include "stub.h"

#define STUB_BANK_PAIN001_NS	"urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"
#define STUB_BANK_PAIN002_NS	"urn:iso:std:iso:20022:tech:xsd:pain.002.001.10"
/* ISO 20022 Max35Text: the longest MsgId we echo back. */
#define STUB_BANK_ID_MAX	35

/* Loads --verify-key (and --sm2-id for an SM2 key) into cfg->verify_key,
 * which is cfg's until stub_bank_free. At start-up. 0 or -1. */
int
stub_bank_load(struct stub_cfg *cfg)
{
	const char	*id = cfg->sm2_id != NULL ? cfg->sm2_id :
			    SIGN_SM2_DEFAULT_ID;

	if (sign_key_load_public(cfg->verify_key_path, &cfg->verify_key) == -1)
		return -1;
	if (cfg->verify_key->alg == SIGN_ALG_SM2) {
		if (sign_key_set_sm2_id(cfg->verify_key, id, strlen(id)) == -1)
			return -1;
	} else if (cfg->sm2_id != NULL)
		log_warnx("%s: --sm2-id ignored: %s is a %s key", __func__,
		    cfg->verify_key_path, sign_alg_name(cfg->verify_key->alg));
	log_info("bank mode: POSTs must be signed by %s key %s",
	    sign_alg_name(cfg->verify_key->alg), cfg->verify_key->key_id);
	return 0;
}

void
stub_bank_free(struct stub_cfg *cfg)
{
	sign_key_free(cfg->verify_key);
	cfg->verify_key = NULL;
}

/* The one value of a header the signature depends on; a repeated one is
 * refused, since which copy was signed would be ambiguous. */
static const char *
stub_bank_header(const struct stub_req *req, const char *name, int *dup)
{
	if (stub_req_header_count(req, name) > 1)
		*dup = 1;
	return stub_req_header(req, name);
}

/* NULL when req carries a valid signature by cfg->verify_key over its
 * method, path, Content-Type and body; otherwise the reason (static). */
const char *
stub_bank_verify(const struct stub_cfg *cfg, const struct stub_req *req)
{
	const char	*ctype, *digest, *input, *sig, *why = NULL;
	int		 dup = 0;

	ctype = stub_bank_header(req, "Content-Type", &dup);
	digest = stub_bank_header(req, "Content-Digest", &dup);
	input = stub_bank_header(req, "Signature-Input", &dup);
	sig = stub_bank_header(req, "Signature", &dup);
	if (dup)
		return "duplicate-header";
	if (httpsig_verify(cfg->verify_key, req->method, stub_req_url(req),
	    ctype, digest, input, sig, req->body, (size_t)req->body_bytes,
	    &why) == -1)
		return why != NULL ? why : "bad-signature";
	return NULL;
}

/*
 * The value of name="..." at *p into out (size outsz); *p then moves past it
 * and the ", " after it. -1 when *p is not at it. Escapes are refused: the
 * gateway's values (algorithm names, key ids, the SM2 ids a test uses) never
 * need them.
 */
static int
stub_bank_param(const char **p, const char *name, char *out, size_t outsz)
{
	const char	*v, *e;
	size_t		 n = strlen(name);

	if (strncmp(*p, name, n) != 0 || (*p)[n] != '=' || (*p)[n + 1] != '"')
		return -1;
	v = *p + n + 2;
	if ((e = strchr(v, '"')) == NULL || memchr(v, '\\', (size_t)(e - v)) !=
	    NULL || (size_t)(e - v) >= outsz || strncmp(e + 1, ", ", 2) != 0)
		return -1;
	memcpy(out, v, (size_t)(e - v));
	out[e - v] = '\0';
	*p = e + 3;
	return 0;
}

/*
 * The verdict on req's File-Signature: NULL when it has none, "ok" when it
 * is the gateway's form (alg="...", keyid="...", [distid="..." for SM2,]
 * sig=:<base64>:) with a valid signature by cfg->verify_key over the body's
 * exact bytes, otherwise the reason (static).
 */
const char *
stub_bank_verify_file(const struct stub_cfg *cfg, const struct stub_req *req)
{
	const struct sign_key	*k = cfg->verify_key;
	const char		*p, *e;
	char			 alg[32], keyid[SIGN_KEY_ID_LEN + 1];
	char			 distid[SIGN_SM2_ID_MAX + 1];
	char			 b64[4 * ((SIGN_MAX_SIG + 2) / 3) + 1];
	uint8_t			 sig[SIGN_MAX_SIG + 3];
	size_t			 n;
	int			 slen;

	if ((p = stub_req_header(req, "File-Signature")) == NULL)
		return NULL;
	if (stub_req_header_count(req, "File-Signature") > 1)
		return "duplicate-header";
	if (stub_bank_param(&p, "alg", alg, sizeof(alg)) == -1 ||
	    stub_bank_param(&p, "keyid", keyid, sizeof(keyid)) == -1 ||
	    (k->alg == SIGN_ALG_SM2 && stub_bank_param(&p, "distid", distid,
	    sizeof(distid)) == -1) || strncmp(p, "sig=:", 5) != 0)
		return "bad-file-signature-header";
	p += 5;
	if ((e = strchr(p, ':')) == NULL || e[1] != '\0' ||
	    (n = (size_t)(e - p)) == 0 || n % 4 != 0 || n >= sizeof(b64))
		return "bad-file-signature-header";
	memcpy(b64, p, n);
	b64[n] = '\0';
	/* EVP_DecodeBlock counts the padding as bytes: take them off. */
	if ((slen = EVP_DecodeBlock(sig, (const unsigned char *)b64,
	    (int)n)) <= 0)
		return "bad-file-signature-header";
	slen -= (b64[n - 1] == '=') + (b64[n - 2] == '=');
	if (strcmp(alg, sign_alg_name(k->alg)) != 0)
		return "alg-mismatch";
	if (strcmp(keyid, k->key_id) != 0)
		return "wrong-key";
	if (k->alg == SIGN_ALG_SM2 && (strlen(distid) != k->sm2_id_len ||
	    memcmp(distid, k->sm2_id, k->sm2_id_len) != 0))
		return "distid-mismatch";
	if (slen <= 0 || sign_verify(k, req->body, (size_t)req->body_bytes, sig,
	    (size_t)slen) == -1)
		return "bad-file-signature";
	return "ok";
}

/* The first "<tag" in [p, end) that is a whole element name. */
static const char *
stub_bank_find_tag(const char *p, const char *end, const char *tag)
{
	size_t		 n = strlen(tag);
	const char	*q;

	while (p < end && (q = memmem(p, (size_t)(end - p), tag, n)) != NULL) {
		if (q + n < end && (q[n] == '>' || q[n] == ' ' || q[n] == '\t' ||
		    q[n] == '\r' || q[n] == '\n'))
			return q;
		p = q + n;
	}
	return NULL;
}

/*
 * GrpHdr/MsgId of a pain.001 in body into id (size idsz): a bounded string
 * search, enough for the gateway's own serialization (no namespace prefix,
 * ASCII ids). 1 when body is a pain.001 and the id was found, 0 when body is
 * not a pain.001, -1 when it is one without a usable MsgId.
 */
static int
stub_bank_msg_id(const char *body, size_t len, char *id, size_t idsz)
{
	const char	*end = body + len, *hdr, *v, *ve;
	size_t		 n, i;

	if (memmem(body, len, STUB_BANK_PAIN001_NS,
	    sizeof(STUB_BANK_PAIN001_NS) - 1) == NULL ||
	    stub_bank_find_tag(body, end, "<CstmrCdtTrfInitn") == NULL)
		return 0;
	if ((hdr = stub_bank_find_tag(body, end, "<GrpHdr")) == NULL ||
	    (v = memmem(hdr, (size_t)(end - hdr), "<MsgId>", 7)) == NULL)
		return -1;
	v += 7;
	if ((ve = memmem(v, (size_t)(end - v), "</MsgId>", 8)) == NULL)
		return -1;
	n = (size_t)(ve - v);
	if (n == 0 || n > STUB_BANK_ID_MAX || n >= idsz)
		return -1;
	/* Copied into our XML as is: no markup, no entity, ASCII only. */
	for (i = 0; i < n; i++)
		if (v[i] < 0x20 || v[i] > 0x7e || strchr("<>&\"'", v[i]) != NULL)
			return -1;
	memcpy(id, v, n);
	id[n] = '\0';
	return 1;
}

/*
 * When req's body is a pain.001, fills resp with 202 and a pain.002.001.10
 * whose group status is RCVD (received, not yet checked), for OrgnlMsgId the
 * pain.001's GrpHdr/MsgId; returns 1. Returns 0 (resp untouched) for any
 * other body, and 1 with a 400 "bad-pain001" in resp for a pain.001 whose
 * MsgId cannot be taken. -1 when out of memory.
 */
int
stub_bank_pain002(const struct stub_cfg *cfg, const struct stub_req *req,
    uint64_t seq, struct stub_resp *resp)
{
	struct evbuffer	*b;
	struct tm	 tm;
	time_t		 now = time(NULL);
	char		 id[STUB_BANK_ID_MAX + 1], ts[32];
	int		 rc;

	if (req->body_bytes == 0)
		return 0;
	rc = stub_bank_msg_id((const char *)req->body, (size_t)req->body_bytes,
	    id, sizeof(id));
	if (rc == 0)
		return 0;
	if (rc == -1) {
		log_warnx("%s: a pain.001 without a usable GrpHdr/MsgId",
		    __func__);
		if (stub_reply_resp_error(resp, cfg, 400, "bad-pain001",
		    "pain.001 without a usable GrpHdr/MsgId",
		    stub_req_header(req, "X-Gateway-Request-Id")) == -1)
			return -1;
		return 1;
	}
	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		log_warnx("%s: cannot format the time", __func__);
		return -1;
	}
	if ((b = evbuffer_new()) == NULL) {
		log_warnx("%s: evbuffer_new failed", __func__);
		return -1;
	}
	/* The minimal valid report: GrpHdr (MsgId, CreDtTm) and the group
	 * status of the original message; the stub's MsgId is unique per run
	 * and fits Max35Text for any seq. */
	if (evbuffer_add_printf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<Document xmlns=\"" STUB_BANK_PAIN002_NS "\">\n<CstmrPmtStsRpt>\n"
	    "<GrpHdr><MsgId>STUB-RCVD-%" PRIu64 "</MsgId><CreDtTm>%s</CreDtTm>"
	    "</GrpHdr>\n<OrgnlGrpInfAndSts><OrgnlMsgId>%s</OrgnlMsgId>"
	    "<OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId><GrpSts>RCVD</GrpSts>"
	    "</OrgnlGrpInfAndSts>\n</CstmrPmtStsRpt>\n</Document>\n", seq, ts,
	    id) < 0 || stub_reply_resp_take(resp, 202,
	    "application/xml; charset=UTF-8", b) == -1) {
		log_warnx("%s: cannot build the pain.002", __func__);
		evbuffer_free(b);
		return -1;
	}
	evbuffer_free(b);
	return 1;
}
