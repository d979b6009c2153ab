// What the journal tests share: an instance with two gateways and a recording function, and
// journals written by hand for a writer that is gone (its pid and start time name no process).
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import type { Test } from 'tap';
import { configText, project, until, type Project } from '../cli/helpers.js';
import { encodeRecord, startTicks } from '../../src/runtime/queue/journal-format.js';
import { RECORDER, findFile } from './helpers.js';

export async function instance(t: Test, tag: string): Promise<{ p: Project; recFile: string; journal: string }> {
  const p = await project(t, tag);
  const recFile = path.join(p.dir, 'runs.log');
  p.write('rec.ts', RECORDER);
  p.write('faasflow.config.ts', configText(p.port, `[{ id: 1, name: 'rec', handler: './rec.ts', env: { REC_FILE: ${JSON.stringify(recFile)} } }]`,
    "  security: { sandbox: false },\n  supervisor: { backoffMin: '50ms', backoffMax: '200ms' },\n  async: { backoff: '50ms' },\n").replace(`gateway: { port: ${p.port} }`, `gateway: { port: ${p.port}, workers: 2 }`));
  const up = await p.cli(['up']);
  t.equal(up.code, 0, up.stderr);
  t.teardown(() => p.cli(['down', '--clean-shm']));
  return { p, recFile, journal: path.join(p.dir, 'state', 'journal') };
}

/** A process that has exited: its pid and start time name the journal of a gateway that is gone. */
export async function deadWriter(): Promise<{ pid: number; start: string }> {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  const pid = child.pid!;
  const start = (await until(() => startTicks(pid), 5000, 'the child to start')) ?? '';
  child.kill('SIGKILL');
  await until(() => startTicks(pid) === undefined, 5000, 'the child to exit');
  return { pid, start };
}

export const record = (id: string, body: Buffer) => Buffer.concat(encodeRecord({ id, kind: 'function', target: '1', name: 'rec', fn: 1, caller: '-', headers: [], query: '' }, body));

export const queueLog = (p: Project) => {
  const f = findFile(p.runtimeDir, 'queue.log');
  return f ? fs.readFileSync(f, 'utf8') : '';
};
