import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import semver from 'semver';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';

interface LockedPackage {
  version?: string;
  engines?: { node?: string } | string[];
  dev?: boolean;
}

/**
 * `npm install` must not warn EBADENGINE on the Node versions the project supports: once,
 * fastify's light-my-request pulled cookie@2, which requires Node 22, so every install on Node 20
 * warned (package.json `overrides` now pins a cookie that supports 18 and up). Checked against the
 * lockfile, which is what `npm ci` installs, for the Node running the tests and for the lowest
 * version package.json promises.
 */
describe('every locked package supports the Node versions we support', () => {
  const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockedPackage>;
  };
  const manifest = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
  const lowest = semver.minVersion(manifest.engines.node)!.version;

  // Everything (the test tools included) on the Node running the tests; what users install
  // (runtime dependencies) on the lowest version package.json allows.
  it.each([
    ['every package, on the running Node', process.versions.node, false],
    ['runtime packages, on the lowest Node package.json allows', lowest, true],
  ])('%s (%s)', (_label, version, runtimeOnly) => {
    const unsupported = Object.entries(lock.packages)
      .filter(([path, pkg]) => path !== '' && !(runtimeOnly && pkg.dev === true))
      .flatMap(([path, pkg]) => {
        const range = Array.isArray(pkg.engines) ? undefined : pkg.engines?.node;
        return range && !semver.satisfies(version, range)
          ? [`${path.replace(/^.*node_modules\//, '')}@${pkg.version} needs node ${range}`]
          : [];
      });
    expect(unsupported).toEqual([]);
  });
});
