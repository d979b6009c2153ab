// Opens the store async.store names, and leaves a note in the state directory saying where it is,
// so that `faasflow queue …` finds the requests without the config (and without a running instance).
import fs from 'node:fs';
import path from 'node:path';
import type { AsyncConfig } from '../../config/async.js';
import type { QueueStore } from './store.js';
import { SqliteStore } from './sqlite-store.js';
import { JetStreamStore } from './jetstream-store.js';
import { streamFor, type NatsTarget } from './jetstream-stream.js';
import { OFFSETS_FILE } from './journal-offsets.js';

/** The note's name in the state directory. */
export const STORE_NOTE = 'queue-store.json';

export type StoreNote = { kind: 'sqlite' } | ({ kind: 'nats'; instance: string } & NatsTarget);

export async function openStore(a: AsyncConfig, instance: string, stateDir: string, dbFile: string, log: (level: 'info' | 'warn', line: string) => void): Promise<QueueStore> {
  const note: StoreNote = a.store.kind === 'nats' ? { kind: 'nats', instance, servers: a.store.servers, stream: streamFor(instance, a.store.stream), replicas: a.store.replicas } : { kind: 'sqlite' };
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(stateDir, STORE_NOTE), JSON.stringify(note), { mode: 0o600 });
  if (note.kind === 'sqlite') return new SqliteStore(dbFile, a.durability);
  if (a.durability === 'power' && note.replicas === 1) {
    log('info', `async.durability 'power' with one NATS server: a PubAck means the request is in the server's files; it survives a killed nats-server, and a power cut only as far as the server syncs them (nats-server 2.10+: jetstream { sync_interval: always }; else replicas: 3 in a cluster)`);
  }
  return JetStreamStore.open(note, instance, log, path.join(stateDir, OFFSETS_FILE));
}

/** Where `faasflow queue …` finds an instance's requests: the note, else (older instances) SQLite. */
export function readStoreNote(stateDir: string): StoreNote {
  try {
    const v = JSON.parse(fs.readFileSync(path.join(stateDir, STORE_NOTE), 'utf8')) as Partial<StoreNote> & Record<string, unknown>;
    if (v.kind === 'nats' && Array.isArray(v.servers) && typeof v.stream === 'string' && typeof v.instance === 'string') {
      return { kind: 'nats', instance: v.instance, servers: v.servers.map(String), stream: v.stream, replicas: v.replicas === 3 || v.replicas === 5 ? v.replicas : 1 };
    }
  } catch {
    // no note: an instance from before the note, whose queue is SQLite
  }
  return { kind: 'sqlite' };
}
