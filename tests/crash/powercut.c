/* LD_PRELOAD shim for power-cut tests: before every write, truncation, create,
 * rename and unlink under $POWERCUT_DIR it appends an undo record (the old bytes,
 * size or name) to $POWERCUT_DIR/powercut.journal; fsync and fdatasync append a
 * sync mark. After kill -9, tests/crash/replay.py undoes a random part of what
 * no sync covered, as a power cut may. A number N in $POWERCUT_DIR/powercut.freeze
 * stops the process N records later (a cut at a chosen operation);
 * $POWERCUT_SKIP_SYNC=TEXT turns the syncs of files whose path holds TEXT
 * into no-ops: the bug the tests must catch. Test code only: never installed. */
#include <sys/stat.h>
#include <sys/types.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The journal's records, read by tests/crash/replay.py: a header, the path,
 * the second path, then dlen bytes of old data. All little-endian. */
#define PC_MAGIC	0x31524350u	/* "PCR1" */
enum {
	PC_WRITE = 1,		/* a = offset, b = length, c = old size; old bytes */
	PC_TRUNCATE,		/* a = new size, c = old size; the bytes cut off */
	PC_CREATE,		/* path did not exist */
	PC_RENAME,		/* path -> path2; a = 1 if path2 existed; its bytes */
	PC_UNLINK,		/* path moved aside to path2 */
	PC_SYNC,		/* fsync or fdatasync of the file path */
	PC_SYNC_DIR,		/* fsync of the folder path */
};
struct pc_hdr {
	uint32_t	magic, type, plen, p2len;
	uint64_t	a, b, c, dlen;
};
#define PC_JOURNAL	"powercut.journal"
/* Holds N: the process stops for good right after writing its Nth record from
 * then on, before that record's operation, and says so by creating PC_FROZEN. */
#define PC_FREEZE	"powercut.freeze"
#define PC_FROZEN	"powercut.frozen"
#define PC_HIDDEN	".powercut-unlinked."

#define PC_MAX_FDS	4096
#define PC_MAX_PATH	4096
/* Files whose old content goes whole into one record (a rename's target). */
#define PC_MAX_COPY	(1024 * 1024)

typedef int	(*open_fn)(const char *, int, ...);
typedef int	(*openat_fn)(int, const char *, int, ...);
typedef ssize_t	(*write_fn)(int, const void *, size_t);
typedef ssize_t	(*pwrite_fn)(int, const void *, size_t, off_t);
typedef int	(*ftruncate_fn)(int, off_t);
typedef int	(*fd_fn)(int);
typedef int	(*rename_fn)(const char *, const char *);
typedef int	(*unlink_fn)(const char *);

static struct {
	open_fn		 open, open64;
	openat_fn	 openat, openat64;
	write_fn	 write;
	pwrite_fn	 pwrite, pwrite64;
	ftruncate_fn	 ftruncate, ftruncate64;
	fd_fn		 fsync, fdatasync, close;
	rename_fn	 rename;
	unlink_fn	 unlink;
} real;

static pthread_mutex_t	 pc_mtx = PTHREAD_MUTEX_INITIALIZER;
static char		 pc_dir[PC_MAX_PATH];
static size_t		 pc_dirlen;
/* The tracked path of each fd (owned) and the file it was opened on. */
static struct pc_fd {
	char	*path;
	dev_t	 dev;
	ino_t	 ino;
}			 pc_fds[PC_MAX_FDS];
static int		 pc_jfd = -1;
static pid_t		 pc_jpid;
static dev_t		 pc_jdev;
static ino_t		 pc_jino;
static unsigned long	 pc_hidden;
static const char	*pc_skip_sync;
static uint64_t		 pc_nrec;		/* records this process wrote */
static uint64_t		 pc_freeze_at;		/* 0, or the pc_nrec to stop at */

/* Files and folders with records that no sync covers yet. With none, the
 * journal holds nothing a replay needs and starts again empty: it would
 * otherwise keep the old bytes of every page ever written. */
