/** Suggests the registered names closest to a misspelt one (Levenshtein distance, then shared prefix). */

function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

export function closestNames(wanted: string, names: readonly string[], max = 3): string[] {
  return names
    .map((n) => ({ n, d: distance(wanted.toLowerCase(), n.toLowerCase()) - (n.includes(wanted) || wanted.includes(n) ? 3 : 0) }))
    .filter((x) => x.d <= Math.max(3, Math.floor(wanted.length / 2)))
    .sort((a, b) => a.d - b.d || a.n.localeCompare(b.n))
    .slice(0, max)
    .map((x) => x.n);
}
