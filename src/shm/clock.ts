// Date.now() costs ~45 ns, as much as the rest of alloc. The allocation time only feeds the age
// shown by `shm inspect`, so it is read once per event-loop turn and reused by every alloc in that
// turn: a packet's age can be off by the length of the synchronous task that allocated it.
let clock = -1;
const tick = () => {
  clock = -1;
};

export function coarseNow(): number {
  if (clock < 0) {
    clock = Date.now();
    queueMicrotask(tick);
  }
  return clock;
}
