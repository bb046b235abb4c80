/**
 * A stand-in for the client's `ServerResponse` that relay.ts writes to, for the pass-through surfaces that give the
 * relayed answer another shape (Bedrock's event stream, Bedrock's JSON answers). It offers exactly what the relay
 * uses of a `ServerResponse`: `writeHead`, `flushHeaders`, `write` with back-pressure, `end`, the `drain`/`close`
 * events, `socket`, `destroyed`, `headersSent`, `writableEnded`. The caller supplies the four writing methods; the
 * rest is the real response's.
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';

export interface ResponseWriter {
  writeHead(status: number, headers: OutgoingHttpHeaders): void;
  flushHeaders(): void;
  /** Returns false when the client's socket is full (the relay then waits for `drain`). */
  write(chunk: Buffer | string): boolean;
  end(chunk?: Buffer | string): void;
}

export function responseAdapter(res: ServerResponse, writer: ResponseWriter): ServerResponse {
  const adapter = {
    get socket() {
      return res.socket;
    },
    get destroyed() {
      return res.destroyed;
    },
    get headersSent() {
      return res.headersSent;
    },
    get writableEnded() {
      return res.writableEnded;
    },
    writeHead(status: number, headers: OutgoingHttpHeaders = {}) {
      writer.writeHead(status, headers);
      return adapter;
    },
    flushHeaders() {
      writer.flushHeaders();
    },
    write(chunk: Buffer | string): boolean {
      return writer.write(chunk);
    },
    end(chunk?: Buffer | string) {
      writer.end(chunk);
      return adapter;
    },
    once(event: string, listener: (...args: unknown[]) => void) {
      res.once(event, listener);
      return adapter;
    },
    on(event: string, listener: (...args: unknown[]) => void) {
      res.on(event, listener);
      return adapter;
    },
    off(event: string, listener: (...args: unknown[]) => void) {
      res.off(event, listener);
      return adapter;
    },
  };
  return adapter as unknown as ServerResponse;
}
