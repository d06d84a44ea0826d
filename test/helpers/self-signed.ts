/** A throw-away self-signed certificate for 127.0.0.1 / localhost, made with openssl (installed on CI machines). */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SelfSigned {
  dir: string;
  cert: string;
  key: string;
  remove(): void;
}

export function makeSelfSignedCert(cn = 'localhost'): SelfSigned {
  const dir = mkdtempSync(join(tmpdir(), 'heimdall-tls-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const r = spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${cn}`, '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
    { encoding: 'utf8' },
  );
  if (r.error || r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`openssl could not make a self-signed certificate (${r.error?.message ?? r.stderr}); the TLS tests need openssl on PATH.`);
  }
  return { dir, cert, key, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
