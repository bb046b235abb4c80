/** Mutant: hop-by-hop headers reach the upstream (INFERENCE-6). */
import { between } from './wrap.ts';

export default between('mutant:forwards-hop-by-hop', () => ({
  requestHeaders: (headers) => [
    ...headers,
    ['x-drop-me', '1'],
    ['proxy-authorization', 'Basic b2NnOm11dGFudA=='],
  ],
}));
