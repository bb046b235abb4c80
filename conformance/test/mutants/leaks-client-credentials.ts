/** Mutant: the client's bearer reaches the upstream as `authorization` (INFERENCE-5). */
import { between } from './wrap.ts';

export default between('mutant:leaks-client-credentials', (gateway) => ({
  requestHeaders: (headers) => [
    ...headers.filter(([n]) => n.toLowerCase() !== 'authorization'),
    ['authorization', `Bearer ${gateway.bearer()}`],
  ],
}));
