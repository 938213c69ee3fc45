/** RFC 9457 problem details: what every rejection looks like on the wire. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  [extension: string]: unknown;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export function problem(
  status: number,
  slug: string,
  title: string,
  detail: string,
  extensions: Record<string, unknown> = {},
): Problem {
  return { type: `urn:docv-webhooks:problem:${slug}`, title, status, detail, ...extensions };
}
