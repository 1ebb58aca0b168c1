/* libFuzzer target for IPC decoding: arbitrary bytes as a stream of framed
 * messages (ipc_recv must take whole messages or refuse the framing, never
 * read past them), and each payload as the courier's IPC_DELIVER check
 * (validate_deliver must refuse or accept without touching memory it was
 * not given; an accepted one has NUL-terminated strings).
 *
 * FUZZ_SOURCES: gateway/ipc.c gateway/courier/validate.c gateway/util.c gateway/log.c
 * FUZZ_LIBS: -levent
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "courier/validate.h"
#include "ipc.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static void		*msg;
	struct evbuffer		*in;
	struct ipc_hdr		 h;
	const char		*why;
	int			 rc, n = 0;

	if (msg == NULL && (msg = malloc(IPC_MAX_PAYLOAD)) == NULL)
		abort();
	if ((in = evbuffer_new()) == NULL)
		abort();
	evbuffer_add(in, data, size);
	while ((rc = ipc_recv(in, &h, msg)) == 1 && n++ < 64) {
		if (h.len > IPC_MAX_PAYLOAD)
			abort();
		if (validate_deliver(msg, h.len, 3, &why) == 0) {
			const struct ipc_deliver *d = msg;

			if (h.len < sizeof(*d) || d->upstream >= 3 ||
			    !ipc_str_ok(d->path, sizeof(d->path)) ||
			    !ipc_str_ok(d->headers, sizeof(d->headers)))
				abort();
		}
	}
	evbuffer_free(in);
	return 0;
}
