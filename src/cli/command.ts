import { Command, Option } from 'commander';
import { flagOf, type OptTable, type OptValues, UsageError } from './options';

/**
 * One `pbe` command, defined in its own file under commands/ and listed in commands/index.ts:
 * its options as a typed table (see options.ts), at most `positionals.length` positional
 * arguments, and `run`, which gets the parsed values typed by the table and returns the exit
 * status. A command is a thin layer: parse, call the library, print.
 */
export interface CliCommand<O extends OptTable = OptTable> {
  name: string;
  summary: string;
  /** positional arguments: name and help, all optional to commander (run checks them, with the CLI's wording) */
  positionals?: { name: string; help: string }[];
  options: O;
  run(options: OptValues<O>, positionals: string[]): Promise<number>;
}

/** Keeps the option table's types flowing into `run`. */
export function defineCommand<O extends OptTable>(command: CliCommand<O>): CliCommand<O> {
  return command;
}

/** The commander command for a definition; `done` receives the exit status of its run. */
export function toCommander(def: CliCommand, done: (status: number) => void): Command {
  const cmd = new Command(def.name).description(def.summary).allowExcessArguments(true);
  for (const p of def.positionals ?? []) cmd.argument(`[${p.name}]`, p.help);
  for (const [key, spec] of Object.entries(def.options)) {
    const flag = flagOf(key);
    const option = new Option(`${spec.short ? `-${spec.short}, ` : ''}${flag}${spec.arg ? ` <${spec.arg}>` : ''}`, spec.help);
    if (spec.choices) option.choices(spec.choices);
    // After choices(), whose own check would word the error differently.
    const parse = spec.parse;
    if (parse) option.argParser((raw: string, previous: unknown) => parse(raw, flag, previous));
    // --help shows plain defaults; a flag's false and an empty table are filled in below.
    if (typeof spec.default === 'string' || typeof spec.default === 'number') option.default(spec.default);
    cmd.addOption(option);
  }
  cmd.action(async () => {
    const max = def.positionals?.length ?? 0;
    const positionals = cmd.args;
    if (positionals.length > max) throw new UsageError(`unexpected argument '${positionals[max]}'`);
    const values: Record<string, unknown> = cmd.opts();
    for (const [key, spec] of Object.entries(def.options)) values[key] ??= spec.default;
    done(await def.run(values as OptValues<OptTable>, positionals));
  });
  return cmd;
}
