/* LD_PRELOAD shim for the fault tests: fsync(2) and fdatasync(2) fail with
 * EIO while the file GW_FAILSYNC names exists, as a disk that reports a
 * failed write-back does. Everything else goes to libc. */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

int	fsync(int);
int	fdatasync(int);

static int
failsync_armed(void)
{
	const char	*p = getenv("GW_FAILSYNC");

	return p != NULL && access(p, F_OK) == 0;
}

static int
failsync_call(const char *name, int fd)
{
	int	(*real)(int);

	if (failsync_armed()) {
		errno = EIO;
		return -1;
	}
	if ((real = (int (*)(int))dlsym(RTLD_NEXT, name)) == NULL) {
		errno = ENOSYS;
		return -1;
	}
	return real(fd);
}

int
fsync(int fd)
{
	return failsync_call("fsync", fd);
}

int
fdatasync(int fd)
{
	return failsync_call("fdatasync", fd);
}
