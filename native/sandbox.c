// faasflow-sandbox: puts a function container in its security domain, then executes it.
//
//   faasflow-sandbox [options] -- PROGRAM [ARGS...]
//
// Everything here must happen before the container's Node starts: Landlock restricts only the
// thread that asks (and the threads it creates later), so a Node process that restricted itself
// would leave its libuv pool threads, which do its file I/O, unrestricted. Applied here, in the one
// thread that then executes Node, the whole process and everything it starts inherit it. Options
// are applied in this order, and a requested one that fails stops the launch (exit 126): a
// container never runs with less isolation than the supervisor asked for and reports.
//
//   --pgid                 lead a new process group (what the handler starts is killed with it)
//   --cgroup DIR           join the cgroup DIR (writes this pid to DIR/cgroup.procs); repeatable
//   --nproc N              RLIMIT_NPROC (the fallback bound on processes where cgroups are unavailable)
//   --data BYTES           RLIMIT_DATA (the fallback memory cap: heap and private mappings)
//   --gid G --uid U        drop to this group and user, with no supplementary groups (needs root)
//   --landlock             restrict the file system to the rules below, and (Landlock ABI >= 6)
//                          scope signals and abstract UNIX sockets to the sandbox
//   --ro PATH / --rx PATH  read (and execute) beneath PATH
//   --rw PATH              read, write, create and remove beneath PATH (a directory) or read and
//                          write PATH (a file)
//
// NODE_OPTIONS in PROGRAM's environment is what FAASFLOW_NODE_OPTIONS says (the function's own), or
// nothing: node flags inherited from whoever started the supervisor (--import, --require) would
// load code from outside the sandbox.
//
// It sets FAASFLOW_SANDBOX in PROGRAM's environment to what was applied, e.g. "uid,landlock:7" or
// "none", so the container can report the truth. No landlock support in the kernel is not an error:
// FAASFLOW_SANDBOX then says so, and the supervisor shows it.
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <grp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

// The kernel ABI, spelled out here because distribution headers lag the running kernel.
#define LL_CREATE_RULESET_VERSION (1U << 0)
#define LL_RULE_PATH_BENEATH 1
#define LL_FS_EXECUTE (1ULL << 0)
#define LL_FS_WRITE_FILE (1ULL << 1)
#define LL_FS_READ_FILE (1ULL << 2)
#define LL_FS_READ_DIR (1ULL << 3)
#define LL_FS_TRUNCATE (1ULL << 14)
#define LL_FS_IOCTL_DEV (1ULL << 15)
#define LL_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define LL_SCOPE_SIGNAL (1ULL << 1)
#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#define __NR_landlock_add_rule 445
#define __NR_landlock_restrict_self 446
#endif

struct ll_ruleset_attr {
  uint64_t handled_access_fs;
  uint64_t handled_access_net;
  uint64_t scoped;
};

struct ll_path_beneath_attr {
  uint64_t allowed_access;
  int32_t parent_fd;
} __attribute__((packed));

enum { MAX_RULES = 256 };
struct rule {
  const char* path;
  char kind;  // 'r' read, 'x' read+execute, 'w' read+write
};

static void die(const char* what, const char* detail) {
  fprintf(stderr, "faasflow-sandbox: %s%s%s: %s\n", what, detail ? " " : "", detail ? detail : "", strerror(errno));
  exit(126);
}

static void usage(const char* why) {
  fprintf(stderr, "faasflow-sandbox: %s\nusage: faasflow-sandbox [--pgid] [--cgroup DIR]... [--nproc N] [--data BYTES] [--gid G --uid U] [--landlock [--ro|--rx|--rw PATH]...] -- PROGRAM [ARGS...]\n", why);
  exit(126);
}

static long long number(const char* opt, const char* s) {
  char* end = NULL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < 0) usage(opt);
  return v;
}

// The file-system rights of each Landlock ABI version: handling all of them denies everything
// that no rule allows, including rights newer than this program's author knew of at the time.
static uint64_t fs_rights(int abi) {
  uint64_t all = (1ULL << 13) - 1;       // ABI 1: execute .. make_sym
  if (abi >= 2) all |= 1ULL << 13;       // refer
  if (abi >= 3) all |= LL_FS_TRUNCATE;   // truncate
  if (abi >= 5) all |= LL_FS_IOCTL_DEV;  // ioctl on devices
  return all;
}

static void add_rule(int ruleset, const struct rule* r, uint64_t handled) {
  int fd = open(r->path, O_PATH | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return;  // a library directory this system does not have
    die("cannot open", r->path);
  }
  struct stat st;
  if (fstat(fd, &st) != 0) die("cannot stat", r->path);
  const int dir = S_ISDIR(st.st_mode);
  uint64_t access = LL_FS_READ_FILE | (dir ? LL_FS_READ_DIR : 0);
  if (r->kind == 'x') access |= LL_FS_EXECUTE;
  // A writable directory gets every right; a writable file the rights a file can have.
  if (r->kind == 'w') access = dir ? handled : LL_FS_READ_FILE | LL_FS_WRITE_FILE | LL_FS_TRUNCATE;
  // Character devices (/dev/null) need ioctl on ABI 5+ for isatty-like probes to behave.
  if (!dir && S_ISCHR(st.st_mode)) access |= LL_FS_IOCTL_DEV;
  struct ll_path_beneath_attr attr = {.allowed_access = access & handled, .parent_fd = fd};
  if (syscall(__NR_landlock_add_rule, ruleset, LL_RULE_PATH_BENEATH, &attr, 0) != 0) die("landlock_add_rule", r->path);
  close(fd);
}

