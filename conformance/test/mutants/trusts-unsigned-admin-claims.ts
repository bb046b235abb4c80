/**
 * Mutant: trusts admin groups in tokens it did not sign (ADMIN-3). The proxy in front forwards admin requests as
 * they are; when the gateway refuses a credential (401) whose JWT claims name an admin group of the fixture, it
 * retries with the last credential that an admin request succeeded with — as a gateway that read the groups
 * claim before (or without) verifying the signature would behave.
 */
import type { Adapter } from '../../src/adapters/contract.ts';
import type { BufferedRequest } from './proxy.ts';
import { clientBearer, inFront } from './wrap.ts';

let adminGroups: readonly string[] = [];
let lastAdmin: string | undefined;

function claimsAdminGroup(token: string): boolean {
  const payload = token.split('.')[1];
  if (!payload) return false;
  try {
    const groups = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { groups?: unknown })
      .groups;
    return Array.isArray(groups) && groups.some((g) => adminGroups.includes(String(g)));
  } catch {
    return false;
  }
}

function withBearer(req: BufferedRequest, token: string): BufferedRequest {
  const headers = req.headers.filter(([n]) => !['authorization', 'x-api-key'].includes(n.toLowerCase()));
  return { ...req, headers: [...headers, ['authorization', `Bearer ${token}`]] };
}

const proxied = inFront('mutant:trusts-unsigned-admin-claims', {
  handle: {
    paths: ['/v1/admin/me', '/v1/admin/api_keys', '/v1/admin/sessions'],
    async handle(req, forward) {
      const answer = await forward(req);
      const token = clientBearer(req.headers);
      if (token === undefined) return answer;
      if (answer.status >= 200 && answer.status < 300) {
        lastAdmin = token;
        return answer;
      }
      if (answer.status !== 401 || lastAdmin === undefined || !claimsAdminGroup(token)) return answer;
      return forward(withBearer(req, lastAdmin));
    },
  },
});

const adapter: Adapter = {
  name: proxied.name,
  start(ctx) {
    adminGroups = [...ctx.policy.adminGroups.read, ...ctx.policy.adminGroups.write];
    lastAdmin = undefined;
    return proxied.start(ctx);
  },
};
export default adapter;
