/* One request as stubd sees it: the head kept (bounded) for the record and
 * the answer, the body hashed, and held only when a mode needs its bytes. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "log.h"
#include "util.h"

#include "stub.h"

/* A kept body buffer larger than this is given back between requests, so an
 * idle keep-alive connection does not pin a large upload's memory. */
#define STUB_REQ_BODY_KEEP_CAP	(1024u * 1024)

int
stub_req_init(struct stub_req *req, int keep_body)
{
	memset(req, 0, sizeof(*req));
	req->keep_body = keep_body;
	if ((req->md = EVP_MD_CTX_new()) == NULL) {
		log_warnx("%s: EVP_MD_CTX_new failed", __func__);
		return -1;
	}
	return 0;
}

/* Called at the start of every message; keeps the buffers for reuse so a
 * keep-alive connection does not allocate per request. */
void
stub_req_reset(struct stub_req *req)
{
	req->len = 0;
	req->nhdrs = 0;
	req->in_header = 0;
	req->method = "";
	req->head = 0;
	req->keep_alive = 0;
	req->expect_continue = 0;
	req->body_bytes = 0;
	req->body_sha256[0] = '\0';
	if (req->body_cap > STUB_REQ_BODY_KEEP_CAP) {
		free(req->body);
		req->body = NULL;
		req->body_cap = 0;
	}
	req->err_status = 0;
	req->err_code = NULL;
	if (EVP_DigestInit_ex(req->md, EVP_sha256(), NULL) != 1) {
		/* Only fails on allocation; the hash is then reported empty. */
		log_warnx("%s: EVP_DigestInit_ex failed", __func__);
	}
}

void
stub_req_free(struct stub_req *req)
{
	free(req->buf);
	free(req->hdrs);
	free(req->body);
	EVP_MD_CTX_free(req->md);
	memset(req, 0, sizeof(*req));
}

/* Appends head bytes; -1 once the head would pass STUB_MAX_HEAD (431). */
int
stub_req_append(struct stub_req *req, const char *at, size_t len)
{
	size_t	 ncap;
	char	*nbuf;

	if (len > STUB_MAX_HEAD || req->len + len > STUB_MAX_HEAD) {
		req->err_status = 431;
		req->err_code = "header_too_large";
		return -1;
	}
	if (req->len + len > req->cap) {
		ncap = req->cap == 0 ? 1024 : req->cap;
		while (ncap < req->len + len)
			ncap *= 2;
		if ((nbuf = realloc(req->buf, ncap)) == NULL) {
			log_warnx("%s: out of memory", __func__);
			req->err_status = 500;
			req->err_code = "internal";
			return -1;
		}
		req->buf = nbuf;
		req->cap = ncap;
	}
	memcpy(req->buf + req->len, at, len);
	req->len += len;
	return 0;
}

/* A header field starts: the name begins at the current end of buf. */
int
stub_req_header_begin(struct stub_req *req)
{
	struct stub_hdr	*nh;
	size_t		 ncap;

	if (req->in_header)
		return 0;
	if (req->nhdrs == req->hcap) {
		/* Each header takes at least two NULs in buf, so the head cap
		 * bounds this array too. */
		ncap = req->hcap == 0 ? 32 : req->hcap * 2;
		if ((nh = reallocarray(req->hdrs, ncap, sizeof(*nh))) == NULL) {
			log_warnx("%s: out of memory", __func__);
			req->err_status = 500;
			req->err_code = "internal";
			return -1;
		}
		req->hdrs = nh;
		req->hcap = ncap;
	}
	req->hdrs[req->nhdrs].name = (uint32_t)req->len;
	req->hdrs[req->nhdrs].value = (uint32_t)req->len;
	req->in_header = 1;
	return 0;
}

/* The field name is complete: terminate it, the value starts after it. */
int
stub_req_header_name_end(struct stub_req *req)
{
	if (!req->in_header)
		return 0;
	if (stub_req_append(req, "", 1) == -1)
		return -1;
	req->hdrs[req->nhdrs].value = (uint32_t)req->len;
	return 0;
}

/* The field's value is complete: the header counts from now on. */
int
stub_req_header_end(struct stub_req *req)
{
	if (!req->in_header)
		return 0;
	if (stub_req_append(req, "", 1) == -1)
		return -1;
	req->in_header = 0;
	req->nhdrs++;
	return 0;
}

const char *
stub_req_url(const struct stub_req *req)
{
	return req->len > 0 ? req->buf : "";
}

const char *
stub_req_hname(const struct stub_req *req, size_t i)
{
	return req->buf + req->hdrs[i].name;
}

const char *
stub_req_hvalue(const struct stub_req *req, size_t i)
{
	return req->buf + req->hdrs[i].value;
}

/* The first header of that name (case-insensitive), or NULL. */
const char *
stub_req_header(const struct stub_req *req, const char *name)
{
	size_t	i;

	for (i = 0; i < req->nhdrs; i++)
		if (strcasecmp(stub_req_hname(req, i), name) == 0)
			return stub_req_hvalue(req, i);
	return NULL;
}

/* How many headers of that name (case-insensitive) the request has. */
size_t
stub_req_header_count(const struct stub_req *req, const char *name)
{
	size_t	i, n = 0;

	for (i = 0; i < req->nhdrs; i++)
		if (strcasecmp(stub_req_hname(req, i), name) == 0)
			n++;
	return n;
}

/* Appends body bytes to the kept body, growing it by doubling; the caller
 * has checked STUB_MAX_BODY, which bounds it. */
static int
stub_req_keep(struct stub_req *req, const char *at, size_t len)
{
	size_t	 ncap, need = (size_t)req->body_bytes + len;
	uint8_t	*nb;

	if (need > req->body_cap) {
		ncap = req->body_cap == 0 ? 4096 : req->body_cap;
		while (ncap < need)
			ncap *= 2;
		if ((nb = realloc(req->body, ncap)) == NULL) {
			log_warnx("%s: out of memory", __func__);
			return -1;
		}
		req->body = nb;
		req->body_cap = ncap;
	}
	memcpy(req->body + req->body_bytes, at, len);
	return 0;
}

/* Hashes (and, with keep_body, holds) body bytes; -1 (413) past
 * STUB_MAX_BODY. */
int
stub_req_body(struct stub_req *req, const char *at, size_t len)
{
	if (len > STUB_MAX_BODY || req->body_bytes + len > STUB_MAX_BODY) {
		req->err_status = 413;
		req->err_code = "body_too_large";
		return -1;
	}
	if (req->keep_body && stub_req_keep(req, at, len) == -1) {
		req->err_status = 500;
		req->err_code = "internal";
		return -1;
	}
	req->body_bytes += len;
	if (EVP_DigestUpdate(req->md, at, len) != 1) {
		log_warnx("%s: EVP_DigestUpdate failed", __func__);
		req->err_status = 500;
		req->err_code = "internal";
		return -1;
	}
	return 0;
}

int
stub_req_body_done(struct stub_req *req)
{
	unsigned char	md[EVP_MAX_MD_SIZE];
	unsigned int	mdlen = 0;

	if (EVP_DigestFinal_ex(req->md, md, &mdlen) != 1 || mdlen != 32) {
		log_warnx("%s: EVP_DigestFinal_ex failed", __func__);
		req->body_sha256[0] = '\0';
		return -1;
	}
	hex_encode(req->body_sha256, md, mdlen);
	return 0;
}
