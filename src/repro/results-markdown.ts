import {
  FIG1_MIN_TARGET_SHARE,
  FIG6_AVERAGE_PRECISION,
  FIG7,
  PAPER_ATTACK_LABELS,
  PAPER_DEFENSE_LABELS,
  PAPER_DEFENSES,
  type PaperDefense,
  table5Cell,
  TABLE5,
} from '../paper/numbers';
import type { DefenseTablesValues } from './measure/defense-tables';
import type { FeatureDistancesValues } from './measure/feature-distances';
import type { LabelMatricesValues } from './measure/label-matrices';
import type { ProgressiveDefenseValues } from './measure/progressive-defense';
import type { NotebookName, NotebookValues } from './values';

/**
 * The results the paper is read by, as tables rendered from a measurements file's notebook values:
 * the observation per attack (Fig. 1, Table 5), PBE per iteration (Fig. 6 and 7) and the defense
 * tables (Tables 1, 4, 2) beside the paper's. They go into docs/measurements/<scale>.md, so that
 * no one types them by hand.
 */
export function resultsMarkdown(notebooks: Readonly<Record<string, { values: unknown }>>): string[] {
  // A notebook's values by the field its table reads, so that a file of another version (or a test's metrics-only record) renders what it has.
  const values = <N extends NotebookName>(n: N, field: keyof NotebookValues[N]) => {
    const v = notebooks[n]?.values as NotebookValues[N] | undefined;
    return v && typeof v === 'object' && field in v ? v : undefined;
  };
  return [
    ...observationMarkdown(values('01-label-matrices', 'infected'), values('02-feature-distances', 'attacks')),
    ...progressiveMarkdown(values('06-progressive-defense', 'withoutClean')),
    ...defenseTablesMarkdown(values('07-defense-tables', 'tables')),
  ];
}

const pc = (x: number | null | undefined) => (x === null || x === undefined ? '–' : `${(100 * x).toFixed(1)}%`);
const num = (x: number | null | undefined, digits = 3) => (x === null || x === undefined ? '–' : x.toFixed(digits));
const label = (attack: string) => (PAPER_ATTACK_LABELS as Record<string, string>)[attack] ?? attack;

function observationMarkdown(m: LabelMatricesValues | undefined, d: FeatureDistancesValues | undefined): string[] {
  if (!m && !d) return [];
  const lines = ['## The observation (Fig. 1, Fig. 4, Table 5)', ''];
  if (m) {
    lines.push(
      `${label(m.attack)}, one infected model per target (${m.infected.rows}): the share of adversarial examples on the target is ${pc(m.infected.minTargetShare)} at the least and ${pc(m.infected.meanTargetShare)} on average; ${m.infected.rowsAtLeast40} of ${m.infected.rows} rows reach the paper's ${pc(FIG1_MIN_TARGET_SHARE.value)}. The benign model sends ${pc(m.benign.targetShare)} to the first target's label; its mean normalised entropy over wrong classes is ${num(m.benign.meanWrongClassEntropy, 2)}. All-to-all (ACC ${pc(m.allToAll.acc)}, ASR ${pc(m.allToAll.asr)}): ${pc(m.allToAll.meanTargetShare)} of adversarial examples land on y + 1 on average.`,
      '',
    );
  }
  if (d) {
    lines.push(
      `| attack (target 0) | ASR | on the target, infected (paper ≥ ${pc(FIG1_MIN_TARGET_SHARE.value)}) | benign, same label | D_infected / D_benign (f infected) | the paper's ratio |`,
      '|:-|-:|-:|-:|-:|-:|',
      ...Object.entries(d.attacks).map(([attack, a]) => {
        const paper = (TABLE5.attacks as readonly string[]).includes(attack) ? num(table5Cell(attack as (typeof TABLE5.attacks)[number]).ratio, 2) : '–';
        return `| ${label(attack)} | ${pc(a.asr)} | ${pc(a.targetShareInfected)} | ${pc(a.targetShareBenign)} | ${num(a.ratioInfectedF)} | ${paper} |`;
      }),
      '',
    );
  }
  return lines;
}

function progressiveMarkdown(v: ProgressiveDefenseValues | undefined): string[] {
  if (!v) return [];
  const w = v.withoutClean;
  const rows = w.stages.map((s, i) => {
    const it = i === 0 ? null : w.iterations[i - 1];
    return `| ${s.stage} | ${pc(s.acc)} | ${pc(s.asr)} | ${it ? it.extraSize : ''} | ${it ? pc(it.poisonRate) : ''} | ${it ? pc(it.adversarialTargetShare) : ''} | ${it ? num(it.apPoisoned) : ''} | ${it ? num(it.apClean) : ''} |`;
  });
  const c = v.withClean;
  return [
    `## PBE on ${label(v.attack)}: per iteration without clean data (Fig. 6, Fig. 7), and with clean data`,
    '',
    `The ranking's AP for finding poisoned images is against a chance level of ${pc(w.poisonedShare)} (the poisoned share of the training set). The paper (${FIG6_AVERAGE_PRECISION.provenance.source}, ${FIG6_AVERAGE_PRECISION.provenance.row}): AP ${FIG6_AVERAGE_PRECISION.first} after the first iteration, ${FIG6_AVERAGE_PRECISION.last} after the last; ${FIG7.provenance.source}: "${FIG7.statement}".`,
    '',
    '| stage | ACC | ASR | extra set | its poisoned share | adversarial on target | AP poisoned | AP clean |',
    '|:-|-:|-:|-:|-:|-:|-:|-:|',
    ...rows,
    '',
    `With clean data (${c.cleanImages ?? '–'} clean images): ACC ${pc(c.before.acc)} → ${pc(c.last.acc)}, ASR ${pc(c.before.asr)} → ${pc(c.last.asr)}.`,
    '',
  ];
}

function defenseTablesMarkdown(v: DefenseTablesValues | undefined): string[] {
  if (!v) return [];
  const lines: string[] = ["## The defense tables (Tables 1, 4, 2): ACC / ASR (%), ours above the paper's", ''];
  for (const t of Object.values(v.tables)) {
    if (!t) continue;
    if (!t.measured || !t.cells) {
      lines.push(`**${t.table}** (${t.dataset} ${t.mode}): not measured: ${t.notMeasured ?? 'no cells'}.`, '');
      continue;
    }
    const cells = t.cells;
    const columns = PAPER_DEFENSES.filter((col) => cells.some((c) => c.column === col));
    const attacks = [...new Set(cells.map((c) => c.attack))];
    const at = (attack: string, col: PaperDefense) => cells.find((c) => c.attack === attack && c.column === col);
    const pair = (x: { acc: number; asr: number } | null | undefined) => (x ? `${x.acc.toFixed(2)} / ${x.asr.toFixed(2)}` : '–');
    const paperPair = (x: { acc: number; asr: number } | null | undefined) => (x ? `*${pair(x)}*` : '–');
    lines.push(
      `**${t.table}** (${t.dataset} ${t.mode}, profile ${t.profile ?? '?'}, ${t.arch ?? '?'})${t.paperNote ? `; ${t.paperNote}` : ''}.`,
      '',
      `| attack | ${columns.map((col) => PAPER_DEFENSE_LABELS[col]).join(' | ')} |`,
      `|:-|${columns.map(() => '-:').join('|')}|`,
      ...attacks.flatMap((attack) => [
        `| ${label(attack)} | ${columns.map((col) => pair(at(attack, col))).join(' | ')} |`,
        `| *paper* | ${columns.map((col) => paperPair(at(attack, col)?.paper)).join(' | ')} |`,
      ]),
      '',
    );
  }
  return lines;
}
