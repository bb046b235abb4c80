/** Mutant: a client that hangs up does not abort the upstream request (INFERENCE-9). */
import { inFront } from './wrap.ts';

export default inFront('mutant:ignores-client-disconnect', { ignoreClientHangUp: true });
