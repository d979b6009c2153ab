#!/usr/bin/env node
// `npm run bench [-- flags]`: the `faasflow bench` command without the CLI around it.
import { handle } from '@oclif/core';
import Bench from '../commands/bench.js';

Bench.run(process.argv.slice(2), import.meta.url).catch(handle);
