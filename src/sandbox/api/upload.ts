import type { FastifyInstance } from 'fastify';
import { UPLOAD_TYPES } from '../document-data.js';
import { badRequest } from '../errors.js';
import type { DocvService } from '../service.js';

/** A phone photo of a document is a few MiB; anything much bigger is not a document. */
export const MAX_UPLOAD_BYTES = 10 * 1024 * 1024;

/**
 * `POST /api/3.0/devices/{deviceId}/documents`, multipart with `type` and `image`. In the sandbox
 * the device id is the transaction id. The first upload opens the app (APP_OPENED); the last one
 * the document type needs completes the set (DOCUMENTS_UPLOADED). Images are checked for
 * presence and size only, and not kept.
 */
export function registerUpload(app: FastifyInstance, deps: { service: DocvService }): void {
  app.register(async (scope) => {
    scope.addContentTypeParser(
      'multipart/form-data',
      { parseAs: 'buffer', bodyLimit: MAX_UPLOAD_BYTES },
      (_req, body, done) => {
        done(null, body);
      },
    );
    scope.post<{ Params: { deviceId: string } }>(
      '/api/3.0/devices/:deviceId/documents',
      { bodyLimit: MAX_UPLOAD_BYTES },
      async (req) => {
        const contentType = req.headers['content-type'] ?? '';
        if (!Buffer.isBuffer(req.body) || !contentType.toLowerCase().startsWith('multipart/form-data')) {
          throw badRequest('send the document as multipart/form-data with fields "type" and "image"');
        }
        deps.service.require(req.params.deviceId);
        let form: FormData;
        try {
          // Node's fetch implementation parses multipart; no parser dependency needed.
          form = await new Response(new Uint8Array(req.body), { headers: { 'content-type': contentType } }).formData();
        } catch {
          throw badRequest('the multipart body could not be parsed (is the boundary right?)');
        }
        const type = form.get('type');
        if (typeof type !== 'string' || !(UPLOAD_TYPES as readonly string[]).includes(type)) {
          throw badRequest(`type must be one of ${UPLOAD_TYPES.map((t) => JSON.stringify(t)).join(', ')}`);
        }
        const image = form.get('image');
        if (image === null || typeof image === 'string' || image.size === 0)
          throw badRequest('image must be a non-empty file');
        const result = deps.service.recordUpload(req.params.deviceId, type);
        return { docvTransactionId: req.params.deviceId, type, ...result };
      },
    );
  });
}
