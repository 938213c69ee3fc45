export { createDocvReceiver, type DocvReceiver, type DocvReceiverOptions } from './create-receiver.js';
