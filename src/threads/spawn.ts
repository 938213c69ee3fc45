import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts a worker thread on a module that sits next to the caller (`moduleUrl` is the caller's
 * import.meta.url, `name` the module's file name without extension). Built code loads the
 * compiled module. From the TypeScript sources (tsx, vitest) the thread registers tsx first, as
 * its parent did, then loads the .ts module.
 */
export function spawnModuleWorker(moduleUrl: string, name: string, options: WorkerOptions = {}): Worker {
  if (moduleUrl.endsWith('.js')) return new Worker(new URL(`./${name}.js`, moduleUrl), options);
  const entry = new URL(`./${name}.ts`, moduleUrl).href;
  const tsx = typeof import.meta.resolve === 'function' ? import.meta.resolve('tsx/esm/api') : 'tsx/esm/api';
  const code = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(code, { ...options, eval: true });
}
