/**
 * The JSON report: validated against spec/schemas/conformance-report.schema.json before it is written.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createValidators } from '@ocg/spec';
import { ConformanceError } from '../errors.ts';
import type { Report } from './types.ts';

/** Returns the schema problems of a report ([] when valid). */
export async function validateReport(report: unknown): Promise<string[]> {
  return (await createValidators()).validateReport(report);
}

/** Validates `report` and writes it to `<outDir>/report.json`; returns the file path. */
export async function writeJsonReport(report: Report, outDir: string): Promise<string> {
  const problems = await validateReport(report);
  if (problems.length > 0) {
    throw new ConformanceError(
      'ERR_REPORT_INVALID',
      `the report does not match its schema: ${problems.join('; ')}`,
      {
        details: report,
      },
    );
  }
  const dir = resolve(outDir);
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'report.json');
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}
