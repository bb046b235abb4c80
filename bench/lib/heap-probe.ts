/**
 * Preloaded into the gateway by `bench/streams.ts` (`node --expose-gc --import bench/lib/heap-probe.ts …`): on
 * SIGUSR2 it runs a full garbage collection, then writes `process.memoryUsage()` as one JSON object to
 * `OCG_BENCH_HEAP_FILE`. /proc gives a process's RSS but not its V8 heap; a collection first makes the heap figure
 * the live objects (what each open stream keeps), not whatever garbage happened to be waiting.
 * Nothing else in the gateway changes: it does not use SIGUSR2 (Node keeps SIGUSR1 for the inspector).
 */
import { writeFileSync } from 'node:fs';

const file = process.env.OCG_BENCH_HEAP_FILE;
if (file) {
  process.on('SIGUSR2', () => {
    (globalThis as { gc?: () => void }).gc?.();
    writeFileSync(file, JSON.stringify({ at: Date.now(), ...process.memoryUsage() }));
  });
}
