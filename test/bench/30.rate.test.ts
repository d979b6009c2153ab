// The fixed-rate client (src/bench/rate/ffrate.c) against a real node:http server in this process:
// every intended request is sent byte-exact and answered, statuses and failures are counted apart,
// and a server stall is charged to every request scheduled during it (no coordinated omission).
// Nothing here bounds time from above: the bounds below are lower bounds the server forces.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import t, { type Test } from 'tap';
import { buildRate, runRate } from '../../src/bench/rate.js';

// 1 KiB of a pattern that a shifted, truncated or doubled body cannot match.
const BODY = Buffer.from(Array.from({ length: 1024 }, (_, i) => (i * 31 + (i >> 8)) & 0xff));

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-rate-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
const bodyFile = path.join(dir, 'body');
fs.writeFileSync(bodyFile, BODY);
// Kills any client still running when the file ends, failed or not.
const children = new AbortController();
t.teardown(() => children.abort());
const signal = children.signal;

let bin = '';
t.before(async () => {
  bin = await buildRate(path.join(dir, 'bin'));
});

interface Served {
  url: string;
  /** Requests the server read to the end. */
  count: () => number;
  /** Of those, bodies that were not byte-exact BODY (or not a POST of octets). */
  bad: () => number;
}

/** A keep-alive server on port 0, closed when `t` ends; `answer` replies to request number n (from 1). */
async function serve(t: Test, answer: (n: number, res: http.ServerResponse) => void): Promise<Served> {
  let n = 0;
  let bad = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      n++;
      if (req.method !== 'POST' || req.headers['content-type'] !== 'application/octet-stream' || !Buffer.concat(chunks).equals(BODY)) {
        bad++;
        res.statusCode = 400;
        res.end('not the body');
        return;
      }
      answer(n, res);
    });
  });
  server.keepAliveTimeout = 60_000; // idle closes would be legitimate, but not what these runs look at
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/echo`, count: () => n, bad: () => bad };
}

function exec(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(bin, args, { signal, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

t.test('the build is reused while the source is older than the binary', async (t) => {
  const again = path.join(dir, 'bin');
  const before = fs.statSync(bin).mtimeMs;
  t.equal(await buildRate(again), bin);
  t.equal(fs.statSync(bin).mtimeMs, before, 'not compiled again');
});

t.test('at a modest rate every intended request is sent byte-exact and answered', async (t) => {
  const s = await serve(t, (_n, res) => res.end('ok'));
  const r = await runRate(bin, { url: s.url, bodyFile, rate: 500, connections: 4, seconds: 1, warmup: 0.2, signal });
  t.equal(r.intended, 500, 'rate × seconds, warmup excluded');
  t.equal(r.answered, r.intended);
  t.equal(r.non2xx, 0);
  t.equal(r.errors, 0);
  t.equal(r.timeouts, 0);
  t.equal(s.bad(), 0, 'every body byte-exact');
  t.equal(s.count(), r.intended + 500 * 0.2, 'the server saw the measured requests and the 100 of the warmup, no more');
  t.ok(r.p50 <= r.p99 && r.p99 <= r.p999 && r.p999 <= r.max, `p50 ${r.p50} ≤ p99 ${r.p99} ≤ p999 ${r.p999} ≤ max ${r.max} µs`);
  t.ok(r.seconds >= 1, `measured ${r.seconds} s, at least the duration`);
  t.ok(r.achieved > 0);
});

t.test('a 300 ms stall is charged to every request intended during it', async (t) => {
  const s = await serve(t, (n, res) => {
    if (n === 200) {
      // Blocks this process's event loop: the server reads nothing and answers nothing meanwhile.
      const until = performance.now() + 300;
      while (performance.now() < until) {
        // busy on purpose
      }
    }
    res.end('ok');
  });
  const r = await runRate(bin, { url: s.url, bodyFile, rate: 1000, connections: 2, seconds: 2, signal });
  t.equal(r.errors, 0);
  t.equal(r.timeouts, 0);
  t.equal(r.answered, r.intended);
  t.equal(s.count(), r.intended);
  t.equal(s.bad(), 0);
  // Request 200 was answered at least 300 ms after it was sent, which is no earlier than intended.
  t.ok(r.max >= 300_000, `max ${r.max} µs covers the whole stall`);
  // About 300 of the ~2000 requests were intended during the stall; the first ~200 of them waited
  // more than 100 ms for it to end. A closed-loop client records only the 2 in flight, which
  // cannot move the 99th percentile (20 requests).
  t.ok(r.p99 >= 100_000, `p99 ${r.p99} µs: more than 1 % of the requests waited out the stall`);
});

t.test('non-2xx answers are counted apart, chunked and sized answers both read', async (t) => {
  let failed = 0;
  const s = await serve(t, (n, res) => {
    if (n % 10 === 0) {
      failed++;
      res.statusCode = 500;
    }
    if (n % 3 === 0) {
      res.write('chunked '); // no Content-Length: node sends Transfer-Encoding: chunked
      res.end('answer');
    } else res.end('sized answer');
  });
  const r = await runRate(bin, { url: s.url, bodyFile, rate: 300, connections: 3, seconds: 1, signal });
  t.equal(r.answered, r.intended);
  t.equal(s.count(), r.intended);
  t.ok(failed >= 30, `${failed} answers were 500`);
  t.equal(r.non2xx, failed);
  t.equal(r.errors, 0, 'a 500 is an answer, not a transport error');
  t.ok(Math.abs(r.achieved - (r.answered - r.non2xx) / r.seconds) < 0.5, `achieved ${r.achieved}: 2xx answers per second`);
});

t.test('bad arguments exit 2 naming the problem', async (t) => {
  const common = ['--rate', '10', '--connections', '1', '--duration', '1'];
  const noUrl = await exec(['--body', bodyFile, ...common]);
  t.equal(noUrl.code, 2);
  t.match(noUrl.stderr, /missing --url/);
  t.equal(noUrl.stdout, '');
  const missingBody = path.join(dir, 'no-such-body');
  const noBody = await exec(['--url', 'http://127.0.0.1:9/', '--body', missingBody, ...common]);
  t.equal(noBody.code, 2);
  t.match(noBody.stderr, `cannot read --body ${missingBody}: No such file or directory`);
  const badUrl = await exec(['--url', 'https://127.0.0.1/', '--body', bodyFile, ...common]);
  t.equal(badUrl.code, 2);
  t.match(badUrl.stderr, /bad --url "https:\/\/127\.0\.0\.1\/": only http/);
  const badRate = await exec(['--url', 'http://127.0.0.1:9/', '--body', bodyFile, '--rate', 'fast', '--connections', '1', '--duration', '1']);
  t.equal(badRate.code, 2);
  t.match(badRate.stderr, /--rate: cannot use "fast"/);
});

t.test('a port nobody listens on: exit 1 and why, and runRate rejects with it', async (t) => {
  // A port that was free a moment ago: listen on 0, note it, close.
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const url = `http://127.0.0.1:${port}/`;
  const direct = await exec(['--url', url, '--body', bodyFile, '--rate', '10', '--connections', '2', '--duration', '1']);
  t.equal(direct.code, 1);
  t.match(direct.stderr, `cannot connect to 127.0.0.1:${port} (Connection refused)`);
  await t.rejects(runRate(bin, { url, bodyFile, rate: 10, connections: 2, seconds: 1, signal }), /ffrate gave no result \(exit 1\): ffrate: cannot connect to .*Connection refused/);
});
