#!/usr/bin/env node
// The `faasflow` command: oclif finds the commands in dist/commands (see package.json "oclif").
import { execute } from '@oclif/core/execute';

await execute({ dir: import.meta.url });
