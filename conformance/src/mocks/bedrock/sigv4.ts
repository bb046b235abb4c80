/**
 * The mock Bedrock runtime's authentication check: AWS Signature Version 4 with service `bedrock` (recomputed with
 * `@smithy/signature-v4` from the mock's known credentials and compared in constant time), or a Bedrock API key
 * as `Authorization: Bearer` (protocol-facts §2 "Auth"). Failures answer the way AWS does: 403 with an
 * `x-amzn-ErrorType` naming the exception, so a gateway that passes such an error through as 403 is caught.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';

export interface MockAwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** When set, requests must carry it as `X-Amz-Security-Token` (temporary credentials). */
  sessionToken?: string;
}

export interface AuthExpectation {
  region: string;
  credentials: MockAwsCredentials;
  /** A Bedrock API key accepted as `Authorization: Bearer <key>` instead of a signature. */
  apiKey: string;
  /** Largest accepted distance between `X-Amz-Date` and the mock's clock (AWS: 15 minutes). */
  maxSkewMs?: number;
}

export type AuthOutcome =
  | { ok: true; method: 'sigv4' | 'api-key' }
  | { ok: false; code: string; message: string };

const Sha256 = Hash.bind(null, 'sha256');
const AUTH_RE =
  /^AWS4-HMAC-SHA256\s+Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;_.-]+),\s*Signature=([0-9a-f]{64})$/;

function parseAmzDate(value: string): Date | null {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return null;
  const [, y, mo, d, h, mi, s] = m;
  return new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)));
}

function fail(code: string, message: string): AuthOutcome {
  return { ok: false, code, message };
}

/**
 * Verifies a request's credentials. `rawHeaders` are the header lines as received (signed headers are rebuilt from
 * them, duplicates joined with ","), `path` the raw (still percent-encoded) path, `body` the exact body bytes.
 */
export async function verifyRequestAuth(
  request: {
    method: string;
    url: URL;
    rawHeaders: ReadonlyArray<readonly [string, string]>;
    body: Uint8Array;
  },
  expect: AuthExpectation,
  now = Date.now(),
): Promise<AuthOutcome> {
  const headers = new Map<string, string>();
  for (const [name, value] of request.rawHeaders) {
    const key = name.toLowerCase();
    const prior = headers.get(key);
    headers.set(key, prior === undefined ? value.trim() : `${prior},${value.trim()}`);
  }
  const authorization = headers.get('authorization');
  if (!authorization) return fail('MissingAuthenticationTokenException', 'Missing Authentication Token');

  if (/^bearer\s/i.test(authorization)) {
    const key = Buffer.from(authorization.replace(/^bearer\s+/i, ''));
    const want = Buffer.from(expect.apiKey);
    if (key.length === want.length && timingSafeEqual(key, want)) return { ok: true, method: 'api-key' };
    return fail('UnrecognizedClientException', 'The security token included in the request is invalid.');
  }

  const m = AUTH_RE.exec(authorization);
  if (!m) return fail('IncompleteSignatureException', 'Authorization header requires valid SigV4 fields.');
  const [, accessKeyId, scopeDate, region, service, signedList, signature] = m as unknown as string[];
  if (accessKeyId !== expect.credentials.accessKeyId) {
    return fail('UnrecognizedClientException', 'The security token included in the request is invalid.');
  }
  if (service !== 'bedrock') {
    return fail('InvalidSignatureException', `Credential should be scoped to correct service: 'bedrock'.`);
  }
  if (region !== expect.region) {
    return fail('InvalidSignatureException', `Credential should be scoped to a valid region.`);
  }
  const amzDate = headers.get('x-amz-date');
  const date = amzDate ? parseAmzDate(amzDate) : null;
  if (!date || !amzDate?.startsWith(scopeDate as string)) {
    return fail('IncompleteSignatureException', 'X-Amz-Date must be present and match the credential scope.');
  }
  if (Math.abs(now - date.getTime()) > (expect.maxSkewMs ?? 15 * 60_000)) {
    return fail('InvalidSignatureException', 'Signature expired.');
  }
  const signed = (signedList as string).split(';');
  if (!signed.includes('host')) return fail('InvalidSignatureException', "'Host' must be a signed header.");
  const token = headers.get('x-amz-security-token');
  if (token !== expect.credentials.sessionToken) {
    return fail('UnrecognizedClientException', 'The security token included in the request is invalid.');
  }
  if (token !== undefined && !signed.includes('x-amz-security-token')) {
    return fail('InvalidSignatureException', 'X-Amz-Security-Token must be signed.');
  }

  // The signer trusts a present x-amz-content-sha256 instead of hashing the body: check it against the body.
  const contentSha = headers.get('x-amz-content-sha256');
  if (contentSha !== undefined && contentSha !== createHash('sha256').update(request.body).digest('hex')) {
    return fail(
      'InvalidSignatureException',
      'The request signature we calculated does not match the signature you provided (payload hash).',
    );
  }

  const toSign: Record<string, string> = {};
  for (const name of signed) {
    const value = headers.get(name);
    if (value === undefined) return fail('InvalidSignatureException', `Signed header ${name} is missing.`);
    toSign[name] = value;
  }
  const query: Record<string, string | string[]> = {};
  for (const key of new Set(request.url.searchParams.keys())) {
    const values = request.url.searchParams.getAll(key);
    query[key] = values.length === 1 ? (values[0] as string) : values;
  }
  const signer = new SignatureV4({
    service: 'bedrock',
    region: expect.region,
    credentials: expect.credentials,
    sha256: Sha256,
  });
  const resigned = await signer.sign(
    {
      method: request.method,
      protocol: request.url.protocol,
      hostname: request.url.hostname,
      path: request.url.pathname,
      query,
      headers: toSign,
      body: request.body,
    },
    { signingDate: date, signableHeaders: new Set(signed) },
  );
  const recomputed = /Signature=([0-9a-f]{64})/.exec(String(resigned.headers.authorization ?? ''))?.[1] ?? '';
  const ours = Buffer.from(recomputed);
  const theirs = Buffer.from(signature as string);
  if (ours.length !== theirs.length || !timingSafeEqual(ours, theirs)) {
    return fail(
      'InvalidSignatureException',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret ' +
        'Access Key and signing method. Consult the service documentation for details.',
    );
  }
  return { ok: true, method: 'sigv4' };
}
