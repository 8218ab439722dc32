/**
 * Plain-text tables for terminal output: left-aligned columns separated by two spaces, a header
 * underlined with dashes. Values are made single-line so a hostile log line cannot break the layout
 * or emit terminal escape sequences.
 */
export function renderTable(headers: readonly string[], rows: ReadonlyArray<readonly unknown[]>): string {
  const cells = rows.map((r) => r.map(cell));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (values: readonly string[]): string => values.map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n') + '\n';
}

export function cell(value: unknown): string {
  if (value === null || value === undefined) return '-';
  return safeText(String(value));
}

/** Replaces control characters (including ESC) with visible escapes. */
export function safeText(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
