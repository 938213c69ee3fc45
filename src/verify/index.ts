// The one-call check: the receiver's verification and validation without its store.
export { verifyDocvWebhook, type VerifyDocvWebhookOptions, type WebhookHeaders } from './verify-webhook.js';
export { DocvWebhookError, type DocvWebhookErrorCode, type DocvWebhookErrorDetails } from './errors.js';
