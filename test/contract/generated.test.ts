import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GENERATED_DIR, SPEC_PATH, generate } from '../../scripts/generate-contract.js';

describe('contract derived from spec/asyncapi.yaml', () => {
  it('spec/asyncapi.yaml is the shared contract verbatim', async () => {
    const shared = join(SPEC_PATH, '..', '..', '..', 'shared', 'asyncapi.yaml');
    const ours = await readFile(SPEC_PATH, 'utf8');
    const theirs = await readFile(shared, 'utf8').catch(() => null);
    // The shared folder sits beside the checkout on developer machines; CI may not have it.
    if (theirs !== null) expect(ours).toBe(theirs);
    expect(ours).toContain('asyncapi: 2.6.0');
  });

  it('generated files are up to date (run `npm run generate` after changing the spec)', async () => {
    const files = await generate();
    for (const [name, text] of Object.entries(files)) {
      expect(await readFile(join(GENERATED_DIR, name), 'utf8'), `src/contract/generated/${name} is stale`).toBe(text);
    }
  });
});
