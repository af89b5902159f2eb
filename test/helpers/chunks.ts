/** Text input as a stream of chunks of chosen sizes, as a pipe or a slow producer delivers it. */

/** Yields `text` (UTF-8) cut at the given byte positions. */
export async function* chunksAt(text: string | Uint8Array, cuts: number[]): AsyncGenerator<Uint8Array> {
  const bytes = typeof text === "string" ? Buffer.from(text, "utf8") : text;
  let from = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    if (cut <= from || cut >= bytes.length) continue;
    yield Uint8Array.prototype.slice.call(bytes, from, cut);
    from = cut;
    await Promise.resolve();
  }
  if (from < bytes.length) yield Uint8Array.prototype.slice.call(bytes, from);
}

/** Yields `text` in chunks of `size` bytes. */
export function chunksOf(text: string | Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  const length = typeof text === "string" ? Buffer.byteLength(text) : text.length;
  const cuts: number[] = [];
  for (let c = size; c < length; c += size) cuts.push(c);
  return chunksAt(text, cuts);
}
