import { readFileSync } from 'node:fs';

/**
 * The version in the package's own package.json, two directories above this file both in src/cli
 * (from source) and in dist/cli (built, or installed: npm always ships package.json). Read at run
 * time rather than imported, since the build compiles src alone.
 */
export function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version?: unknown;
  };
  if (typeof manifest.version !== 'string') throw new Error('package.json has no version');
  return manifest.version;
}
