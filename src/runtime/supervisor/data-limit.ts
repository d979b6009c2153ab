// How a replica bounded by RLIMIT_DATA (memoryMax where no cgroup could be made) is started so
// that it runs reliably under that bound and still stops past it.
//
// RLIMIT_DATA counts every private writable mapping, used or not: each thread's stack (glibc
// gives a thread RLIMIT_STACK, 8 MiB here, and Node 20 starts 9 threads: 72 MiB before any
// code runs), each malloc arena that a thread allocating in parallel gets, V8's heap pages, and
// what Buffers, OpenSSL, zlib and native modules allocate. Measured on Node 20 (x64, glibc):
//  - An idle Node counts ~80 MiB, ~92 MiB after its thread pool has worked.
//  - The gateway's malloc tunables (MALLOC_TUNABLES: top_pad of 64 MiB) make every arena grow by
//    64 MiB at once: 205 MiB at start and 736 MiB after some thread-pool work, so replicas under a
//    400 MiB bound failed at start or at their first requests ("malloc failure", std::bad_alloc).
//  - V8 sizes its heap from the machine's memory (4 GiB here), not from the rlimit: it put off
//    collections while the process ran into the bound, and its own allocations failed
//    ("Fatal process out of memory: Zone", SIGSEGV) instead of a clean heap limit.
// So such a replica gets glibc's defaults (unless the user set GLIBC_TUNABLES) and a V8 old
// generation of half of what the bound leaves after Node's own reservations; the other half is
// for Buffers and native code. Then V8 collects before the kernel refuses, and a handler that
// grows its heap past the bound ends with "JavaScript heap out of memory": its replica exits and
// is replaced.

const MIB = 1024 * 1024;

/** What Node itself reserves under RLIMIT_DATA before a handler allocates: thread stacks, code, arenas. */
export const NODE_RESERVE_BYTES = 128 * MIB;

/** The least memoryMax under RLIMIT_DATA that leaves a handler room to run (a 32 MiB heap). */
export const MIN_DATA_LIMIT_BYTES = NODE_RESERVE_BYTES + 64 * MIB;

/** V8's old-generation size in MiB for a replica whose RLIMIT_DATA is `bytes`. */
export function oldSpaceMiB(bytes: number): number {
  return Math.max(16, Math.floor((bytes - NODE_RESERVE_BYTES) / 2 / MIB));
}

/**
 * The node flags of a replica bounded by RLIMIT_DATA of `bytes`: none when the function's own
 * NODE_OPTIONS sizes the heap (its choice wins).
 */
export function dataLimitNodeOptions(bytes: number, own: string | undefined): string[] {
  return own?.includes('max-old-space-size') ? [] : [`--max-old-space-size=${oldSpaceMiB(bytes)}`];
}

/** The environment entries that change for such a replica: the gateway's malloc tunables go. */
export function dataLimitEnv<T extends Record<string, string>>(common: T, userTunables: string | undefined): Omit<T, 'GLIBC_TUNABLES'> & { GLIBC_TUNABLES?: string } {
  const { GLIBC_TUNABLES: _gateway, ...rest } = common;
  return userTunables !== undefined ? { ...rest, GLIBC_TUNABLES: userTunables } : rest;
}
