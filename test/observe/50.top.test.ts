import t from 'tap';
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { InstanceStatus } from '../../src/control/protocol.js';
import { Segment, segmentName } from '../../src/shm/index.js';
import { post } from '../helpers/http.js';
import { ROOT } from '../helpers/runtime.js';
import { freePort } from '../cli/helpers.js';

const run = promisify(execFile);
const hasTmux = (() => {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();


const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('faasflow top in tmux shows every panel with live numbers, survives resize and a restart, and q quits', { skip: hasTmux ? false : 'tmux not installed' }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-top-'));
  const instance = `obs-top-${process.pid}-${randomBytes(2).toString('hex')}`;
  const port = await freePort();
  fs.writeFileSync(
    path.join(dir, 'faasflow.config.mjs'),
    `export default { gateway: { port: ${port} }, segment: { size: '64MiB' }, functions: [{ id: 1, name: 'echo', handler: ${JSON.stringify(path.join(ROOT, 'functions', 'echo.ts'))}, replicas: 2 }] };\n`,
  );
  const env = { ...process.env, FAASFLOW_RUNTIME_DIR: path.join(dir, 'rt') };
  const cli = (...args: string[]) => run(process.execPath, [path.join(ROOT, 'bin', 'run.js'), ...args, '--instance', instance], { cwd: dir, env });
  const sock = `ffobs-${process.pid}`;
  const tmux = (...args: string[]) => execFileSync('tmux', ['-L', sock, ...args], { encoding: 'utf8' });
  const screen = () => tmux('capture-pane', '-p', '-t', 'top');
  let sending = false;
  t.teardown(async () => {
    sending = false;
    try {
      tmux('kill-server');
    } catch {
      // already gone: top quit
    }
    await cli('down').catch(() => undefined);
    if (Segment.exists(segmentName(instance))) Segment.unlink(segmentName(instance));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  await cli('up');
  const state = JSON.parse(fs.readFileSync(path.join(dir, 'rt', 'state.json'), 'utf8')) as InstanceStatus;
  const pids = state.children.map((c) => c.pid);
  t.equal(pids.length, 4, 'supervisor, gateway, two containers');

  let sent = 0;
  sending = true;
  const sender = (async () => {
    while (sending) {
      const r = await post(port, '/function/1', `ping ${sent}`).catch(() => null);
      if (r?.status === 200) sent++;
      else await sleep(50);
    }
  })();

  tmux('new-session', '-d', '-s', 'top', '-x', '160', '-y', '48', '-e', `FAASFLOW_RUNTIME_DIR=${env.FAASFLOW_RUNTIME_DIR}`, `cd ${dir} && ${process.execPath} ${path.join(ROOT, 'bin', 'run.js')} top --instance ${instance}`);

  // "1 echo  <req/s>  <p50>  <p99>  <errors>  <total>" in the latency panel.
  const row = /1 echo\s+([\d.k]+)\s+([\d.]+ (?:µs|ms))\s+([\d.]+ (?:µs|ms))\s+(\d+)\s+([\d.]+k?)/;
  const total = (s: string) => {
    const m = row.exec(s);
    return m ? (m[5].endsWith('k') ? Number(m[5].slice(0, -1)) * 1000 : Number(m[5])) : -1;
  };
  const waitFor = async (what: string, ok: (s: string) => boolean, ms = 20000) => {
    const end = Date.now() + ms;
    let s = '';
    while (Date.now() < end) {
      s = screen();
      if (ok(s)) return s;
      await sleep(250);
    }
    t.comment(s);
    throw new Error(`top never showed ${what}`);
  };

  const first = await waitFor('the function row with traffic', (s) => total(s) > 0 && Number(row.exec(s)![1].replace('k', '')) > 0);
  t.comment(`\n${first}`);
  const before = total(first);
  await sleep(2500);
  const later = await waitFor('a bigger request count', (s) => total(s) > before);
  t.ok(total(later) > before, `request count grows: ${before} → ${total(later)} (${sent} sent so far)`);

  // Every panel, filled with this instance's numbers.
  t.match(later, /requests\/s per function/, 'throughput chart');
  t.match(later, /1 echo/, 'chart legend and latency row name the function');
  t.match(later, /4\.0 KiB\s+\S*\s+\d+\/\d+\s+[\d.]+%\s+hw\s+\d+/, 'pool usage per size class');
  t.match(later, /16\.0 MiB\s+\S*\s+\d+\/1\s/, 'every class listed');
  t.match(later, /\/dev\/shm used|\/dev\/shm WARNING/, '/dev/shm gauge');
  t.match(later, /\/dev\/shm [\d.]+ [KMG]iB of [\d.]+ [KMG]iB/, '/dev/shm numbers');
  t.match(later, new RegExp(`${segmentName(instance)}\\s+v1`), 'segment name and layout');
  t.match(later, new RegExp(`creator pid ${state.supervisorPid} alive`), 'segment creator');
  t.match(later, /mapped by 4 process\(es\)/, 'processes mapping the segment');
  for (const c of state.children) {
    t.match(later, new RegExp(`${c.role}\\s+.*\\b${c.pid}\\s+ready\\s+0\\s+[\\d.]+%\\s+(?:[\\d.]+%|-)\\s+[\\d.]+ [KMG]iB\\s+[\\d.]+ [KMG]iB\\s+[\\d.]+ [KMG]iB`), `process row for ${c.role} ${c.pid} with CPU, polling, RSS, private, shm`);
  }
  t.match(later, /attached: \/faasflow-/, 'events panel');
  t.match(later, /supervisor\[\d+\]/, 'log lines panel shows the instance’s log files');

  tmux('resize-window', '-t', 'top', '-x', '110', '-y', '38');
  await sleep(1500);
  const small = await waitFor('numbers after a resize', (s) => total(s) > 0 || /1 echo\s+[\d.]+/.test(s));
  t.match(small, /requests\/s per function/, 'still drawn after resize');
  tmux('resize-window', '-t', 'top', '-x', '160', '-y', '48');

  // The instance goes away and comes back: top waits, then follows the new segment.
  sending = false;
  await sender;
  await cli('down');
  const waiting = await waitFor('the waiting notice', (s) => /waiting for instance/.test(s));
  t.match(waiting, new RegExp(`waiting for instance ${instance}`));
  await cli('up');
  sending = true;
  const sender2 = (async () => {
    while (sending) {
      const r = await post(port, '/function/1', 'again').catch(() => null);
      if (!r) await sleep(50);
    }
  })();
  const back = await waitFor('the restarted instance', (s) => /instance is back/.test(s) && total(s) > 0 && !/waiting for instance/.test(s));
  t.ok(total(back) > 0, 'numbers of the new instance');
  sending = false;
  await sender2;

  tmux('send-keys', '-t', 'top', 'Tab');
  tmux('send-keys', '-t', 'top', 'q');
  const end = Date.now() + 10000;
  let alive = true;
  while (alive && Date.now() < end) {
    await sleep(200);
    try {
      tmux('has-session', '-t', 'top');
    } catch {
      alive = false;
    }
  }
  t.notOk(alive, 'q quits top (its tmux session ends)');
});
