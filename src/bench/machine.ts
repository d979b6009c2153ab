// What the numbers were measured on, recorded with every result.
import fs from 'node:fs';
import os from 'node:os';
import type { Machine } from './types.js';

export function describeMachine(): Machine {
  let cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpu = m[1].trim();
  } catch {
    // not Linux: os.cpus() is what there is
  }
  return { cpu, cores: os.availableParallelism(), node: process.version, os: `${os.type()} ${os.release()}`, loadBefore: os.loadavg().map((l) => Number(l.toFixed(2))) };
}
