// The naming rule of `faasflow deploy` as a table: which name a deploy gives its function.
import t from 'tap';
import { deployName, type NameAnswer, type NameQuery } from '../../src/runtime/supervisor/deploy.js';

const functions = [
  { id: 1, name: 'echo' },
  { id: 5, name: 'resize' },
  { id: 7, name: 'upper' },
];

const cases: { name: string; q: Omit<NameQuery, 'functions'>; want: NameAnswer | RegExp }[] = [
  { name: 'a new id gets the file name', q: { id: 2, source: '/p/thumb.ts', fileName: 'thumb' }, want: { name: 'thumb' } },
  { name: 'a new version of the same file keeps the current name', q: { id: 7, source: '/p/functions/upper.ts', fileName: 'upper-v2', current: { name: 'upper', handler: '/p/functions/upper.ts' } }, want: { name: 'upper' } },
  { name: 'the same file named by another path keeps the name', q: { id: 7, source: '/p/functions/../functions/upper.ts', fileName: 'x', current: { name: 'upper', handler: '/p/functions/upper.ts' } }, want: { name: 'upper' } },
  { name: 'another file over a function is another function: the file name', q: { id: 7, source: '/p/lower.ts', fileName: 'lower', current: { name: 'upper', handler: '/p/functions/upper.ts' } }, want: { name: 'lower' } },
  { name: 'a file name another function has gets the id appended', q: { id: 2, source: '/p/resize.ts', fileName: 'resize' }, want: { name: 'resize-2' } },
  { name: 'the function keeps its own name without a suffix', q: { id: 5, source: '/q/resize.ts', fileName: 'resize', current: { name: 'resize', handler: '/p/resize.ts' } }, want: { name: 'resize' } },
  { name: '--name wins over the file name', q: { id: 2, requested: 'thumbnails', source: '/p/resize.ts', fileName: 'resize' }, want: { name: 'thumbnails' } },
  { name: '--name wins over keeping the current name', q: { id: 7, requested: 'shout', source: '/p/functions/upper.ts', fileName: 'upper', current: { name: 'upper', handler: '/p/functions/upper.ts' } }, want: { name: 'shout' } },
  { name: '--name of the function itself is its own', q: { id: 1, requested: 'echo', source: '/p/echo.ts', fileName: 'echo', current: { name: 'echo', handler: '/p/echo.ts' } }, want: { name: 'echo' } },
  { name: "--name another function has is refused, naming it", q: { id: 2, requested: 'echo', source: '/p/x.ts', fileName: 'x' }, want: /function 1 is already named "echo": pick another --name/ },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    const a = deployName({ ...c.q, functions });
    if (c.want instanceof RegExp) t.match('refused' in a ? a.refused : `named ${a.name}`, c.want);
    else t.same(a, c.want);
  });
}
