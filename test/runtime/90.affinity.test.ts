import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import { startRuntime } from '../helpers/runtime.js';
import { post } from '../helpers/http.js';

const allowed = (pid: number) => /Cpus_allowed_list:\s*(\S+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];

t.test('cpus pins the gateway and every container to the CPUs named, and they still serve', async (t) => {
  const last = os.cpus().length - 1;
  const rt = await startRuntime(t, [{ id: 1, handler: 'functions/echo.ts', replicas: 2 }], { cpus: [last] });
  for (const p of [rt.gateway, ...rt.containers]) t.equal(allowed(p.pid), String(last), `pid ${p.pid} runs on CPU ${last} only`);
  t.equal((await post(rt.port, '/function/1', 'pinned')).body.toString(), 'pinned');
});

t.test('without cpus nothing is pinned', async (t) => {
  const rt = await startRuntime(t, [{ id: 1, handler: 'functions/echo.ts' }]);
  t.equal(allowed(rt.gateway.pid), allowed(process.pid));
});
