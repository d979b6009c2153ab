// What HAProxy in front adds, with a real HAProxy and real instances: TLS terminated with the
// certificate `export haproxy --tls-cert` names (a CA and a certificate made here with openssl;
// curl trusting only that CA gets 200 from both instances, curl without it is refused), a missing
// or wrong PEM refused with the fix, and health checks that follow gateway.admin to its port.
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import t, { type Test } from 'tap';
import { checkTlsCert } from '../../src/export/tls.js';
import { freePort, project, until, type Project } from '../cli/helpers.js';
import { haproxyAvailable, haproxyCheck, startHaproxy, waitStatsSocket, waitStatus } from './haproxy.js';

const WHO = "export default async function (): Promise<string> {\n  return process.env.WHO ?? '?';\n}\n";
const HOST = 'faasflow.test';
const skip = haproxyAvailable() ? false : 'haproxy is not installed (apt-get install haproxy; .ci/run installs it)';

async function instance(t: Test, name: string, gateway = ''): Promise<Project> {
  const p = await project(t, `hf${name}`);
  p.write('who.ts', WHO);
  p.write(
    'faasflow.config.ts',
    `import { defineConfig } from 'faasflow';\nexport default defineConfig({\n  gateway: { port: ${p.port}, workers: 1${gateway} },\n  segment: { size: '64MiB' },\n  functions: [{ id: 1, name: 'who', handler: './who.ts', env: { WHO: '${name}' } }],\n});\n`,
  );
  t.teardown(() => p.cli(['down', '--clean-shm']));
  const up = await p.cli(['up']);
  if (up.code !== 0) throw new Error(`faasflow up of ${name} failed: ${up.stderr}`);
  return p;
}

