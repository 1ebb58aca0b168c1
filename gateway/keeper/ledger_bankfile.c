/* The bank file of a disbursement: the pain.001 bytes in the bank's charset,
 * the RFC 9421 transport signature over them, and a detached signature over
 * the bytes themselves (File-Signature) so the bank can verify an archived
 * file with its public key alone. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/sha.h>

#include "keeper/ledger_int.h"
#include "keeper/sign.h"
#include "log.h"
#include "net/httpsig.h"
#include "util.h"

/* The File-Signature value: alg, keyid, the SM2 id as an sf-string, the
 * base64 signature; 512 bytes hold the longest (a 128-byte id, all escaped). */
#define LEDGER_FILE_SIG_MAX	512

/*
 * The File-Signature header value (an RFC 8941 Dictionary) of fsig, the
 * detached signature by k over the file's exact bytes ({"alg", "key_id",
 * "value"} from ledger_sign), into out (size outsz):
 *
 *   alg="<sign_alg_name>", keyid="<key id>"[, distid="<SM2 id>"], sig=:<base64>:
 *
 * An SM2 signature hashes its distinguishing id: it is named in the header
 * and recorded in fsig as "sm2_id", so an archived file can be checked
 * without knowing how the gateway was configured.
 */
static int
ledger_file_signature(const struct sign_key *k, json_t *fsig, char *out,
    size_t outsz)
{
	char	distid[2 * SIGN_SM2_ID_MAX + sizeof(", distid=\"\"")];
	size_t	i, n = 0;

	distid[0] = '\0';
	if (k->alg == SIGN_ALG_SM2) {
		/* An sf-string is printable ASCII, '"' and backslash escaped. */
		n = strlen(", distid=\"");
		memcpy(distid, ", distid=\"", n);
		for (i = 0; i < k->sm2_id_len; i++) {
			uint8_t c = k->sm2_id[i];

			if (c < 0x20 || c > 0x7e) {
				log_warnx("%s: SM2 id of key %s is not printable "
				    "ASCII: it cannot be named in File-Signature",
				    __func__, k->key_id);
				return -1;
			}
			if (c == '"' || c == '\\')
				distid[n++] = '\\';
			distid[n++] = (char)c;
		}
		distid[n++] = '"';
		distid[n] = '\0';
		if (json_object_set_new(fsig, "sm2_id", json_stringn(
		    (const char *)k->sm2_id, k->sm2_id_len)) == -1) {
			log_warnx("%s: out of memory", __func__);
			return -1;
		}
	}
	if (str_printf(out, outsz, "alg=\"%s\", keyid=\"%s\"%s, sig=:%s:",
	    json_string_value(json_object_get(fsig, "alg")),
	    json_string_value(json_object_get(fsig, "key_id")), distid,
	    json_string_value(json_object_get(fsig, "value"))) == -1) {
		log_warnx("%s: File-Signature longer than %zu bytes", __func__,
		    outsz - 1);
		return -1;
	}
	return 0;
}

/* The bank file: written once in the bank's charset, signed over those
 * bytes (RFC 9421 over RFC 9530's digest of them) for the transport, and
 * with a detached signature over the bytes themselves (File-Signature), so
 * the bank can verify an archived file alone. *file is the caller's. */
int
ledger_bank_file(struct ledger_ctx *x, const struct pain001_input *pin,
    const struct cfg_bank *bank, size_t bidx, char **file, size_t *flen,
    char *headers, size_t hsz, json_t **desc)
{
	const struct sign_key	*k = x->l->bank_keys[bidx];
	struct adapter_error	err;
	struct httpsig_msg	hm;
	json_t			*fsig = NULL;
	char			ctype[64], digest[HTTPSIG_DIGEST_MAX];
	char			input[HTTPSIG_INPUT_MAX], sig[HTTPSIG_SIG_MAX];
	char			fhdr[LEDGER_FILE_SIG_MAX];
	char			hex[65];
	uint8_t			h[32];

	memset(&err, 0, sizeof(err));
	if (pain001_write(x->in, pin, bank->charset, file, flen, &err) == -1) {
		log_warnx("%s: %s: pain.001 not written: %s %s", __func__,
		    x->in->id, err.code, err.detail);
		return -1;
	}
	str_printf(ctype, sizeof(ctype), "application/xml; charset=%s",
	    bank->charset);
	memset(&hm, 0, sizeof(hm));
	hm.method = "POST";
	hm.path = LEDGER_PATH_PAIN001;
	hm.ctype = ctype;
	hm.content_digest = digest;
	hm.created = (int64_t)time(NULL);	/* RFC 9421: Unix time */
	if (httpsig_content_digest(*file, *flen, digest, sizeof(digest)) == -1 ||
	    httpsig_sign(k, &hm, input, sizeof(input), sig, sizeof(sig)) == -1 ||
	    (fsig = ledger_sign(k, *file, *flen)) == NULL ||
	    ledger_file_signature(k, fsig, fhdr, sizeof(fhdr)) == -1)
		goto fail;
	if (str_printf(headers, hsz, "Content-Digest: %s\r\nSignature-Input: "
	    "%s\r\nSignature: %s\r\nFile-Signature: %s\r\n", digest, input,
	    sig, fhdr) == -1) {
		log_warnx("%s: %s: headers longer than %zu bytes", __func__,
		    x->in->id, hsz - 1);
		goto fail;
	}
	SHA256((const unsigned char *)*file, *flen, h);
	hex_encode(hex, h, 32);
	*desc = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:s, "
	    "s:O}", "format", "pain.001.001.09", "bank", bank->name,
	    "charset", bank->charset, "sha256", hex, "bytes", (json_int_t)*flen,
	    "content_type", ctype, "content_digest", digest,
	    "signature_input", input, "signature", sig, "key_id", k->key_id,
	    "file_signature", fsig);
	if (*desc == NULL) {
		log_warnx("%s: %s: out of memory", __func__, x->in->id);
		goto fail;
	}
	json_decref(fsig);
	return 0;

fail:
	json_decref(fsig);
	free(*file);
	*file = NULL;
	return -1;
}
