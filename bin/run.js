#!/usr/bin/env node
// The `faasflow` command: oclif finds the commands in dist/commands (see package.json "oclif").
import os from 'node:os';

// oclif asks the passwd database for the user's shell (and Node for the home directory) when SHELL
// (HOME) is unset. A uid with no passwd entry (Kubernetes runAsUser, OpenShift's random uids) has
// neither, and the lookup throws before any command runs (oclif reads the home directory as it
// loads: hence the import below, after): give those a neutral value instead.
const passwd = (read) => {
  try {
    return read();
  } catch {
    return undefined;
  }
};
if (!process.env.SHELL && passwd(() => os.userInfo().shell) === undefined) process.env.SHELL = '/bin/sh';
if (!process.env.HOME && passwd(() => os.homedir()) === undefined) process.env.HOME = os.tmpdir();

const { execute } = await import('@oclif/core/execute');
await execute({ dir: import.meta.url });
