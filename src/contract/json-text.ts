/**
 * The deepest nesting of objects and arrays a delivery may have. RFC 8259 §9 lets a parser limit
 * it, and this one must: JSON.parse itself copes with any depth, but everything after it that
 * walks the value recursively (the canonical hash, serialising it for the admin API or a forward)
 * overflows the stack somewhere past a thousand levels, which would turn a 256 KiB body of
 * brackets into a 500. DocV events nest a handful of levels.
 */
export const MAX_JSON_DEPTH = 64;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/**
 * What makes an otherwise parseable body unfit to accept, or null. Checked on the raw bytes before
 * parsing, as the stored bytes are what every later reader (admin API, outbox, CLI) parses again.
 */
export function jsonTextProblem(bytes: Uint8Array, maxDepth: number = MAX_JSON_DEPTH): string | null {
  // The contract's parser skips a UTF-8 byte order mark, but the stored body is parsed again
  // elsewhere with JSON.parse, which does not: an event accepted with one could never be read back
  // or dispatched. RFC 8259 §8.1 forbids adding one to JSON sent over a network.
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    return 'body starts with a byte order mark, which JSON sent over a network must not have (RFC 8259 §8.1)';
  }
  if (exceedsJsonDepth(bytes, maxDepth)) return `body nests objects and arrays deeper than ${maxDepth} levels`;
  return null;
}

/**
 * Whether the JSON text in `bytes` nests objects and arrays deeper than `maxDepth`. One pass over
 * the raw bytes, no allocation. Exact for valid JSON; for anything else the answer does not
 * matter, as the parse that follows rejects it anyway. UTF-8 continuation bytes are all >= 0x80
 * and so never mistaken for a quote or a bracket.
 */
export function exceedsJsonDepth(bytes: Uint8Array, maxDepth: number = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (inString) {
      if (b === BACKSLASH) i++;
      else if (b === QUOTE) inString = false;
    } else if (b === QUOTE) {
      inString = true;
    } else if (b === OPEN_BRACE || b === OPEN_BRACKET) {
      if (++depth > maxDepth) return true;
    } else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
      depth--;
    }
  }
  return false;
}
