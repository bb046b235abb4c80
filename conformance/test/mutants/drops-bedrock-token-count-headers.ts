/**
 * Mutant: answers Bedrock InvokeModel without Bedrock's token-count headers (`x-amzn-bedrock-input-token-count`,
 * `-output-token-count` and the cache ones; PASSTHROUGH-10), as a gateway that relays the Message unchanged and
 * forgets what Bedrock puts beside it. `x-amzn-bedrock-invocation-latency` stays.
 */
import { inFront } from './wrap.ts';

const TOKEN_COUNT = /^x-amzn-bedrock-(cache-read-|cache-write-)?(input|output)-token-count$/i;

export default inFront('mutant:drops-bedrock-token-count-headers', {
  responseHeaders: (headers) => headers.filter(([n]) => !TOKEN_COUNT.test(n)),
});