#define PC_MAX_PENDING	64
static struct pc_pending {
	char		*path;
	uint64_t	 n;
}			 pc_pend[PC_MAX_PENDING];
static int		 pc_pend_full;		/* table full: never compact */

static void
pc_die(const char *what)
{
	char	msg[256];
	int	n;

	/* A journal that lies is worse than no test: stop right here. */
	n = snprintf(msg, sizeof(msg), "powercut: %s: %s\n", what, strerror(errno));
	if (n > 0)
		(void)!real.write(2, msg, (size_t)n < sizeof(msg) ? (size_t)n :
		    sizeof(msg) - 1);
	abort();
}

__attribute__((constructor)) static void
pc_init(void)
{
	const char	*d = getenv("POWERCUT_DIR");

#define PC_SYM(f) real.f = (void *)dlsym(RTLD_NEXT, #f)
	PC_SYM(open); PC_SYM(open64); PC_SYM(openat); PC_SYM(openat64);
	PC_SYM(write); PC_SYM(pwrite); PC_SYM(pwrite64);
	PC_SYM(ftruncate); PC_SYM(ftruncate64); PC_SYM(fsync);
	PC_SYM(fdatasync); PC_SYM(close); PC_SYM(rename); PC_SYM(unlink);
#undef PC_SYM
	pc_skip_sync = getenv("POWERCUT_SKIP_SYNC");
	if (d == NULL || d[0] != '/')
		return;
	pc_dirlen = strlen(d);
	while (pc_dirlen > 1 && d[pc_dirlen - 1] == '/')
		pc_dirlen--;
	if (pc_dirlen >= sizeof(pc_dir))
		pc_dirlen = 0;
	memcpy(pc_dir, d, pc_dirlen);
	pc_dir[pc_dirlen] = '\0';
}

/* Under the folder, and not the journal, a hidden copy or shared memory
 * (mmap'd -shm content is not durable; the replay removes it). */
static int
pc_tracked(const char *path)
{
	size_t	n;

	if (pc_dirlen == 0 || path == NULL || strncmp(path, pc_dir, pc_dirlen) != 0)
		return 0;
	if (path[pc_dirlen] == '\0')
		return 1;
	if (path[pc_dirlen] != '/')
		return 0;
	n = strlen(path);
	if (strstr(path, PC_JOURNAL) != NULL || strstr(path, PC_HIDDEN) != NULL ||
	    (n > 4 && strcmp(path + n - 4, "-shm") == 0))
		return 0;
	return 1;
}

static void	pc_set_fd(int, const char *);

/* The tracked path of fd, if fd is still the file opened there: an fd closed
 * behind our back (close_range) may be a socket now. */
static const char *
pc_path(int fd)
{
	struct stat	sb;

	if (fd < 0 || fd >= PC_MAX_FDS || pc_fds[fd].path == NULL)
		return NULL;
	if (fstat(fd, &sb) == -1 || sb.st_dev != pc_fds[fd].dev ||
	    sb.st_ino != pc_fds[fd].ino) {
		pc_set_fd(fd, NULL);
		return NULL;
	}
	return pc_fds[fd].path;
}

/* The journal of this process, reopened after a fork or if someone closed
 * our descriptor (the keeper closes what it does not know). */
static int
pc_journal(void)
{
	char		path[PC_MAX_PATH + 32];
	struct stat	sb;

	if (pc_jfd != -1 && pc_jpid == getpid() && fstat(pc_jfd, &sb) == 0 &&
	    sb.st_dev == pc_jdev && sb.st_ino == pc_jino)
		return pc_jfd;
	if (snprintf(path, sizeof(path), "%s/%s", pc_dir, PC_JOURNAL) >=
	    (int)sizeof(path))
		pc_die("journal path too long");
	pc_jfd = real.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (pc_jfd == -1 || fstat(pc_jfd, &sb) == -1)
		pc_die(path);
	pc_jpid = getpid();
	pc_jdev = sb.st_dev;
	pc_jino = sb.st_ino;
	return pc_jfd;
}

