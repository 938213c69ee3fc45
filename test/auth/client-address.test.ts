import { describe, expect, it } from 'vitest';
import { resolveClientAddress } from '../../src/auth/index.js';

describe('resolveClientAddress', () => {
  describe('without a trusted proxy (default)', () => {
    it('uses the socket address and ignores X-Forwarded-For, which anyone can send', () => {
      expect(resolveClientAddress({ 'x-forwarded-for': '10.0.0.1' }, '203.0.113.5', false)).toBe('203.0.113.5');
    });

    it('normalises an IPv4-mapped socket address', () => {
      expect(resolveClientAddress({}, '::ffff:127.0.0.1', false)).toBe('127.0.0.1');
    });

    it('returns undefined when the socket address is unknown or not an address', () => {
      expect(resolveClientAddress({}, undefined, false)).toBeUndefined();
      expect(resolveClientAddress({}, 'garbage', false)).toBeUndefined();
    });
  });

  describe('with one trusted proxy', () => {
    const proxy = '10.0.0.2';

    it('takes the right-most entry, the one the proxy appended', () => {
      expect(resolveClientAddress({ 'x-forwarded-for': '198.51.100.7' }, proxy, true)).toBe('198.51.100.7');
      expect(resolveClientAddress({ 'x-forwarded-for': '192.0.2.1, 198.51.100.7' }, proxy, true)).toBe('198.51.100.7');
    });

    it('is not fooled by an address the client put at the left', () => {
      // The client sent "X-Forwarded-For: 127.0.0.1"; the proxy appended the real peer.
      expect(resolveClientAddress({ 'x-forwarded-for': '127.0.0.1,203.0.113.66' }, proxy, true)).toBe('203.0.113.66');
    });

    it('treats repeated headers as one list in order', () => {
      expect(resolveClientAddress({ 'x-forwarded-for': ['127.0.0.1', '203.0.113.66'] }, proxy, true)).toBe(
        '203.0.113.66',
      );
      expect(resolveClientAddress({ 'X-Forwarded-For': '127.0.0.1, 203.0.113.66' }, proxy, true)).toBe('203.0.113.66');
    });

    it.each([
      ['203.0.113.66:51234', '203.0.113.66'],
      ['[2001:db8::5]:443', '2001:db8::5'],
      ['[2001:db8::5]', '2001:db8::5'],
      ['2001:DB8::5', '2001:db8::5'],
      ['::ffff:203.0.113.66', '203.0.113.66'],
    ])('parses the entry %s', (entry, expected) => {
      expect(resolveClientAddress({ 'x-forwarded-for': `1.1.1.1, ${entry}` }, proxy, true)).toBe(expected);
    });

    it('falls back to the socket address when the proxy sent no X-Forwarded-For', () => {
      expect(resolveClientAddress({}, proxy, true)).toBe(proxy);
      expect(resolveClientAddress({ 'x-forwarded-for': ' , ' }, proxy, true)).toBe(proxy);
    });

    it('returns undefined when the right-most entry is not an address, even if one further left is', () => {
      expect(resolveClientAddress({ 'x-forwarded-for': '127.0.0.1, unknown' }, proxy, true)).toBeUndefined();
    });
  });
});
