// Splits a search excerpt into plain and matched parts, so the screen can mark the match.

export interface Part {
  text: string;
  match: boolean;
}

/** The parts of `text` with every occurrence of any term (case-insensitive) marked. */
export function highlight(text: string, query: string): Part[] {
  const terms = query.split(/[\s\u3000]+/).filter((x) => x.length > 0).map((x) => x.toLowerCase());
  if (terms.length === 0) return [{ text, match: false }];
  const lower = text.toLowerCase();
  const marks = new Array<boolean>(text.length).fill(false);
  for (const term of terms) {
    let from = 0;
    for (;;) {
      const at = lower.indexOf(term, from);
      if (at < 0) break;
      for (let i = at; i < at + term.length; i++) marks[i] = true;
      from = at + term.length;
    }
  }
  const parts: Part[] = [];
  for (let i = 0; i < text.length; i++) {
    const m = marks[i] ?? false;
    const last = parts[parts.length - 1];
    if (last && last.match === m) last.text += text[i];
    else parts.push({ text: text[i] ?? '', match: m });
  }
  return parts;
}

/** Calls `fn` once `ms` after the last call. */
export function debounce<A extends unknown[]>(fn: (...a: A) => void, ms: number) {
  let timer: ReturnType<typeof setTimeout> | null = null;
  const call = (...a: A) => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      fn(...a);
    }, ms);
  };
  call.cancel = () => {
    if (timer) clearTimeout(timer);
    timer = null;
  };
  return call;
}
