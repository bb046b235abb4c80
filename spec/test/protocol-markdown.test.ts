import { describe, expect, it } from 'vitest';
import { listOperations, loadRequirements, renderProtocolMarkdown } from '../src/index.ts';

describe('renderProtocolMarkdown', () => {
  it('names every operation path with its method and operationId', async () => {
    const md = await renderProtocolMarkdown();
    for (const op of await listOperations()) {
      expect(md).toContain(`### \`${op.method.toUpperCase()} ${op.path}\``);
      expect(md).toContain(`- Operation: \`${op.operationId}\``);
    }
  });

  it('lists every requirement with its level and text', async () => {
    const md = await renderProtocolMarkdown();
    for (const r of (await loadRequirements()).requirements) {
      expect(md).toContain(`- **${r.id}** (${r.level}): ${r.text}`);
    }
  });

  it('describes authentication, the error envelope and every SSE event', async () => {
    const md = await renderProtocolMarkdown();
    expect(md.startsWith('# Open Coding Gateway protocol\n')).toBe(true);
    expect(md).toContain('## Authentication');
    expect(md).toContain('Authorization: Bearer <token>');
    expect(md).toContain('## Error envelope');
    expect(md).toContain('"type":"error"');
    for (const ev of [
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
      'ping',
      'error',
    ]) {
      expect(md).toContain(`| \`${ev}\` |`);
    }
  });

  it('describes each stream with the messages it carries', async () => {
    const md = await renderProtocolMarkdown();
    const section = (title: string) => {
      const start = md.indexOf(`### ${title} (`);
      expect(start, title).toBeGreaterThan(-1);
      const end = md.indexOf('\n#', start + 1);
      return md.slice(start, end === -1 ? undefined : end);
    };
    const vertex = section('Vertex pass-through stream');
    expect(vertex).toContain(':streamRawPredict`)');
    expect(vertex).toContain('| `content_block_delta` | `ContentBlockDeltaEvent` |');
    const bedrock = section('Bedrock pass-through event stream');
    expect(bedrock).toContain('(`/model/{model_id}/invoke-with-response-stream`)');
    expect(bedrock).toContain('| `chunk` | `{bytes, p}` |');
    expect(bedrock).toContain('| `exception` | `{message}` |');
    expect(bedrock).not.toContain('`message_start`');
  });

  it('is deterministic', async () => {
    const { renderProtocolMarkdownFrom } = await import('../src/protocol-markdown.ts');
    const { loadAsyncApi, loadOpenApi } = await import('../src/index.ts');
    const args = [await loadOpenApi(), await loadAsyncApi(), await loadRequirements()] as const;
    const a = renderProtocolMarkdownFrom(...args);
    expect(renderProtocolMarkdownFrom(...args)).toBe(a);
    expect(await renderProtocolMarkdown()).toBe(a);
    expect(a.endsWith('\n')).toBe(true);
    expect(a).not.toMatch(/\n\n\n/);
  });
});
