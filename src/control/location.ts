// Where `faasflow up` last put an instance (a symlink next to the default runtime directories), so
// that ps, logs, top and down find it without evaluating its config: that takes esbuild and zod,
// several times what the command itself does.
import fs from 'node:fs';
import path from 'node:path';
import { instanceFiles, locationLinkFor, type InstancePaths } from '../common/paths.js';
import { readJson } from '../common/state.js';

/** Points the instance's link at `p.dir`; replaced atomically, so a reader sees the old or the new one. */
export function recordLocation(p: InstancePaths): void {
  const link = locationLinkFor(p.instance);
  const tmp = `${link}.${process.pid}`;
  try {
    fs.mkdirSync(path.dirname(link), { recursive: true, mode: 0o700 });
    fs.rmSync(tmp, { force: true });
    fs.symlinkSync(p.dir, tmp);
    fs.renameSync(tmp, link);
    pruneDangling(path.dirname(link));
  } catch {
    // Only a shortcut: without it the other commands evaluate the config to find the instance.
    fs.rmSync(tmp, { force: true });
  }
}

/**
 * Removes the instance's link if it leads into `dir`: a runtime directory that is about to go (a
 * benchmark's temporary project), so nothing is left pointing nowhere.
 */
export function forgetLocation(instance: string, dir: string): void {
  const link = locationLinkFor(instance);
  try {
    if (fs.readlinkSync(link).startsWith(`${dir}${path.sep}`)) fs.rmSync(link);
  } catch {
    // no link (an older release, or `up` never got that far)
  }
}

/** Links to runtime directories that are gone (removed with their project) lead nowhere: removed. */
function pruneDangling(dir: string): void {
  for (const name of fs.readdirSync(dir)) {
    if (!name.endsWith('@')) continue;
    const link = path.join(dir, name);
    if (!fs.existsSync(link)) fs.rmSync(link, { force: true });
  }
}

/** The runtime directory `up` last used for `instance`, if it still exists. */
export function lastLocation(instance: string): string | undefined {
  try {
    const dir = fs.readlinkSync(locationLinkFor(instance));
    return fs.statSync(dir).isDirectory() ? dir : undefined;
  } catch {
    return undefined;
  }
}

/** The config file the instance in `dir` was started from ('' for the built-in one), if it still runs there. */
export function startedFrom(dir: string): string | undefined {
  const file = readJson<{ file?: unknown }>(instanceFiles(dir).config)?.file;
  return typeof file === 'string' ? file : undefined;
}
