/**
 * The conformance report (JSON Schema: spec/schemas/conformance-report.schema.json, version 0.1).
 */
export type CaseResultKind = 'pass' | 'fail' | 'unsupported' | 'error';
export type ProfileResultKind = 'pass' | 'partial' | 'fail';

export interface CaseResult {
  id: string;
  title: string;
  feature: string;
  requirements: string[];
  result: CaseResultKind;
  durationMs: number;
  message?: string;
  details?: unknown;
}

export interface ProfileResult {
  name: string;
  result: ProfileResultKind;
  passed: number;
  failed: number;
  unsupported: number;
}

export interface Report {
  reportVersion: '0.1';
  kit: { name: string; version: string };
  gateway: { adapter: string; baseUrl?: string };
  seed: number;
  /** The command that reruns the same cases with the same seed (absent when the adapter was passed as an object). */
  reproduce?: string;
  startedAt: string;
  finishedAt: string;
  profiles: ProfileResult[];
  cases: CaseResult[];
  summary: { passed: number; failed: number; unsupported: number; errored: number };
}
