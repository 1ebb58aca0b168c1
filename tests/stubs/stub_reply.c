/* Responses of stubd: the JSON answer, JSON errors, prepared answers (which
 * idempotent replays repeat), 100 Continue, and GET /__stub/big's body. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

#include "net/http.h"
#include "stub.h"

#define STUB_BIG_PIECE		16384
/* Keep this much queued ahead of the socket while streaming: enough to keep
 * TLS records full, small enough that memory stays flat for any size. */
#define STUB_BIG_AHEAD		(256u * 1024)

/* The big body is this 64-byte alphabet repeated: byte i is
 * stub_big_alphabet[i % 64], so a test can regenerate and compare it. Every
 * piece starts at a multiple of 64, so one static block serves them all. */
static const char	stub_big_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static char		stub_big_block[STUB_BIG_PIECE];

/* Fills the shared block once, before any worker thread starts. */
void
stub_reply_init(void)
{
	size_t	i;

	for (i = 0; i < sizeof(stub_big_block); i++)
		stub_big_block[i] = stub_big_alphabet[i % 64];
}

/* Status line and headers. clen < 0 means chunked; bodiless statuses
 * (204, 304) get no framing header at all, as RFC 9110 requires. extra is
 * more header lines, each ending in CRLF ("" for none). */
static int
stub_reply_head(struct evbuffer *out, const struct stub_cfg *cfg, int status,
    const char *ctype, int64_t clen, int keep_alive, const char *extra)
{
	int	rc;

	rc = evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nServer: stubd\r\n"
	    "X-Stub: %s\r\n%s", status, http_reason(status), cfg->name, extra);
	if (rc >= 0 && status != 204 && status != 304) {
		if (clen < 0)
			rc = evbuffer_add_printf(out, "Content-Type: %s\r\n"
			    "Transfer-Encoding: chunked\r\n", ctype);
		else
			rc = evbuffer_add_printf(out, "Content-Type: %s\r\n"
			    "Content-Length: %" PRId64 "\r\n", ctype, clen);
	}
	if (rc >= 0)
		rc = evbuffer_add_printf(out, "%s\r\n",
		    keep_alive ? "" : "Connection: close\r\n");
	if (rc < 0) {
		log_warnx("%s: evbuffer_add_printf failed", __func__);
		return -1;
	}
	return 0;
}

/* Head plus the JSON body collected in body (consumed). */
static int
stub_reply_json(struct evbuffer *out, const struct stub_cfg *cfg, int status,
    struct evbuffer *body, int keep_alive, int head)
{
	int	bodiless = status == 204 || status == 304;

	if (stub_reply_head(out, cfg, status, "application/json",
	    bodiless ? 0 : (int64_t)evbuffer_get_length(body), keep_alive,
	    "") == -1)
		return -1;
	if (head || bodiless)
		return 0;
	if (evbuffer_add_buffer(out, body) == -1) {
		log_warnx("%s: evbuffer_add_buffer failed", __func__);
		return -1;
	}
	return 0;
}

int
stub_reply_continue(struct evbuffer *out)
{
	static const char	cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

	if (evbuffer_add(out, cont, sizeof(cont) - 1) == -1) {
		log_warnx("%s: evbuffer_add failed", __func__);
		return -1;
	}
	return 0;
}

static const char *
stub_reply_hdr_or_empty(const struct stub_req *req, const char *name)
{
	const char	*v = stub_req_header(req, name);

	return v != NULL ? v : "";
}

/* The JSON echo of a request (what "answer" mode says) into b. */
static int
stub_reply_answer_body(struct evbuffer *b, const struct stub_cfg *cfg,
    const struct stub_req *req, const char *client_cn, uint64_t conn_id)
{
	if (evbuffer_add_printf(b, "{\"stub\":") < 0 ||
	    stub_json_str(b, cfg->name) == -1 ||
	    evbuffer_add_printf(b, ",\"method\":") < 0 ||
	    stub_json_str(b, req->method) == -1 ||
	    evbuffer_add_printf(b, ",\"path\":") < 0 ||
	    stub_json_str(b, stub_req_url(req)) == -1 ||
	    evbuffer_add_printf(b, ",\"body_bytes\":%" PRIu64
	    ",\"body_sha256\":\"%s\",\"client_cn\":", req->body_bytes,
	    req->body_sha256) < 0 ||
	    stub_json_str(b, client_cn) == -1 ||
	    evbuffer_add_printf(b, ",\"agency\":") < 0 ||
	    stub_json_str(b, stub_reply_hdr_or_empty(req,
	    "X-Gateway-Agency")) == -1 ||
	    evbuffer_add_printf(b, ",\"request_id\":") < 0 ||
	    stub_json_str(b, stub_reply_hdr_or_empty(req,
	    "X-Gateway-Request-Id")) == -1 ||
	    evbuffer_add_printf(b, ",\"conn\":%" PRIu64 "}", conn_id) < 0) {
		log_warnx("%s: cannot build answer", __func__);
		return -1;
	}
	return 0;
}

