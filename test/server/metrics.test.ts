import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipUnavailable, testBackends } from '../helpers/backends.js';
import { docvEvent, startTestReceiver, type TestReceiver } from '../helpers/receiver.js';
import { startSink, type HttpSink } from '../helpers/http-sink.js';
import { waitFor } from '../helpers/wait.js';

function metric(text: string, name: string, labels = ''): number | undefined {
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `) || (labels === '' && l.startsWith(`${name} `)));
  return line ? Number(line.split(' ').at(-1)) : undefined;
}

const backends = await testBackends();

describe.each(backends)('GET /metrics ($name)', (backend) => {
  if (skipUnavailable(backend)) return;
  let r: TestReceiver;
  let sink: HttpSink;
  beforeAll(async () => {
    sink = await startSink();
    r = await startTestReceiver({
      adminToken: 'metrics-token',
      dispatch: { forwardUrls: [sink.url] },
      database: await backend.create(),
    });
  });
  afterAll(async () => {
    await r.destroy();
    await sink.close();
  });

  it('is protected like the admin API', async () => {
    expect((await fetch(`${r.url}/metrics`)).status).toBe(401);
  });

  it('counts deliveries by outcome and status, events, commits, transactions, outbox and attempts', async () => {
    const event = docvEvent({ eventType: 'VERIFICATION_COMPLETED', decision: 'accept' });
    await r.deliver(event);
    await r.deliver(event);
    await r.deliver('{not json');
    await waitFor(() => sink.requests.length === 1, 'forward');
    await waitFor(
      async () =>
        (await r.admin('/v1/deliveries?state=delivered', { headers: { authorization: 'Bearer metrics-token' } })).json
          .items?.length === 1,
      'delivered',
    );
    const res = await fetch(`${r.url}/metrics`, { headers: { authorization: 'Bearer metrics-token' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(metric(text, 'docv_deliveries_received_total', 'outcome="accepted",status="200",source="default"')).toBe(1);
    expect(metric(text, 'docv_deliveries_received_total', 'outcome="duplicate",status="200",source="default"')).toBe(1);
    expect(metric(text, 'docv_deliveries_received_total', 'outcome="bad_request",status="400",source="default"')).toBe(
      1,
    );
    expect(metric(text, 'docv_events_stored_total', 'event_type="VERIFICATION_COMPLETED",source="default"')).toBe(1);
    expect(metric(text, 'docv_ack_latency_seconds_count', 'outcome="accepted",source="default"')).toBe(1);
    expect(metric(text, 'docv_commit_batch_size_count')).toBeGreaterThanOrEqual(1);
    expect(metric(text, 'docv_transactions', 'status="VERIFICATION_COMPLETED"')).toBe(1);
    expect(metric(text, 'docv_outbox_deliveries', 'state="delivered"')).toBe(1);
    expect(
      metric(
        text,
        'docv_delivery_attempts_total',
        `destination="forward:${new URL(sink.url).host}/",outcome="delivered",source="default"`,
      ),
    ).toBe(1);
    expect(metric(text, 'docv_quarantine_entries')).toBe(0);
    expect(text).toContain('docv_process_resident_memory_bytes');
    expect(text).not.toContain('metrics-token');
  });
});
