// A container link played by a test: the gateway gets one end of a socket pair as it gets a real
// container's (the 'link' message the supervisor sends), the test keeps the other and writes frames.
import net from 'node:net';
import { sys } from '../../src/sys/binding.js';
import type { LinkedContainer } from '../../src/runtime/links.js';
import type { Runtime } from './runtime.js';

/** Hands the gateway one end of a new socket pair as a link to `who`; returns the other end, ours. */
export function fakeLink(rt: Runtime, who: LinkedContainer): Promise<net.Socket> {
  const [a, b] = sys.socketPair();
  const theirs = new net.Socket({ fd: a, readable: false, writable: false });
  return new Promise((resolve, reject) => {
    rt.gateway.child.send({ type: 'link', container: who }, theirs, (err) => (err ? reject(err) : resolve(new net.Socket({ fd: b }))));
  });
}