static void
pc_put(int fd, const void *p, size_t n)
{
	const char	*c = p;
	ssize_t		 w;

	while (n > 0) {
		if ((w = real.write(fd, c, n)) == -1) {
			if (errno == EINTR)
				continue;
			pc_die("journal write");
		}
		c += w;
		n -= (size_t)w;
	}
}

static struct pc_pending *
pc_pending(const char *path, int add)
{
	size_t	i;

	for (i = 0; i < PC_MAX_PENDING && pc_pend[i].path != NULL; i++)
		if (strcmp(pc_pend[i].path, path) == 0)
			return &pc_pend[i];
	if (!add)
		return NULL;
	if (i == PC_MAX_PENDING) {
		pc_pend_full = 1;
		return NULL;
	}
	if ((pc_pend[i].path = strdup(path)) == NULL)
		pc_die("strdup");
	return &pc_pend[i];
}

/* Counts a record under key (a file, or the folder of a name), or clears
 * the key's count. */
static void
pc_pending_set(const char *key, int clear)
{
	struct pc_pending	*p = pc_pending(key, !clear);

	if (p != NULL)
		p->n = clear ? 0 : p->n + 1;
}

static void
pc_pending_name(const char *path)
{
	char	dir[PC_MAX_PATH];
	char	*slash;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		pc_die("path too long");
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir)
		*slash = '\0';
	pc_pending_set(dir, 0);
}

/* Empties the journal once every record in it is covered by a sync. */
static void
pc_maybe_compact(int jfd)
{
	size_t	i;

	if (pc_pend_full)
		return;
	for (i = 0; i < PC_MAX_PENDING && pc_pend[i].path != NULL; i++)
		if (pc_pend[i].n > 0)
			return;
	if (real.ftruncate(jfd, 0) == -1)
		pc_die("journal truncate");
}

/* A cut at an exact I/O operation: once PC_FREEZE holds a number N, stop N
 * records later (holding the lock, so no other thread writes either) until
 * kill -9. */
static void
pc_maybe_freeze(void)
{
	char		 path[PC_MAX_PATH + 32], num[32], *end;
	unsigned long long n_after;
	ssize_t		 n;
	int		 fd;

	if (pc_freeze_at == 0) {
		if (snprintf(path, sizeof(path), "%s/%s", pc_dir, PC_FREEZE) >=
		    (int)sizeof(path))
			pc_die("freeze path too long");
		if ((fd = real.open(path, O_RDONLY | O_CLOEXEC)) == -1)
			return;
		n = read(fd, num, sizeof(num) - 1);
		real.close(fd);
		if (n <= 0)
			return;
		num[n] = '\0';
		errno = 0;
		n_after = strtoull(num, &end, 10);
		if (errno != 0 || end == num || n_after == 0)
			return;
		pc_freeze_at = pc_nrec + n_after;
	}
	if (pc_nrec != pc_freeze_at)
		return;
	if (snprintf(path, sizeof(path), "%s/%s", pc_dir, PC_FROZEN) >=
	    (int)sizeof(path))
		pc_die("frozen path too long");
	if ((fd = real.open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) == -1)
		pc_die(path);
	real.close(fd);
	for (;;)
		sleep(60);
}

/* One record: header, path, second path, data (read from fd at off when
 * data is NULL and dlen > 0). */
