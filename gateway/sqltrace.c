/* The statement trace of the query-plan test (GW_SQL_TRACE): each distinct
 * statement once per process, appended whole with one write(2) to a file
 * that the keeper and gatewayctl share (O_APPEND keeps the lines apart). */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "sqltrace.h"

/* Hashes of the statements written already; when it is full, statements
 * are written again (a repeated line costs the test nothing). */
#define SQLTRACE_SEEN	4096
#define SQLTRACE_LINE	8192

static int	 sqltrace_fd = -1;
static uint64_t	 sqltrace_seen[SQLTRACE_SEEN];

static int
sqltrace_first(const char *sql)
{
	uint64_t	h = 1469598103934665603ULL;
	size_t		i;

	for (; *sql != '\0'; sql++)
		h = (h ^ (unsigned char)*sql) * 1099511628211ULL;
	h |= 1;		/* 0 marks an empty slot */
	for (i = 0; i < SQLTRACE_SEEN; i++) {
		uint64_t *slot = &sqltrace_seen[(h + i) % SQLTRACE_SEEN];

		if (*slot == h)
			return 0;
		if (*slot == 0) {
			*slot = h;
			return 1;
		}
	}
	return 1;
}

static int
sqltrace_cb(unsigned type, void *arg, void *p, void *x)
{
	char		 line[SQLTRACE_LINE];
	const char	*sql;
	size_t		 i, n;

	if (type != SQLITE_TRACE_PROFILE || (sql = sqlite3_sql(p)) == NULL ||
	    (n = strlen(sql)) + 1 > sizeof(line) || !sqltrace_first(sql))
		return 0;
	/* One statement a line: newlines inside it become spaces. */
	for (i = 0; i < n; i++)
		line[i] = sql[i] == '\n' || sql[i] == '\r' ? ' ' : sql[i];
	line[n] = '\n';
	(void)!write(sqltrace_fd, line, n + 1);
	return 0;
}

void
sqltrace_attach(sqlite3 *db)
{
	const char	*path = getenv("GW_SQL_TRACE");

	if (path == NULL || path[0] == '\0')
		return;
	if (sqltrace_fd == -1 && (sqltrace_fd = open(path, O_WRONLY |
	    O_APPEND | O_CREAT | O_CLOEXEC, 0600)) == -1)
		return;
	sqlite3_trace_v2(db, SQLITE_TRACE_PROFILE, sqltrace_cb, NULL);
}
