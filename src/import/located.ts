/**
 * Text that remembers, character by character, which file and line it came from — through
 * fail2ban's `%(name)s` interpolation and `<tag>` substitution — so that a problem in a regular
 * expression assembled from five files is reported at the line that holds the offending part.
 */
export interface Origin {
  /** Absolute path of the file. */
  readonly file: string;
  /** 1-based line number; 0 when the text was not read from a file (a built-in value). */
  readonly line: number;
}

interface Mark {
  /** Index of the first character this mark covers (it lasts until the next mark). */
  readonly at: number;
  readonly origin: Origin;
  /** How many interpolations deep the text was brought in (0 = written at the place it is used). */
  readonly depth: number;
}

export class LocatedText {
  private constructor(readonly text: string, private readonly marks: readonly Mark[]) {}

  static of(text: string, origin: Origin, depth = 0): LocatedText {
    return new LocatedText(text, [{ at: 0, origin, depth }]);
  }

  /** Lines joined with "\n", each keeping its own origin. */
  static lines(lines: readonly { readonly text: string; readonly origin: Origin }[], fallback: Origin): LocatedText {
    if (!lines.length) return LocatedText.of('', fallback);
    // Each line break belongs to the line it ends, so an empty line still has its own origin.
    let out = LocatedText.of(lines[0]!.text, lines[0]!.origin);
    for (let i = 1; i < lines.length; i++) {
      out = out.concat(LocatedText.of('\n', lines[i - 1]!.origin)).concat(LocatedText.of(lines[i]!.text, lines[i]!.origin));
    }
    return out;
  }

  get length(): number {
    return this.text.length;
  }

  /** The origin of the character at `index` (of the last character when past the end). */
  originAt(index: number): Origin {
    return this.markAt(index).origin;
  }

  private markAt(index: number): Mark {
    let found = this.marks[0]!;
    for (const m of this.marks) {
      if (m.at <= index) found = m;
      else break;
    }
    return found;
  }

  concat(other: LocatedText): LocatedText {
    if (!other.text.length) return this;
    if (!this.text.length) return other;
    return new LocatedText(this.text + other.text, [...this.marks, ...other.marks.map((m) => ({ ...m, at: m.at + this.text.length }))]);
  }

  slice(start: number, end = this.text.length): LocatedText {
    const s = Math.max(0, Math.min(start, this.text.length));
    const e = Math.max(s, Math.min(end, this.text.length));
    const first = this.markAt(s);
    const marks: Mark[] = [{ ...first, at: 0 }];
    for (const m of this.marks) if (m.at > s && m.at < e) marks.push({ ...m, at: m.at - s });
    return new LocatedText(this.text.slice(s, e), marks);
  }

  /** Marks every character as brought in `by` more levels deep. */
  deeper(by: number): LocatedText {
    return new LocatedText(this.text, this.marks.map((m) => ({ ...m, depth: m.depth + by })));
  }

  /** Replaces text[start, end) with `insert`, made one level deeper than the text it replaces. */
  splice(start: number, end: number, insert: LocatedText): LocatedText {
    const depth = this.markAt(start).depth;
    const inserted = insert.text.length ? insert.deeper(depth + 1) : insert;
    return this.slice(0, start).concat(inserted).concat(this.slice(end));
  }

  /**
   * The text's lines, each with the origin that best describes it: the origin of its shallowest
   * non-blank character, so a line written in place ("^%(__prefix_line)sFailed ...") is reported
   * where it is written, and a line that only stands for a referenced value ("%(cmnfailre)s") is
   * reported where that value is written.
   */
  splitLines(): { text: string; origin: Origin; located: LocatedText }[] {
    const out: { text: string; origin: Origin; located: LocatedText }[] = [];
    let start = 0;
    for (;;) {
      const nl = this.text.indexOf('\n', start);
      const end = nl < 0 ? this.text.length : nl;
      const located = this.slice(start, end);
      out.push({ text: located.text, origin: located.bestOrigin(), located });
      if (nl < 0) break;
      start = nl + 1;
    }
    return out;
  }

  private bestOrigin(): Origin {
    let best: Mark | undefined;
    for (let i = 0; i < this.marks.length; i++) {
      const m = this.marks[i]!;
      const end = this.marks[i + 1]?.at ?? this.text.length;
      if (!/\S/.test(this.text.slice(m.at, end))) continue;
      if (!best || m.depth < best.depth) best = m;
    }
    return (best ?? this.marks[0]!).origin;
  }
}
