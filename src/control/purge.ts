// `down --purge`: what a stopped instance still keeps in its runtime directory (logs, bundles,
// deployments, its state file) goes, file by file. Only the names faasflow writes are removed, and
// the directory only once it is empty: a runtime directory configured to be a directory of the
// user's own keeps whatever else is in it.
import fs from 'node:fs';
import { RUNTIME_FILES, locationLinkFor, type InstancePaths } from '../common/paths.js';

export interface PurgeReport {
  /** The files and directories removed. */
  removed: string[];
  /** Whether the runtime directory itself is gone. */
  dirRemoved: boolean;
}

export function purgeRuntimeDir(p: InstancePaths): PurgeReport {
  const removed: string[] = [];
  for (const key of Object.keys(RUNTIME_FILES) as (keyof typeof RUNTIME_FILES)[]) {
    const file = p[key];
    if (!fs.existsSync(file)) continue;
    fs.rmSync(file, { recursive: true, force: true });
    removed.push(file);
  }
  try {
    fs.rmdirSync(p.dir);
  } catch {
    // not empty (someone else's files) or already gone
  }
  const dirRemoved = !fs.existsSync(p.dir);
  // The link that led other commands here leads nowhere now.
  try {
    if (dirRemoved && fs.readlinkSync(locationLinkFor(p.instance)) === p.dir) fs.rmSync(locationLinkFor(p.instance));
  } catch {
    // no link
  }
  return { removed, dirRemoved };
}
