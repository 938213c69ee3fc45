import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { parseDocvEvent } from '../../contract/index.js';
import { CliError } from '../errors.js';

const MAX_INPUT_BYTES = 16 * 1024 * 1024;

async function readInput(source: string): Promise<Buffer> {
  if (source !== '-') {
    try {
      return await readFile(source);
    } catch (err) {
      throw new CliError(`cannot read ${source}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    size += (chunk as Buffer).length;
    if (size > MAX_INPUT_BYTES) throw new CliError(`standard input is over ${MAX_INPUT_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export function register(program: Command): void {
  program
    .command('validate')
    .description('check a DocV event payload against the contract (spec/asyncapi.yaml)')
    .argument('<file>', 'JSON file, or - for standard input')
    .option('--json', 'print the result as JSON')
    .action(async (file: string, opts: { json?: boolean }) => {
      const result = parseDocvEvent(await readInput(file));
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(result.ok ? { valid: true, event: result.event } : { valid: false, ...result })}\n`);
      } else if (result.ok) {
        process.stdout.write(`valid: ${result.event.eventType} for transaction ${result.event.docvTransactionId}\n`);
      } else if (result.kind === 'contract') {
        process.stdout.write(`invalid: ${result.errors.length} violation(s)\n`);
        for (const e of result.errors) process.stdout.write(`  ${e.path || '(root)'}: ${e.message}\n`);
      } else {
        process.stdout.write(`invalid: ${result.message}\n`);
      }
      if (!result.ok) process.exitCode = 1;
    });
}
