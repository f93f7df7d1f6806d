/** A share as a percentage with one decimal, e.g. 0.4123 → "41.2%". */
export function pct(share: number, digits = 1): string {
  return `${(100 * share).toFixed(digits)}%`;
}
