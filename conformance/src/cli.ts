#!/usr/bin/env node
/**
 * ocg-conformance — runs the OCG conformance kit against a gateway.
 *
 *   ocg-conformance run --adapter <file|reference> [--profile core] [--out DIR] [--seed N] [--case <id-prefix>]
 *
 * Exit status: 0 when every selected profile passes, 1 when one does not (partial or fail), 2 when the run could
 * not happen (bad usage, an adapter that does not load or start).
 */
import { parseArgs } from 'node:util';
import { ConformanceError } from './errors.ts';
import { formatSummary } from './report/console.ts';
import { reproduceCommand, runConformance } from './runner/run.ts';
import { parseSeed } from './util/rng.ts';

export const USAGE = `Usage: ocg-conformance run --adapter <file|reference> [options]

Runs the Open Coding Gateway conformance cases against the gateway the adapter starts.

Options:
  --adapter <file|reference>  adapter module (.ts/.js/.mjs, default export { name, start }) or "reference"
  --profile <name>            profile to run (repeatable or comma-separated; default: core)
  --out <dir>                 where to write report.json (default: ./conformance-report)
  --seed <n>                  seed for every random value (default: random; printed and in the report)
  --case <id-prefix>          run only cases whose id starts with this (repeatable)
  --keep-work-dir             keep the adapter's work directory (config, logs, data) even after a passing
                              run (it is always kept when a case fails)
  --quiet                     print only the summary
  -h, --help                  show this help

Exit status: 0 every selected profile passes; 1 a profile is partial or fails; 2 usage or adapter error.`;

/** Runs the CLI with `argv` (without node and script); returns the exit status. */
export async function main(
  argv: string[],
  io: { out: (s: string) => void; err: (s: string) => void } = {
    out: (s) => process.stdout.write(`${s}\n`),
    err: (s) => process.stderr.write(`${s}\n`),
  },
): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  function parse() {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        adapter: { type: 'string' },
        profile: { type: 'string', multiple: true },
        out: { type: 'string' },
        seed: { type: 'string' },
        case: { type: 'string', multiple: true },
        'keep-work-dir': { type: 'boolean' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  }
  try {
    parsed = parse();
  } catch (err) {
    io.err(`ocg-conformance: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help || positionals[0] === 'help') {
    io.out(USAGE);
    return 0;
  }
  if (positionals.length !== 1 || positionals[0] !== 'run') {
    io.err(
      `ocg-conformance: ${positionals.length === 0 ? 'missing command' : `unknown command "${positionals.join(' ')}"`}\n\n${USAGE}`,
    );
    return 2;
  }
  if (!values.adapter) {
    io.err(`ocg-conformance: --adapter is required\n\n${USAGE}`);
    return 2;
  }
  let seed: number | undefined;
  if (values.seed !== undefined) {
    seed = parseSeed(values.seed);
    if (seed === undefined) {
      io.err(`ocg-conformance: --seed must be an integer between 0 and 4294967295, got "${values.seed}"`);
      return 2;
    }
  }
  const profiles = (values.profile ?? ['core']).flatMap((p) => p.split(',')).filter(Boolean);
  const log = values.quiet ? () => {} : (msg: string) => io.err(`· ${msg}`);
  try {
    const report = await runConformance({
      adapter: values.adapter,
      profiles,
      seed,
      outDir: values.out ?? 'conformance-report',
      caseFilter: values.case,
      keepWorkDir: values['keep-work-dir'] ? true : 'on-failure',
      log,
    });
    const reproduce =
      report.reproduce ?? reproduceCommand(values.adapter, profiles, report.seed, values.case ?? []);
    io.out(formatSummary(report, reproduce));
    return report.profiles.every((p) => p.result === 'pass') ? 0 : 1;
  } catch (err) {
    if (err instanceof ConformanceError) {
      io.err(`ocg-conformance: ${err.code}: ${err.message}`);
    } else {
      io.err(`ocg-conformance: unexpected error: ${(err as Error).stack ?? String(err)}`);
    }
    return 2;
  }
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