/* The error shape of DESIGN §2, plus the stub's name and the status. */
static int
stub_reply_error_body(struct evbuffer *b, const struct stub_cfg *cfg,
    int status, const char *code, const char *msg, const char *request_id)
{
	if (evbuffer_add_printf(b, "{\"error\":") < 0 ||
	    stub_json_str(b, msg) == -1 ||
	    evbuffer_add_printf(b, ",\"code\":") < 0 ||
	    stub_json_str(b, code) == -1 ||
	    evbuffer_add_printf(b, ",\"request_id\":") < 0 ||
	    stub_json_str(b, request_id != NULL ? request_id : "") == -1 ||
	    evbuffer_add_printf(b, ",\"stub\":") < 0 ||
	    stub_json_str(b, cfg->name) == -1 ||
	    evbuffer_add_printf(b, ",\"status\":%d}", status) < 0) {
		log_warnx("%s: cannot build error", __func__);
		return -1;
	}
	return 0;
}

int
stub_reply_error(struct evbuffer *out, const struct stub_cfg *cfg, int status,
    const char *code, const char *msg, const char *request_id, int keep_alive,
    int head)
{
	struct evbuffer	*b;
	int		 rc = -1;

	if ((b = evbuffer_new()) == NULL) {
		log_warnx("%s: evbuffer_new failed", __func__);
		return -1;
	}
	if (stub_reply_error_body(b, cfg, status, code, msg, request_id) == 0)
		rc = stub_reply_json(out, cfg, status, b, keep_alive, head);
	evbuffer_free(b);
	return rc;
}

