export type { AudioSource } from './audio.js';
export { loadPcm } from './audio.js';
export * from './errors.js';
export type { CallPlan, WebsocketEndpoint } from './ncco.js';
export { parseNcco } from './ncco.js';
export type { StackOutputs } from './outputs.js';
export { readStackOutputs, STACK_NAME } from './outputs.js';
export type { SigningIdentity } from './signature.js';
export { payloadHash, queryPayload, signWebhook } from './signature.js';
export type {
  AudioProvider,
  CallOutcome,
  DeliveredEvent,
  SimulateCallOptions,
  SimulatedCall,
} from './simulate-call.js';
export { DEFAULT_SENTENCE, defaultEventUrl, simulateCall, simulateCalls } from './simulate-call.js';
export type { DtmfTone } from './websocket-leg.js';
