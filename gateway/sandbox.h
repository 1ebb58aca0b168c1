/* Per-role sandboxes: each role gives up what it does not need before it
 * touches untrusted input (descriptors, privileges, files, system calls). */
#ifndef GW_SANDBOX_H
#define GW_SANDBOX_H

#include <stddef.h>
#include <sys/types.h>

enum sandbox_role { SANDBOX_RELAY, SANDBOX_KEEPER, SANDBOX_COURIER };

/* Sanitizer builds: LeakSanitizer needs a few more calls and /proc at exit;
 * the sandboxes allow exactly that there, never in release builds. */
#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_SANITIZER 1
#endif
#endif

struct sandbox_spec {
	enum sandbox_role	 role;
	const int		*keep_fds;	/* besides 0, 1, 2 */
	size_t			 nkeep;
	uid_t			 uid;		/* (uid_t)-1: stay */
	gid_t			 gid;
	unsigned long		 max_files;	/* RLIMIT_NOFILE */
	const char		*rw_dirs[4];	/* keeper: its folders */
	int			 enforce;	/* 0: off (config sandbox = no) */
};

/* Closes every descriptor above 2 that is not in keep_fds: first thing in a
 * new role, before it creates descriptors of its own. */
void	sandbox_close_fds(const struct sandbox_spec *);
/* Enters the role's sandbox once its set-up is done; on failure the role
 * must not go on. 0 or -1. Order matters: limits, drop privileges, no new
 * privileges, Landlock, then seccomp last (it forbids the set-up calls). */
int	sandbox_enter(const struct sandbox_spec *);

/* Proves the sandbox holds: with GATEWAY_SANDBOX_PROBE set to "open",
 * "exec" or "unix-socket" in its environment, a role that has entered its
 * sandbox tries exactly that (and is killed). Used by the tests; does
 * nothing without the variable. */
void	sandbox_probe(void);

/* sandbox_landlock.c: file-system rules where the kernel has Landlock.
 * Returns 0 if applied or unavailable (logged), -1 on failure. */
int	sandbox_landlock(const struct sandbox_spec *);
/* sandbox_seccomp.c: the role's system-call allow-list; anything else kills
 * the process (in sanitizer builds the extra calls the runtime needs at
 * exit are allowed too). 0 or -1. */
int	sandbox_seccomp(const struct sandbox_spec *);

#endif
