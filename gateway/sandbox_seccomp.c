/* seccomp allow-lists per role (Linux). A system call outside its role's
 * list kills the process; the parent logs the signal and restarts it. */
#include <sys/ioctl.h>
#include <termios.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <seccomp.h>

#include "log.h"
#include "sandbox.h"
#include "util.h"

/* What every role's event loop, allocator, clock and exit need. */
static const char *const sandbox_common[] = {
	"read", "write", "readv", "writev", "close", "lseek",
	"mmap", "munmap", "mremap", "mprotect", "brk", "madvise",
	"futex", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn",
	"sigaltstack", "restart_syscall", "exit", "exit_group",
	"getpid", "gettid", "getrandom", "clock_gettime", "clock_getres",
	"gettimeofday", "time", "nanosleep", "clock_nanosleep",
	"sched_yield", "epoll_wait", "epoll_pwait", "epoll_pwait2",
	"epoll_ctl", "fcntl", "newfstatat", "fstat",
	"sendmsg", "recvmsg", "sendto", "recvfrom", "shutdown",
	"getsockopt", "setsockopt", "getsockname", "getpeername",
	"getuid", "geteuid", "getgid", "getegid", "uname",
	"rseq", "set_robust_list",
};

/* The relay: accepting agencies and connecting to upstreams; no files.
 * socket() is further limited to TCP over IPv4 and IPv6 below. */
static const char *const sandbox_relay[] = {
	"accept", "accept4", "connect",
};

/* The courier: connecting out to upstreams, nothing else; no accept, no
 * files. socket() is limited to TCP over IPv4 and IPv6 below. */
static const char *const sandbox_courier[] = {
	"connect",
};

/* The keeper: its SQLite files and the checkpoint file (Landlock bounds
 * where); no network at all beyond the channels it was given. */
static const char *const sandbox_keeper[] = {
	"openat", "open", "pread64", "pwrite64", "fsync", "fdatasync",
	"ftruncate", "fallocate", "unlink", "unlinkat", "rename", "renameat",
	"renameat2", "stat", "lstat", "access", "faccessat", "faccessat2",
	"getcwd", "readlink", "fchown", "fchmod", "umask", "statfs", "statvfs",
	"fstatfs", "flock",
};

#ifdef SANDBOX_SANITIZER
/* LeakSanitizer stops the world at exit: a tracer thread, /proc reads. */
static const char *const sandbox_sanitizer[] = {
	"clone", "clone3", "ptrace", "wait4", "waitid", "openat", "open",
	"prctl", "getppid", "tgkill", "kill", "sched_getaffinity",
	"readlink", "readlinkat", "pipe", "pipe2", "dup", "dup2", "dup3",
	"getdents64", "statx", "personality", "set_tid_address",
	"pread64", "getrlimit", "prlimit64", "setrlimit", "arch_prctl", "tkill",
	"rt_sigtimedwait", "rt_sigsuspend", "process_vm_readv", "getpgid",
	"close_range", "membarrier", "getdents", "fstatfs", "mlock",
};
#endif

#ifdef SANDBOX_SANITIZER
/* Debug builds trap first and say which call it was, then die as release
 * builds would. Only async-signal-safe calls here. */
static void
sandbox_sigsys(int sig, siginfo_t *si, void *ctx)
{
	char	msg[96];
	int	n;

	n = snprintf(msg, sizeof(msg), "sandbox: system call %d refused; "
	    "killing pid %ld\n", si->si_syscall, (long)getpid());
	if (n > 0)
		(void)!write(STDERR_FILENO, msg, (size_t)n);
	_exit(159);
}
#endif

static int
sandbox_allow(scmp_filter_ctx ctx, const char *const *names, size_t n)
{
	size_t	i;
	int	nr;

	for (i = 0; i < n; i++) {
		/* Names this architecture lacks (open on arm64) are skipped. */
		if ((nr = seccomp_syscall_resolve_name(names[i])) == __NR_SCMP_ERROR)
			continue;
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) != 0) {
			log_warnx("%s: cannot allow %s", __func__, names[i]);
			return -1;
		}
	}
	return 0;
}

/* socket(family, SOCK_STREAM | flags, 0 or IPPROTO_TCP): the flags
 * (SOCK_NONBLOCK, SOCK_CLOEXEC) are masked off the type. 0 or -1. */
static int
sandbox_courier_socket(scmp_filter_ctx ctx, int family)
{
	if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 3,
	    SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)family),
	    SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_STREAM),
	    SCMP_A2(SCMP_CMP_EQ, 0)) != 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 3,
	    SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)family),
	    SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_STREAM),
	    SCMP_A2(SCMP_CMP_EQ, IPPROTO_TCP)) != 0) {
		log_warnx("%s: cannot allow TCP sockets", __func__);
		return -1;
	}
	return 0;
}

int
sandbox_seccomp(const struct sandbox_spec *s)
{
	scmp_filter_ctx	ctx;
	int		rc = -1;

#ifdef SANDBOX_SANITIZER
	struct sigaction	sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sandbox_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSYS, &sa, NULL);
	ctx = seccomp_init(SCMP_ACT_TRAP);
#else
	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
#endif
	if (ctx == NULL) {
		log_warnx("%s: seccomp_init failed", __func__);
		return -1;
	}
	/* A binary tree instead of a linear scan: the filter runs on every
	 * system call of the hot path. */
	(void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	if (sandbox_allow(ctx, sandbox_common, nitems(sandbox_common)) == -1)
		goto done;
	/* libevent asks FIONREAD how much to read; nothing else. */
	if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
	    SCMP_A1(SCMP_CMP_EQ, FIONREAD)) != 0)
		goto done;
	if (s->role == SANDBOX_RELAY &&
	    (sandbox_allow(ctx, sandbox_relay, nitems(sandbox_relay)) == -1 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
	    SCMP_A0(SCMP_CMP_EQ, AF_INET)) != 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
	    SCMP_A0(SCMP_CMP_EQ, AF_INET6)) != 0))
		goto done;
	/* The keeper starts one thread (its WAL checkpointer): clone only
	 * with CLONE_THREAD, never a process; clone3's flags are out of a
	 * filter's reach, so it fails and glibc falls back to clone. */
	if (s->role == SANDBOX_KEEPER &&
	    (sandbox_allow(ctx, sandbox_keeper, nitems(sandbox_keeper)) == -1 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
	    SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD)) != 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3),
	    0) != 0))
		goto done;
	if (s->role == SANDBOX_COURIER &&
	    (sandbox_allow(ctx, sandbox_courier,
	    nitems(sandbox_courier)) == -1 ||
	    sandbox_courier_socket(ctx, AF_INET) == -1 ||
	    sandbox_courier_socket(ctx, AF_INET6) == -1))
		goto done;
#ifdef SANDBOX_SANITIZER
	/* A sanitizer report asks whether stderr is a terminal first. */
	if (sandbox_allow(ctx, sandbox_sanitizer,
	    nitems(sandbox_sanitizer)) == -1 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
	    SCMP_A1(SCMP_CMP_EQ, TCGETS)) != 0)
		goto done;
#endif
	if (seccomp_load(ctx) != 0) {
		log_warnx("%s: seccomp_load failed", __func__);
		goto done;
	}
	rc = 0;
done:
	seccomp_release(ctx);
	return rc;
}
