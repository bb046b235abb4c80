/** Mutant: an upstream failure reaches the client as 401, which Claude Code takes for an expired sign-in (ERRORS-6). */
import { inFront } from './wrap.ts';

export default inFront('mutant:answers-401-when-upstream-down', {
  status: (status) => (status >= 500 ? 401 : status),
});
