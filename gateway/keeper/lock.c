/* The keeper's lock on its state: flock(2) on database.lock, with the
 * holder's pids written inside for the message a second instance gives.
 * flock rather than fcntl locks: it belongs to the open file, so SQLite's
 * own POSIX locks on other descriptors of the same folder cannot drop it. */
#include <sys/file.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "keeper/lock.h"
#include "log.h"
#include "util.h"

int
lock_state(const char *database)
{
	char	path[4096], holder[64];
	ssize_t	n;
	int	fd;

	if (str_printf(path, sizeof(path), "%s.lock", database) == -1) {
		log_warnx("%s.lock: path too long", database);
		return -1;
	}
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) ==
	    -1) {
		log_warn("cannot open the lock of the audit log %s", path);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK) {
			log_warn("cannot lock %s", path);
			close(fd);
			return -1;
		}
		n = pread(fd, holder, sizeof(holder) - 1, 0);
		holder[n > 0 ? n : 0] = '\0';
		holder[strcspn(holder, "\n")] = '\0';
		log_warnx("the audit log %s is in use by another gatewayd (%s); "
		    "refusing to start a second writer", database,
		    holder[0] != '\0' ? holder : "pid unknown");
		close(fd);
		return -1;
	}
	n = str_printf(holder, sizeof(holder), "keeper pid %ld, gatewayd pid "
	    "%ld\n", (long)getpid(), (long)getppid()) == -1 ? -1 :
	    (ssize_t)strlen(holder);
	if (n == -1 || ftruncate(fd, 0) == -1 ||
	    pwrite(fd, holder, (size_t)n, 0) != n)
		log_warn("%s: cannot record the holder", path);	/* locked all
								 * the same */
	return fd;
}
