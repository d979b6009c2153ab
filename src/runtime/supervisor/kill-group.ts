// The end of an exited child's process group (child.ts): what its handler started goes with it.
/**
 * Kills what is left of an exited child's process group (processes its handler started). Called
 * once, right at the exit: the group id stays reserved while it has members, so this cannot reach
 * anyone else's processes (a second call later could, once the pid is free for reuse).
 */
export function killGroup(pgid: number): void {
  if (pgid <= 0) return;
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // ESRCH: nothing left in the group
  }
}
