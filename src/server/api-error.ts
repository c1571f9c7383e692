/**
 * Errors as the OpenAI API returns them: an HTTP status and
 * `{error: {message, type, param, code}}`, `param` naming the field at fault.
 */
export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly type = status === 401 ? 'authentication_error' : status === 429 ? 'rate_limit_error' : status >= 500 ? 'server_error' : 'invalid_request_error',
  ) {
    super(message);
  }

  body(): ErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** 400 naming `param`: the usual answer to bad input. */
export function badRequest(param: string | null, message: string, code: string | null = null): ApiError {
  return new ApiError(400, message, param, code);
}
