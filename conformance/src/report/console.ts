/**
 * The readable console summary: one line per case (✓ pass, ✗ fail/error, – unsupported) with its requirement ids,
 * duration and failure message; then the profile results, the seed and the command that reproduces the run.
 */
import type { Report } from './types.ts';

const MARK = { pass: '✓', fail: '✗', error: '✗', unsupported: '–' } as const;

function indent(text: string, prefix: string): string {
  return text
    .split('\n')
    .map((line) => prefix + line)
    .join('\n');
}

/** Formats the summary; `reproduce` is the command line that runs the same cases with the same seed. */
export function formatSummary(report: Report, reproduce: string): string {
  const lines: string[] = [];
  lines.push(
    `OCG conformance — adapter ${report.gateway.adapter}${report.gateway.baseUrl ? ` (${report.gateway.baseUrl})` : ''}`,
  );
  lines.push('');
  const width = Math.max(...report.cases.map((c) => c.id.length), 10);
  for (const c of report.cases) {
    const duration = c.result === 'unsupported' ? '' : `${Math.round(c.durationMs)} ms`;
    lines.push(
      `${MARK[c.result]} ${c.id.padEnd(width)}  ${c.requirements.join(', ').padEnd(24)} ${duration}`,
    );
    if (c.result !== 'pass' && c.message) {
      lines.push(indent(c.result === 'error' ? `kit error: ${c.message}` : c.message, '    '));
    } else if (c.result === 'pass' && c.message) {
      lines.push(`    note: ${c.message}`);
    }
  }
  lines.push('');
  const s = report.summary;
  lines.push(`${s.passed} passed, ${s.failed} failed, ${s.errored} errored, ${s.unsupported} unsupported`);
  for (const p of report.profiles) {
    lines.push(
      `profile ${p.name}: ${p.result.toUpperCase()} (${p.passed} passed, ${p.failed} failed, ${p.unsupported} unsupported)`,
    );
  }
  lines.push(`seed ${report.seed}`);
  lines.push(`reproduce: ${reproduce}`);
  return lines.join('\n');
}
