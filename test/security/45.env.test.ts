// A container's environment (issue 18, part 5): a variable exported where `up` ran is not visible to
// a function, sandboxed or not; one its config passes on by name (passEnv) is, as are its own `env`
// and faasflow's FAASFLOW_* (a test run's marker among them); nothing else is there.
import fs from 'node:fs';
import t, { type Test } from 'tap';
import { asRootAndUnprivileged, hostileRun, type HostileContext } from './harness.js';

const HOSTILE = fs.readFileSync(new URL('./fixtures/environ.ts', import.meta.url), 'utf8');

// Exported in the environment of the test, and so of `up` and the supervisor.
process.env.MY_DB_PASSWORD = 'hunter2';
process.env.PASSED_ON = 'on purpose';
process.env.LC_TIME = 'C';

/** What a container may see: what it needs to run, faasflow's own, its function's. */
const ALLOWED = /^(PATH|HOME|LANG|TZ|TMPDIR|XDG_CACHE_HOME|GLIBC_TUNABLES|LC_\w+|FAASFLOW_\w+|PASSED_ON|OWN_SETTING)$/;

function checks(t: Test, sandboxed: boolean) {
  return async (h: HostileContext) => {
    const r = await h.poke();
    t.equal(r.status, 200);
    const env = JSON.parse(r.body.toString()) as Record<string, string>;
    t.equal(env.MY_DB_PASSWORD, undefined, 'a variable exported where `up` ran is not visible');
    t.equal(env.PASSED_ON, 'on purpose', 'a passEnv variable is');
    t.equal(env.OWN_SETTING, 'from the config', "the function's own env is");
    t.equal(env.LC_TIME, 'C', 'the locale is');
    t.equal(env.FAASFLOW_FUNCTION_ID, '2', "faasflow's own are");
    if (process.env.FAASFLOW_TEST_RUN) t.equal(env.FAASFLOW_TEST_RUN, process.env.FAASFLOW_TEST_RUN, "the test run's marker is");
    t.ok(env.PATH, 'PATH is');
    t.same(Object.keys(env).filter((k) => !ALLOWED.test(k)), [], 'nothing else is');
    t.equal(env.FAASFLOW_SANDBOX !== undefined, sandboxed, `FAASFLOW_SANDBOX is ${sandboxed ? 'set by the launcher' : 'not inherited'}`);
  };
}

const fields = "passEnv: ['PASSED_ON'], env: { OWN_SETTING: 'from the config' }";

asRootAndUnprivileged(t, 'a sandboxed container sees only its own environment', (t, user) =>
  hostileRun(t, { hostile: HOSTILE, hostileFields: fields }, checks(t, true), user));

t.test('an unsandboxed container too (security.sandbox: false)', (t) =>
  hostileRun(t, { hostile: HOSTILE, hostileFields: fields, configFields: 'security: { sandbox: false }' }, checks(t, false)));
