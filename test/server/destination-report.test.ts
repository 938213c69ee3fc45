import { describe, expect, it } from 'vitest';
import { defaultReceiverConfig, type DispatchConfig, type SocureApiConfig } from '../../src/compose/config.js';
import { planDelivery } from '../../src/compose/destination-plan.js';
import { reportDisagreements } from '../../src/compose/destination-report.js';
import type { StoredDestination } from '../../src/store/index.js';
import { memoryLogger } from '../security/helpers.js';

/** What a process says at start about the store's destinations, from its flags and what the store holds. */
function stored(name: string, fields: Partial<StoredDestination> = {}): StoredDestination {
  const url = `https://${name.slice('forward:'.length)}`;
  return {
    name,
    kind: 'forward',
    url,
    state: 'active',
    signed: false,
    urlCredentials: false,
    subscription: null,
    createdAt: '',
    updatedAt: '',
    ...fields,
  };
}

function said(
  destinations: StoredDestination[],
  dispatch: Partial<DispatchConfig>,
  socure: Partial<SocureApiConfig> = {},
  reported = new Set<string>(),
) {
  const config = defaultReceiverConfig({ dispatch: dispatch as DispatchConfig, socure: socure as SocureApiConfig });
  const plan = planDelivery(destinations, config);
  const log = memoryLogger('info');
  reportDisagreements(plan, log.logger, reported, true);
  return { plan, lines: log.lines().map((l) => [l.level === 40 ? 'warn' : 'info', l.msg as string]) };
}

describe("what a process says about the store's destinations", () => {
  it('flags that name one destination but not another: a warning naming the other, which it delivers too', () => {
    const { plan, lines } = said([stored('forward:a.test/x'), stored('forward:b.test/y')], {
      forwardUrls: ['https://a.test/x'],
    });
    expect(plan.deliver.map((d) => d.url)).toEqual(['https://a.test/x', 'https://b.test/y']);
    expect(lines).toEqual([
      [
        'warn',
        expect.stringMatching(
          /^active destinations in the store not named by this process's flags: forward:b\.test\/y; delivering to them too/,
        ),
      ],
    ]);
  });

  it('no destination flags at all: it follows the store, and says so at info', () => {
    const { lines } = said([stored('forward:b.test/y')], {});
    expect(lines).toEqual([['info', "delivering the store's destinations: forward:b.test/y"]]);
  });

  it('a destination whose URL differs from its flag (same host and path): it uses its own, and says so', () => {
    const { plan, lines } = said([stored('forward:a.test/x', { url: 'https://a.test/x?v=1' })], {
      forwardUrls: ['http://a.test/x'],
    });
    expect(plan.deliver).toEqual([{ name: 'forward:a.test/x', kind: 'forward', url: 'http://a.test/x' }]);
    expect(lines).toEqual([
      ['warn', expect.stringContaining("forward:a.test/x: the store's URL differs from this process's --forward-url")],
    ]);
  });

  it('the decision fetch without SOCURE_API_KEY, a URL that needs its user:password: it cannot, and says why', () => {
    const { plan, lines } = said(
      [
        { ...stored('forward:c.test/z', { urlCredentials: true }) },
        { ...stored('x'), name: 'decision-fetch', kind: 'decision-fetch', url: 'https://socure.test/' },
      ],
      { forwardUrls: ['https://a.test/other'] },
    );
    expect(plan.deliver).toEqual([]);
    expect(lines).toEqual([
      [
        'warn',
        'cannot deliver forward:c.test/z: its URL carries user:password, which the store does not keep; give this process the URL with --forward-url; its deliveries wait for a process that can',
      ],
      [
        'warn',
        'cannot deliver decision-fetch: it needs SOCURE_BASE_URL and SOCURE_API_KEY, which this process does not have; its deliveries wait for a process that can',
      ],
    ]);
  });

  it('with the URL in its flags and the key in its environment, it delivers both', () => {
    const { plan, lines } = said(
      [
        stored('forward:c.test/z', { urlCredentials: true }),
        { ...stored('x'), name: 'decision-fetch', kind: 'decision-fetch', url: 'https://socure.test/' },
      ],
      { forwardUrls: ['https://u:p@c.test/z'] },
      { baseUrl: 'https://socure.test', apiKey: 'key' },
    );
    expect(plan.deliver.map((d) => [d.name, d.url])).toEqual([
      ['forward:c.test/z', 'https://u:p@c.test/z'],
      ['decision-fetch', 'https://socure.test'],
    ]);
    expect(lines).toEqual([]);
  });

  it('says each thing once across re-reads, and again when it comes back after going away', () => {
    const reported = new Set<string>();
    const disabled = [stored('forward:a.test/x', { state: 'disabled' })];
    const flags = { forwardUrls: ['https://a.test/x'] };
    expect(said(disabled, flags, {}, reported).lines).toEqual([
      ['warn', expect.stringContaining('forward:a.test/x is disabled in the store')],
    ]);
    expect(said(disabled, flags, {}, reported).lines).toEqual([]);
    expect(said([stored('forward:a.test/x')], flags, {}, reported).lines).toEqual([]);
    expect(said(disabled, flags, {}, reported).lines).toHaveLength(1);
  });
});
