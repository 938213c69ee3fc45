import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT } from './servers.js';

/**
 * Top self-time functions of a V8 CPU profile (node --cpu-prof), the same view as the "Bottom-Up"
 * tab of Chrome DevTools, plus inclusive time for our own functions.
 * Usage: node --import tsx bench/profile-summary.ts <file.cpuprofile | directory> [top=30]
 * Given a directory (node writes one profile per thread), the busiest profile in it is read.
 */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function where(url: string, line: number): string {
  if (!url) return '';
  let path = url;
  try {
    if (url.startsWith('file:')) path = relative(ROOT, fileURLToPath(url));
  } catch {
    // keep the url
  }
  path = path.replace(/^node_modules\//, '~/');
  return `${path}:${line + 1}`;
}

/** Samples that were not idle: the main thread of a server is the busiest of its profiles. */
function busy(profile: Profile): number {
  const idle = new Set(profile.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id));
  return profile.samples.filter((id) => !idle.has(id)).length;
}

function load(path: string): { file: string; profile: Profile } {
  if (!statSync(path).isDirectory()) return { file: path, profile: JSON.parse(readFileSync(path, 'utf8')) as Profile };
  const candidates = readdirSync(path)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => ({ file: join(path, f), profile: JSON.parse(readFileSync(join(path, f), 'utf8')) as Profile }));
  if (candidates.length === 0) throw new Error(`no .cpuprofile in ${path}`);
  return candidates.sort((a, b) => busy(b.profile) - busy(a.profile))[0]!;
}

export function summarize(path: string, top = 30): string {
  const { file, profile } = load(path);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const totalUs = profile.endTime - profile.startTime;
  const keyOf = (n: ProfileNode) =>
    `${n.callFrame.functionName || '(anonymous)'} ${where(n.callFrame.url, n.callFrame.lineNumber)}`.trim();
  const self = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const key = keyOf(byId.get(id)!);
    self.set(key, (self.get(key) ?? 0) + us);
  }
  // Inclusive time: a node's self plus its subtree, counted once per function per stack.
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const inclusive = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const key = keyOf(byId.get(cur)!);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + us);
    }
  }
  const pct = (us: number) => `${((100 * us) / totalUs).toFixed(1).padStart(5)}%`;
  const lines = [`${file}: ${(totalUs / 1e6).toFixed(1)} s profiled`, '', 'self time:'];
  for (const [key, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(us)}  ${key}`);
  lines.push('', 'inclusive time, our code (src/, or dist/ when compiled):');
  for (const [key, us] of [...inclusive]
    .filter(([k]) => / (src|dist)\//.test(k))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top))
    lines.push(`  ${pct(us)}  ${key}`);
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) throw new Error('usage: profile-summary.ts <file.cpuprofile> [top]');
  process.stdout.write(`${summarize(file, Number(process.argv[3] ?? 30))}\n`);
}
