import { Option, type Command } from 'commander';
import { parseRetentionPolicy, RetentionPolicyError, type RetentionPolicy } from '../store/retention-policy.js';
import { CliError } from './errors.js';

/** The retention flag of `serve` and `worker` (each runs the job; on PostgreSQL they take turns). */
export interface RetentionFlags {
  retention?: string;
}

export const RETENTION_ENV = 'DOCV_RETENTION';

export function addRetentionOptions(command: Command): Command {
  return command.addOption(
    new Option(
      '--retention <policy>',
      'delete personal data past its time, e.g. raw=30d,events=400d,quarantine=14d (units s, m, h, d; any part may be left out)',
    ).env(RETENTION_ENV),
  );
}

/** The policy from the flag (commander has already read DOCV_RETENTION into it); undefined when unset. */
export function retentionFromFlags(flags: RetentionFlags): RetentionPolicy | undefined {
  if (flags.retention === undefined) return undefined;
  try {
    return parseRetentionPolicy(flags.retention);
  } catch (err) {
    if (err instanceof RetentionPolicyError) throw new CliError(`--retention (${RETENTION_ENV}): ${err.message}`);
    throw err;
  }
}
