/**
 * SESSION-19 — the access token of a sign-in works on every bearer endpoint the gateway declares, sent as
 * `Authorization: Bearer` and as `x-api-key` (Claude Code sends an `apiKeyHelper`'s output in both).
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { PROBE_MODEL } from './support.ts';

export default defineCase({
  id: 'session/bearer-everywhere',
  title: 'The access token works on every bearer endpoint, in Authorization and in x-api-key',
  feature: 'sign-in',
  requirements: ['SESSION-19'],
  timeoutMs: 30_000,
  async run(ctx) {
    const user = ctx.idp.createUser({ groups: [ctx.policy.groups.developers] });
    const tokens = await ctx.signIn(user);
    const message = { model: PROBE_MODEL, max_tokens: 8, messages: [{ role: 'user', content: 'hello' }] };
    const endpoints: Array<[string, string, string, string, unknown]> = [
      ['inference', 'createMessage', 'POST', '/v1/messages', message],
      ['count-tokens', 'countMessageTokens', 'POST', '/v1/messages/count_tokens', message],
      ['managed-settings', 'getManagedSettings', 'GET', '/managed/settings', undefined],
      ['models', 'listModels', 'GET', '/v1/models', undefined],
    ];
    for (const [feature, operationId, method, path, body] of endpoints) {
      if (!ctx.gateway.features.includes(feature)) continue;
      for (const header of ['authorization', 'x-api-key'] as const) {
        const res = await ctx.client.send({
          operationId,
          method,
          path,
          body,
          bearer: header === 'authorization' ? tokens.accessToken : null,
          headers: header === 'x-api-key' ? [['x-api-key', tokens.accessToken]] : [],
        });
        const text = await res.text();
        expectThat(
          res.status >= 200 && res.status < 300,
          `${method} ${path} with the access token in ${header} answered ${res.status}`,
          { body: text.slice(0, 500) },
        );
      }
    }
  },
});
