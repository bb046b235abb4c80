#!/usr/bin/env node
/**
 * Launcher of the `ocg` client CLI (npm links it as node_modules/.bin/ocg).
 *
 * The CLI is TypeScript run directly by Node (docs/decisions/0003). The `node` on the user's PATH may be too old to
 * strip types, so this file is plain JavaScript that any Node can start: on a Node that strips types it imports the
 * CLI in-process (no extra process on `ocg token`'s hot path); otherwise it re-runs the CLI on the Node 24 the
 * project pins (the `node` devDependency), passing arguments, stdio, signals and the exit status through.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const entry = join(here, '..', 'src', 'cli', 'main.ts');

if (process.features?.typescript) {
  await import(pathToFileURL(entry).href);
} else {
  const node = pinnedNode();
  if (node === null) {
    process.stderr.write(
      `ocg: this Node (${process.version}) cannot run TypeScript and the project's pinned Node 24 was not found; ` +
        'run `npm install` in the repository, or use Node >= 22.18 [ERR_INTERNAL]\n',
    );
    process.exit(70);
  }
  const child = spawn(node, [entry, ...process.argv.slice(2)], { stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => child.kill(signal));
  }
  child.on('error', (err) => {
    process.stderr.write(`ocg: cannot start ${node}: ${err.message} [ERR_INTERNAL]\n`);
    process.exit(70);
  });
  child.on('exit', (code, signal) => process.exit(code ?? (signal === 'SIGINT' ? 130 : 1)));
}

/** The `node` npm package's binary, resolved from this package upwards (workspaces hoist it to the root). */
function pinnedNode() {
  try {
    const pkg = createRequire(import.meta.url).resolve('node/package.json');
    for (const bin of [join(dirname(pkg), 'bin', 'node'), join(dirname(pkg), 'bin', 'node.exe')]) {
      if (existsSync(bin)) return bin;
    }
  } catch {
    // not installed
  }
  return null;
}