// Returns the ABI applied, or 0 when the kernel has no Landlock.
static int apply_landlock(const struct rule* rules, int n) {
  const long abi = syscall(__NR_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);
  if (abi < 1) return 0;
  struct ll_ruleset_attr attr = {.handled_access_fs = fs_rights((int)abi)};
  if (abi >= 6) attr.scoped = LL_SCOPE_ABSTRACT_UNIX_SOCKET | LL_SCOPE_SIGNAL;
  const size_t size = abi >= 6 ? sizeof(attr) : offsetof(struct ll_ruleset_attr, scoped);
  const int ruleset = (int)syscall(__NR_landlock_create_ruleset, &attr, size, 0);
  if (ruleset < 0) die("landlock_create_ruleset", NULL);
  for (int i = 0; i < n; i++) add_rule(ruleset, &rules[i], attr.handled_access_fs);
  if (syscall(__NR_landlock_restrict_self, ruleset, 0) != 0) die("landlock_restrict_self", NULL);
  close(ruleset);
  return (int)abi;
}

static void join_cgroup(const char* dir) {
  char file[4096];
  if (snprintf(file, sizeof file, "%s/cgroup.procs", dir) >= (int)sizeof file) usage("--cgroup path too long");
  int fd = open(file, O_WRONLY | O_CLOEXEC);
  if (fd < 0) die("cannot open", file);
  char pid[32];
  const int len = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
  if (write(fd, pid, (size_t)len) != len) die("cannot join cgroup", dir);
  close(fd);
}

static void set_limit(int resource, long long value, const char* name) {
  struct rlimit rl = {.rlim_cur = (rlim_t)value, .rlim_max = (rlim_t)value};
  if (setrlimit(resource, &rl) != 0) die("setrlimit", name);
}

int main(int argc, char** argv) {
  static struct rule rules[MAX_RULES];
  int nrules = 0, landlock = 0, pgid = 0, i = 1;
  long long uid = -1, gid = -1, nproc = -1, data = -1;
  const char* cgroups[8];
  int ncgroups = 0;
  for (; i < argc; i++) {
    const char* a = argv[i];
    if (strcmp(a, "--") == 0) {
      i++;
      break;
    }
    const int has_value = i + 1 < argc;
    if (strcmp(a, "--pgid") == 0) pgid = 1;
    else if (strcmp(a, "--landlock") == 0) landlock = 1;
    else if (!has_value) usage(a);
    else if (strcmp(a, "--uid") == 0) uid = number(a, argv[++i]);
    else if (strcmp(a, "--gid") == 0) gid = number(a, argv[++i]);
    else if (strcmp(a, "--nproc") == 0) nproc = number(a, argv[++i]);
    else if (strcmp(a, "--data") == 0) data = number(a, argv[++i]);
    else if (strcmp(a, "--cgroup") == 0) {
      if (ncgroups == 8) usage("too many --cgroup");
      cgroups[ncgroups++] = argv[++i];
    } else if (strcmp(a, "--ro") == 0 || strcmp(a, "--rx") == 0 || strcmp(a, "--rw") == 0) {
      if (nrules == MAX_RULES) usage("too many paths");
      rules[nrules].kind = a[3] == 'o' ? 'r' : a[3];
      rules[nrules++].path = argv[++i];
    } else usage(a);
  }
  if (i >= argc) usage("no program to run");
  if ((uid < 0) != (gid < 0)) usage("--uid and --gid go together");

  if (pgid && setpgid(0, 0) != 0) die("setpgid", NULL);
  for (int c = 0; c < ncgroups; c++) join_cgroup(cgroups[c]);
  if (nproc >= 0) set_limit(RLIMIT_NPROC, nproc, "RLIMIT_NPROC");
  if (data >= 0) set_limit(RLIMIT_DATA, data, "RLIMIT_DATA");
  char applied[64] = "";
  if (uid >= 0) {
    const gid_t g = (gid_t)gid;
    if (setgroups(1, &g) != 0) die("setgroups", NULL);
    if (setresgid(g, g, g) != 0) die("setresgid", NULL);
    if (setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) != 0) die("setresuid", NULL);
    // Dropped for good: regaining root must fail.
    if (setuid(0) == 0) {
      errno = EPERM;
      die("privileges were not dropped", NULL);
    }
    strcat(applied, "uid");
  }
  // Required for Landlock without privileges, and right for a container anyway: nothing it
  // executes (a setuid binary) can gain privileges.
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) die("prctl(PR_SET_NO_NEW_PRIVS)", NULL);
  if (landlock) {
    const int abi = apply_landlock(rules, nrules);
    if (abi > 0) snprintf(applied + strlen(applied), sizeof applied - strlen(applied), "%slandlock:%d", applied[0] ? "," : "", abi);
  }
  if (setenv("FAASFLOW_SANDBOX", applied[0] ? applied : "none", 1) != 0) die("setenv", NULL);
  const char* own = getenv("FAASFLOW_NODE_OPTIONS");
  if (own != NULL && own[0] != '\0') {
    if (setenv("NODE_OPTIONS", own, 1) != 0) die("setenv", NULL);
  } else unsetenv("NODE_OPTIONS");
  unsetenv("FAASFLOW_NODE_OPTIONS");
  execvp(argv[i], &argv[i]);
  die("cannot execute", argv[i]);
  return 126;
}
