/* IPC framing between roles: a fixed header (length, version, type, id) and a
 * bounded payload; anything malformed ends the channel. */
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "ipc.h"
#include "log.h"

int
ipc_send2(struct evbuffer *out, uint16_t type, uint64_t id,
    const void *payload, size_t len, const void *body, size_t blen)
{
	struct ipc_hdr	h;

	if (len > IPC_MAX_PAYLOAD || blen > IPC_MAX_PAYLOAD - len) {
		log_warnx("%s: message of %zu bytes too big", __func__, len + blen);
		return -1;
	}
	memset(&h, 0, sizeof(h));
	h.len = (uint32_t)(len + blen);
	h.version = IPC_VERSION;
	h.type = type;
	h.id = id;
	if (evbuffer_add(out, &h, sizeof(h)) == -1 ||
	    (len > 0 && evbuffer_add(out, payload, len) == -1) ||
	    (blen > 0 && evbuffer_add(out, body, blen) == -1))
		return -1;
	return 0;
}

int
ipc_send(struct evbuffer *out, uint16_t type, uint64_t id,
    const void *payload, size_t len)
{
	return ipc_send2(out, type, id, payload, len, NULL, 0);
}

int
ipc_recv(struct evbuffer *in, struct ipc_hdr *hdr, void *payload)
{
	size_t	have = evbuffer_get_length(in);

	if (have < sizeof(*hdr))
		return 0;
	evbuffer_copyout(in, hdr, sizeof(*hdr));
	if (hdr->version != IPC_VERSION || hdr->type == 0 ||
	    hdr->type >= IPC_TYPE_MAX || hdr->len > IPC_MAX_PAYLOAD) {
		log_warnx("%s: bad message (version %u, type %u, %u bytes)",
		    __func__, hdr->version, hdr->type, hdr->len);
		return -1;
	}
	if (have < sizeof(*hdr) + hdr->len)
		return 0;
	evbuffer_drain(in, sizeof(*hdr));
	evbuffer_remove(in, payload, hdr->len);
	return 1;
}

int
ipc_str_ok(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

int
ipc_send_fd(int sock, uint32_t slot, int fd)
{
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;

	memset(&msg, 0, sizeof(msg));
	memset(&cmsgbuf, 0, sizeof(cmsgbuf));
	iov.iov_base = &slot;
	iov.iov_len = sizeof(slot);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	while (sendmsg(sock, &msg, MSG_NOSIGNAL) == -1) {
		if (errno != EINTR) {
			log_warn("%s: sendmsg", __func__);
			return -1;
		}
	}
	return 0;
}

int
ipc_recv_fd(int sock, uint32_t *slot, int *fd)
{
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	ssize_t		 n;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = slot;
	iov.iov_len = sizeof(*slot);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);
	while ((n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) == -1 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof(*slot))
		return -1;
	cm = CMSG_FIRSTHDR(&msg);
	if (cm == NULL || cm->cmsg_level != SOL_SOCKET ||
	    cm->cmsg_type != SCM_RIGHTS || cm->cmsg_len != CMSG_LEN(sizeof(int)))
		return -1;
	memcpy(fd, CMSG_DATA(cm), sizeof(int));
	return 0;
}
