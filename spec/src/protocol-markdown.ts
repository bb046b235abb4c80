import { isRecord, type Json, resolveLocalRef } from './json.ts';
import {
  loadAsyncApi,
  loadOpenApi,
  loadRequirements,
  operationsOf,
  type RequirementsDocument,
} from './load.ts';

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function refName(v: unknown): string | undefined {
  if (isRecord(v) && typeof v.$ref === 'string') return v.$ref.split('/').pop();
  return undefined;
}

/** Escapes a string for a Markdown table cell (pipes and line breaks). */
function cell(s: string): string {
  return s
    .replace(/\r?\n+/g, ' ')
    .replace(/\|/g, '\\|')
    .trim();
}

function paragraph(s: string): string {
  return s.trim().replace(/\r\n/g, '\n');
}

/** Renders the protocol (OpenAPI + AsyncAPI + requirements) as Markdown; pure and deterministic. */
export function renderProtocolMarkdownFrom(
  openapi: Json,
  asyncapi: Json,
  reqs: RequirementsDocument,
): string {
  const out: string[] = [];
  const info = isRecord(openapi.info) ? openapi.info : {};
  const title = str(info.title) || 'Open Coding Gateway protocol';
  const version = str(info.version);
  out.push(`# ${title}`, '');
  out.push(`Version ${version} · OpenAPI ${str(openapi.openapi)} · AsyncAPI ${str(asyncapi.asyncapi)}`, '');
  if (str(info.summary)) out.push(paragraph(str(info.summary)), '');
  if (str(info.description)) out.push(paragraph(str(info.description)), '');
  out.push(
    'The key words MUST, MUST NOT, SHOULD and MAY are to be interpreted as described in RFC 2119 and RFC 8174.',
    '',
  );

  const ops = operationsOf(openapi);
  const featureById = new Map(reqs.features.map((f) => [f.id, f]));
  const reqById = new Map(reqs.requirements.map((r) => [r.id, r]));

  // Authentication
  out.push('## Authentication', '');
  const schemes =
    isRecord(openapi.components) && isRecord(openapi.components.securitySchemes)
      ? openapi.components.securitySchemes
      : {};
  for (const [name, scheme] of Object.entries(schemes)) {
    if (!isRecord(scheme)) continue;
    const kind =
      scheme.type === 'http' ? `HTTP \`${str(scheme.scheme)}\` authentication` : `\`${str(scheme.type)}\``;
    out.push(`- **${name}** — ${kind}. ${cell(str(scheme.description))}`.trimEnd());
  }
  const bearerOps = ops.filter((o) => o.security === 'bearer');
  const openOps = ops.filter((o) => o.security === 'none');
  const adminOps = ops.filter((o) => o.security === 'admin');
  if (bearerOps.length > 0) {
    out.push(
      `- Requires \`Authorization: Bearer <token>\`: ${bearerOps.map((o) => `\`${o.method.toUpperCase()} ${o.path}\``).join(', ')}.`,
    );
  }
  if (adminOps.length > 0) {
    out.push(
      `- Requires an admin credential (an admin user's bearer, or an admin API key in \`x-api-key\`): ${adminOps.map((o) => `\`${o.method.toUpperCase()} ${o.path}\` (${o.adminScope ?? 'write'})`).join(', ')}.`,
    );
  }
  if (openOps.length > 0) {
    out.push(
      `- No credentials: ${openOps.map((o) => `\`${o.method.toUpperCase()} ${o.path}\``).join(', ')}.`,
    );
  }
  out.push('');

  // Profiles and features
  out.push('## Profiles and features', '');
  out.push('| Profile | Feature | Title |', '|---|---|---|');
  for (const f of reqs.features) out.push(`| \`${f.profile}\` | \`${f.id}\` | ${cell(f.title)} |`);
  out.push('');
  for (const p of reqs.profiles) {
    const ext = p.extends ? ` (extends \`${p.extends}\`)` : '';
    out.push(`- **${p.id}**${ext}: ${cell(p.description ?? p.title)}`);
  }
  if (reqs.profiles.length > 0) out.push('');

  // Operations
  out.push('## Operations', '');
  const paths = isRecord(openapi.paths) ? openapi.paths : {};
  for (const o of ops) {
    const item = paths[o.path];
    const op = isRecord(item) && isRecord(item[o.method]) ? (item[o.method] as Json) : {};
    out.push(`### \`${o.method.toUpperCase()} ${o.path}\``, '');
    if (str(op.summary)) out.push(paragraph(str(op.summary)), '');
    if (str(op.description)) out.push(paragraph(str(op.description)), '');
    const feature = featureById.get(o.feature);
    out.push(`- Operation: \`${o.operationId}\``);
    out.push(
      `- Feature: \`${o.feature}\`${feature ? ` (${feature.title}; profile \`${feature.profile}\`)` : ''}`,
    );
    out.push(
      `- Authentication: ${o.security === 'bearer' ? 'bearer token' : o.security === 'admin' ? `admin credential, scope \`${o.adminScope ?? 'write'}\`` : 'none'}`,
    );
    if (o.extension) out.push('- OCG extension (not part of the Claude apps gateway contract)');
    out.push(
      `- Requirements: ${o.requirements.map((id) => `${id} (${reqById.get(id)?.level ?? '?'})`).join(', ')}`,
    );
    const params = Array.isArray(op.parameters) ? op.parameters.map((p) => resolveLocalRef(openapi, p)) : [];
    for (const p of params) {
      if (!isRecord(p)) continue;
      out.push(
        `- ${str(p.in) === 'header' ? 'Header' : str(p.in) === 'path' ? 'Path parameter' : 'Query parameter'} \`${str(p.name)}\`: ${cell(str(p.description))}`,
      );
    }
    const rb = resolveLocalRef(openapi, op.requestBody);
    if (isRecord(rb) && isRecord(rb.content)) {
      for (const [media, m] of Object.entries(rb.content)) {
        const schemaRef = isRecord(m) ? m.schema : undefined;
        const schema = resolveLocalRef(openapi, schemaRef);
        const name = refName(schemaRef) ?? 'inline schema';
        const required =
          isRecord(schema) && Array.isArray(schema.required) ? schema.required.map(String) : [];
        const requiredText =
          required.length > 0 ? `; required: ${required.map((r) => `\`${r}\``).join(', ')}` : '';
        const open =
          isRecord(schema) && schema.additionalProperties !== false
            ? '; other fields are passed through'
            : '';
        out.push(`- Request body: \`${media}\`, schema \`${name}\`${requiredText}${open}`);
      }
    }
    out.push('', '| Status | Content types | Description |', '|---|---|---|');
    const responses = isRecord(op.responses) ? op.responses : {};
    for (const [status, r] of Object.entries(responses)) {
      const resp = resolveLocalRef(openapi, r);
      const content = isRecord(resp) && isRecord(resp.content) ? resp.content : {};
      const types = Object.entries(content)
        .map(([media, m]) => {
          const n = refName(isRecord(m) ? m.schema : undefined);
          return n ? `\`${media}\` (\`${n}\`)` : `\`${media}\``;
        })
        .join(', ');
      out.push(`| ${status} | ${types || '—'} | ${cell(isRecord(resp) ? str(resp.description) : '')} |`);
    }
    out.push('');
  }

  // Error envelope
  const schemas =
    isRecord(openapi.components) && isRecord(openapi.components.schemas) ? openapi.components.schemas : {};
  const envelope = isRecord(schemas.ErrorResponse) ? schemas.ErrorResponse : {};
  out.push('## Error envelope', '');
  if (str(envelope.description)) out.push(paragraph(str(envelope.description)), '');
  const example = Array.isArray(envelope.examples) ? envelope.examples[0] : undefined;
  out.push(
    '```json',
    JSON.stringify(
      example ?? { type: 'error', error: { type: 'api_error', message: '…' }, request_id: 'req_…' },
    ),
    '```',
    '',
  );
  const reqIdSchema = isRecord(schemas.RequestId) ? schemas.RequestId : {};
  out.push(
    `Every response carries a \`request-id\` header matching \`${str(reqIdSchema.pattern)}\`; on errors it equals \`request_id\`.`,
    '',
  );
  const detail =
    isRecord(schemas.ErrorDetail) && isRecord(schemas.ErrorDetail.properties)
      ? schemas.ErrorDetail.properties
      : {};
  const typeDesc = isRecord(detail.type) ? str(detail.type.description) : '';
  if (typeDesc) out.push(`Error types: ${cell(typeDesc)}`, '');

  // Streams, one section per AsyncAPI channel, with the messages it carries.
  out.push('## Streaming answers', '');
  const channels = isRecord(asyncapi.channels) ? asyncapi.channels : {};
  const messages =
    isRecord(asyncapi.components) && isRecord(asyncapi.components.messages)
      ? asyncapi.components.messages
      : {};
  for (const [id, ch] of Object.entries(channels)) {
    if (!isRecord(ch)) continue;
    out.push(`### ${str(ch.title) || id} (\`${str(ch.address)}\`)`, '');
    if (str(ch.description)) out.push(paragraph(str(ch.description)), '');
    out.push('| Message | Payload schema | Description |', '|---|---|---|');
    const carried = isRecord(ch.messages) ? ch.messages : {};
    for (const [key, ref] of Object.entries(carried)) {
      const name = refName(ref);
      const m = name === undefined ? ref : messages[name];
      if (!isRecord(m)) continue;
      // A payload defined in place (the Bedrock frames) has no component name: its members are listed instead.
      const payload =
        refName(m.payload) ??
        (isRecord(m.payload) && isRecord(m.payload.properties)
          ? `{${Object.keys(m.payload.properties).join(', ')}}`
          : '—');
      out.push(`| \`${str(m.name) || key}\` | \`${payload}\` | ${cell(str(m.summary))} |`);
    }
    out.push('');
  }

  // Requirements
  out.push('## Requirements', '');
  for (const f of reqs.features) {
    const list = reqs.requirements.filter((r) => r.feature === f.id);
    out.push(`### Feature \`${f.id}\` — ${f.title} (profile \`${f.profile}\`)`, '');
    if (list.length === 0) out.push('_No requirements yet._');
    for (const r of list) out.push(`- **${r.id}** (${r.level}): ${cell(r.text)}`);
    out.push('');
  }
  const orphans = reqs.requirements.filter((r) => !featureById.has(r.feature));
  if (orphans.length > 0) {
    out.push('### Requirements without a declared feature', '');
    for (const r of orphans)
      out.push(`- **${r.id}** (${r.level}, feature \`${r.feature}\`): ${cell(r.text)}`);
    out.push('');
  }
  return `${out.join('\n').trimEnd()}\n`;
}

let rendered: Promise<string> | undefined;

/** The spec and requirements as Markdown, for `GET /protocol` (cached; deterministic). */
export function renderProtocolMarkdown(): Promise<string> {
  rendered ??= (async () => {
    const [openapi, asyncapi, reqs] = await Promise.all([loadOpenApi(), loadAsyncApi(), loadRequirements()]);
    return renderProtocolMarkdownFrom(openapi, asyncapi, reqs);
  })();
  rendered.catch(() => {
    rendered = undefined;
  });
  return rendered;
}
