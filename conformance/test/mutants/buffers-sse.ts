/** Mutant: collects the whole SSE response before sending any of it (INFERENCE-3). */
import { inFront } from './wrap.ts';

export default inFront('mutant:buffers-sse', { bufferSse: true });
