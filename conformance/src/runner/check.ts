/**
 * Every response the gateway gives a case is validated against the spec (brief §4: "Every response is also
 * validated against the spec's schemas"): status and content-type declared for the operation, JSON bodies against
 * their schema, each SSE event of /v1/messages against its event schema. A violation fails the case.
 */
import type { SpecValidators } from '@ocg/spec';
import { ConformanceError } from '../errors.ts';

export interface SpecChecker {
  response(
    operationId: string,
    r: { status: number; contentType: string | null; body: unknown },
    where: string,
  ): void;
  event(event: string, data: unknown, where: string): void;
  /** How many responses and events were checked (for the report details). */
  readonly counts: { responses: number; events: number };
}

export function createSpecChecker(validators: SpecValidators): SpecChecker {
  const counts = { responses: 0, events: 0 };
  return {
    counts,
    response(operationId, r, where) {
      counts.responses++;
      const problems = validators.validateResponse(operationId, r);
      if (problems.length > 0) {
        throw new ConformanceError(
          'ERR_SPEC_VIOLATION',
          `${where}: the response does not match the spec (${operationId}): ${problems.join('; ')}`,
          { details: { operationId, status: r.status, contentType: r.contentType, problems } },
        );
      }
    },
    event(event, data, where) {
      counts.events++;
      const problems = validators.validateSseEvent(event, data);
      if (problems.length > 0) {
        throw new ConformanceError(
          'ERR_SPEC_VIOLATION',
          `${where}: the event does not match the spec: ${problems.join('; ')}`,
          {
            details: { event, data, problems },
          },
        );
      }
    },
  };
}
