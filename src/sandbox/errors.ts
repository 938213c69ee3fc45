/** A request the sandbox refuses, answered as RFC 9457 problem+json with the reason. */
export class SandboxError extends Error {
  constructor(
    readonly statusCode: number,
    readonly title: string,
    detail: string,
  ) {
    super(detail);
    this.name = 'SandboxError';
  }
}

export const badRequest = (detail: string) => new SandboxError(400, 'Bad Request', detail);
export const notFound = (detail: string) => new SandboxError(404, 'Not Found', detail);
export const conflict = (detail: string) => new SandboxError(409, 'Conflict', detail);
