// A function at zero wakes on its gateway's word: the gateway that queues a request for a function
// with no replica sends the supervisor a `demand` message, checked there (demandOf) and bounded
// (scaler.ts wake), which scales it up without waiting for the next sample. On real processes with
// two gateways, both asking at once: a burst at zero is answered in full and never runs more than
// `max` processes, and the scale-up says which gateway asked.
import fs from 'node:fs';
import t from 'tap';
import { post } from '../helpers/http.js';
import { ProcessTable, Segment } from '../../src/shm/index.js';
import { demandOf } from '../../src/runtime/supervisor/gateways.js';
import { project, until, type Project } from '../cli/helpers.js';

const PID = 'export default async function (): Promise<string> {\n  await new Promise((r) => setTimeout(r, 20));\n  return String(process.pid);\n}\n';

t.test('a demand message is a function id and nothing else', async (t) => {
  t.equal(demandOf({ type: 'demand', functionId: 3 }), 3);
  t.equal(demandOf({ type: 'demand', functionId: 0 }), 0);
  for (const bad of [null, 'demand', 7, {}, { type: 'demand' }, { type: 'demand', functionId: -1 }, { type: 'demand', functionId: 1.5 }, { type: 'demand', functionId: '1' }, { type: 'demand', functionId: Number.NaN }, { type: 'demand', functionId: 2 ** 60 }, { type: 'demand', functionId: 1, replicas: 9 }, { type: 'routes-applied', functionId: 1 }]) {
    t.equal(demandOf(bad), undefined, `refused: ${JSON.stringify(bad)}`);
  }
});

/** The function's container processes now, from the runtime segment's process table. */
function containers(p: Project): number {
  const seg = Segment.open(p.segment, false);
  try {
    return new ProcessTable(seg).entries().filter((e) => e.role === 'container' && e.functionId === 1).length;
  } finally {
    seg.close();
  }
}

t.test('a burst at zero through two gateways: every request answered, never more than max, the gateway named', async (t) => {
  const p = await project(t, 'demand');
  p.write('pid.ts', PID);
  p.write('faasflow.config.ts', `export default {\n  gateway: { port: ${p.port}, workers: 2 },\n  segment: { size: '64MiB' },\n  functions: [{ id: 1, handler: './pid.ts', concurrency: 1, scale: { min: 0, max: 2, target: 1, idle: '1s' } }],\n};\n`);
  const up = await p.cli(['up']);
  t.equal(up.code, 0, up.stderr);
  t.teardown(() => p.cli(['down']));
  let most = 0;
  const watch = setInterval(() => (most = Math.max(most, containers(p))), 5);
  t.teardown(() => clearInterval(watch));
  for (let round = 0; round < 3; round++) {
    await until(() => containers(p) === 0, 20_000, 'the function at zero');
    // 24 connections of their own: the kernel spreads them over both gateways (SO_REUSEPORT).
    const answers = await Promise.all(Array.from({ length: 24 }, () => post(p.port, '/function/1', 'x')));
    t.same(answers.filter((a) => a.status !== 200).map((a) => `${a.status} ${a.body.toString()}`), [], `round ${round}: every request of the burst answered`);
  }
  clearInterval(watch);
  t.ok(most >= 1 && most <= 2, `never more than max (2) container processes: ${most} at most`);
  const log = fs.readFileSync(`${p.runtimeDir}/logs/supervisor.log`, 'utf8');
  t.match(log, /scaling up 0 → [12] replica\(s\): \d+ request\(s\) waiting at zero, signalled by gateway [01]/, 'a scale-up from zero woken by a gateway\'s demand, which is named');
});
