import * as fs from 'node:fs';
import * as path from 'node:path';
import { measurementsMarkdown, readMeasurements, REPRO_SCALES, writeFileAtomic } from 'pbe-lab';

/**
 * Renders docs/measurements/<scale>.md (claims and verdicts, notebook times) from the
 * <scale>.json a complete `npm run repro` wrote: `npm run measurements:tables [-- <scale>…]`,
 * every scale with a file when none is named.
 */
function main(args: string[]): number {
  const dir = path.resolve(__dirname, '..', 'docs', 'measurements');
  for (const p of args) if (!(REPRO_SCALES as readonly string[]).includes(p)) throw new Error(`scale: expected one of ${REPRO_SCALES.join(', ')}, got '${p}'`);
  const scales = args.length ? args : REPRO_SCALES.filter((p) => fs.existsSync(path.join(dir, `${p}.json`)));
  if (scales.length === 0) throw new Error(`${dir}: no <scale>.json to render (a complete \`npm run repro\` writes one)`);
  for (const p of scales) {
    const json = path.join(dir, `${p}.json`);
    if (!fs.existsSync(json)) throw new Error(`${json}: not found (a complete \`npm run repro -- --scale ${p}\` writes it)`);
    const md = path.join(dir, `${p}.md`);
    writeFileAtomic(md, measurementsMarkdown(readMeasurements(json), `docs/measurements/${p}.json`));
    process.stdout.write(`${md}\n`);
  }
  return 0;
}

if (require.main === module) {
  try {
    process.exit(main(process.argv.slice(2)));
  } catch (e) {
    process.stderr.write(`measurements:tables: ${(e as Error).message}\n`);
    process.exit(2);
  }
}
