/* Landlock file-system rules: the relay and the courier may open no file at
 * all, the keeper only what is under its own folders. A kernel without
 * Landlock is logged, not fatal: seccomp still applies. */
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <linux/landlock.h>

#include "log.h"
#include "sandbox.h"

/* ABI 1 rights: everything a file-system access can be. */
#define SANDBOX_FS_ALL	(LANDLOCK_ACCESS_FS_EXECUTE | \
	LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE | \
	LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR | \
	LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR | \
	LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG | \
	LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO | \
	LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM)

static int
sandbox_landlock_rule(int rfd, const char *path, uint64_t access)
{
	struct landlock_path_beneath_attr	pb;
	int					rc;

	memset(&pb, 0, sizeof(pb));
	pb.allowed_access = access;
	if ((pb.parent_fd = open(path, O_PATH | O_CLOEXEC)) == -1) {
		log_warn("%s: %s", __func__, path);
		return -1;
	}
	rc = (int)syscall(__NR_landlock_add_rule, rfd, LANDLOCK_RULE_PATH_BENEATH,
	    &pb, 0);
	if (rc == -1)
		log_warn("%s: rule for %s", __func__, path);
	close(pb.parent_fd);
	return rc == -1 ? -1 : 0;
}

/* What SQLite and the checkpoint file need in the keeper's folders. */
#define SANDBOX_FS_KEEPER (LANDLOCK_ACCESS_FS_WRITE_FILE | \
	LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR | \
	LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_REG)

int
sandbox_landlock(const struct sandbox_spec *s)
{
	struct landlock_ruleset_attr	 ra;
	int				 abi, rfd, i;

	abi = (int)syscall(__NR_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 1) {
		log_info("Landlock is not available (%s); seccomp only",
		    strerror(errno));
		return 0;
	}
	memset(&ra, 0, sizeof(ra));
	ra.handled_access_fs = SANDBOX_FS_ALL;
	if ((rfd = (int)syscall(__NR_landlock_create_ruleset, &ra, sizeof(ra),
	    0)) == -1) {
		log_warn("%s: create ruleset", __func__);
		return -1;
	}
	for (i = 0; s->role == SANDBOX_KEEPER && i < 4 && s->rw_dirs[i]; i++)
		if (sandbox_landlock_rule(rfd, s->rw_dirs[i],
		    SANDBOX_FS_KEEPER) == -1) {
			close(rfd);
			return -1;
		}
#ifdef SANDBOX_SANITIZER
	if (sandbox_landlock_rule(rfd, "/proc", LANDLOCK_ACCESS_FS_READ_FILE |
	    LANDLOCK_ACCESS_FS_READ_DIR) == -1) {
		close(rfd);
		return -1;
	}
#endif
	if (syscall(__NR_landlock_restrict_self, rfd, 0) == -1) {
		log_warn("%s: restrict", __func__);
		close(rfd);
		return -1;
	}
	close(rfd);
	return 0;
}
