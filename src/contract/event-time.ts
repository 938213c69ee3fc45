/**
 * Epoch milliseconds of an RFC 3339 `eventTime`, for ordering. Date.parse refuses a leap second
 * (`23:59:60`), which RFC 3339 allows and the contract accepts: count it as the next second
 * rather than fail the commit (which would answer 503 to that delivery forever).
 */
export function eventTimeMs(eventTime: string): number {
  const ms = Date.parse(eventTime);
  if (!Number.isNaN(ms)) return ms;
  const leap = Date.parse(eventTime.replace(/:60(?=(\.\d+)?([Zz]|[+-]\d\d:\d\d)$)/, ':59'));
  return Number.isNaN(leap) ? 0 : leap + 1000;
}
