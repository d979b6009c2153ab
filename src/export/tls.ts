// The certificate HAProxy terminates TLS with (`export haproxy --tls-cert PEM`), checked when the
// config is made rather than when HAProxy first reads it at a reload: one PEM file holding the
// certificate (then any chain) and its private key, as HAProxy's `crt` takes it.
import fs from 'node:fs';
import path from 'node:path';
import { FaasflowError } from '../common/errors.js';

const CERT = /-----BEGIN CERTIFICATE-----/;
const KEY = /-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----/;
/** A PEM bundle is a few KiB; anything far larger is not one. */
const MAX_PEM = 1024 * 1024;

/** The PEM's absolute path (HAProxy resolves a relative one against its own directory), or a USAGE error naming the fix. */
export function checkTlsCert(file: string): string {
  const abs = path.resolve(file);
  const combine = 'HAProxy wants the certificate (and its chain) and the private key in one file: cat site.crt site.key > site.pem';
  let text: string;
  try {
    const st = fs.statSync(abs);
    if (!st.isFile()) throw new FaasflowError('USAGE', `--tls-cert ${file} is not a file: give the PEM file with the certificate and its key`);
    if (st.size > MAX_PEM) throw new FaasflowError('USAGE', `--tls-cert ${file} is ${st.size} bytes, not a PEM certificate and key: ${combine}`);
    text = fs.readFileSync(abs, 'latin1');
  } catch (err) {
    if (err instanceof FaasflowError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new FaasflowError('USAGE', code === 'ENOENT' ? `--tls-cert ${file} does not exist (looked for ${abs}): give the PEM file with the certificate and its key` : `--tls-cert ${file} cannot be read (${code ?? String(err)}): HAProxy reads it at start as the user it starts as; fix its permissions`);
  }
  if (!CERT.test(text)) throw new FaasflowError('USAGE', `--tls-cert ${file} holds no certificate (no BEGIN CERTIFICATE block): ${combine}`);
  if (!KEY.test(text)) throw new FaasflowError('USAGE', `--tls-cert ${file} holds no private key (no BEGIN PRIVATE KEY block): ${combine}`);
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(text)) throw new FaasflowError('USAGE', `--tls-cert ${file} has an encrypted private key: HAProxy cannot ask for its passphrase; write it decrypted (openssl pkey -in site.key -out plain.key) and keep the file 0600`);
  return abs;
}
