/**
 * Mutant: collects the whole Bedrock event stream before sending any of it (PASSTHROUGH-5: frames are written as
 * events arrive). The frames themselves are valid.
 */
import { rewriteBedrockFrames } from './eventstream-rewrite.ts';
import { inFront } from './wrap.ts';

export default inFront('mutant:buffers-eventstream', {
  rewriteStream: (path, status, headers) => {
    const frames: Buffer[] = [];
    const rewriter = rewriteBedrockFrames({
      frame(_frame, bytes) {
        frames.push(bytes);
        return Buffer.alloc(0);
      },
      end: () => Buffer.concat(frames.splice(0)),
    })(path, status, headers);
    return rewriter;
  },
});
