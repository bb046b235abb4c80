/**
 * Request bodies: ERRORS-4 (413 `request_too_large` above the configured cap, decided from `content-length` up front
 * or as soon as the cap is crossed, never holding more than the cap in memory), ERRORS-5 (a chunked body without
 * `content-length` is refused with 411) and ERRORS-3 (a body that is not JSON is 400 `invalid_request_error`).
 */
import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../errors.ts';

/** The client went away while sending its body; there is nobody left to answer. */
export class ClientGoneError extends Error {
  constructor() {
    super('client closed the connection while sending the request body');
    this.name = 'ClientGoneError';
  }
}

export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const te = req.headers['transfer-encoding'];
  const cl = req.headers['content-length'];
  if (te !== undefined && cl === undefined) {
    return Promise.reject(
      new GatewayError(
        'ERR_LENGTH_REQUIRED',
        'A request body must be sent with content-length, not chunked.',
      ),
    );
  }
  if (cl !== undefined && Number(cl) > limit) {
    return Promise.reject(tooLarge(limit));
  }
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onGone);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        chunks.length = 0;
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onGone = () => {
      cleanup();
      reject(new ClientGoneError());
    };
    const onClose = () => {
      if (!req.complete) onGone();
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onGone);
    req.on('close', onClose);
  });
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Parses a JSON body; invalid UTF-8 or JSON is a 400 `invalid_request_error`. */
export function parseJsonBody(raw: Buffer): unknown {
  try {
    return JSON.parse(decoder.decode(raw));
  } catch {
    throw new GatewayError(
      'ERR_INVALID_JSON',
      raw.length === 0
        ? 'The request body is empty; a JSON object is required.'
        : 'The request body is not valid JSON.',
    );
  }
}

function tooLarge(limit: number): GatewayError {
  return new GatewayError(
    'ERR_BODY_TOO_LARGE',
    `The request body exceeds the gateway's limit of ${limit} bytes.`,
  );
}