static void
pc_record(uint32_t type, const char *path, const char *path2, uint64_t a,
    uint64_t b, uint64_t c, const void *data, uint64_t dlen)
{
	struct pc_hdr	 h;
	int		 j = pc_journal();

	memset(&h, 0, sizeof(h));
	h.magic = PC_MAGIC;
	h.type = type;
	h.plen = (uint32_t)strlen(path);
	h.p2len = path2 != NULL ? (uint32_t)strlen(path2) : 0;
	h.a = a;
	h.b = b;
	h.c = c;
	h.dlen = dlen;
	/* One buffer per record keeps a record whole unless the process dies
	 * inside the write; the replay ignores a torn last record. */
	{
		size_t	 n = sizeof(h) + h.plen + h.p2len + dlen;
		char	*buf = malloc(n);

		if (buf == NULL)
			pc_die("malloc");
		memcpy(buf, &h, sizeof(h));
		memcpy(buf + sizeof(h), path, h.plen);
		if (h.p2len > 0)
			memcpy(buf + sizeof(h) + h.plen, path2, h.p2len);
		if (dlen > 0)
			memcpy(buf + sizeof(h) + h.plen + h.p2len, data, dlen);
		pc_put(j, buf, n);
		free(buf);
	}
	switch (type) {
	case PC_WRITE:
	case PC_TRUNCATE:
		pc_pending_set(path, 0);
		break;
	case PC_SYNC:
	case PC_SYNC_DIR:
		pc_pending_set(path, 1);
		pc_maybe_compact(j);
		break;
	case PC_RENAME:
		pc_pending_name(path2);
		/* FALLTHROUGH */
	default:
		pc_pending_name(path);
		break;
	}
	pc_nrec++;
	pc_maybe_freeze();
}

/* Reads [off, off + len) of the file into a new buffer (short at EOF), through
 * fd itself if it can: closing a second descriptor of a file would drop every
 * fcntl lock the process holds on it, SQLite's among them. A write-only fd
 * (never SQLite's) or none (-1) is read through a descriptor of our own. */
static char *
pc_read(int fd, const char *path, uint64_t off, uint64_t len, uint64_t *got)
{
	char	*buf;
	int	 own = -1;
	ssize_t	 n;

	*got = 0;
	if ((buf = malloc(len > 0 ? len : 1)) == NULL)
		pc_die("malloc");
	if (fd == -1 || (fcntl(fd, F_GETFL) & O_ACCMODE) == O_WRONLY) {
		if ((own = real.open(path, O_RDONLY | O_CLOEXEC)) == -1)
			pc_die(path);
		fd = own;
	}
	while (*got < len) {
		n = pread(fd, buf + *got, len - *got, (off_t)(off + *got));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			pc_die(path);
		if (n == 0)
			break;
		*got += (uint64_t)n;
	}
	if (own != -1)
		real.close(own);
	return buf;
}

static uint64_t
pc_size(int fd, const char *path)
{
	struct stat	sb;

	if (fd != -1)
		return fstat(fd, &sb) == 0 ? (uint64_t)sb.st_size : 0;
	return stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

/* Before [off, off + len) of fd's file is written: its old bytes and size. */
static void
pc_before_write(int fd, const char *path, uint64_t off, uint64_t len)
{
	uint64_t	 size = pc_size(fd, path), got = 0;
	char		*old = NULL;

	if (off < size)
		old = pc_read(fd, path, off, len < size - off ? len : size - off,
		    &got);
	pc_record(PC_WRITE, path, NULL, off, len, size, old, got);
	free(old);
}

/* Before the file (fd, or path if fd is -1) is cut to size: the bytes beyond
 * it and the old size. */
static void
pc_before_truncate(int fd, const char *path, uint64_t size)
{
	uint64_t	 old = pc_size(fd, path), got = 0;
	char		*data = NULL;

	if (size < old)
		data = pc_read(fd, path, size, old - size, &got);
	pc_record(PC_TRUNCATE, path, NULL, size, 0, old, data, got);
	free(data);
}

static void
pc_set_fd(int fd, const char *path)
{
	struct stat	sb;

	if (fd < 0 || fd >= PC_MAX_FDS)
		return;
	free(pc_fds[fd].path);
	pc_fds[fd].path = NULL;
	if (path == NULL || fstat(fd, &sb) == -1)
		return;
	if ((pc_fds[fd].path = strdup(path)) == NULL)
		pc_die("strdup");
	pc_fds[fd].dev = sb.st_dev;
	pc_fds[fd].ino = sb.st_ino;
}

static int
pc_open_common(int dirfd, const char *path, int flags, mode_t mode, int at,
    openat_fn fat, open_fn fo)
{
	struct stat	sb;
	int		fd, track, existed;

	if (dirfd != AT_FDCWD || !(track = pc_tracked(path)))
		return at ? fat(dirfd, path, flags, mode) : fo(path, flags, mode);
	pthread_mutex_lock(&pc_mtx);
	existed = stat(path, &sb) == 0;
	if (!existed && (flags & O_CREAT))
		pc_record(PC_CREATE, path, NULL, 0, 0, 0, NULL, 0);
	else if (existed && S_ISREG(sb.st_mode) && (flags & O_TRUNC) &&
	    (flags & O_ACCMODE) != O_RDONLY)
		pc_before_truncate(-1, path, 0);
	fd = at ? fat(dirfd, path, flags, mode) : fo(path, flags, mode);
	if (fd != -1)
		pc_set_fd(fd, path);
	pthread_mutex_unlock(&pc_mtx);
	return fd;
}

#define PC_MODE(flags, mode) do {					\
	va_list	ap;							\
	mode = 0;							\
	if ((flags) & (O_CREAT | O_TMPFILE)) {				\
		va_start(ap, flags);					\
		mode = va_arg(ap, mode_t);				\
		va_end(ap);						\
	}								\
} while (0)

