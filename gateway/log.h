/* Logging for every role: JSON lines on stderr (the journal under systemd). */
#ifndef GW_LOG_H
#define GW_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR };

/* Sets the role name printed on every line ("parent", "relay", ...) and the
 * least level printed. */
void	log_init(const char *role, enum log_level min);
void	log_set_role(const char *role);
void	log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Like log_warnx, with ": strerror(errno)" appended. */
void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Logs and exits 1: only at start-up or on a broken invariant. */
void	fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void	fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
