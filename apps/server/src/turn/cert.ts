// The TURN/TLS certificate: turn.cert_file / turn.key_file, or in --dev one generated at start. Generation is pure
// JavaScript (selfsigned, on WebCrypto) so Kite still needs nothing but `pnpm install`: no openssl binary.
import { readFileSync } from 'node:fs';
import { createHash, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { generate } from 'selfsigned';
import { ConfigError } from '../config/index.js';

export interface TurnCertificate {
  /** PEM chain. Public. */
  cert: string;
  /** PEM private key. Never logged. */
  key: string;
  /** True when Kite generated it (--dev). */
  selfSigned: boolean;
  /**
   * base64 SHA-256 of the certificate's SubjectPublicKeyInfo: what Chromium's --ignore-certificate-errors-spki-list
   * takes to trust exactly this certificate (browsers verify TURN/TLS certificates like HTTPS ones).
   */
  spki: string;
  /** Expiry (ms since epoch). */
  notAfter: number;
}

function describe(cert: string, key: string, selfSigned: boolean): TurnCertificate {
  const x = new X509Certificate(cert);
  const spki = createHash('sha256').update(x.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
  return { cert, key, selfSigned, spki, notAfter: Date.parse(x.validTo) };
}

export function loadCertificate(certFile: string, keyFile: string): TurnCertificate {
  const read = (file: string, what: string): string => {
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`config key "turn.${what}": cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  const cert = read(certFile, 'cert_file');
  const key = read(keyFile, 'key_file');
  try {
    return describe(cert, key, false);
  } catch (err) {
    throw new ConfigError(`config key "turn.cert_file": ${certFile} is not a PEM certificate (${(err as Error).message})`);
  }
}

/**
 * A fresh self-signed certificate (ECDSA P-256, SHA-256, valid 30 days) for `names`: host names and IP addresses
 * the clients use in turns: URLs. localhost, 127.0.0.1 and ::1 are always included.
 */
export async function generateCertificate(names: readonly string[]): Promise<TurnCertificate> {
  const all = [...new Set(['localhost', '127.0.0.1', '::1', ...names.filter((n) => n !== '')])];
  const cn = names.find((n) => n !== '' && !isIP(n)) ?? 'localhost';
  const now = Date.now();
  const pems = await generate([{ name: 'commonName', value: cn }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now - 60_000),
    notAfterDate: new Date(now + 30 * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: all.map((n) => (isIP(n) ? { type: 7 as const, ip: n } : { type: 2 as const, value: n })) },
    ],
  });
  return describe(pems.cert, pems.private, true);
}
