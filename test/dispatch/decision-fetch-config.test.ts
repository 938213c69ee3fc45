import { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { addDispatchOptions, receiverOptionsFromFlags, type ReceiverFlags } from '../../src/cli/receiver-options.js';
import { attemptBudget, DEFAULT_RETRY_POLICY } from '../../src/dispatch/index.js';
import { defaultReceiverConfig, type SocureApiConfig } from '../../src/compose/config.js';
import { validateDestinationConfig } from '../../src/compose/dispatch-wiring.js';

/** `--socure-api`, `--decision-pending-max` and their environment variables, as `serve` parses them. */
function parse(args: string[]): ReceiverFlags {
  const command = addDispatchOptions(new Command().exitOverride().configureOutput({ writeErr: () => undefined }));
  command.parse(args, { from: 'user' });
  return command.opts<ReceiverFlags>();
}

const saved = { SOCURE_API: process.env.SOCURE_API, DOCV_DECISION_PENDING_MAX: process.env.DOCV_DECISION_PENDING_MAX };
afterEach(() => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

describe('decision fetch configuration', () => {
  it('defaults: ID+, a 10-minute pending bound', () => {
    expect(defaultReceiverConfig().socure).toMatchObject({ api: 'idplus', decisionPendingMaxMs: 600_000 });
    delete process.env.SOCURE_API;
    delete process.env.DOCV_DECISION_PENDING_MAX;
    expect(receiverOptionsFromFlags(parse([]), {}).socure).toMatchObject({ api: 'idplus' });
    expect(receiverOptionsFromFlags(parse([]), {}).socure).not.toHaveProperty('decisionPendingMaxMs');
  });

  it('flags, with durations written as the other duration flags', () => {
    const socure = receiverOptionsFromFlags(
      parse(['--socure-api', 'profile', '--decision-pending-max', '90s']),
      {},
    ).socure;
    expect(socure).toMatchObject({ api: 'profile', decisionPendingMaxMs: 90_000 });
  });

  it('the environment, when no flag is given', () => {
    process.env.SOCURE_API = 'profile';
    process.env.DOCV_DECISION_PENDING_MAX = '2m';
    expect(receiverOptionsFromFlags(parse([]), {}).socure).toMatchObject({
      api: 'profile',
      decisionPendingMaxMs: 120_000,
    });
  });

  it('refuses an unknown API and a duration without a unit', () => {
    expect(() => parse(['--socure-api', 'graphql'])).toThrow(/Allowed choices are idplus, profile/);
    process.env.SOCURE_API = 'v2';
    expect(() => parse([])).toThrow(/from env 'SOCURE_API' is invalid/);
    delete process.env.SOCURE_API;
    expect(() => receiverOptionsFromFlags(parse(['--decision-pending-max', '600']), {})).toThrow(
      /--decision-pending-max: "600" is not a duration/,
    );
    expect(() => receiverOptionsFromFlags({ ordering: true, socureApi: 'graphql' }, {})).toThrow(
      /--socure-api: "graphql" is not one of idplus, profile/,
    );
  });

  it('a library caller that names an unknown API is refused, not quietly given the other one', () => {
    const config = defaultReceiverConfig({
      socure: { baseUrl: 'http://127.0.0.1:1', apiKey: 'k', api: 'graphql' } as unknown as SocureApiConfig,
    });
    expect(() => validateDestinationConfig(config)).toThrow(/Socure API "graphql" is not one of idplus, profile/);
  });

  it("the attempt budget the fetch is told matches the dispatcher's", () => {
    expect(attemptBudget(DEFAULT_RETRY_POLICY)).toBe(15);
    expect(attemptBudget({ schedule: [], maxAttempts: 15, jitter: 0 })).toBe(1);
    expect(attemptBudget({ schedule: [10], maxAttempts: 3, jitter: 0 })).toBe(3);
  });
});
