// A real HTTP load for tests: `concurrency` clients on keep-alive connections, each POSTing in a
// loop and recording every request: the phase the test was in when it was sent and when it ended
// (phases are named by the test: the order of events, never a clock), its status, who answered.
import http from 'node:http';

export interface Outcome {
  sentIn: string;
  endedIn: string;
  status: number;
  /** The body of a 200 answer; the error or body otherwise. */
  body: string;
}

export interface Load {
  /** Everything sent after this call is in `phase`. */
  phase(name: string): void;
  readonly outcomes: Outcome[];
  /** 200 answers per body (the tests' handlers answer with their instance's name). */
  answeredBy(): Map<string, number>;
  /** Waits for the clients' requests in flight, then ends them. */
  stop(): Promise<Outcome[]>;
}

export function startLoad(port: number, route: string, concurrency: number, body = 'x'.repeat(512)): Load {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const outcomes: Outcome[] = [];
  let phase = 'start';
  let running = true;
  const one = () =>
    new Promise<void>((resolve) => {
      const sentIn = phase;
      const done = (status: number, text: string) => {
        outcomes.push({ sentIn, endedIn: phase, status, body: text });
        resolve();
      };
      const req = http.request({ host: '127.0.0.1', port, path: route, method: 'POST', agent, headers: { 'content-length': Buffer.byteLength(body) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => done(res.statusCode ?? 0, Buffer.concat(chunks).toString()));
        res.on('error', (err) => done(-1, err.message));
      });
      req.on('error', (err) => done(-1, err.message));
      req.end(body);
    });
  const clients = Array.from({ length: concurrency }, async () => {
    while (running) await one();
  });
  return {
    phase(name) {
      phase = name;
    },
    outcomes,
    answeredBy() {
      const m = new Map<string, number>();
      for (const o of outcomes) if (o.status === 200) m.set(o.body, (m.get(o.body) ?? 0) + 1);
      return m;
    },
    async stop() {
      running = false;
      await Promise.all(clients);
      agent.destroy();
      return outcomes;
    },
  };
}
