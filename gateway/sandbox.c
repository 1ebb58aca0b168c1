/* Entering a role's sandbox: descriptors, resource limits, privileges and
 * no-new-privileges here; Landlock and seccomp in their own files. */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <grp.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"

void
sandbox_close_fds(const struct sandbox_spec *s)
{
	int	fd, maxfd = (int)sysconf(_SC_OPEN_MAX);
	size_t	i;
	int	keep;

	if (maxfd < 0 || maxfd > 65536)
		maxfd = 65536;
	for (fd = 3; fd < maxfd; fd++) {
		keep = 0;
		for (i = 0; i < s->nkeep; i++)
			if (s->keep_fds[i] == fd)
				keep = 1;
		if (!keep)
			(void)close(fd);	/* EBADF for most: fine */
	}
}

static int
sandbox_limits(const struct sandbox_spec *s)
{
	struct rlimit	rl;

	if (s->max_files > 0) {
		rl.rlim_cur = rl.rlim_max = s->max_files;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
			/* An unprivileged start cannot raise the hard limit. */
			if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
				rl.rlim_cur = rl.rlim_max;
				(void)setrlimit(RLIMIT_NOFILE, &rl);
			}
		}
	}
	if (s->role == SANDBOX_KEEPER) {
		/* Keys live here: no core dumps, no ptrace by the same user. */
		rl.rlim_cur = rl.rlim_max = 0;
		if (setrlimit(RLIMIT_CORE, &rl) == -1 ||
		    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1) {
			log_warn("%s: core dumps", __func__);
			return -1;
		}
	}
	return 0;
}

static int
sandbox_drop(const struct sandbox_spec *s)
{
	if (s->uid == (uid_t)-1)
		return 0;
	if (setgroups(1, &s->gid) == -1 ||
	    setresgid(s->gid, s->gid, s->gid) == -1 ||
	    setresuid(s->uid, s->uid, s->uid) == -1) {
		log_warn("%s: cannot drop to uid %ld", __func__, (long)s->uid);
		return -1;
	}
	/* Must not be able to come back. */
	if (setuid(0) == 0 && s->uid != 0) {
		log_warnx("%s: privileges were not dropped", __func__);
		return -1;
	}
	return 0;
}

int
sandbox_enter(const struct sandbox_spec *s)
{
	if (sandbox_limits(s) == -1 || sandbox_drop(s) == -1)
		return -1;
	if (!s->enforce) {
		log_warnx("sandbox disabled by configuration");
		return 0;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		log_warn("%s: no_new_privs", __func__);
		return -1;
	}
	if (sandbox_landlock(s) == -1 || sandbox_seccomp(s) == -1)
		return -1;
	return 0;
}

void
sandbox_probe(void)
{
	const char	*what = getenv("GATEWAY_SANDBOX_PROBE");
	char *const	 argv[] = { (char *)(uintptr_t)"true", NULL };
	int		 fd = -1;

	if (what == NULL)
		return;
	log_warnx("sandbox probe: trying %s", what);
	if (strcmp(what, "open") == 0)
		fd = open("/etc/hostname", O_RDONLY | O_CLOEXEC);
	else if (strcmp(what, "exec") == 0)
		fd = execv("/bin/true", argv);
	else if (strcmp(what, "unix-socket") == 0)
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		/* Refused without a kill (Landlock in sanitizer builds, where
		 * seccomp must let LeakSanitizer open /proc): die the same. */
		log_warn("sandbox probe: %s refused", what);
		_exit(159);
	}
	log_warnx("sandbox probe: %s was NOT refused", what);
	close(fd);
}
