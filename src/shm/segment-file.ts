// The /dev/shm half of segments: creating a segment file (the runtime segment, allocated in full;
// a self-contained one for tools and tests, sparse) and mapping one by name.
import { native, type NativeMapping } from './binding.js';
import { ShmError, isShmError } from './errors.js';
import { SHM_DIR, explain, shmRoom } from './space.js';

/**
 * A new /dev/shm file for segment `name` of `size` bytes with this mode and group (-1: the
 * creator's), mapped read-write; `allocate`: in full. `holds`: what it can come to hold (space.ts,
 * holdable), which /dev/shm must have room for.
 */
export function createFile(name: string, size: number, holds: number, mode: number, gid: number, allocate: boolean): NativeMapping {
  // tmpfs accepts ftruncate past its free space and then kills the first process that touches a
  // page it cannot back (SIGBUS), so the space is checked here, before anything exists, against
  // the free space less what the other segments have yet to touch (shmRoom). The runtime segment
  // is then allocated in full: a /dev/shm filled later by anyone can never take a page of it.
  const room = shmRoom();
  if (holds > room.room) throw explain(new ShmError('no space', 'ENOSPC', name), name, holds, room);
  try {
    native.create(name, size, mode, gid, allocate);
  } catch (err) {
    throw explain(err, name, size);
  }
  try {
    return native.map(name, true);
  } catch (err) {
    unlinkQuietly(name);
    throw explain(err, name, size);
  }
}

/** Maps the /dev/shm file of segment `name`, with the errors said as a user can act on them. */
export function mapFile(name: string, writable: boolean): NativeMapping {
  try {
    return native.map(name, writable);
  } catch (err) {
    if (isShmError(err, 'EINVAL')) throw new ShmError(`${SHM_DIR}${name} is empty: a truncated or half-created segment; remove it with \`faasflow down --clean-shm\``, 'ETRUNCATED', name);
    let size: number | undefined;
    if (isShmError(err, 'ENOMEM')) {
      try {
        size = native.stat(name).size;
      } catch {
        // gone meanwhile: the message goes without the size
      }
    }
    throw explain(err, name, size);
  }
}

export function unlinkQuietly(name: string): void {
  try {
    native.unlink(name);
  } catch {
    // already gone
  }
}
