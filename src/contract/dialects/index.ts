export {
  parseDelivery,
  quarantinableBody,
  type DeliveryParseResult,
  type ParseDeliveryOptions,
} from './parse-delivery.js';
export { dialectByShape } from './detect.js';
export { withoutDocumentData, DOCUMENT_DATA_REMOVED } from './document-data.js';
export { socureV5Violations, normaliseSocureV5 } from './socure-v5.js';
export { riskosViolations, normaliseRiskos } from './riskos.js';