/* Frees r's body; r is empty (status 0) afterwards. */
void
stub_reply_resp_clear(struct stub_resp *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* Moves the bytes of body (drained) into r, replacing what r held. */
int
stub_reply_resp_take(struct stub_resp *r, int status, const char *ctype,
    struct evbuffer *body)
{
	size_t	 len = evbuffer_get_length(body);
	uint8_t	*p = NULL;

	if (len > 0) {
		if ((p = malloc(len)) == NULL) {
			log_warnx("%s: out of memory", __func__);
			return -1;
		}
		if (evbuffer_remove(body, p, len) != (int)len) {
			log_warnx("%s: evbuffer_remove failed", __func__);
			free(p);
			return -1;
		}
	}
	stub_reply_resp_clear(r);
	r->status = status;
	r->ctype = ctype;
	r->body = p;
	r->len = len;
	return 0;
}

int
stub_reply_resp_answer(struct stub_resp *r, const struct stub_cfg *cfg,
    const struct stub_req *req, const char *client_cn, uint64_t conn_id,
    int status)
{
	struct evbuffer	*b;
	int		 rc = -1;

	if ((b = evbuffer_new()) == NULL) {
		log_warnx("%s: evbuffer_new failed", __func__);
		return -1;
	}
	if (stub_reply_answer_body(b, cfg, req, client_cn, conn_id) == 0)
		rc = stub_reply_resp_take(r, status, "application/json", b);
	evbuffer_free(b);
	return rc;
}

int
stub_reply_resp_error(struct stub_resp *r, const struct stub_cfg *cfg,
    int status, const char *code, const char *msg, const char *request_id)
{
	struct evbuffer	*b;
	int		 rc = -1;

	if ((b = evbuffer_new()) == NULL) {
		log_warnx("%s: evbuffer_new failed", __func__);
		return -1;
	}
	if (stub_reply_error_body(b, cfg, status, code, msg, request_id) == 0)
		rc = stub_reply_resp_take(r, status, "application/json", b);
	evbuffer_free(b);
	return rc;
}

/* Queues the prepared answer r (which stays r's: a replay sends a copy). */
int
stub_reply_send(struct evbuffer *out, const struct stub_cfg *cfg,
    const struct stub_resp *r, int keep_alive, int head)
{
	int	bodiless = r->status == 204 || r->status == 304;

	if (stub_reply_head(out, cfg, r->status, r->ctype, bodiless ? 0 :
	    (int64_t)r->len, keep_alive, r->replayed ?
	    "Idempotent-Replayed: true\r\n" : "") == -1)
		return -1;
	if (head || bodiless || r->len == 0)
		return 0;
	if (evbuffer_add(out, r->body, r->len) == -1) {
		log_warnx("%s: evbuffer_add failed", __func__);
		return -1;
	}
	return 0;
}

/*
 * Is url GET /__stub/big?bytes=N[&chunked=1]? Returns 1 with the parameters,
 * 0 for any other path, -1 for that path with bad parameters.
 */
int
stub_reply_big_parse(const char *url, uint64_t *bytes, int *chunked)
{
	static const char	 path[] = "/__stub/big";
	const char		*p, *amp, *eq;
	char			 val[32];
	size_t			 klen, vlen;
	int			 have_bytes = 0;

	if (strncmp(url, path, sizeof(path) - 1) != 0 ||
	    (url[sizeof(path) - 1] != '\0' && url[sizeof(path) - 1] != '?'))
		return 0;
	*bytes = 0;
	*chunked = 0;
	p = url[sizeof(path) - 1] == '?' ? url + sizeof(path) : "";
	while (*p != '\0') {
		if ((amp = strchr(p, '&')) == NULL)
			amp = p + strlen(p);
		if ((eq = memchr(p, '=', (size_t)(amp - p))) == NULL)
			eq = amp;
		klen = (size_t)(eq - p);
		vlen = eq < amp ? (size_t)(amp - eq - 1) : 0;
		if (vlen >= sizeof(val))
			return -1;
		memcpy(val, eq < amp ? eq + 1 : eq, vlen);
		val[vlen] = '\0';
		if (str_ieq(p, klen, "bytes")) {
			if (parse_u64(val, 0, STUB_MAX_BIG, bytes) == -1)
				return -1;
			have_bytes = 1;
		} else if (str_ieq(p, klen, "chunked")) {
			if (strcmp(val, "1") != 0 && strcmp(val, "0") != 0)
				return -1;
			*chunked = val[0] == '1';
		}
		p = *amp == '&' ? amp + 1 : amp;
	}
	return have_bytes ? 1 : -1;
}

int
stub_reply_big_head(struct evbuffer *out, const struct stub_cfg *cfg,
    const struct stub_big *big, uint64_t bytes, int keep_alive)
{
	return stub_reply_head(out, cfg, 200, "application/octet-stream",
	    big->chunked ? -1 : (int64_t)bytes, keep_alive, "");
}

/*
 * Queues more of the big body until STUB_BIG_AHEAD bytes wait in out; the
 * pieces reference the static block, so nothing is copied or allocated per
 * byte. Returns 1 when the whole body (and the last chunk) is queued, 0 when
 * more is to come (call again from the write callback), -1 on error.
 */
int
stub_reply_big_fill(struct evbuffer *out, struct stub_big *big)
{
	size_t	n;

	if (big->head) {
		big->left = 0;
		return 1;
	}
	while (big->left > 0 && evbuffer_get_length(out) < STUB_BIG_AHEAD) {
		n = big->left < STUB_BIG_PIECE ? (size_t)big->left :
		    STUB_BIG_PIECE;
		if ((big->chunked && evbuffer_add_printf(out, "%zx\r\n", n) < 0) ||
		    evbuffer_add_reference(out, stub_big_block, n, NULL,
		    NULL) == -1 ||
		    (big->chunked && evbuffer_add(out, "\r\n", 2) == -1)) {
			log_warnx("%s: cannot queue body", __func__);
			return -1;
		}
		big->left -= n;
	}
	if (big->left > 0)
		return 0;
	if (big->chunked && evbuffer_add(out, "0\r\n\r\n", 5) == -1) {
		log_warnx("%s: cannot queue last chunk", __func__);
		return -1;
	}
	return 1;
}
