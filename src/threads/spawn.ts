import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * A worker's heap, bounded: these threads keep no state beyond a few thousand messages in flight,
 * and V8's default young generation (up to 48 MiB per isolate) made each of them cost the process
 * tens of MB of resident memory under load (docs/decisions/0005-forwards-on-a-thread-of-their-own.md).
 * A smaller young generation collects more often, each time for less.
 */
const WORKER_HEAP_LIMITS = { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 256 };

/**
 * Starts a worker thread on a module that sits next to the caller (`moduleUrl` is the caller's
 * import.meta.url, `name` the module's file name without extension). Built code loads the
 * compiled module. From the TypeScript sources (tsx, vitest) the thread registers tsx first, as
 * its parent did, then loads the .ts module.
 */
export function spawnModuleWorker(moduleUrl: string, name: string, options: WorkerOptions = {}): Worker {
  options = { ...options, resourceLimits: { ...WORKER_HEAP_LIMITS, ...options.resourceLimits } };
  if (moduleUrl.endsWith('.js')) return new Worker(new URL(`./${name}.js`, moduleUrl), options);
  const entry = new URL(`./${name}.ts`, moduleUrl).href;
  const tsx = typeof import.meta.resolve === 'function' ? import.meta.resolve('tsx/esm/api') : 'tsx/esm/api';
  const code = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(code, { ...options, eval: true });
}
