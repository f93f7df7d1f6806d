/** Runs `fn` with stdout and stderr collected instead of printed. */
export async function captured(fn: () => Promise<number>): Promise<{ status: number; text: string }> {
  const chunks: string[] = [];
  const streams = [process.stdout, process.stderr] as const;
  const writes = streams.map((s) => s.write.bind(s));
  const logs = [console.log, console.error];
  const collect = (chunk: unknown): boolean => {
    chunks.push(String(chunk));
    return true;
  };
  for (const s of streams) s.write = collect as typeof s.write;
  console.log = console.error = (...args: unknown[]) => void chunks.push(`${args.map(String).join(' ')}\n`);
  try {
    return { status: await fn(), text: chunks.join('') };
  } finally {
    streams.forEach((s, i) => (s.write = writes[i] as typeof s.write));
    [console.log, console.error] = logs;
  }
}
