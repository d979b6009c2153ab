// The SHA-256 of the body, hex: hashes the packet in place (the input view is never copied).
import { createHash } from 'node:crypto';

export default function sha256(input: Uint8Array): string {
  return createHash('sha256').update(input).digest('hex');
}