int
open(const char *path, int flags, ...)
{
	mode_t	mode;

	PC_MODE(flags, mode);
	return pc_open_common(AT_FDCWD, path, flags, mode, 0, NULL, real.open);
}

int
open64(const char *path, int flags, ...)
{
	mode_t	mode;

	PC_MODE(flags, mode);
	return pc_open_common(AT_FDCWD, path, flags, mode, 0, NULL, real.open64);
}

int
openat(int dirfd, const char *path, int flags, ...)
{
	mode_t	mode;

	PC_MODE(flags, mode);
	return pc_open_common(path[0] == '/' ? AT_FDCWD : dirfd, path, flags,
	    mode, 1, real.openat, NULL);
}

int
openat64(int dirfd, const char *path, int flags, ...)
{
	mode_t	mode;

	PC_MODE(flags, mode);
	return pc_open_common(path[0] == '/' ? AT_FDCWD : dirfd, path, flags,
	    mode, 1, real.openat64, NULL);
}

int
close(int fd)
{
	pthread_mutex_lock(&pc_mtx);
	pc_set_fd(fd, NULL);
	pthread_mutex_unlock(&pc_mtx);
	return real.close(fd);
}

static ssize_t
pc_pwrite(int fd, const void *buf, size_t n, off_t off, pwrite_fn fn)
{
	const char	*path;
	ssize_t		 rc;

	pthread_mutex_lock(&pc_mtx);
	if ((path = pc_path(fd)) != NULL)
		pc_before_write(fd, path, (uint64_t)off, n);
	rc = fn(fd, buf, n, off);
	pthread_mutex_unlock(&pc_mtx);
	return rc;
}

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
	return pc_pwrite(fd, buf, n, off, real.pwrite);
}

ssize_t
pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	return pc_pwrite(fd, buf, n, off, real.pwrite64);
}

ssize_t
write(int fd, const void *buf, size_t n)
{
	const char	*path;
	ssize_t		 rc;
	off_t		 off;

	/* Most writes go to sockets and pipes: no lock for them. */
	if (fd < 0 || fd >= PC_MAX_FDS || pc_fds[fd].path == NULL)
		return real.write(fd, buf, n);
	pthread_mutex_lock(&pc_mtx);
	if ((path = pc_path(fd)) != NULL) {
		if (fcntl(fd, F_GETFL) & O_APPEND)
			off = (off_t)pc_size(fd, path);
		else if ((off = lseek(fd, 0, SEEK_CUR)) == -1)
			pc_die("lseek");
		pc_before_write(fd, path, (uint64_t)off, n);
	}
	rc = real.write(fd, buf, n);
	pthread_mutex_unlock(&pc_mtx);
	return rc;
}

