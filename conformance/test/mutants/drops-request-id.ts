/** Mutant: strips the `request-id` response header (ERRORS-2). */
import { inFront } from './wrap.ts';

export default inFront('mutant:drops-request-id', {
  responseHeaders: (headers) => headers.filter(([n]) => n.toLowerCase() !== 'request-id'),
});
