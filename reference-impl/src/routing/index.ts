/**
 * Model routing, retries, failover and circuit breakers: `createRouter(routes, options)`
 * and the route table built from config (`routesFromConfig`). See ./route.ts for the behaviour (ROUTING-1…16).
 */
export { type BreakerOptions, type BreakerSnapshot, type BreakerState, CircuitBreaker } from './breaker.ts';
export {
  type Classification,
  classifyStatus,
  classifyThrown,
  type Disposition,
  parseRetryAfter,
} from './classify.ts';
export {
  type AttemptRecord,
  type Clock,
  createRouter,
  type RoutedResponse,
  type RouteFacts,
  type RouteRequest,
  type Router,
  type RouterOptions,
  realClock,
  type SendOptions,
} from './route.ts';
export {
  findRoute,
  type ModelRouteConfig,
  orderTargets,
  type Route,
  type RouteTarget,
  routeProblems,
  routesFromConfig,
  targetKey,
} from './targets.ts';