/** A CA, and a certificate for HOST it signed, with the key, in one PEM (as HAProxy's crt takes it). */
async function certificates(dir: string): Promise<{ ca: string; pem: string; key: string; crt: string }> {
  const f = (n: string) => path.join(dir, n);
  const ssl = (...args: string[]) => execa('openssl', args, { cwd: dir });
  await ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=faasflow test CA');
  await ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('site.key'), '-out', f('site.csr'), '-subj', `/CN=${HOST}`);
  fs.writeFileSync(f('ext.cnf'), `subjectAltName=DNS:${HOST}\nextendedKeyUsage=serverAuth\n`);
  await ssl('x509', '-req', '-in', f('site.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('site.crt'), '-days', '2', '-extfile', f('ext.cnf'));
  fs.writeFileSync(f('site.pem'), fs.readFileSync(f('site.crt'), 'utf8') + fs.readFileSync(f('site.key'), 'utf8'));
  return { ca: f('ca.pem'), pem: f('site.pem'), key: f('site.key'), crt: f('site.crt') };
}

/** POST /function/1 over HTTPS with curl, trusting `ca` (or, without it, the system's CAs). */
async function curl(port: number, ca?: string): Promise<{ exit: number; status: string; body: string; stderr: string }> {
  const r = await execa('curl', ['-sS', '--max-time', '10', '--resolve', `${HOST}:${port}:127.0.0.1`, ...(ca ? ['--cacert', ca] : []), '-X', 'POST', '--data', 'x', '-w', '\n%{http_code}', `https://${HOST}:${port}/function/1`], { reject: false });
  const out = String(r.stdout);
  const nl = out.lastIndexOf('\n');
  return { exit: r.exitCode ?? -1, body: out.slice(0, nl), status: out.slice(nl + 1), stderr: String(r.stderr) };
}

t.test('--tls-cert: a missing file, a certificate without its key, a key without its certificate', async (t) => {
  const p = await project(t, 'hftlsbad');
  p.write('who.ts', WHO);
  p.write('faasflow.config.ts', `export default { gateway: { port: ${p.port} }, functions: [{ id: 1, handler: './who.ts' }] };\n`);
  const c = await certificates(p.dir);
  const exp = (pem: string) => p.cli(['export', 'haproxy', '--backend', '127.0.0.1:8081', '--tls-cert', pem]);
  const missing = await exp('nope.pem');
  t.equal(missing.code, 1);
  t.match(missing.stderr, /--tls-cert nope\.pem does not exist \(looked for .*nope\.pem\): give the PEM file with the certificate and its key/);
  t.throws(() => checkTlsCert(c.crt), /--tls-cert .*site\.crt holds no private key .*cat site\.crt site\.key > site\.pem/);
  t.throws(() => checkTlsCert(c.key), /--tls-cert .*site\.key holds no certificate/);
  t.throws(() => checkTlsCert(p.dir), /is not a file/);
  const ok = await exp('site.pem');
  t.equal(ok.code, 0, ok.stderr);
  t.match(ok.stdout, new RegExp(`^ {4}bind 0\\.0\\.0\\.0:443 ssl crt ${c.pem.replace(/[.]/g, '\\.')} alpn h2,http/1\\.1$`, 'm'), 'port 443 and the absolute path');
});

t.test('HAProxy terminates TLS in front of two instances', { skip }, async (t) => {
  const [a, b] = [await instance(t, 'a'), await instance(t, 'b')];
  const c = await certificates(a.dir);
  const port = await freePort();
  const socket = path.join(a.dir, 'haproxy.sock');
  const file = path.join(a.dir, 'haproxy.cfg');
  const exported = await a.cli(['export', 'haproxy', '--backend', `a=127.0.0.1:${a.port}`, '--backend', `b=127.0.0.1:${b.port}`, '--bind', '127.0.0.1', '--port', String(port), '--stats-socket', socket, '--inter', '300ms', '--tls-cert', c.pem]);
  t.equal(exported.code, 0, exported.stderr);
  fs.writeFileSync(file, `${exported.stdout}\n`);
  const check = await haproxyCheck(file);
  t.equal(check.code, 0, `haproxy -c accepts the config and the certificate: ${check.output}`);
  await waitStatsSocket(socket, startHaproxy(t, file));
  for (const s of ['a', 'b']) await waitStatus(socket, s, 'UP');

  const answers: { status: string; body: string }[] = [];
  await until(async () => {
    const r = await curl(port, c.ca);
    if (r.exit !== 0) throw new Error(`curl --cacert failed (${r.exit}): ${r.stderr}`);
    answers.push(r);
    return new Set(answers.map((x) => x.body)).size === 2;
  }, 30_000, 'both instances to answer through TLS');
  t.same(answers.filter((x) => x.status !== '200'), [], `every answer through TLS a 200 (${answers.length})`);
  t.same([...new Set(answers.map((x) => x.body))].sort(), ['a', 'b'], 'from both instances');
  const untrusted = await curl(port);
  t.equal(untrusted.exit, 60, `without the CA curl refuses the certificate: ${untrusted.stderr.trim()}`);
  const plain = await execa('curl', ['-sS', '--max-time', '10', '-X', 'POST', '--data', 'x', `http://127.0.0.1:${port}/function/1`], { reject: false });
  t.not(plain.stdout, 'a', 'plain HTTP gets no function on the TLS port');
  t.not(plain.stdout, 'b');
});

t.test("with gateway.admin HAProxy checks the admin port (the public one answers /healthz with 404)", { skip }, async (t) => {
  const admin = await freePort();
  const a = await instance(t, 'a', `, admin: { port: ${admin} }`);
  const port = await freePort();
  const socket = path.join(a.dir, 'haproxy.sock');
  const file = path.join(a.dir, 'haproxy.cfg');
  const exported = await a.cli(['export', 'haproxy', '--backend', `a=127.0.0.1:${a.port}`, '--bind', '127.0.0.1', '--port', String(port), '--stats-socket', socket, '--inter', '300ms']);
  t.equal(exported.code, 0, exported.stderr);
  t.match(exported.stdout, new RegExp(`^ {4}default-server check port ${admin} inter 300ms`, 'm'));
  t.notMatch(exported.stderr, /gateway\.admin\.host/, 'a loopback backend reaches a loopback admin listener: no warning');
  fs.writeFileSync(file, `${exported.stdout}\n`);
  t.equal((await haproxyCheck(file)).code, 0);
  await waitStatsSocket(socket, startHaproxy(t, file));
  await waitStatus(socket, 'a', 'UP');
  const r = await execa('curl', ['-sS', '--max-time', '10', '-X', 'POST', '--data', 'x', `http://127.0.0.1:${port}/function/1`]);
  t.equal(r.stdout, 'a', 'served through HAProxy');
  const remote = await a.cli(['export', 'haproxy', '--backend', '10.0.0.5:8080']);
  t.match(remote.stderr, new RegExp(`gateway\\.admin\\.host is 127\\.0\\.0\\.1: HAProxy checks GET /healthz on port ${admin}.*admin: \\{ host: '0\\.0\\.0\\.0'`), 'a remote backend with a loopback admin listener is warned about');
});
