// The CLI's entry point as npm would install it: executable. tsc writes it without the exec bit,
// and `npx docv-webhooks` in this checkout runs the file itself (npm's bin-links set the bit only
// when the package is installed somewhere).
import { chmodSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

chmodSync(fileURLToPath(new URL('../dist/cli/bin.js', import.meta.url)), 0o755);
