/**
 * ROUTING-2, ROUTING-10 across provider kinds — the provider equivalents of a retryable failure, and a provider's
 * credential failure, fail over to the other provider: Bedrock throttling (429 ThrottlingException), service
 * unavailable (503), model not ready (ModelNotReadyException), AccessDenied (403) and a throttling exception frame
 * before any content → Vertex answers; Vertex RESOURCE_EXHAUSTED (429), UNAVAILABLE (503), a 529 overloaded_error
 * and an expired token (401 UNAUTHENTICATED) → Bedrock answers. The client sees a normal 200 (JSON, and the
 * complete SSE for the streamed variant), served by the second provider.
 */
import type { RoutingFixture } from '../../adapters/contract.ts';
import { expectThat, fail } from '../../errors.ts';
import type { MockBedrockScript } from '../../mocks/bedrock/index.ts';
import type { CaseContext } from '../../runner/types.ts';
import { defineCase } from '../../runner/types.ts';
import { sleep } from '../support.ts';
import { expectCompleteStream, expectMessage, PERSISTENT, readStream, within } from './support.ts';

type ProviderMock = CaseContext['mocks']['bedrock'] | CaseContext['mocks']['vertex'];

function mockOf(ctx: CaseContext, name: string): ProviderMock {
  if (name === 'bedrock') return ctx.mocks.bedrock;
  if (name === 'vertex') return ctx.mocks.vertex;
  return fail(`a provider route names the mock ${JSON.stringify(name)}`);
}

const inference = (mock: ProviderMock) =>
  mock.requests.filter((r) => r.method === 'POST' && !/count-tokens|count_tokens/.test(r.url)).length;

function send(ctx: CaseContext, model: string, stream: boolean) {
  return ctx.client.send({
    operationId: 'createMessage',
    path: '/v1/messages',
    body: {
      model,
      max_tokens: 32 + ctx.rng.int(128),
      messages: [{ role: 'user', content: `provider routing probe ${ctx.rng.string(10)}` }],
      ...(stream ? { stream: true } : {}),
    },
  });
}

/** Plain requests until the route's first target serves one (its breaker may be open from an earlier fault). */
async function ensureServes(
  ctx: CaseContext,
  route: RoutingFixture,
  first: ProviderMock,
  second: ProviderMock,
) {
  const limit = (ctx.timing.routing?.breakerCoolDownMs ?? 2000) + 5000;
  const deadline = Date.now() + limit;
  for (;;) {
    first.reset();
    second.reset();
    const res = await send(ctx, route.model, false);
    await res.text();
    if (res.status === 200 && inference(first) > 0) break;
    if (Date.now() > deadline)
      fail(
        `before the fault: ${route.model}'s first target served no request within ${limit} ms (${res.status})`,
      );
    await sleep(200);
  }
  first.reset();
  second.reset();
}

interface Fault {
  name: string;
  script: Record<string, unknown>;
  nonStreaming: boolean;
}

const BEDROCK_FAULTS: Fault[] = [
  { name: 'Bedrock 429 ThrottlingException', script: { status: 429 }, nonStreaming: true },
  { name: 'Bedrock 503 ServiceUnavailableException', script: { status: 503 }, nonStreaming: true },
  {
    name: 'Bedrock ModelNotReadyException',
    script: { status: 429, errorType: 'ModelNotReadyException' },
    nonStreaming: true,
  },
  { name: 'Bedrock 403 AccessDeniedException', script: { status: 403 }, nonStreaming: true },
  {
    name: 'Bedrock throttlingException frame before content',
    script: { exceptionAfter: { after: 1, exception: 'throttlingException' } } satisfies MockBedrockScript,
    nonStreaming: false,
  },
];

const VERTEX_FAULTS: Fault[] = [
  { name: 'Vertex 429 RESOURCE_EXHAUSTED', script: { status: 429 }, nonStreaming: true },
  { name: 'Vertex 503 UNAVAILABLE', script: { status: 503 }, nonStreaming: true },
  { name: 'Vertex 529 overloaded_error', script: { status: 529 }, nonStreaming: true },
  { name: 'Vertex 401 UNAUTHENTICATED', script: { status: 401 }, nonStreaming: true },
];

export default defineCase({
  id: 'routing/provider-failover',
  title: 'Bedrock and Vertex failures fail over to the other provider',
  feature: 'routing',
  requirements: ['ROUTING-2', 'ROUTING-10', 'ROUTING-6'],
  timeoutMs: 90_000,
  async run(ctx) {
    const routes = ctx.policy.providerRoutes ?? [];
    if (routes.length === 0) return fail('the policy fixture has no provider routes');
    for (const route of routes) {
      const [t1, t2] = route.targets;
      if (!t1 || !t2) return fail(`${route.model} needs two targets`);
      const first = mockOf(ctx, t1.mock);
      const second = mockOf(ctx, t2.mock);
      const faults = t1.mock === 'bedrock' ? BEDROCK_FAULTS : VERTEX_FAULTS;
      for (const fault of faults) {
        for (const stream of fault.nonStreaming ? [false, true] : [true]) {
          await ensureServes(ctx, route, first, second);
          first.enqueue({ ...fault.script, times: PERSISTENT } as never);
          const what = `${route.model} (${t1.mock}, then ${t2.mock}), ${stream ? 'streaming' : 'non-streaming'}: ${fault.name}`;
          if (stream) {
            const s = await within(
              10_000,
              what,
              send(ctx, route.model, true).then((res) => readStream(res, what)),
            );
            expectCompleteStream(s, what);
          } else {
            await within(
              10_000,
              what,
              send(ctx, route.model, false).then((res) => expectMessage(res, what)),
            );
          }
          expectThat(inference(second) > 0, `${what}: the second provider never received the request`);
        }
      }
    }
  },
});
