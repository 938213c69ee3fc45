export * from './lifecycle.js';
export * from './decision-fetch-rule.js';
