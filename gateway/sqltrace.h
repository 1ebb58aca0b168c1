/* For the query-plan test only: with GW_SQL_TRACE=FILE in the environment,
 * every distinct statement a connection runs is appended to FILE, one a
 * line, so that the test can ask SQLite how it plans each one. */
#ifndef GW_SQLTRACE_H
#define GW_SQLTRACE_H

struct sqlite3;

/* Attaches the trace to db when GW_SQL_TRACE is set (opening the file now,
 * before any sandbox); does nothing otherwise. */
void	sqltrace_attach(struct sqlite3 *db);

#endif
