/* Logging for every role: one JSON object per line on stderr, so journald and
 * log shippers need no parsing rules. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static const char	*log_role = "gatewayd";
static enum log_level	 log_min = LOG_LVL_INFO;

static const char *const log_names[] = { "debug", "info", "warn", "error" };

void
log_init(const char *role, enum log_level min)
{
	log_role = role;
	log_min = min;
	if (getenv("GATEWAY_DEBUG") != NULL)
		log_min = LOG_LVL_DEBUG;
}

void
log_set_role(const char *role)
{
	log_role = role;
}

static void
log_vemit(enum log_level lvl, int err, const char *fmt, va_list ap)
{
	char		 msg[1024], esc[2200], ts[40], line[2400];
	struct timespec	 now;
	struct tm	 tm;
	size_t		 n;

	if (lvl < log_min)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (err != 0) {
		n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(err));
	}
	json_escape(esc, sizeof(esc), msg);
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	n = (size_t)snprintf(line, sizeof(line),
	    "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"role\":\"%s\",\"pid\":%ld,"
	    "\"msg\":\"%s\"}\n", ts, now.tv_nsec / 1000000, log_names[lvl],
	    log_role, (long)getpid(), esc);
	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	/* One write(2) per line keeps lines from several processes whole. */
	(void)!write(STDERR_FILENO, line, n);
}

#define LOG_FN(name, lvl, witherr)				\
void								\
name(const char *fmt, ...)					\
{								\
	int	e = errno;					\
	va_list	ap;						\
	va_start(ap, fmt);					\
	log_vemit(lvl, witherr ? e : 0, fmt, ap);		\
	va_end(ap);						\
	errno = e;						\
}

LOG_FN(log_debug, LOG_LVL_DEBUG, 0)
LOG_FN(log_info, LOG_LVL_INFO, 0)
LOG_FN(log_warnx, LOG_LVL_WARN, 0)
LOG_FN(log_warn, LOG_LVL_WARN, 1)

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vemit(LOG_LVL_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatal(const char *fmt, ...)
{
	int	e = errno;
	va_list	ap;

	va_start(ap, fmt);
	log_vemit(LOG_LVL_ERROR, e, fmt, ap);
	va_end(ap);
	exit(1);
}
