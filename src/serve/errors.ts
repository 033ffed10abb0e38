// Errors the gate answers with a 4xx status: an OodgenError (so library callers see the same one clear line) that
// carries the HTTP status and a stable machine-readable code.
import { OodgenError } from '../errors.js';

export class HttpError extends OodgenError {
  constructor(readonly statusCode: number, readonly code: string, message: string) {
    super(message);
  }
}

export const badRequest = (code: string, message: string): HttpError => new HttpError(400, code, message);
