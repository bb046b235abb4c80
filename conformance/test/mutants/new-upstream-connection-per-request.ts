/**
 * Mutant: opens a new upstream connection for every request (ROUTING-16), as a gateway that sends
 * `connection: close` upstream or gives each request its own client. The proxy between the gateway and the first
 * target's mock forwards each request on a connection of its own, so the mock never sees one reused.
 */
import { between } from './wrap.ts';

export default between('mutant:new-upstream-connection-per-request', () => ({}));
