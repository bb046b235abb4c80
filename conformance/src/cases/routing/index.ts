/** The routing cases (feature `routing`, ROUTING-*), in run order. */
import type { ConformanceCase } from '../../runner/types.ts';
import { boundedAttempts, retryAfter } from './attempts.ts';
import clientDisconnect from './client-disconnect.ts';
import connectionReuse from './connection-reuse.ts';
import credentials from './credentials.ts';
import errorMessage from './error-message.ts';
import { failoverCases } from './failover.ts';
import flappingTarget from './flapping-target.ts';
import holdBack from './hold-back.ts';
import malformedEvent from './malformed-event.ts';
import messageStop from './message-stop.ts';
import midStream from './mid-stream.ts';
import noRetry4xx from './no-retry-4xx.ts';
import providerFailover from './provider-failover.ts';
import routesHealth from './routes-health.ts';

export const routingCases: ConformanceCase[] = [
  ...failoverCases,
  holdBack,
  noRetry4xx,
  credentials,
  errorMessage,
  retryAfter,
  boundedAttempts,
  midStream,
  malformedEvent,
  messageStop,
  connectionReuse,
  clientDisconnect,
  flappingTarget,
  providerFailover,
  routesHealth,
];
