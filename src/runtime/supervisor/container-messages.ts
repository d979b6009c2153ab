// The one place where a container's message becomes a typed value, as Mojo's generated validators
// do: its type is one a container sends, each field has its type and range, the pid is the
// container's own, nothing else is in it, and each type comes at most once in the process's life
// (a container says each thing once; a second `listening` would have the supervisor send the
// handler and link every gateway again). Anything else is a bad message, and the answer is the
// reason, as text for the one log line: it quotes none of the container's bytes.
import type { ContainerMessage } from '../protocol.js';

/** The longest `failed` message or `replace-me` reason, in characters (the container cuts its own to this). */
export const MESSAGE_TEXT_MAX = 2000;

/** What its sandbox launcher applied: "uid,landlock:7", "landlock:7", "none" (native/sandbox.c). */
const SANDBOX = /^[a-z0-9:,]{1,63}$/;
/** Control characters would let a container write lines of its own into the supervisor's log. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** Text as a message's check accepts it (the container's side makes its own so): one line, cut to MESSAGE_TEXT_MAX. */
export function oneLine(text: string): string {
  return text.replace(new RegExp(`${CONTROL.source}+`, 'g'), ' ').slice(0, MESSAGE_TEXT_MAX);
}

type Field = 'pid' | 'text' | 'sandbox';
const FIELDS: Record<ContainerMessage['type'], { required: Record<string, Field>; optional?: Record<string, Field> }> = {
  listening: { required: { pid: 'pid' } },
  ready: { required: { pid: 'pid' }, optional: { sandbox: 'sandbox' } },
  failed: { required: { pid: 'pid', message: 'text' } },
  'replace-me': { required: { pid: 'pid', reason: 'text' } },
};

/** `m` as the message it is, or why it is a bad one. `seen`: the types this process has sent so far. */
export function checkContainerMessage(m: unknown, pid: number, seen: Set<string>): ContainerMessage | string {
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return `a message that is ${kind(m)}, not an object`;
  const fields = m as Record<string, unknown>;
  const type = fields.type;
  if (typeof type !== 'string' || !Object.hasOwn(FIELDS, type)) return `a message of unknown type ${typeof type === 'string' && /^[a-z-]{1,24}$/.test(type) ? `'${type}'` : `(${kind(type)})`}`;
  const spec = FIELDS[type as ContainerMessage['type']];
  if (seen.has(type)) return `a second '${type}' message`;
  for (const key of Object.keys(fields)) {
    if (key !== 'type' && !Object.hasOwn(spec.required, key) && !Object.hasOwn(spec.optional ?? {}, key)) return `a '${type}' message with a field it does not have`;
  }
  for (const [key, field] of Object.entries(spec.required)) {
    const why = check(fields[key], field, pid);
    if (why) return `a '${type}' message whose ${key} ${why}`;
  }
  for (const [key, field] of Object.entries(spec.optional ?? {})) {
    const why = Object.hasOwn(fields, key) ? check(fields[key], field, pid) : '';
    if (why) return `a '${type}' message whose ${key} ${why}`;
  }
  seen.add(type);
  return fields as ContainerMessage;
}

function check(v: unknown, field: Field, pid: number): string {
  if (field === 'pid') return v === pid ? '' : typeof v === 'number' ? 'is not its own pid' : `is ${kind(v)}, not a pid`;
  if (typeof v !== 'string') return `is ${kind(v)}, not a string`;
  if (field === 'sandbox') return SANDBOX.test(v) ? '' : 'is not an isolation the launcher reports';
  if (v.length > MESSAGE_TEXT_MAX) return `is ${v.length} characters (at most ${MESSAGE_TEXT_MAX})`;
  return CONTROL.test(v) ? 'has control characters' : '';
}

/** What kind of JSON value `v` is, without quoting it. */
function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (v === undefined) return 'missing';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}
