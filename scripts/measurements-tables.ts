import * as fs from 'node:fs';
import * as path from 'node:path';
import { measurementsMarkdown, readMeasurements, REPRO_PROFILES, writeFileAtomic } from 'pbe-lab';

/**
 * Renders docs/measurements/<profile>.md (claims and verdicts, notebook times) from the
 * <profile>.json a complete `npm run repro` wrote: `npm run measurements:tables [-- <profile>…]`,
 * every profile with a file when none is named.
 */
function main(args: string[]): number {
  const dir = path.resolve(__dirname, '..', 'docs', 'measurements');
  for (const p of args)
    if (!(REPRO_PROFILES as readonly string[]).includes(p)) throw new Error(`profile: expected one of ${REPRO_PROFILES.join(', ')}, got '${p}'`);
  const profiles = args.length ? args : REPRO_PROFILES.filter((p) => fs.existsSync(path.join(dir, `${p}.json`)));
  if (profiles.length === 0) throw new Error(`${dir}: no <profile>.json to render (a complete \`npm run repro\` writes one)`);
  for (const p of profiles) {
    const json = path.join(dir, `${p}.json`);
    if (!fs.existsSync(json)) throw new Error(`${json}: not found (a complete \`npm run repro -- --profile ${p}\` writes it)`);
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
