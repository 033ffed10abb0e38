/** A user-facing error: the CLI prints its message without a stack trace and exits with status 1. */
export class OodgenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OodgenError';
  }
}
