import type { CliCommand } from '../command';
import { attack } from './attack';
import { bench } from './bench';
import { budget } from './budget';
import { compareCommand } from './compare';
import { data } from './data';
import { defend } from './defend';
import { info } from './info';
import { observe } from './observe';
import { observeEpochs } from './observe-epochs';
import { pgd } from './pgd';
import { scanCommand } from './scan';
import { scanEval } from './scan-eval';
import { theorem1 } from './theorem1';
import { train } from './train';

/** Every `pbe` command, in the order --help lists them; a new command is a new file here and one line below. */
export const COMMANDS: CliCommand[] = [
  info,
  data,
  train,
  bench,
  attack,
  observe,
  observeEpochs,
  pgd,
  theorem1,
  budget,
  defend,
  compareCommand,
  scanCommand,
  scanEval,
];
