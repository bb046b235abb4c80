/**
 * Shared by the pass-through tests: the official Vertex SDK pointed at a gateway, and the request record a call left.
 */
import { AnthropicVertex } from '@anthropic-ai/vertex-sdk';
import type { Gateway } from '../src/gateway.ts';

/** `@anthropic-ai/vertex-sdk` with `<gateway>/v1` as its base and the gateway token as its access token (none: null). */
export function vertexThrough(gatewayUrl: string, token: string | null): AnthropicVertex {
  const authClient = {
    projectId: undefined,
    getRequestHeaders: async () => new Headers(token === null ? {} : { authorization: `Bearer ${token}` }),
  };
  return new AnthropicVertex({
    baseURL: `${gatewayUrl}/v1`,
    region: 'us-east5',
    projectId: 'my-project',
    authClient: authClient as never,
    maxRetries: 0,
  });
}

const RECORD_COLUMNS =
  'subject, model, stream, status, error_type, input_tokens, output_tokens, upstream, upstream_model';

/** The `inference_requests` row of a request, waited for (it is written once the response has closed). */
export async function recordFor(
  gateway: Gateway,
  requestId: string,
): Promise<Record<string, unknown> | undefined> {
  for (let i = 0; i < 100; i++) {
    const { rows } = await gateway.store.query<Record<string, unknown>>(
      `SELECT ${RECORD_COLUMNS} FROM inference_requests WHERE request_id = $1`,
      [requestId],
    );
    if (rows[0]) return rows[0];
    await new Promise((r) => setTimeout(r, 20));
  }
  return undefined;
}
