/**
 * A failure the user can fix: a bad file, field or flag. The CLI prints its message as one line
 * and exits non-zero; anything else is a bug and gets a stack trace (with --debug).
 */
export class UserError extends Error {
  constructor(message: string, readonly exitCode = 2) {
    super(message);
    this.name = 'UserError';
  }
}
