// `faasflow export haproxy` without running HAProxy's traffic: what it derives from the config (the
// drain warning, the server timeout past the longest function or flow), how it reads --backend, and
// that HAProxy itself accepts what it prints (`haproxy -c`), IPv6 included.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { parseBackend } from '../../src/export/haproxy.js';
import { project } from '../cli/helpers.js';
import { writeFixture } from './fixture.js';
import { haproxyAvailable, haproxyCheck } from './haproxy.js';

t.test('--backend: HOST:PORT, NAME=HOST:PORT, IPv6; anything else is refused with the form', async (t) => {
  t.same(parseBackend('10.0.0.5:8080', 0), { name: 'ff1', host: '10.0.0.5', port: 8080 });
  t.same(parseBackend('web2=host.example:81', 1), { name: 'web2', host: 'host.example', port: 81 });
  t.same(parseBackend('[::1]:8080', 2), { name: 'ff3', host: '[::1]', port: 8080 });
  for (const bad of ['10.0.0.5', '10.0.0.5:0', '10.0.0.5:70000', 'a b:80', '::1:8080']) {
    t.throws(() => parseBackend(bad, 0), /is not HOST:PORT \(or NAME=HOST:PORT\): write e\.g\. 10\.0\.0\.5:8080/, bad);
  }
});

t.test('the config says what the instances need, and HAProxy accepts it', async (t) => {
  const p = await project(t, 'hacfg');
  writeFixture(p);
  const r = await p.cli(['export', 'haproxy', '--backend', '127.0.0.1:8081', '--backend', 'v6=[::1]:8082', '--bind', '::', '--port', '9090']);
  t.equal(r.code, 0, r.stderr);
  // The fixture drains for 1 s; checks 1 s apart, down after 2, need 3 s.
  t.match(r.stderr, /gateway\.drainDelay is 1000 ms but HAProxy needs 3000 ms/, 'warned on stderr');
  t.match(r.stdout, /# WARNING: gateway\.drainDelay is 1000 ms/, 'and in the config');
  // The flow echo → shout may take 30 s + 20 s; HAProxy waits 5 s more for faasflow's own 504.
  t.match(r.stdout, /timeout server 55000ms/);
  t.match(r.stdout, /^ {4}balance leastconn$/m);
  t.match(r.stdout, /^ {4}option httpchk GET \/healthz$/m);
  t.match(r.stdout, /^ {4}retry-on conn-failure$/m, 'only requests that never reached an instance are retried');
  t.match(r.stdout, /^ {4}default-server check inter 1000ms fall 2 rise 2$/m);
  t.match(r.stdout, /^ {4}server ff1 127\.0\.0\.1:8081\n {4}server v6 \[::1\]:8082$/m);
  t.match(r.stdout, /^ {4}bind \[::\]:9090$/m);
  const quiet = await p.cli(['export', 'haproxy', '--backend', '127.0.0.1:8081', '--inter', '300ms']);
  t.notMatch(quiet.stderr, /drainDelay/, 'checks 300 ms apart see a 1 s drain: no warning');
  const dup = await p.cli(['export', 'haproxy', '--backend', 'a=127.0.0.1:1', '--backend', 'a=127.0.0.1:2']);
  t.match(dup.stderr, /two backends are called a/);
  const inter = await p.cli(['export', 'haproxy', '--backend', '127.0.0.1:1', '--inter', 'soon']);
  t.match(inter.stderr, /--inter soon is not a check interval/);
  if (!haproxyAvailable()) {
    t.comment('haproxy is not installed: the config was not checked by HAProxy');
    return;
  }
  const file = path.join(p.dir, 'haproxy.cfg');
  fs.writeFileSync(file, `${r.stdout}\n`);
  const check = await haproxyCheck(file);
  t.equal(check.code, 0, `haproxy -c: ${check.output}`);
});
