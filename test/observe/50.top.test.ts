import t from 'tap';
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { InstanceStatus } from '../../src/common/protocol.js';
import { LAYOUT_VERSION, Segment, segmentName } from '../../src/shm/index.js';
import { forgetLocation } from '../../src/control/location.js';
import { post } from '../helpers/http.js';
import { ROOT } from '../helpers/runtime.js';
import { freePort } from '../cli/helpers.js';

const run = promisify(execFile);
const hasTmux = (() => {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One screen cell as `tmux capture-pane -e` shows it: the character and its foreground colour. */
interface Cell {
  ch: string;
  /** SGR foreground: 30–37, 90–97, 38;5;n as "38;5;n", or 39 (default). */
  fg: string;
}

/**
 * Decodes a capture with escapes into lines of cells. tmux writes only colour changes, across
 * line ends too, so the colour carries from line to line. SO/SI (line-drawing set) take no cell.
 */
function cells(capture: string): Cell[][] {
  const lines: Cell[][] = [[]];
  let out = lines[0];
  let fg = '39';
  for (let i = 0; i < capture.length; ) {
    if (capture[i] === '\n') {
      out = [];
      lines.push(out);
      i++;
      continue;
    }
    if (capture[i] === '\x1b' && capture[i + 1] === '[') {
      const end = capture.indexOf('m', i);
      const params = capture.slice(i + 2, end).split(';');
      for (let k = 0; k < params.length; k++) {
        const p = params[k];
        if (p === '' || p === '0' || p === '39') fg = '39';
        else if (p === '38' && params[k + 1] === '5') {
          fg = `38;5;${params[k + 2]}`;
          k += 2;
        } else if (/^(3[0-7]|9[0-7])$/.test(p)) fg = p;
      }
      i = end + 1;
      continue;
    }
    const cp = capture.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    i += ch.length;
    if (cp === 0x0e || cp === 0x0f) continue;
    out.push({ ch, fg });
  }
  return lines;
}

/** Colour of the border just left of a panel's title ("─ title ─"): yellow (33) marks the focus. */
function borderColour(escaped: string, title: string): string | null {
  for (const cs of cells(escaped)) {
    const text = cs.map((c) => c.ch).join('');
    const at = text.indexOf(` ${title}`);
    if (at >= 1) return cs[at - 1].fg;
  }
  return null;
}

t.test('faasflow top in tmux: every panel with live numbers, focus, layouts from 80×24 to 200×60, /dev/shm warning, a restart, and q', { skip: hasTmux ? false : 'tmux not installed' }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-top-'));
  const instance = `obs-top-${process.pid}-${randomBytes(2).toString('hex')}`;
  const port = await freePort();
  fs.writeFileSync(
    path.join(dir, 'faasflow.config.mjs'),
    `export default { gateway: { port: ${port} }, segment: { size: '64MiB' }, functions: [{ id: 1, name: 'echo', handler: ${JSON.stringify(path.join(ROOT, 'functions', 'echo.ts'))}, replicas: 2 }] };\n`,
  );
  const env = { ...process.env, FAASFLOW_RUNTIME_DIR: path.join(dir, 'rt') };
  const cli = (...args: string[]) => run(process.execPath, [path.join(ROOT, 'bin', 'run.js'), ...args, '--instance', instance], { cwd: dir, env });
  // A tmux server of our own; its socket file stays behind after the server exits unless removed.
  const sock = `ffobs-${process.pid}-${randomBytes(3).toString('hex')}`;
  const socketFile = path.join(process.env.TMUX_TMPDIR ?? '/tmp', `tmux-${process.getuid!()}`, sock);
  const tmux = (...args: string[]) => execFileSync('tmux', ['-L', sock, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const screen = () => tmux('capture-pane', '-p', '-t', 'top');
  const escaped = () => tmux('capture-pane', '-p', '-e', '-t', 'top');
  let sending = false;
  t.teardown(async () => {
    sending = false;
    try {
      tmux('kill-server');
    } catch {
      // already gone: top quit and the server exited
    }
    fs.rmSync(socketFile, { force: true });
    await cli('down').catch(() => undefined);
    if (Segment.exists(segmentName(instance))) Segment.unlink(segmentName(instance));
    forgetLocation(instance, dir);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  await cli('up');
  const state = JSON.parse(fs.readFileSync(path.join(dir, 'rt', 'state.json'), 'utf8')) as InstanceStatus;
  const pids = state.children.map((c) => c.pid);
  t.equal(pids.length, 4, 'supervisor, gateway, two containers');

  let sent = 0;
  sending = true;
  const sender = (async () => {
    while (sending) {
      const r = await post(port, '/function/1', `ping ${sent}`).catch(() => null);
      if (r?.status === 200) sent++;
      else await sleep(50);
    }
  })();

  // A threshold below what /dev/shm really holds, so the warning state is the real one, not a
  // mock: half of what this instance's runtime segment alone occupies (it is allocated in full),
  // as other tests running beside this one come and go.
  const u = Segment.shmUsage();
  const usedPercent = (100 * fs.statSync(`/dev/shm${segmentName(instance)}`).blocks * 512) / u.total;
  t.ok(usedPercent > 0, `the runtime segment occupies ${usedPercent.toPrecision(3)} % of /dev/shm`);
  const warnAt = String(Number((usedPercent / 2).toPrecision(2)));
  // Full samples every 500 ms: the private-trend column has its 5 samples within seconds.
  tmux('new-session', '-d', '-s', 'top', '-x', '160', '-y', '48', '-e', `FAASFLOW_RUNTIME_DIR=${env.FAASFLOW_RUNTIME_DIR}`, `cd ${dir} && ${process.execPath} ${path.join(ROOT, 'bin', 'run.js')} top --instance ${instance} --sample-every 500 --shm-warn ${warnAt}`);

  // "1 echo  <req/s>  <p50>  <p99>  <errors>  <total>" in the latency panel.
  const row = /1 echo\s+([\d.k]+)\s+([\d.]+ (?:µs|ms))\s+([\d.]+ (?:µs|ms))\s+(\d+)\s+([\d.]+k?)/;
  const total = (s: string) => {
    const m = row.exec(s);
    return m ? (m[5].endsWith('k') ? Number(m[5].slice(0, -1)) * 1000 : Number(m[5])) : -1;
  };
  const waitFor = async (what: string, ok: (s: string) => boolean, ms = 20000, grab = screen) => {
    const end = Date.now() + ms;
    let s = '';
    while (Date.now() < end) {
      s = grab();
      if (ok(s)) return s;
      await sleep(250);
    }
    t.comment(s);
    throw new Error(`top never showed ${what}`);
  };
  const B = '[\\d.]+ [KMG]iB';
  const TREND = `(?:flat|[+-]${B}/min(?: LEAK\\?)?)`;
  const trendOk = (s: string) => state.children.every((c) => new RegExp(`\\b${c.pid}\\b.*\\s${TREND}\\s`).test(s));

  const first = await waitFor('the function row with traffic', (s) => total(s) > 0 && Number(row.exec(s)![1].replace('k', '')) > 0);
  t.comment(`\n${first}`);
  const before = total(first);
  await sleep(2500);
  const later = await waitFor('a bigger request count and a private trend for every process', (s) => total(s) > before && trendOk(s));
  t.ok(total(later) > before, `request count grows: ${before} → ${total(later)} (${sent} sent so far)`);

  // Every panel, filled with this instance's numbers.
  t.match(later, /requests\/s per function/, 'throughput chart');
  t.match(later, /1 echo/, 'chart legend and latency row name the function');
  t.match(later, /packet memory per domain/, 'the packet memory panel');
  t.match(later, /echo\s+\S*\s+[\d.]+[BKMG]\/64\.0M\s+[\d.]+%/, 'the domain, the bytes it holds of its 64 MiB budget, and %');
  t.match(later, new RegExp(`/dev/shm WARNING > ${warnAt.replace(/\./g, '\\.')}%`), '/dev/shm gauge in its WARNING state (/dev/shm is fuller than --shm-warn)');
  t.match(later, /\/dev\/shm is [\d.]+ % full \(warning above/, 'the warning is among the events');
  t.match(later, new RegExp(`/dev/shm ${B} of ${B} \\([\\d.]+%\\) > `), '/dev/shm numbers, flagged above the threshold');
  t.match(later, new RegExp(`${segmentName(instance)}\\s+v${LAYOUT_VERSION}`), 'segment name and layout');
  t.match(later, new RegExp(`creator pid ${state.supervisorPid} alive`), 'segment creator');
  t.match(later, /mapped by 2 process\(es\)/, 'processes mapping the runtime segment: the supervisor and the gateway, never a container');
  t.match(later, /domains: echo (uid\+landlock|landlock|uid|none)/, 'each domain with the isolation its containers run under');
  t.match(later, /role\s+function\s+pid\s+state\s+rst\s+cpu\s+poll\s+rss\s+private\s+shm\s+private trend\s+shared\s+pss\s+uptime/, 'every process column at 160 wide');
  for (const c of state.children) {
    t.match(later, new RegExp(`${c.role}\\s+.*\\b${c.pid}\\s+ready\\s+0\\s+[\\d.]+%\\s+(?:[\\d.]+%|-)\\s+${B}\\s+${B}\\s+${B}\\s+${TREND}\\s+${B}\\s+${B}\\s+\\d`), `process row for ${c.role} ${c.pid}: CPU, polling, RSS, private, shm, private trend, shared, PSS, uptime`);
  }
  t.match(later, /attached: \/faasflow-/, 'events panel');
  t.match(later, /supervisor\[\d+\]/, 'log lines panel shows the instance’s log files');

  // Focus: the process table starts with the yellow border; tab moves it to the function table.
  const focus = (s: string) => ({ processes: borderColour(s, 'processes'), functions: borderColour(s, 'functions: latency') });
  t.same(focus(escaped()), { processes: '33', functions: '36' }, 'the process table has the focus (yellow border), the function table does not (cyan)');
  tmux('send-keys', '-t', 'top', 'Tab');
  const tabbed = await waitFor('the focus on the function table', (s) => focus(s).functions === '33', 5000, escaped);
  t.same(focus(tabbed), { processes: '36', functions: '33' }, 'tab moves the focus (yellow border) to the function table');
  tmux('send-keys', '-t', 'top', 'BTab');
  await waitFor('the focus back on the process table', (s) => focus(s).processes === '33', 5000, escaped);
  t.pass('shift-tab moves it back');

  /** After a resize: every line as wide as the terminal, panels reaching its right edge. */
  const resizeTo = async (w: number, h: number) => {
    tmux('resize-window', '-t', 'top', '-x', String(w), '-y', String(h));
    // tmux clips or pads the old picture at once; top redraws on SIGWINCH, well within this.
    await sleep(700);
    return waitFor(`the ${w}×${h} layout`, (s) => {
      // Redrawn for the new size: panels from the first to the last line, reaching the right edge.
      const lines = s.replace(/\n$/, '').split('\n');
      const edge = (l: string | undefined, first: string, last: string) => l !== undefined && [...l].length === w && l.startsWith(first) && l.endsWith(last);
      return lines.length === h && edge(lines[0], 'l', 'k') && edge(lines[h - 1], 'm', 'j') && lines.some((l) => / processes /.test(l) && edge(l, 'l', 'k'));
    });
  };
  const requiredColumns = /role\s+function\s+pid\s+state\s+rst\s+cpu\s+(?:poll\s+)?rss\s+priv(?:ate)?\s+shm\s+(?:private )?trend/;

  const mid = await resizeTo(110, 38);
  t.ok(mid.split('\n').every((l) => [...l].length <= 110), 'nothing drawn past column 110');
  t.match(mid, requiredColumns, 'the required process columns at 110×38');

  const small = await resizeTo(80, 24);
  t.comment(`\n${small}`);
  t.match(small, requiredColumns, 'every required process column at 80×24 (role, function, pid, state, restarts, CPU, RSS, private, shm, private trend)');
  for (const c of state.children) t.match(small, new RegExp(`${c.role}\\s+.*\\b${c.pid}\\s+ready\\s+0\\s+[\\d.]+%.*\\s[\\d.]+[KMG]\\s+[\\d.]+[KMG]\\s+[\\d.]+[KMG]\\s+(?:flat|[+-][\\d.]+[KMG]/m)`), `row of ${c.role} ${c.pid} with rss, private, shm and trend at 80×24`);
  const smallLines = small.split('\n');
  t.match(smallLines[0], /^lq requests\/s[^q]* q+k/, 'the chart title fits its top border');
  t.notMatch(smallLines.slice(1).join('\n'), /colours as in|last 60 s/, 'and does not spill into the chart');
  t.match(small, /segment/, 'segment panel still there');
  t.match(small, /shm WARN/, '/dev/shm warning still shown');

  // Fewer lines than processes: the table says how many are out of view, and scrolls to them.
  const tiny = await resizeTo(80, 20);
  t.match(tiny, /processes \+2 more \(↑↓ scroll\)/, 'a hint names the processes out of view');
  const lastPid = String(state.children[state.children.length - 1].pid);
  const lastRow = new RegExp(`\\b${lastPid}\\s+ready`);
  t.notMatch(tiny, lastRow, `the last process (${lastPid}) is out of view`);
  for (let i = 0; i < 4; i++) tmux('send-keys', '-t', 'top', 'Down');
  const scrolled = await waitFor('the last process after scrolling down', (s) => lastRow.test(s), 5000);
  t.pass('arrow keys scroll the focused process table to it');
  t.match(scrolled, /processes \+2 more above \(↑↓ scroll\)/, 'the title follows the view: the rows now out of view are above');

  const wide = await resizeTo(200, 60);
  t.match(wide, /private trend\s+shared\s+pss\s+uptime/, 'all optional columns at 200×60');
  t.match(wide, /requests\/s per function, last 60 s \(colours as in the function table\)/, 'the full chart title');
  await resizeTo(160, 48);

  // The instance goes away and comes back: top waits, then follows the new segment.
  sending = false;
  await sender;
  await cli('down');
  const waiting = await waitFor('the waiting notice', (s) => /waiting for instance/.test(s));
  t.match(waiting, new RegExp(`waiting for instance ${instance}`));
  await cli('up');
  sending = true;
  const sender2 = (async () => {
    while (sending) {
      const r = await post(port, '/function/1', 'again').catch(() => null);
      if (!r) await sleep(50);
    }
  })();
  const back = await waitFor('the restarted instance', (s) => /instance is back/.test(s) && total(s) > 0 && !/waiting for instance/.test(s));
  t.ok(total(back) > 0, 'numbers of the new instance');
  sending = false;
  await sender2;

  tmux('send-keys', '-t', 'top', 'q');
  const end = Date.now() + 10000;
  let alive = true;
  while (alive && Date.now() < end) {
    await sleep(200);
    try {
      tmux('has-session', '-t', 'top');
    } catch {
      alive = false;
    }
  }
  t.notOk(alive, 'q quits top (its tmux session ends)');
});
