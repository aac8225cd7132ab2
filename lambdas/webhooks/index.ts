export { checkSignedWebhook, signatureKey } from '../../common/vonage-signature.js';
export type { AnswerCall, NccoAction } from './answer.js';
export {
  buildAnswerNcco,
  buildFallbackNcco,
  CANNOT_RECORD_TEXT,
  MAX_WEBSOCKET_HEADER_BYTES,
  parseAnswerRequest,
  websocketHeaders,
} from './answer.js';
export type { WebhookDependencies, WebhookHandler, WebhookLogger, WebhookMetrics } from './app.js';
export { createWebhookHandler, unavailableResponse } from './app.js';
export type { Greeting, WebhookConfig } from './config.js';
export { validateWebhookConfig } from './config.js';
export type { WebhookEnvironment } from './environment.js';
export { readWebhookEnvironment } from './environment.js';
export * from './errors.js';
export type { CallEvent } from './event.js';
export { parseCallEvent, reconcileRequestFor } from './event.js';
export type { StoredEvent } from './event-store.js';
export { storeCallEvent } from './event-store.js';
