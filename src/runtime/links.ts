// How gateways and containers get linked. There is no socket anyone could connect to: for every
// (gateway, container) pair the supervisor makes a connected socket pair and hands one end to each
// (the gateway's over Node's IPC channel, the container's over its descriptor channel, see
// broker.ts). So a link exists only between the two processes it was made for, and
// the gateway learns who is at the other end from the supervisor, not from the container (whose
// handler code is not trusted): a container cannot pose as another function.

/** Supervisor → container, its end of a socket pair sent just before: a link to gateway `gateway`. */
export interface ContainerLinkMessage {
  type: 'link';
  /** Which gateway (0 .. workers − 1) and its pid: reply packets are handed to that pid. */
  gateway: number;
  gatewayPid: number;
  /** The tag the descriptor came with on the descriptor channel (native/fdpass.cc). */
  tag: number;
}

/** Who a link leads to, as the supervisor started it. */
export interface LinkedContainer {
  pid: number;
  functionId: number;
  deployment: number;
  replica: number;
  /** The container's security domain (index into the instance's domain segments). */
  domain: number;
}

/** Supervisor → gateway, with the other end: a link to this container. */
export interface GatewayLinkMessage {
  type: 'link';
  container: LinkedContainer;
}

/** A domain segment the gateway maps: requests for the domain's functions are put in it. */
export interface DomainSegment {
  index: number;
  name: string;
  /** Its name, /faasflow-<instance>@<domain>. */
  segment: string;
  /** Where to open it: the supervisor's descriptor of its memfd, /proc/<supervisor pid>/fd/<n>. */
  path: string;
}

export function isLinkMessage(m: unknown): m is { type: 'link' } {
  return typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'link';
}
