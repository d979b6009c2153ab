// The supervisor's check of a container's messages (src/runtime/supervisor/container-messages.ts):
// the four messages a container sends, each once, with its own pid and fields of the right types;
// anything else is a bad message whose reason quotes none of the container's bytes.
import t from 'tap';
import { checkContainerMessage, MESSAGE_TEXT_MAX, oneLine } from '../../src/runtime/supervisor/container-messages.js';

const PID = 4242;

t.test('what a container sends passes, each type once', async (t) => {
  const seen = new Set<string>();
  for (const m of [
    { type: 'listening', pid: PID },
    { type: 'ready', pid: PID, sandbox: 'uid,landlock:7' },
    { type: 'replace-me', pid: PID, reason: '8 handlers are still running past their 30000 ms timeout' },
    { type: 'failed', pid: PID, message: 'cannot load handler: boom' },
  ]) t.same(checkContainerMessage(m, PID, seen), m, m.type);
  t.same(checkContainerMessage({ type: 'ready', pid: PID }, PID, new Set()), { type: 'ready', pid: PID }, 'sandbox is optional');
  t.equal(checkContainerMessage({ type: 'ready', pid: PID }, PID, seen), "a second 'ready' message");
});

t.test('everything else is a bad message, and says why without quoting it', async (t) => {
  const bad: [unknown, RegExp][] = [
    [null, /^a message that is null, not an object$/],
    [[1, 2], /^a message that is an array, not an object$/],
    ['ready', /^a message that is a string, not an object$/],
    [{ pid: PID }, /^a message of unknown type \(missing\)$/],
    [{ type: 'routes-applied', version: 1 }, /^a message of unknown type 'routes-applied'$/],
    [{ type: 'replica-stuck', pid: 1, functionId: 1, reason: 'x' }, /^a message of unknown type 'replica-stuck'$/],
    [{ type: 'constructor', pid: PID }, /^a message of unknown type 'constructor'$/],
    [{ type: 'x'.repeat(100) }, /^a message of unknown type \(a string\)$/],
    [{ type: 'ready', pid: 1 }, /^a 'ready' message whose pid is not its own pid$/],
    [{ type: 'ready', pid: String(PID) }, /^a 'ready' message whose pid is a string, not a pid$/],
    [{ type: 'ready' }, /^a 'ready' message whose pid is missing, not a pid$/],
    [{ type: 'ready', pid: PID, port: 8080 }, /^a 'ready' message with a field it does not have$/],
    [JSON.parse(`{"type":"ready","pid":${PID},"__proto__":{"polluted":1}}`), /^a 'ready' message with a field it does not have$/],
    [{ type: 'ready', pid: PID, sandbox: 'root; rm -rf /' }, /^a 'ready' message whose sandbox is not an isolation the launcher reports$/],
    [{ type: 'failed', pid: PID, message: { toString: 'x' } }, /^a 'failed' message whose message is an object, not a string$/],
    [{ type: 'failed', pid: PID, message: 'x'.repeat(MESSAGE_TEXT_MAX + 1) }, /^a 'failed' message whose message is 2001 characters \(at most 2000\)$/],
    [{ type: 'replace-me', pid: PID, reason: 'fine\n2026-12-04T00:00:00Z supervisor: all good' }, /^a 'replace-me' message whose reason has control characters$/],
  ];
  for (const [m, reason] of bad) {
    const seen = new Set<string>();
    const r = checkContainerMessage(m, PID, seen);
    t.match(r, reason, JSON.stringify(m)?.slice(0, 80) ?? String(m));
    t.equal(seen.size, 0, 'a bad message counts as nothing sent');
  }
});

t.test("oneLine makes any text what the check accepts", async (t) => {
  const text = oneLine(`line one\nline two\r\n\u2028${'y'.repeat(5000)}`);
  t.ok(text.length <= MESSAGE_TEXT_MAX);
  t.same(checkContainerMessage({ type: 'failed', pid: PID, message: text }, PID, new Set()), { type: 'failed', pid: PID, message: text });
});