static int
pc_ftruncate(int fd, off_t size, ftruncate_fn fn)
{
	const char	*path;
	int		 rc;

	pthread_mutex_lock(&pc_mtx);
	if ((path = pc_path(fd)) != NULL)
		pc_before_truncate(fd, path, (uint64_t)size);
	rc = fn(fd, size);
	pthread_mutex_unlock(&pc_mtx);
	return rc;
}

int
ftruncate(int fd, off_t size)
{
	return pc_ftruncate(fd, size, real.ftruncate);
}

int
ftruncate64(int fd, off_t size)
{
	return pc_ftruncate(fd, size, real.ftruncate64);
}

/* The sync mark goes in after the sync returned: a kill between the two
 * looks like a cut just before the sync, which a power cut may also be. */
static int
pc_sync(int fd, fd_fn fn)
{
	const char	*path;
	struct stat	 sb;
	int		 rc;

	pthread_mutex_lock(&pc_mtx);
	if ((path = pc_path(fd)) != NULL && pc_skip_sync != NULL &&
	    pc_skip_sync[0] != '\0' && strstr(path, pc_skip_sync) != NULL) {
		pthread_mutex_unlock(&pc_mtx);
		return 0;
	}
	rc = fn(fd);
	if (rc == 0 && path != NULL && fstat(fd, &sb) == 0)
		pc_record(S_ISDIR(sb.st_mode) ? PC_SYNC_DIR : PC_SYNC, path, NULL,
		    0, 0, 0, NULL, 0);
	pthread_mutex_unlock(&pc_mtx);
	return rc;
}

int
fsync(int fd)
{
	return pc_sync(fd, real.fsync);
}

int
fdatasync(int fd)
{
	return pc_sync(fd, real.fdatasync);
}

int
rename(const char *from, const char *to)
{
	uint64_t	 size, got = 0;
	char		*old = NULL;
	int		 rc, i, existed;
	struct stat	 sb;

	if (!pc_tracked(from) && !pc_tracked(to))
		return real.rename(from, to);
	if (!pc_tracked(from) || !pc_tracked(to)) {
		errno = EXDEV;
		pc_die("rename across the tracked folder's border");
	}
	pthread_mutex_lock(&pc_mtx);
	existed = stat(to, &sb) == 0;
	if (existed) {
		if ((size = (uint64_t)sb.st_size) > PC_MAX_COPY) {
			errno = EFBIG;
			pc_die(to);
		}
		old = pc_read(-1, to, 0, size, &got);
	}
	pc_record(PC_RENAME, from, to, (uint64_t)existed, 0, 0, old, got);
	/* As the replay: the bytes under both names are no longer pending. */
	pc_pending_set(from, 1);
	pc_pending_set(to, 1);
	free(old);
	rc = real.rename(from, to);
	if (rc == 0)
		for (i = 0; i < PC_MAX_FDS; i++)
			if (pc_fds[i].path != NULL &&
			    strcmp(pc_fds[i].path, from) == 0)
				pc_set_fd(i, to);
	pthread_mutex_unlock(&pc_mtx);
	return rc;
}

/* The file is moved aside, not removed, until the replay knows whether the
 * unlink reached the disk. */
int
unlink(const char *path)
{
	char	hidden[PC_MAX_PATH + 64];
	int	rc;

	if (!pc_tracked(path))
		return real.unlink(path);
	pthread_mutex_lock(&pc_mtx);
	if (snprintf(hidden, sizeof(hidden), "%s%s%d.%lu", path, PC_HIDDEN,
	    (int)getpid(), pc_hidden++) >= (int)sizeof(hidden)) {
		errno = ENAMETOOLONG;
		pc_die(path);
	}
	pc_record(PC_UNLINK, path, hidden, 0, 0, 0, NULL, 0);
	pc_pending_set(path, 1);
	rc = real.rename(path, hidden);
	pthread_mutex_unlock(&pc_mtx);
	return rc;
}
