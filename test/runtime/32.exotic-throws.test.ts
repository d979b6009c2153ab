// A handler's thrown, rejected or returned value that throws when made into text or JSON (a Proxy
// whose traps throw, a toString or `message` getter that throws, a toJSON that throws, bytes whose
// length getter throws): each request is answered 500 with a message, and the replica lives.
import t from 'tap';
import { startRuntime, until } from '../helpers/runtime.js';
import { json, post } from '../helpers/http.js';

const CASES: Record<string, RegExp> = {
  'throw-proxy': /^handler failed: a Proxy$/,
  'throw-tostring': /^handler failed: a thrown value that cannot be described/,
  'throw-message-getter': /^handler failed: a thrown value that cannot be described/,
  'throw-proxy-prototype': /^handler failed: a thrown value that cannot be described/,
  'throw-symbol': /^handler failed: Symbol\(odd\)$/,
  'throw-null': /^handler failed: null$/,
  'reject-proxy': /^handler failed: a Proxy$/,
  'reject-tostring': /^handler failed: a thrown value that cannot be described/,
  'return-tojson': /^handler returned a value that cannot be serialised as JSON: a Proxy$/,
  'return-getter': /^handler returned a value that cannot be serialised as JSON: a Proxy$/,
  'return-proxy': /^handler failed: a Proxy$/,
  'resolve-proxy': /^handler returned a value that cannot be serialised as JSON: a Proxy$/,
  'return-bytes': /^handler returned bytes that cannot be read: a Proxy$/,
  'return-bigint': /^handler returned a value that cannot be serialised as JSON: Do not know how to serialize a BigInt$/,
};

t.test('exotic thrown and returned values: 500 with a message, the replica keeps serving', async (t) => {
  const rt = await startRuntime(t, [{ id: 1, handler: 'test/runtime/fixtures/exotic.ts' }]);
  const pid = rt.containers[0].pid;
  const whoami = async () => (json(await post(rt.port, '/function/1?what=pid', 'x')) as { pid: number }).pid;
  t.equal(await whoami(), pid, 'the replica answers');
  for (const [what, message] of Object.entries(CASES)) {
    // Twice, and several at once: a replica that survived one by luck would not survive these.
    for (const r of await Promise.all([0, 1, 2].map(() => post(rt.port, `/function/1?what=${what}`, 'x')))) {
      t.equal(r.status, 500, `${what}: 500`);
      const body = json(r);
      t.match(body.error, message, `${what}: ${String(body.error)}`);
      t.equal(body.status, 500);
    }
    t.equal(await whoami(), pid, `${what}: the same replica answers after it`);
  }
  t.equal(rt.containers[0].child.exitCode, null, 'the replica never exited');
  // The gateway frees a request's packet once its answer is written, which a client may see first.
  await until(() => rt.inUse() === 0, 5000, 'every packet back').catch(() => undefined);
  t.equal(rt.inUse(), 0, 'every packet is back');
});
