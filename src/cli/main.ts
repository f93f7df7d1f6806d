import { Command, CommanderError } from 'commander';
import { type CliCommand, toCommander } from './command';
import { COMMANDS } from './commands';
import { UsageError } from './options';

const FOOTER = '\nPBE_BACKEND and PBE_CACHE_DIR set the backend and the cache folder; pbe <command> --help lists its options.';

/** Errors are printed by main in the CLI's own wording, and no parse error may exit the process (tests call main). */
function configure(cmd: Command): Command {
  return cmd.exitOverride().configureOutput({ outputError: () => {} });
}

function usageOf(cmd: Command): string {
  return `usage: pbe ${cmd.name()} ${cmd.usage()}  ('pbe ${cmd.name()} --help' lists the options)`;
}

/** Entry point of `pbe`; returns the exit status. */
export async function main(argv: string[]): Promise<number> {
  let status = 0;
  const program = configure(new Command('pbe').description('backdoors and adversarial examples: Progressive Backdoor Erasing reproduced on TensorFlow.js'));
  program.addHelpText('after', FOOTER);
  const commands = new Map<string, Command>();
  for (const def of COMMANDS as CliCommand[]) {
    const cmd = configure(toCommander(def, (s) => (status = s)));
    commands.set(def.name, cmd);
    program.addCommand(cmd);
  }
  if (argv.length === 0) {
    console.error(program.helpInformation() + FOOTER);
    return 2;
  }
  const command = commands.get(argv[0]);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return status;
  } catch (e) {
    if (e instanceof CommanderError && e.exitCode === 0) return 0; // --help, help
    if (e instanceof CommanderError && e.code === 'commander.unknownCommand') {
      console.error(`pbe: unknown command '${argv[0]}'\n${program.helpInformation()}`);
      return 2;
    }
    if (e instanceof CommanderError || e instanceof UsageError) {
      const message = e.message.replace(/^error: /, '');
      console.error(command ? `pbe ${command.name()}: ${message}\n${usageOf(command)}` : `pbe: ${message}`);
      return 2;
    }
    throw e;
  }
}
