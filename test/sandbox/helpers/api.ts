import type { SandboxHandle } from '../../../src/sandbox/index.js';

/** A small client of the sandbox's HTTP API, as an integrator's code would call it. */
export function sandboxClient(sb: Pick<SandboxHandle, 'url' | 'apiKey'>) {
  const headers = { authorization: `SocureApiKey ${sb.apiKey}`, 'content-type': 'application/json' };
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${sb.url}${path}`, {
      method,
      headers: body === undefined ? { authorization: headers.authorization } : headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(5_000),
    });
    const text = await res.text();
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // not JSON
    }
    return { status: res.status, contentType: res.headers.get('content-type') ?? '', json, text };
  };
  return {
    call,
    create: (body: Record<string, unknown>) =>
      call('POST', '/api/3.0/EmailAuthScore', { modules: ['docvtransaction'], ...body }),
    getDocv: (id: string) => call('GET', `/api/3.0/documents/${encodeURIComponent(id)}`),
    inspect: (id: string) => call('GET', `/sandbox/transactions/${encodeURIComponent(id)}`),
    emit: (id: string, body: Record<string, unknown>) =>
      call('POST', `/sandbox/transactions/${encodeURIComponent(id)}/events`, body),
    deliveries: (query = '') => call('GET', `/sandbox/deliveries${query}`),
  };
}
