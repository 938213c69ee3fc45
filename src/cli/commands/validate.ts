import { readFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { DIALECTS, parseDelivery, type Dialect } from '../../contract/index.js';
import { CliError } from '../errors.js';
import { addExamples, defaultInHelp } from '../help.js';

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
  const command = program
    .command('validate')
    .description(
      'check a delivery body as the receiver would: the flat contract (spec/asyncapi.yaml), Socure v5 or RiskOS (spec/dialects)',
    )
    .argument('<file>', 'JSON file, or - for standard input')
    .option('--json', 'print the result as JSON (the canonical event when valid)')
    .addOption(
      defaultInHelp(
        new Option('--dialect <name>', 'read it only as this dialect').choices([...DIALECTS]),
        'its shape picks one',
      ),
    );
  addExamples(command, [
    { say: 'a saved delivery body; exit 1 with every violation listed', run: 'docv-webhooks validate delivery.json' },
    {
      say: 'from standard input, as a Socure v5 notification, with the result as JSON',
      run: 'docv-webhooks validate - --dialect socure-v5 --json < notification.json',
    },
  ]).action(async (file: string, opts: { json?: boolean; dialect?: Dialect }) => {
    const result = parseDelivery(await readInput(file), {
      dialect: opts.dialect,
      receivedAt: new Date(),
      keepDocumentData: true,
    });
    if (opts.json) {
      if (result.ok) process.stdout.write(`${JSON.stringify({ valid: true, event: result.event })}\n`);
      else if (result.kind === 'contract')
        process.stdout.write(
          `${JSON.stringify({ valid: false, kind: result.kind, dialect: result.dialect, errors: result.errors })}\n`,
        );
      else process.stdout.write(`${JSON.stringify({ valid: false, ...result })}\n`);
    } else if (result.ok) {
      const tx =
        result.event.docvTransactionId === null
          ? result.event.test
            ? 'a test event, no transaction'
            : 'no transaction yet'
          : `transaction ${result.event.docvTransactionId}`;
      process.stdout.write(`valid ${result.event.dialect}: ${result.event.eventType} for ${tx}\n`);
    } else if (result.kind === 'contract') {
      const how = result.detected ? `as ${result.dialect}` : `fits no dialect; closest is ${result.dialect}`;
      process.stdout.write(`invalid (${how}): ${result.errors.length} violation(s)\n`);
      for (const e of result.errors) process.stdout.write(`  ${e.path || '(root)'}: ${e.message}\n`);
    } else {
      process.stdout.write(`invalid: ${result.message}\n`);
    }
    if (!result.ok) process.exitCode = 1;
  });
}
