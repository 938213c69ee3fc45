import type { FastifyReply } from 'fastify';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  500: 'Internal Server Error',
};

export function statusTitle(status: number): string {
  return TITLES[status] ?? (status >= 500 ? 'Server Error' : 'Client Error');
}

/** RFC 9457 problem details: what every refusal of the sandbox looks like. */
export function sendProblem(
  reply: FastifyReply,
  status: number,
  detail: string,
  extra: Record<string, unknown> = {},
): FastifyReply {
  return (
    reply
      .code(status)
      .header('content-type', 'application/problem+json')
      // A Buffer, so Fastify adds no charset parameter: JSON media types define none.
      .send(Buffer.from(JSON.stringify({ type: 'about:blank', title: statusTitle(status), status, detail, ...extra })))
  );
}
