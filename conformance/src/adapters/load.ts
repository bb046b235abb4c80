/**
 * Loads an adapter (adapter contract v1, which reads v0 adapters too) from a file: an ES module (.ts, .js or .mjs) whose default export is
 * `{ name, start(ctx) }`. `reference` names the built-in adapter for the OCG reference gateway.
 */
import { stat } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConformanceError } from '../errors.ts';
import type { Adapter } from './contract.ts';
import { referenceAdapter } from './reference.ts';

const EXTENSIONS = new Set(['.ts', '.mts', '.js', '.mjs']);

/** Checks that `value` has the adapter shape; throws ERR_ADAPTER_INVALID naming what is wrong. */
export function validateAdapter(value: unknown, source: string): Adapter {
  const problem = (what: string): never => {
    throw new ConformanceError('ERR_ADAPTER_INVALID', `adapter ${source}: ${what}`);
  };
  if (typeof value !== 'object' || value === null) {
    return problem(
      `the default export must be an object { name, start(ctx) }, got ${value === null ? 'null' : typeof value}`,
    );
  }
  const a = value as Record<string, unknown>;
  if (typeof a.name !== 'string' || a.name.trim() === '') problem('`name` must be a non-empty string');
  if (typeof a.start !== 'function') problem('`start` must be a function (ctx) => Promise<GatewayUnderTest>');
  return value as Adapter;
}

/** Loads the adapter named `spec` (`reference`, or a path relative to `cwd`). */
export async function loadAdapter(spec: string, cwd: string = process.cwd()): Promise<Adapter> {
  if (spec === 'reference') return referenceAdapter;
  const file = resolve(cwd, spec);
  const ext = extname(file);
  if (!EXTENSIONS.has(ext)) {
    throw new ConformanceError(
      'ERR_ADAPTER_INVALID',
      `adapter ${spec}: expected an ES module file (.ts, .mts, .js or .mjs) or "reference"`,
    );
  }
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile())
    throw new ConformanceError('ERR_ADAPTER_INVALID', `adapter ${spec}: no such file (${file})`);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (err) {
    throw new ConformanceError(
      'ERR_ADAPTER_INVALID',
      `adapter ${spec}: failed to import: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  if (!('default' in mod) || mod.default === undefined) {
    throw new ConformanceError('ERR_ADAPTER_INVALID', `adapter ${spec}: the module has no default export`);
  }
  return validateAdapter(mod.default, spec);
}

/** Validates the GatewayUnderTest an adapter's start() returned. */
export function validateGatewayUnderTest(value: unknown, adapterName: string): void {
  const problem = (what: string): never => {
    throw new ConformanceError('ERR_ADAPTER_START', `adapter ${adapterName}: start() returned ${what}`);
  };
  if (typeof value !== 'object' || value === null) problem('no object');
  const g = value as Record<string, unknown>;
  if (typeof g.baseUrl !== 'string' || !/^https?:\/\//.test(g.baseUrl)) problem('no http(s) `baseUrl`');
  if (g.bearer !== undefined && (typeof g.bearer !== 'string' || g.bearer === '')) {
    problem('a `bearer` that is not a non-empty string');
  }
  if (typeof g.stop !== 'function') problem('no `stop()` function');
  if (
    g.features !== undefined &&
    (!Array.isArray(g.features) || g.features.some((f) => typeof f !== 'string'))
  ) {
    problem('`features` that is not a list of strings');
  }
  if (
    g.clockToleranceS !== undefined &&
    (typeof g.clockToleranceS !== 'number' || !Number.isFinite(g.clockToleranceS) || g.clockToleranceS < 0)
  ) {
    problem('a `clockToleranceS` that is not a non-negative number');
  }
  if (
    g.maxRequestBodyBytes !== undefined &&
    (typeof g.maxRequestBodyBytes !== 'number' ||
      !Number.isInteger(g.maxRequestBodyBytes) ||
      g.maxRequestBodyBytes < 1)
  ) {
    problem('a `maxRequestBodyBytes` that is not a positive integer');
  }
}
