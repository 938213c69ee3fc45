import { Help, type Command, type Option } from 'commander';

/**
 * One look for every command's help: commander's own `(default: …, env: …)` notation for every
 * option, including defaults and environment variables the code resolves itself, and an
 * "Examples:" block at the end.
 */

interface HelpNote {
  default?: string;
  env?: string;
}

const notes = new WeakMap<Option, HelpNote>();

/**
 * Shows `(default: text)` for a default the code works out itself. A commander `.default()` would
 * reach the action as if the user had typed it, where the code decides by whether a flag was given
 * (`--max-attempts` follows `--retry-schedule`, a missing `--log-format` asks whether a person is
 * watching); this changes the help alone.
 */
export function defaultInHelp(option: Option, text: string): Option {
  notes.set(option, { ...notes.get(option), default: text });
  return option;
}

/**
 * Shows `(env: text)` for environment variables the code reads itself: lists split on commas, the
 * `_FILE` variants of secrets, switches that `false` must turn off (commander's `.env()` turns a
 * boolean flag on whenever the variable exists). Written as `.env()` writes its own.
 */
export function envInHelp(option: Option, text: string): Option {
  notes.set(option, { ...notes.get(option), env: text });
  return option;
}

/** `NAME or NAME_FILE`: how a secret read with readSecretList is named in help. */
export function orFile(name: string): string {
  return `${name} or ${name}_FILE`;
}

const commanderHelp = new Help();

/** commander's description of an option, with this file's notes in its own parenthesis. */
function optionDescription(option: Option): string {
  const note = notes.get(option);
  if (!note) return commanderHelp.optionDescription(option);
  // A view of the option for the help alone: parsing keeps reading the option itself.
  const view = Object.create(option) as Option;
  if (note.default !== undefined) {
    view.defaultValue = note.default;
    view.defaultValueDescription = note.default;
  }
  if (note.env !== undefined) view.envVar = note.env;
  return commanderHelp.optionDescription(view);
}

/** Call on the program before adding commands: commander copies help settings into each new one. */
export function configureHelp(program: Command): Command {
  return program.configureHelp({ optionDescription });
}

export interface Example {
  /** What it does, shown as a comment line above the command. */
  say: string;
  /** The whole command line, as a user types it. */
  run: string;
}

/** Ends the command's help with 1 to 3 examples, all formatted alike. */
export function addExamples(
  command: Command,
  examples: [Example] | [Example, Example] | [Example, Example, Example],
): Command {
  const lines = examples.flatMap((e) => [`  # ${e.say}`, `  $ ${e.run}`]);
  return command.addHelpText('after', `\nExamples:\n${lines.join('\n')}`);
}
