import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Tests run the CLI as users do: the built `dist/cli/bin.js` under plain node. Compile once per
 * run (incremental, so a build that is already current costs a second or two).
 */
export default function setup(): void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  execFileSync(
    process.execPath,
    [
      fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url)),
      '-p',
      'tsconfig.build.json',
      '--incremental',
      '--tsBuildInfoFile',
      'dist/.tsbuildinfo',
    ],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
  // tsc writes bin.js without the exec bit; `npx docv-webhooks` (the banners' commands) runs it
  // directly. It used to pass only when a test that installs the package (npm's bin-links chmods
  // its target) had run first.
  execFileSync(process.execPath, [fileURLToPath(new URL('../scripts/bin-executable.mjs', import.meta.url))], {
    cwd: root,
    stdio: 'inherit',
  });
}
