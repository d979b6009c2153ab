// What the flow benchmark runs: faasflow with a 3-step flow (in one domain and across three), the
// same steps called one by one, and the copying chain users build today (each function forwarding
// a full copy of its input to the next over HTTP), from the reference setups' hop program.
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { execa } from 'execa';
import { forgetLocation } from '../../control/location.js';
import { distFile, forkReady, packageRoot, stopChild } from '../process.js';

const HOP = distFile('servers/hop.js');
const BIN = path.join(packageRoot(), 'bin', 'run.js');

const PASS = 'export default function pass(input: Uint8Array): Uint8Array {\n  return input;\n}\n';
const LENGTH = 'export default function length(input: Uint8Array): string {\n  return String(input.length);\n}\n';

/** Two pass-through steps and a last one that answers the length (the reference setups' reply). */
function config(port: number, runtimeDir: string): string {
  return `import { defineConfig } from 'faasflow';
export default defineConfig({
  gateway: { host: '127.0.0.1', port: ${port}, workers: 1 },
  runtimeDir: ${JSON.stringify(runtimeDir)},
  segment: { size: '1GiB' },
  functions: [
    { id: 1, name: 'pass1', handler: './pass.ts', domain: 'd' },
    { id: 2, name: 'pass2', handler: './pass.ts', domain: 'd' },
    { id: 3, name: 'length', handler: './length.ts', domain: 'd' },
    { id: 4, name: 'pass2x', handler: './pass.ts', domain: 'e' },
    { id: 5, name: 'lengthx', handler: './length.ts', domain: 'f' },
  ],
  flows: [
    { name: 'chain', steps: ['pass1', 'pass2', 'length'] },
    { name: 'chain-x', steps: ['pass1', 'pass2x', 'lengthx'] },
  ],
});
`;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export interface Faasflow {
  url: string;
  stop(): Promise<void>;
}

export async function startFaasflow(dir: string): Promise<Faasflow> {
  const port = await freePort();
  const instance = `bench-flows-${process.pid}`;
  fs.writeFileSync(path.join(dir, 'pass.ts'), PASS);
  fs.writeFileSync(path.join(dir, 'length.ts'), LENGTH);
  fs.writeFileSync(path.join(dir, 'faasflow.config.ts'), config(port, path.join(dir, 'rt')));
  const cli = (args: string[]) => execa(process.execPath, [BIN, ...args, '--instance', instance], { cwd: dir, reject: false });
  const stop = async () => {
    await cli(['down', '--clean-shm']);
    forgetLocation(instance, dir);
  };
  const up = await cli(['up']);
  if (up.exitCode !== 0) {
    await stop();
    throw new Error(`faasflow up failed:\n${up.stdout}\n${up.stderr}`);
  }
  return { url: `http://127.0.0.1:${port}`, stop };
}

export interface CopyChain {
  /** gateway → one function. */
  one: string;
  /** gateway → function → function → function, each forwarding a full copy. */
  three: string;
  stop(): Promise<void>;
}

export async function startCopyChains(dir: string): Promise<CopyChain> {
  const children: ChildProcess[] = [];
  const stop = async () => {
    for (const c of [...children].reverse()) await stopChild(c);
  };
  try {
    const sock = (n: string) => path.join(dir, `${n}.sock`);
    const start = async (args: string[]) => {
      const r = await forkReady(HOP, args);
      children.push(r.child);
      return r;
    };
    await start(['--listen', `unix:${sock('one-fn')}`]);
    const one = await start(['--listen', 'tcp:0', '--forward', sock('one-fn')]);
    await start(['--listen', `unix:${sock('f3')}`]);
    await start(['--listen', `unix:${sock('f2')}`, '--forward', sock('f3')]);
    await start(['--listen', `unix:${sock('f1')}`, '--forward', sock('f2')]);
    const three = await start(['--listen', 'tcp:0', '--forward', sock('f1')]);
    return { one: `http://127.0.0.1:${one.port}/`, three: `http://127.0.0.1:${three.port}/`, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
