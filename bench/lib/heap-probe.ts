/**
 * Preloaded into the gateway by `bench/streams.ts` (`node --expose-gc --import bench/lib/heap-probe.ts …`): on
 * SIGUSR2 it runs a full garbage collection, then writes `process.memoryUsage()` as one JSON object to
 * `OCG_BENCH_HEAP_FILE`. /proc gives a process's RSS but not its V8 heap; a collection first makes the heap figure
 * the live objects (what each open stream keeps), not whatever garbage happened to be waiting.
 * Nothing else in the gateway changes: it does not use SIGUSR2 (Node keeps SIGUSR1 for the inspector).
 */
import { writeFileSync } from 'node:fs';
import { writeHeapSnapshot } from 'node:v8';

const file = process.env.OCG_BENCH_HEAP_FILE;
if (file) {
  process.on('SIGUSR2', () => {
    (globalThis as { gc?: () => void }).gc?.();
    const usage = process.memoryUsage();
    // OCG_BENCH_HEAP_SNAPSHOTS=1 (bench:streams --heap-snapshots): also a .heapsnapshot beside the file, to see
    // what the streams keep. Slow and large (seconds, hundreds of MB): for diagnosis, not for a recorded run.
    if (process.env.OCG_BENCH_HEAP_SNAPSHOTS === '1') writeHeapSnapshot(`${file}.${Date.now()}.heapsnapshot`);
    writeFileSync(file, JSON.stringify({ at: Date.now(), ...usage }));
  });
}
