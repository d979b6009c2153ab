#!/usr/bin/env node
// The `faasflow` command: oclif finds the commands in dist/commands (see package.json "oclif").
import { execute } from '@oclif/core';

await execute({ dir: import.meta.url });
