#!/usr/bin/env node
/**
 * Process entry of `ocg` (started by bin/ocg.js, which makes sure it runs on a Node that strips TypeScript).
 * The only module that touches `process`: arguments, environment, stdio, Ctrl-C and the exit status.
 */
import { runCli } from './cli.ts';

const controller = new AbortController();
let interrupted = false;
process.on('SIGINT', () => {
  // The first Ctrl-C cancels cleanly (`ocg login` stops polling); a second one exits at once.
  if (interrupted) process.exit(130);
  interrupted = true;
  controller.abort();
});

function write(stream: NodeJS.WriteStream): (text: string) => void {
  return (text) => {
    stream.write(text);
  };
}

const code = await runCli(process.argv.slice(2), {
  env: process.env,
  out: write(process.stdout),
  err: write(process.stderr),
  signal: controller.signal,
});
process.exitCode = code;
