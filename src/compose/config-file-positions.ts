import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter } from 'yaml';

/** A line and column, both from 1, as editors and compilers count them. */
export interface LinePosition {
  line: number;
  col: number;
}

/**
 * Where a setting is written, from the parsed document's node ranges: the value at `path`, or its
 * key when `onKey` (an unknown key is pointed at, not its value). A path that goes further than
 * the document (a key that is missing) stops at the deepest node there is: the object that lacks it.
 */
export function positionOf(
  doc: Document,
  lineCounter: LineCounter,
  path: ReadonlyArray<string | number>,
  onKey = false,
): LinePosition {
  let node: unknown = doc.contents;
  let offset = rangeStart(node) ?? 0;
  for (const [i, segment] of path.entries()) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
      if (!pair) break;
      const keyStart = rangeStart(pair.key);
      if (onKey && i === path.length - 1 && keyStart !== undefined) {
        offset = keyStart;
        break;
      }
      node = pair.value;
      offset = rangeStart(node) ?? keyStart ?? offset;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item: unknown = node.items[segment];
      if (item === undefined) break;
      node = item;
      offset = rangeStart(node) ?? offset;
    } else break;
  }
  return lineCounter.linePos(offset);
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as { range?: [number, number, number] | null } | null | undefined)?.range;
  return range ? range[0] : undefined;
}
